//! The declared checks: the YAML file, its validation (every problem at once, each with its line)
//! and the tolerance maths.
//!
//! ```yaml
//! checks:
//!   - name: orders_daily
//!     owner: sales-data            # optional: owner / severity / tags go onto the alert
//!     severity: critical           # critical (default) | warning | info
//!     tags: {pipeline: orders}
//!     source:
//!       table: mysql_prod.shop.orders          # catalog.database.table (any catalog)
//!       filter: "created_at >= timestamp '{{ yesterday_start }}' AND created_at < timestamp '{{ today_start }}'"
//!     target:
//!       table: awsdatacatalog.sales.orders_clean
//!       partition: {dt: "{{ yesterday }}"}     # WHERE dt = '...', partition must exist
//!       freshness: {max_age_hours: 30, measure: newest_partition_value}
//!     tolerance: {rows: 10, percent: 0.5, direction: equal}
//!     lookback_days: 2                         # also re-check the 2 days before
//!     bytes_cap: 10000000000                   # stop a count query scanning more
//! ```

mod file;
mod validate;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::VolumeSettings;
use crate::sqlsafe::TableName;

pub use validate::parse;

/// The largest `freshness.max_age_hours` (ten years): beyond it the look-back's start is outside
/// the calendar arithmetic's range.
pub const MAX_AGE_HOURS: f64 = 87_600.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckSeverity {
    Critical,
    Warning,
    Info,
}

/// What one side counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Counted {
    /// A table, with its partition equalities, its window on a column and extra filter
    /// (templates not yet rendered).
    Table {
        name: TableName,
        partition: Vec<(String, String)>,
        window: Option<Window>,
        filter: Option<String>,
    },
    /// A query returning one count.
    Sql(String),
}

/// One day of a column's values (`window: {column: ts, day: "{{ yesterday }}"}`): the rows whose
/// `ts` falls on that calendar day of the column's own values (UTC for a zoned timestamp) — the
/// days Iceberg's `day(ts)` partitions by. Counted with a range predicate, or from the metadata
/// of the `day(ts)` (or identity, for a DATE column) partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub column: String,
    /// The day, as a template (`{{ yesterday }}`) or a date.
    pub day: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FreshnessMeasure {
    /// Glue's table `UpdateTime` (changes on schema or property updates, and on commits for
    /// Iceberg tables).
    TableUpdated,
    /// The newest partition's creation time in Glue.
    NewestPartitionCreated,
    /// The newest value of the first partition key read as a date (`2026-11-22`, `20261122`,
    /// `2026-11-22-13`): data is as fresh as the end of that day (or hour).
    NewestPartitionValue,
    /// `max(column)` through Athena.
    Column(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub max_age_hours: f64,
    pub measure: FreshnessMeasure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredSide {
    pub counted: Counted,
    /// Assert the window's partition exists (Glue `GetPartitions`), so "no data arrived" is told
    /// apart from "0 rows". Default: on whenever `partition` is given.
    pub expect_partition: bool,
    pub freshness: Option<Freshness>,
}

impl DeclaredSide {
    pub fn table(&self) -> Option<&TableName> {
        match &self.counted {
            Counted::Table { name, .. } => Some(name),
            Counted::Sql(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The difference either way must be within tolerance.
    Equal,
    /// The target may hold more rows than the source (it accumulates); a shortfall must be within
    /// tolerance.
    TargetGeSource,
    /// The target may hold fewer rows (it filters); an excess must be within tolerance.
    TargetLeSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tolerance {
    pub rows: u64,
    pub percent: Option<f64>,
    pub direction: Direction,
    /// A one-sided direction's bound on its allowed side, in percent of the source: how many
    /// fewer rows `target_le_source` accepts (`max_drop_percent`, default
    /// [`DEFAULT_MAX_DROP_PERCENT`]), how many more `target_ge_source` accepts
    /// (`max_growth_percent`, default [`DEFAULT_MAX_GROWTH_PERCENT`]). Without it a target of 0
    /// against a source of a million would pass. `None` for `equal`.
    pub allowed_side_percent: Option<f64>,
}

/// A filtering target that lost more than half its source's rows is not "filtering".
pub const DEFAULT_MAX_DROP_PERCENT: f64 = 50.0;
/// An accumulating target that holds more than twice its source's rows for the same window is
/// not "accumulating".
pub const DEFAULT_MAX_GROWTH_PERCENT: f64 = 100.0;

/// The comparison of two counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// target − source.
    pub diff: i64,
    /// |diff| / source × 100; `None` when the source is 0 (then only `rows` can excuse a
    /// difference — no division by zero, and 0 vs 0 is a match).
    pub diff_pct: Option<f64>,
    pub within: bool,
    /// The difference is on the allowed side of a one-sided direction but beyond its bound.
    pub beyond_allowed_side: bool,
}

impl Tolerance {
    /// Compares the counts. With both `rows` and `percent` set, a difference within *either* is
    /// accepted: the absolute bound serves small tables, the percentage large ones.
    pub fn compare(&self, source: u64, target: u64) -> Comparison {
        let diff = target as i64 - source as i64;
        let diff_pct = (source > 0).then(|| diff.unsigned_abs() as f64 / source as f64 * 100.0);
        let counted = match self.direction {
            Direction::Equal => diff.unsigned_abs(),
            Direction::TargetGeSource => (-diff).max(0) as u64,
            Direction::TargetLeSource => diff.max(0) as u64,
        };
        let pct_of_counted = (source > 0).then(|| counted as f64 / source as f64 * 100.0);
        let within_tolerance = counted <= self.rows
            || matches!((self.percent, pct_of_counted), (Some(limit), Some(p)) if p <= limit);
        // The allowed side: no percentage of a source of 0 (then `min_rows` is the guard).
        let allowed = match self.direction {
            Direction::Equal => 0,
            Direction::TargetGeSource => diff.max(0) as u64,
            Direction::TargetLeSource => (-diff).max(0) as u64,
        };
        let beyond_allowed_side = matches!(
            (self.allowed_side_percent, source > 0),
            (Some(bound), true) if allowed as f64 / source as f64 * 100.0 > bound
        );
        Comparison {
            diff,
            diff_pct,
            within: within_tolerance && !beyond_allowed_side,
            beyond_allowed_side,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub line: Option<usize>,
    pub owner: Option<String>,
    pub severity: CheckSeverity,
    pub tags: BTreeMap<String, String>,
    pub source: DeclaredSide,
    pub target: DeclaredSide,
    pub tolerance: Tolerance,
    pub lookback_days: u32,
    pub bytes_cap: Option<u64>,
    /// Fewer rows than this on either side is a failure (`TooFewRows`), also when both sides
    /// agree: 0 vs 0 is a match, which is wrong for a table that must fill every day.
    pub min_rows: Option<u64>,
    /// The target count against its own history ([`crate::history`]); on unless switched off.
    pub volume: Option<VolumeSettings>,
    /// Columns (the same on both sides) to compare segment by segment.
    pub group_by: Vec<String>,
}

/// The most `group_by` columns a check may name.
pub const MAX_GROUP_BY: usize = 4;

/// Why the checks file is unusable: every problem, each with its line where known.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecksError {
    pub origin: String,
    pub problems: Vec<String>,
}

impl std::fmt::Display for ChecksError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid checks file {} ({} problem{}):",
            self.origin,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ChecksError {}

/// The longest look-back a check may ask for.
pub const MAX_LOOKBACK_DAYS: u32 = 31;

/// What `check-config` prints for a checks file: the checks it declares (name, line, what each
/// side counts) when it is valid, every problem with its line when it is not — exactly the
/// validation the function runs before any query.
pub fn check_config_report(text: &str, origin: &str) -> Result<String, ChecksError> {
    let checks = parse(text, origin)?;
    let side = |s: &DeclaredSide| match &s.counted {
        Counted::Table { name, .. } => name.to_string(),
        Counted::Sql(_) => "sql".to_string(),
    };
    let mut out = format!(
        "{origin}: valid, {} check{}",
        checks.len(),
        if checks.len() == 1 { "" } else { "s" }
    );
    for c in &checks {
        out.push_str(&format!(
            "\n  - {} (line {}): {} vs {}",
            c.name,
            c.line.map_or("?".to_string(), |l| l.to_string()),
            side(&c.source),
            side(&c.target)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
