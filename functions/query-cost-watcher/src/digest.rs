//! The daily digest: yesterday's Athena spend per workgroup, per person and per client, the ten
//! most expensive queries, the tables most scanned and the counts — recounted from the queries
//! the index priced (not from metrics), so it is exact even when a sweep was lost. Queries no
//! CloudTrail record named are counted under "unknown (no CloudTrail trail)". A query's bytes
//! count for every table it read (Athena does not split a join's scan by table), so the tables'
//! bytes can add up to more than the day's. It is sent by the sweep whose window contains
//! `DIGEST_HOUR:00` local time and doubles as lakeops' daily heartbeat: no digest by then means
//! the watcher is not running.
//!
//! A busy account finishes a million queries a day, so the day is never held at once: the index
//! hands its queries over page by page to a [`DigestBuilder`] (`accumulate`), which keeps only
//! counts, the top queries and one entry per person, client and table; `read` reads the
//! workgroup-hours a few at a time; `render` turns the result into the alert.

mod accumulate;
mod cutoff;
mod read;
mod render;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Serialize;

use lakeops::athena::QueryState;
use lakeops::calendar::LocalDay;

use crate::window::Window;

pub use accumulate::{DigestBuilder, WorkgroupEntry};
pub use cutoff::{CutoffAdvice, ScanLadder, TOP_SHARE};
pub use read::{read_day, FinishedPages, WorkgroupSpec, READS_AT_ONCE};

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
    /// The day's billed scans by size, for the cutoff advice (not listed in the details).
    #[serde(skip)]
    pub scans: ScanLadder,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopQuery {
    pub id: String,
    pub workgroup: String,
    pub usd: f64,
    pub scanned_bytes: u64,
    pub state: QueryState,
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub day: LocalDay,
    /// Most spend first, then by name.
    pub workgroups: Vec<WorkgroupDay>,
    /// The [`TOP_QUERIES`] most expensive billed queries: most spend first, then by id.
    pub top: Vec<TopQuery>,
    pub by_person: Vec<Spend>,
    pub by_client: Vec<Spend>,
    /// The [`TOP_GROUPS`] tables most scanned.
    pub top_tables: Vec<TableScan>,
    /// Per workgroup, the per-query data limit that would have stopped only the top
    /// [`TOP_SHARE`] of its queries, where one would have.
    pub cutoffs: Vec<CutoffAdvice>,
}

impl Digest {
    pub fn total_usd(&self) -> f64 {
        self.workgroups.iter().map(|w| w.usd).sum()
    }

    pub fn total_queries(&self) -> usize {
        self.workgroups.iter().map(|w| w.queries).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};
    use chrono_tz::Asia::Seoul;
    use lakeops::athena::QueryExecution;
    use lakeops::attribution::Caller;
    use lakeops::attribution::NO_TRAIL;
    use lakeops::pricing::PriceList;
    use lakeops::pricing::TB;
    use lakeops::query_index::Finished;
    use lakeops::tables_read::TablesRead;

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

    /// The digest of `histories`, each workgroup's queries added one by one as the index hands
    /// them over.
    fn build(
        day: LocalDay,
        histories: &[(String, Vec<Finished>)],
        price: &PriceList,
        threshold: impl Fn(&str) -> f64,
        budget: impl Fn(&str) -> Option<f64>,
    ) -> Digest {
        let mut builder = DigestBuilder::new(day, *price);
        for (wg, queries) in histories {
            let entry = builder.workgroup(wg, threshold(wg), budget(wg));
            for f in queries {
                builder.add(entry, f);
            }
        }
        builder.finish()
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
        let price = PriceList::default();
        let d = build(
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

    #[test]
    fn advises_the_limit_that_stops_the_top_tenth_of_a_percent() {
        let day = LocalDay::containing(utc("2026-11-22T03:00:00Z"), Seoul);
        // 2,000 queries of 1.5 GiB and two runaways of 3 TiB: 0.1 % allows two.
        let queries: Vec<Finished> = (0..2_002)
            .map(|i| {
                let bytes = if i < 2 { 3 * (1u64 << 40) } else { 3 << 29 };
                let q = QueryExecution {
                    workgroup: "bi".into(),
                    data_scanned_bytes: Some(bytes),
                    completed_at: Some(utc("2026-11-22T03:00:00Z")),
                    ..QueryExecution::example(&format!("q{i}"))
                };
                finished(q, Some("jane"), &["sales.orders"])
            })
            .collect();
        let price = PriceList::default();
        let d = build(day, &[("bi".into(), queries)], &price, |_| 5.0, |_| None);
        assert_eq!(d.cutoffs.len(), 1);
        let a = &d.cutoffs[0];
        // 2 GiB is the smallest round size that stops only the two (1 GiB would stop them all).
        assert_eq!((a.cutoff_bytes, a.stopped, a.queries), (2 << 30, 2, 2_002));
        let saved = 2.0 * (price.usd_for_scan(3 << 40) - price.usd_for_scan(2 << 30));
        assert!((a.saved_usd - saved).abs() < 1e-9, "{a:?}");
        let alert = d.alert("k", "query-cost-watcher", "us-east-1", Utc::now());
        let text = alert.text_body();
        assert!(
            text.contains(
                "bi: a BytesScannedCutoffPerQuery of 2.00 GiB would have stopped 2 of 2002 queries"
            ),
            "{text}"
        );
    }
}
