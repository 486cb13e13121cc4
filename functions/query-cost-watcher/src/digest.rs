//! The daily digest: yesterday's Athena spend per workgroup, per person and per client, the ten
//! most expensive queries, the tables most scanned and the counts — recounted from the queries
//! the index priced (not from metrics), so it is exact even when a sweep was lost. Queries no
//! CloudTrail record named are counted under "unknown (no CloudTrail trail)". A query's bytes
//! count for every table it read (Athena does not split a join's scan by table), so the tables'
//! bytes can add up to more than the day's. It is sent by the sweep whose window contains `DIGEST_HOUR:00` local time and
//! doubles as lakeops' daily heartbeat: no digest by then means the watcher is not running.

use chrono::{NaiveTime, SecondsFormat};
use chrono_tz::Tz;
use lakeops::alert::{Alert, Severity};
use std::collections::BTreeMap;

use lakeops::athena::{QueryState, StatementType};
use lakeops::attribution::NO_TRAIL;
use lakeops::calendar::LocalDay;
use lakeops::pricing::{format_usd, human_bytes, Charge, PriceList};
use lakeops::query_index::Finished;
use lakeops::tables_read::TablesRead;
use lakeops::{console, sql};
use serde::Serialize;

use crate::window::Window;

/// Queries listed by cost in the digest.
pub const TOP_QUERIES: usize = 10;
/// People and clients listed by spend, tables by bytes scanned (the rest summed in one line).
pub const TOP_GROUPS: usize = 10;

/// Spend of one person or client.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Spend {
    pub name: String,
    pub usd: f64,
    pub queries: usize,
}

/// What queries scanned in one table (`database.table`, or `unparsed`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TableScan {
    pub table: String,
    pub scanned_bytes: u64,
    pub queries: usize,
}

/// The largest first, then by name; the rest folded into one `(N others)` entry.
fn ranked(groups: BTreeMap<String, Spend>) -> Vec<Spend> {
    let mut all: Vec<Spend> = groups.into_values().collect();
    all.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.name.cmp(&b.name)));
    if all.len() > TOP_GROUPS {
        let rest = all.split_off(TOP_GROUPS - 1);
        all.push(Spend {
            name: format!("({} others)", rest.len()),
            usd: rest.iter().map(|s| s.usd).sum(),
            queries: rest.iter().map(|s| s.queries).sum(),
        });
    }
    all
}

/// The day whose digest is due in `window`: the local day before the `hour:00` that the window
/// contains, if it contains one.
pub fn due(window: Window, tz: Tz, hour: u32) -> Option<LocalDay> {
    let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
    let first = LocalDay::containing(window.start, tz);
    let last = LocalDay::containing(window.end, tz);
    [first, last]
        .into_iter()
        .find(|d| window.contains(d.at(time)))
        .map(|d| d.previous())
}

/// One workgroup's day.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WorkgroupDay {
    pub workgroup: String,
    pub queries: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub ddl: usize,
    /// Queries on provisioned capacity (billed per DPU-hour, not in `usd`).
    pub capacity_billed: usize,
    pub scanned_bytes: u64,
    pub usd: f64,
    /// Queries above the workgroup's alert threshold.
    pub expensive: usize,
    pub budget_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopQuery {
    pub id: String,
    pub workgroup: String,
    pub usd: f64,
    pub scanned_bytes: u64,
    pub state: QueryState,
    pub sql: String,
}

#[derive(Debug, Clone)]
pub struct Digest {
    pub day: LocalDay,
    pub workgroups: Vec<WorkgroupDay>,
    pub top: Vec<TopQuery>,
    pub by_person: Vec<Spend>,
    pub by_client: Vec<Spend>,
    /// The [`TOP_GROUPS`] tables most scanned.
    pub top_tables: Vec<TableScan>,
}

impl Digest {
    /// Builds the digest of `day` from each workgroup's history (queries completing outside the
    /// day are ignored). `threshold` and `budget` give each workgroup's alert threshold and budget.
    pub fn build(
        day: LocalDay,
        histories: &[(String, Vec<Finished>)],
        price: &PriceList,
        threshold: impl Fn(&str) -> f64,
        budget: impl Fn(&str) -> Option<f64>,
    ) -> Self {
        let (start, end) = (day.start(), day.end());
        let mut workgroups = Vec::new();
        let mut top = Vec::new();
        let mut by_person: BTreeMap<String, Spend> = BTreeMap::new();
        let mut by_client: BTreeMap<String, Spend> = BTreeMap::new();
        let mut tables: BTreeMap<String, TableScan> = BTreeMap::new();
        for (wg, queries) in histories {
            let mut w = WorkgroupDay {
                workgroup: wg.clone(),
                budget_usd: budget(wg),
                ..Default::default()
            };
            for f in queries.iter().filter(|f| {
                f.query.state.is_terminal()
                    && f.query.completed_at.is_some_and(|t| start <= t && t < end)
            }) {
                let q = &f.query;
                let charge = price.charge(q);
                let (person, client) = match &f.caller {
                    Some(c) => (c.person.clone(), c.client.clone()),
                    None => (NO_TRAIL.to_string(), NO_TRAIL.to_string()),
                };
                for (groups, name) in [(&mut by_person, person), (&mut by_client, client)] {
                    let g = groups.entry(name.clone()).or_insert_with(|| Spend {
                        name,
                        ..Default::default()
                    });
                    g.usd += charge.usd();
                    g.queries += 1;
                }
                let read: Vec<String> = match &f.tables {
                    TablesRead::Tables(t) => t.clone(),
                    TablesRead::Unparsed => vec![TablesRead::UNPARSED.to_string()],
                };
                for table in read {
                    let t = tables.entry(table.clone()).or_insert_with(|| TableScan {
                        table,
                        ..Default::default()
                    });
                    t.scanned_bytes += q.data_scanned_bytes.unwrap_or(0);
                    t.queries += 1;
                }
                w.queries += 1;
                match q.state {
                    QueryState::Succeeded => w.succeeded += 1,
                    QueryState::Failed => w.failed += 1,
                    QueryState::Cancelled => w.cancelled += 1,
                    _ => {}
                }
                w.ddl += usize::from(q.statement_type == StatementType::Ddl);
                w.capacity_billed += usize::from(matches!(charge, Charge::Capacity { .. }));
                w.scanned_bytes += q.data_scanned_bytes.unwrap_or(0);
                w.usd += charge.usd();
                w.expensive += usize::from(charge.usd() > threshold(wg));
                if charge.usd() > 0.0 {
                    top.push(TopQuery {
                        id: q.id.clone(),
                        workgroup: wg.clone(),
                        usd: charge.usd(),
                        scanned_bytes: q.data_scanned_bytes.unwrap_or(0),
                        state: q.state,
                        sql: sql::excerpt(&q.sql, 100),
                    });
                }
            }
            workgroups.push(w);
        }
        workgroups.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.workgroup.cmp(&b.workgroup)));
        top.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.id.cmp(&b.id)));
        top.truncate(TOP_QUERIES);
        let mut top_tables: Vec<TableScan> = tables.into_values().collect();
        top_tables.sort_by(|a, b| {
            b.scanned_bytes
                .cmp(&a.scanned_bytes)
                .then(a.table.cmp(&b.table))
        });
        top_tables.truncate(TOP_GROUPS);
        Self {
            day,
            workgroups,
            top,
            by_person: ranked(by_person),
            by_client: ranked(by_client),
            top_tables,
        }
    }

    pub fn total_usd(&self) -> f64 {
        self.workgroups.iter().map(|w| w.usd).sum()
    }

    pub fn total_queries(&self) -> usize {
        self.workgroups.iter().map(|w| w.queries).sum()
    }

    /// The digest as an alert (severity Info). `key` is its ledger key and alert id.
    pub fn alert(
        &self,
        key: &str,
        source: &str,
        region: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Alert {
        let tz = self.day.tz.name();
        let title = format!(
            "Athena spend {} ({tz}): {} in {} queries",
            self.day,
            format_usd(self.total_usd()),
            self.total_queries()
        );
        let summary = format!(
            "Daily digest for {} (00:00-24:00 {tz}) over {} workgroup(s). This message is also lakeops' daily heartbeat: if it does not arrive, the query-cost-watcher is not running.",
            self.day,
            self.workgroups.len()
        );
        let mut alert = Alert::new(
            "DailyDigest",
            Severity::Info,
            source,
            key,
            now,
            title,
            summary,
        );
        for w in &self.workgroups {
            let budget = match w.budget_usd {
                Some(b) if b > 0.0 => format!(
                    ", {:.0}% of the {} budget",
                    w.usd / b * 100.0,
                    format_usd(b)
                ),
                _ => String::new(),
            };
            let capacity = if w.capacity_billed > 0 {
                format!(", {} capacity-billed", w.capacity_billed)
            } else {
                String::new()
            };
            alert = alert.field(
                &w.workgroup,
                format!(
                    "{} · {} queries ({} succeeded, {} failed, {} cancelled, {} DDL{capacity}) · {} scanned · {} over threshold{budget}",
                    format_usd(w.usd),
                    w.queries,
                    w.succeeded,
                    w.failed,
                    w.cancelled,
                    w.ddl,
                    human_bytes(w.scanned_bytes),
                    w.expensive,
                ),
            );
        }
        let top: Vec<String> = self
            .top
            .iter()
            .enumerate()
            .map(|(i, q)| {
                format!(
                    "{:>2}. {:>9}  {:<10}  {:>10}  {}  {}",
                    i + 1,
                    format_usd(q.usd),
                    q.workgroup,
                    human_bytes(q.scanned_bytes),
                    q.id,
                    q.sql
                )
                .trim_end()
                .to_string()
            })
            .collect();
        let lines = |groups: &[Spend]| -> String {
            groups
                .iter()
                .map(|g| {
                    format!(
                        "{:>9}  {:>6} queries  {}",
                        format_usd(g.usd),
                        g.queries,
                        g.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        if !self.by_person.is_empty() {
            alert = alert
                .field("Spend by person", lines(&self.by_person))
                .field("Spend by client", lines(&self.by_client));
        }
        if !self.top_tables.is_empty() {
            alert = alert.field(
                "Top tables by bytes scanned",
                self.top_tables
                    .iter()
                    .map(|t| {
                        format!(
                            "{:>10}  {:>6} queries  {}",
                            human_bytes(t.scanned_bytes),
                            t.queries,
                            t.table
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        alert = alert.field(
            "Top queries",
            if top.is_empty() {
                "(no billed queries)".to_string()
            } else {
                top.join("\n")
            },
        );
        for q in self.top.iter().take(3) {
            alert = alert.link(
                &format!("{} query {}", format_usd(q.usd), q.id),
                console::athena_query(region, &q.id),
            );
        }
        alert
            .detail("day", self.day.to_string())
            .detail("timezone", tz)
            .detail(
                "day_start",
                self.day.start().to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .detail(
                "day_end",
                self.day.end().to_rfc3339_opts(SecondsFormat::Secs, true),
            )
            .detail("total_usd", self.total_usd())
            .detail("total_queries", self.total_queries())
            .detail("workgroups", &self.workgroups)
            .detail("top_queries", &self.top)
            .detail("spend_by_person", &self.by_person)
            .detail("spend_by_client", &self.by_client)
            .detail("top_tables", &self.top_tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use chrono_tz::Asia::Seoul;
    use lakeops::athena::QueryExecution;
    use lakeops::attribution::Caller;
    use lakeops::pricing::TB;

    fn finished(q: QueryExecution, person: Option<&str>, tables: &[&str]) -> Finished {
        Finished {
            caller: person.map(|p| Caller {
                person: p.into(),
                client: if p == "jane" { "console" } else { "dbt" }.into(),
                ..Default::default()
            }),
            tables: TablesRead::Tables(tables.iter().map(|t| t.to_string()).collect()),
            usd: 0.0,
            query: q,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn due_once_a_day_in_the_window_holding_the_local_hour() {
        let five = Duration::minutes(5);
        // 09:00 Seoul = 00:00 UTC.
        let w = Window::ending_at(utc("2026-11-23T00:05:00Z"), five);
        assert_eq!(
            due(w, Seoul, 9).map(|d| d.to_string()).as_deref(),
            Some("2026-11-22")
        );
        assert_eq!(
            due(
                Window::ending_at(utc("2026-11-23T00:00:00Z"), five),
                Seoul,
                9
            ),
            None
        );
        assert_eq!(
            due(
                Window::ending_at(utc("2026-11-23T00:10:00Z"), five),
                Seoul,
                9
            ),
            None
        );
        // Midnight digest: the window 14:55-15:00 UTC ends at Seoul midnight (exclusive), the next
        // one holds it.
        let w = Window::ending_at(utc("2026-11-22T15:05:00Z"), five);
        assert_eq!(
            due(w, Seoul, 0).map(|d| d.to_string()).as_deref(),
            Some("2026-11-22")
        );
        let tiles = (0..288).filter(|i| {
            due(
                Window::ending_at(utc("2026-11-22T15:00:00Z") + five * *i, five),
                Seoul,
                9,
            )
            .is_some()
        });
        assert_eq!(tiles.count(), 1, "exactly one window a day");
    }

    #[test]
    fn counts_spend_and_top_queries_of_the_local_day_only() {
        let day = LocalDay::containing(utc("2026-11-22T03:00:00Z"), Seoul); // 2026-11-22 KST
        let q = |id: &str, wg: &str, state, bytes, at: &str| QueryExecution {
            workgroup: wg.into(),
            state,
            data_scanned_bytes: Some(bytes),
            completed_at: Some(utc(at)),
            ..QueryExecution::example(id)
        };
        let etl = vec![
            finished(
                q(
                    "a",
                    "etl",
                    QueryState::Succeeded,
                    2 * TB,
                    "2026-11-21T15:00:00Z",
                ),
                Some("jane"),
                &["sales.orders", "crm.customers"],
            ),
            finished(
                q(
                    "b",
                    "etl",
                    QueryState::Failed,
                    2 * TB,
                    "2026-11-22T01:00:00Z",
                ),
                Some("etl-runner"),
                &["sales.orders"],
            ),
            finished(
                q(
                    "late",
                    "etl",
                    QueryState::Succeeded,
                    9 * TB,
                    "2026-11-22T15:00:00Z",
                ),
                Some("jane"),
                &["huge.t"],
            ),
        ];
        let mut cancel = q(
            "c",
            "adhoc",
            QueryState::Cancelled,
            TB,
            "2026-11-22T14:59:59Z",
        );
        cancel.sql = "SELECT * FROM t WHERE secret = 'hunter2hunter2'".into();
        let mut adhoc = vec![finished(cancel, None, &[])];
        adhoc[0].tables = TablesRead::Unparsed;
        let price = PriceList { usd_per_tb: 5.0 };
        let d = Digest::build(
            day,
            &[("etl".into(), etl), ("adhoc".into(), adhoc)],
            &price,
            |_| 5.0,
            |wg| (wg == "etl").then_some(20.0),
        );
        assert_eq!(d.total_queries(), 3);
        assert_eq!(d.total_usd(), 15.0);
        assert_eq!(d.workgroups[0].workgroup, "etl");
        assert_eq!((d.workgroups[0].succeeded, d.workgroups[0].failed), (1, 1));
        assert_eq!(d.workgroups[0].expensive, 1);
        assert_eq!(
            d.top.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let a = d.alert("k", "query-cost-watcher", "us-east-1", Utc::now());
        assert_eq!(
            a.title,
            "Athena spend 2026-11-22 (Asia/Seoul): $15.00 in 3 queries"
        );
        let text = a.text_body();
        assert!(text.contains("50% of the $20.00 budget"), "{text}");
        assert!(text.contains("heartbeat"), "{text}");
        // $10 by jane (console), $5 by nobody known (the FAILED one by etl-runner is free).
        let spend: Vec<(&str, f64, usize)> = d
            .by_person
            .iter()
            .map(|s| (s.name.as_str(), s.usd, s.queries))
            .collect();
        assert_eq!(
            spend,
            [
                ("jane", 10.0, 1),
                (NO_TRAIL, 5.0, 1),
                ("etl-runner", 0.0, 1)
            ]
        );
        assert_eq!(d.by_client[0].name, "console");
        let tables: Vec<(&str, u64)> = d
            .top_tables
            .iter()
            .map(|t| (t.table.as_str(), t.scanned_bytes))
            .collect();
        assert_eq!(
            tables,
            [
                ("sales.orders", 4 * TB),
                ("crm.customers", 2 * TB),
                ("unparsed", TB)
            ]
        );
        assert!(text.contains("Spend by person"), "{text}");
        assert!(text.contains("unknown (no CloudTrail trail)"), "{text}");
        assert!(!text.contains("hunter2hunter2"), "{text}");
    }
}
