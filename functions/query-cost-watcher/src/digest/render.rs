//! The digest as an alert: one line per workgroup, the people, clients and tables, the top
//! queries with console links, and the whole digest again as the alert's JSON details.

use chrono::SecondsFormat;
use lakeops::alert::{Alert, Severity};
use lakeops::console;
use lakeops::pricing::{format_usd, human_bytes};

use super::{CutoffAdvice, Digest, Spend, TableScan, TopQuery, WorkgroupDay, TOP_SHARE};

impl Digest {
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
            alert = alert.field(&w.workgroup, workgroup_line(w));
        }
        if !self.by_person.is_empty() {
            alert = alert
                .field("Spend by person", spend_lines(&self.by_person))
                .field("Spend by client", spend_lines(&self.by_client));
        }
        if !self.top_tables.is_empty() {
            alert = alert.field("Top tables by bytes scanned", table_lines(&self.top_tables));
        }
        alert = alert.field("Top queries", top_lines(&self.top));
        if !self.cutoffs.is_empty() {
            alert = alert.field("Per-query data limit", cutoff_lines(&self.cutoffs));
        }
        for q in self.top.iter().take(3) {
            alert = alert.link(
                &format!("{} query {}", format_usd(q.usd), q.id),
                console::athena_query(region, &q.id),
            );
        }
        self.details(alert)
    }

    /// The whole digest, machine-readable, for routes and archives.
    fn details(&self, alert: Alert) -> Alert {
        alert
            .detail("day", self.day.to_string())
            .detail("timezone", self.day.tz.name())
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
            .detail("cutoff_advice", &self.cutoffs)
    }
}

fn workgroup_line(w: &WorkgroupDay) -> String {
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
    )
}

fn top_lines(top: &[TopQuery]) -> String {
    if top.is_empty() {
        return "(no billed queries)".to_string();
    }
    top.iter()
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
        .collect::<Vec<_>>()
        .join("\n")
}

fn spend_lines(groups: &[Spend]) -> String {
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
}

fn table_lines(tables: &[TableScan]) -> String {
    tables
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
        .join("\n")
}

/// One line per workgroup: the limit, what it would have stopped and saved.
fn cutoff_lines(advice: &[CutoffAdvice]) -> String {
    advice
        .iter()
        .map(|a| {
            format!(
                "{}: a BytesScannedCutoffPerQuery of {} would have stopped {} of {} queries (the top {:.1} %), saving {}",
                a.workgroup,
                human_bytes(a.cutoff_bytes),
                a.stopped,
                a.queries,
                TOP_SHARE * 100.0,
                format_usd(a.saved_usd)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
