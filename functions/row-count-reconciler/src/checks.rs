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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::VolumeSettings;
use crate::sqlsafe::{self, TableName};
use crate::template;

/// The largest `freshness.max_age_hours` (ten years): beyond it the look-back's start is outside
/// the calendar arithmetic's range.
pub const MAX_AGE_HOURS: f64 = 87_600.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    checks: Vec<CheckModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckModel {
    name: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    source: SideModel,
    target: SideModel,
    #[serde(default)]
    tolerance: ToleranceModel,
    #[serde(default)]
    lookback_days: u32,
    #[serde(default)]
    bytes_cap: Option<u64>,
    #[serde(default)]
    min_rows: Option<u64>,
    #[serde(default)]
    volume_anomaly: Option<VolumeModel>,
    #[serde(default)]
    group_by: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeModel {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    history_days: Option<u32>,
    #[serde(default)]
    min_history: Option<usize>,
    #[serde(default)]
    threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SideModel {
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    partition: BTreeMap<String, String>,
    #[serde(default)]
    window: Option<WindowModel>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    expect_partition: Option<bool>,
    #[serde(default)]
    freshness: Option<FreshnessModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowModel {
    column: String,
    day: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FreshnessModel {
    max_age_hours: f64,
    measure: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToleranceModel {
    #[serde(default)]
    rows: Option<u64>,
    #[serde(default)]
    percent: Option<f64>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    max_drop_percent: Option<f64>,
    #[serde(default)]
    max_growth_percent: Option<f64>,
}

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
pub struct Side {
    pub counted: Counted,
    /// Assert the window's partition exists (Glue `GetPartitions`), so "no data arrived" is told
    /// apart from "0 rows". Default: on whenever `partition` is given.
    pub expect_partition: bool,
    pub freshness: Option<Freshness>,
}

impl Side {
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
    pub source: Side,
    pub target: Side,
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

/// The longest look-back a check may ask for.
pub const MAX_LOOKBACK_DAYS: u32 = 31;

/// Parses and validates a checks file; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Check>, ChecksError> {
    let fail = |problems: Vec<String>| ChecksError {
        origin: origin.to_string(),
        problems,
    };
    let model: FileModel = serde_norway::from_str(text).map_err(|e| fail(vec![e.to_string()]))?;
    let mut problems = Vec::new();
    let mut checks = Vec::new();
    let mut seen = BTreeMap::new();
    for m in model.checks {
        let line = line_of(text, &m.name);
        let at = match line {
            Some(l) => format!("check {:?} (line {l})", m.name),
            None => format!("check {:?}", m.name),
        };
        let mut problem = |p: String| problems.push(format!("{at}: {p}"));
        if sqlsafe::identifier(&m.name).is_err() {
            problem("name: use letters, digits, _ and - (it becomes a metric dimension)".into());
        }
        if seen.insert(m.name.clone(), ()).is_some() {
            problem("name: another check has the same name".into());
        }
        let severity = match m.severity.as_deref().unwrap_or("critical") {
            "critical" => CheckSeverity::Critical,
            "warning" => CheckSeverity::Warning,
            "info" => CheckSeverity::Info,
            other => {
                problem(format!(
                    "severity: {other:?} is not critical, warning or info"
                ));
                CheckSeverity::Critical
            }
        };
        let source = side(&m.source, "source", &mut problem);
        let target = side(&m.target, "target", &mut problem);
        let direction = match m.tolerance.direction.as_deref().unwrap_or("equal") {
            "equal" => Direction::Equal,
            "target_ge_source" => Direction::TargetGeSource,
            "target_le_source" => Direction::TargetLeSource,
            other => {
                problem(format!(
                    "tolerance.direction: {other:?} is not equal, target_ge_source or target_le_source"
                ));
                Direction::Equal
            }
        };
        if let Some(p) = m.tolerance.percent {
            if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
                problem("tolerance.percent: must be between 0 and 100".into());
            }
        }
        let allowed_side_percent = match direction {
            Direction::Equal => None,
            Direction::TargetLeSource => Some(
                m.tolerance
                    .max_drop_percent
                    .unwrap_or(DEFAULT_MAX_DROP_PERCENT),
            ),
            Direction::TargetGeSource => Some(
                m.tolerance
                    .max_growth_percent
                    .unwrap_or(DEFAULT_MAX_GROWTH_PERCENT),
            ),
        };
        for (field, value, needs, max) in [
            (
                "max_drop_percent",
                m.tolerance.max_drop_percent,
                Direction::TargetLeSource,
                100.0,
            ),
            (
                "max_growth_percent",
                m.tolerance.max_growth_percent,
                Direction::TargetGeSource,
                f64::MAX,
            ),
        ] {
            let Some(v) = value else { continue };
            if direction != needs {
                problem(format!(
                    "tolerance.{field}: bounds the allowed side of direction {}",
                    serde_json::to_value(needs)
                        .ok()
                        .and_then(|d| d.as_str().map(str::to_string))
                        .unwrap_or_default()
                ));
            } else if !(v.is_finite() && v >= 0.0 && v <= max) {
                problem(format!(
                    "tolerance.{field}: must be a percentage from 0{}",
                    if max == 100.0 { " to 100" } else { "" }
                ));
            }
        }
        if m.lookback_days > MAX_LOOKBACK_DAYS {
            problem(format!("lookback_days: at most {MAX_LOOKBACK_DAYS}"));
        }
        if m.bytes_cap == Some(0) {
            problem("bytes_cap: must be above 0".into());
        }
        for column in &m.group_by {
            if let Err(e) = sqlsafe::identifier(column) {
                problem(format!("group_by: {e}"));
            }
        }
        if m.group_by.len() > MAX_GROUP_BY {
            problem(format!("group_by: at most {MAX_GROUP_BY} columns"));
        }
        if !m.group_by.is_empty() && (m.source.sql.is_some() || m.target.sql.is_some()) {
            problem("group_by: needs `table` on both sides (a `sql` side is one number)".into());
        }
        let volume = match &m.volume_anomaly {
            Some(v) if v.enabled == Some(false) => None,
            v => {
                let d = VolumeSettings::default();
                let s = VolumeSettings {
                    history_days: v
                        .as_ref()
                        .and_then(|v| v.history_days)
                        .unwrap_or(d.history_days),
                    min_history: v
                        .as_ref()
                        .and_then(|v| v.min_history)
                        .unwrap_or(d.min_history),
                    threshold: v.as_ref().and_then(|v| v.threshold).unwrap_or(d.threshold),
                };
                if !(1..=366).contains(&s.history_days) {
                    problem("volume_anomaly.history_days: from 1 to 366".into());
                }
                if s.min_history < 3 || s.min_history > s.history_days as usize {
                    problem("volume_anomaly.min_history: at least 3, at most history_days".into());
                }
                if !(s.threshold.is_finite() && s.threshold > 0.0) {
                    problem("volume_anomaly.threshold: must be above 0".into());
                }
                Some(s)
            }
        };
        if let (Some(source), Some(target)) = (source, target) {
            checks.push(Check {
                name: m.name,
                line,
                owner: m.owner,
                severity,
                tags: m.tags,
                source,
                target,
                tolerance: Tolerance {
                    rows: m.tolerance.rows.unwrap_or(0),
                    percent: m.tolerance.percent,
                    direction,
                    allowed_side_percent,
                },
                lookback_days: m.lookback_days,
                bytes_cap: m.bytes_cap,
                min_rows: m.min_rows,
                volume,
                group_by: m.group_by,
            });
        }
    }
    if checks.is_empty() && problems.is_empty() {
        problems.push("no checks declared".into());
    }
    if problems.is_empty() {
        Ok(checks)
    } else {
        Err(fail(problems))
    }
}

fn side(m: &SideModel, which: &str, problem: &mut impl FnMut(String)) -> Option<Side> {
    let mut ok = true;
    let mut bad = |p: String| {
        problem(format!("{which}.{p}"));
        ok = false;
    };
    let counted = match (&m.table, &m.sql) {
        (Some(table), None) => {
            let name = TableName::parse(table)
                .map_err(|e| bad(format!("table: {e}")))
                .ok();
            let mut partition = Vec::new();
            for (key, value) in &m.partition {
                if let Err(e) = sqlsafe::identifier(key) {
                    bad(format!("partition: {e}"));
                }
                if let Err(e) = template::placeholders(value) {
                    bad(format!("partition.{key}: {e}"));
                }
                partition.push((key.clone(), value.clone()));
            }
            let window = m.window.as_ref().and_then(|w| {
                let column = sqlsafe::identifier(w.column.trim())
                    .map_err(|e| bad(format!("window.column: {e}")))
                    .ok()?;
                if let Err(e) = template::placeholders(&w.day) {
                    bad(format!("window.day: {e}"));
                    return None;
                }
                Some(Window {
                    column: column.to_string(),
                    day: w.day.clone(),
                })
            });
            if let Some(filter) = &m.filter {
                if let Err(e) = template::placeholders(filter) {
                    bad(format!("filter: {e}"));
                }
                if let Err(e) = sqlsafe::check_fragment(filter, false) {
                    bad(format!("filter: {e}"));
                }
            }
            name.map(|name| Counted::Table {
                name,
                partition,
                window,
                filter: m.filter.clone(),
            })
        }
        (None, Some(sql)) => {
            if !m.partition.is_empty() || m.filter.is_some() || m.window.is_some() {
                bad("sql: put the window into the query itself; `partition`, `window` and `filter` apply to `table` sides".into());
            }
            if let Err(e) = template::placeholders(sql) {
                bad(format!("sql: {e}"));
            }
            if let Err(e) = sqlsafe::check_fragment(sql, true) {
                bad(format!("sql: {e}"));
            }
            Some(Counted::Sql(sql.trim().trim_end_matches(';').to_string()))
        }
        (Some(_), Some(_)) => {
            bad("table/sql: give one of them, not both".into());
            None
        }
        (None, None) => {
            bad("table/sql: one of them is required".into());
            None
        }
    };
    let in_glue = matches!(&counted, Some(Counted::Table { name, .. }) if name.in_glue());
    let expect_partition = m.expect_partition.unwrap_or(!m.partition.is_empty());
    if expect_partition && (m.partition.is_empty() || !in_glue) {
        bad("expect_partition: needs `partition` on a table in the Glue Data Catalog".into());
    }
    let freshness = match &m.freshness {
        None => None,
        Some(f) => {
            if !(f.max_age_hours > 0.0 && f.max_age_hours <= MAX_AGE_HOURS) {
                bad(format!(
                    "freshness.max_age_hours: must be above 0 and at most {MAX_AGE_HOURS} (ten years)"
                ));
            }
            let measure = match f.measure.as_str() {
                "table_updated" => Some(FreshnessMeasure::TableUpdated),
                "newest_partition" => Some(FreshnessMeasure::NewestPartitionCreated),
                "newest_partition_value" => Some(FreshnessMeasure::NewestPartitionValue),
                other => match other.strip_prefix("column:") {
                    Some(col) => match sqlsafe::identifier(col.trim()) {
                        Ok(c) => Some(FreshnessMeasure::Column(c.to_string())),
                        Err(e) => {
                            bad(format!("freshness.measure: {e}"));
                            None
                        }
                    },
                    None => {
                        bad(format!("freshness.measure: {other:?} is not table_updated, newest_partition, newest_partition_value or column:<name>"));
                        None
                    }
                },
            };
            let needs_glue = !matches!(measure, Some(FreshnessMeasure::Column(_)));
            if needs_glue && !in_glue {
                bad("freshness.measure: only `column:<name>` works outside the Glue Data Catalog and for `sql` sides".into());
            }
            if matches!(measure, Some(FreshnessMeasure::Column(_)))
                && counted
                    .as_ref()
                    .is_some_and(|c| matches!(c, Counted::Sql(_)))
            {
                bad("freshness.measure: column freshness needs a `table` side".into());
            }
            measure.map(|measure| Freshness {
                max_age_hours: f.max_age_hours,
                measure,
            })
        }
    };
    match counted {
        Some(counted) if ok => Some(Side {
            counted,
            expect_partition,
            freshness,
        }),
        _ => None,
    }
}

/// What `check-config` prints for a checks file: the checks it declares (name, line, what each
/// side counts) when it is valid, every problem with its line when it is not — exactly the
/// validation the function runs before any query.
pub fn check_config_report(text: &str, origin: &str) -> Result<String, String> {
    let checks = parse(text, origin).map_err(|e| e.to_string())?;
    let side = |s: &Side| match &s.counted {
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

/// The 1-based line of `name: <name>` in the file, for messages.
fn line_of(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
                == Some(name)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
checks:
  - name: orders_daily
    owner: sales-data
    tags: {pipeline: orders}
    source:
      table: mysql_prod.shop.orders
      filter: "created_at >= timestamp '{{ yesterday_start }}' AND created_at < timestamp '{{ today_start }}'"
    target:
      table: sales.orders_clean
      partition: {dt: "{{ yesterday }}"}
      freshness: {max_age_hours: 30, measure: newest_partition_value}
    tolerance: {rows: 10, percent: 0.5}
    lookback_days: 2
  - name: events_by_sql
    severity: warning
    source:
      sql: "SELECT count(*) FROM raw.events WHERE dt = '{{ yesterday }}';"
    target:
      table: awsdatacatalog.clean.events
      freshness: {max_age_hours: 2, measure: "column:ingested_at"}
    tolerance: {direction: target_ge_source}
"#;

    #[test]
    fn the_shipped_example_is_valid() {
        let checks = parse(
            include_str!("../checks.example.yaml"),
            "checks.example.yaml",
        )
        .unwrap();
        assert_eq!(checks.len(), 4);
        assert_eq!(checks[0].lookback_days, 2);
        assert_eq!(checks[0].min_rows, Some(1));
        assert_eq!(
            checks[1].tolerance.allowed_side_percent,
            Some(10.0),
            "max_drop_percent"
        );
        match &checks[2].target.counted {
            Counted::Table { window, .. } => assert_eq!(
                window.as_ref().map(|w| w.column.as_str()),
                Some("event_time")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_file() {
        let checks = parse(GOOD, "checks.yaml").unwrap();
        assert_eq!(checks.len(), 2);
        let c = &checks[0];
        assert_eq!(c.line, Some(3));
        assert_eq!(c.severity, CheckSeverity::Critical);
        assert!(c.target.expect_partition && !c.source.expect_partition);
        assert_eq!(c.tolerance.rows, 10);
        assert_eq!(
            checks[1].source.counted,
            Counted::Sql("SELECT count(*) FROM raw.events WHERE dt = '{{ yesterday }}'".into())
        );
        assert_eq!(
            checks[1].target.freshness.as_ref().unwrap().measure,
            FreshnessMeasure::Column("ingested_at".into())
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let bad = r#"
checks:
  - name: one
    source:
      table: "sales.orders; DROP TABLE x"
    target:
      table: sales.orders_clean
      filter: "dt = '{{ tomorrow }}'"
    tolerance: {direction: sideways}
  - name: two
    source:
      sql: "SELECT 1; DELETE FROM t"
    target:
      table: mysql.db.t
      freshness: {max_age_hours: 1, measure: table_updated}
  - name: one
    source: {table: a.b}
    target: {table: a.c, partition: {dt: x}, filter: "x = 1 -- c"}
"#;
        let err = parse(bad, "s3://cfg/checks.yaml").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("invalid checks file s3://cfg/checks.yaml (7 problems):"),
            "{text}"
        );
        for expected in [
            "check \"one\" (line 3): source.table:",
            "target.filter: unknown template variable \"tomorrow\"",
            "tolerance.direction: \"sideways\"",
            "check \"two\" (line 10): source.sql: `;` is not allowed",
            "target.freshness.measure: only `column:<name>`",
            "name: another check has the same name",
            "target.filter: SQL comments",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn check_config_lists_the_checks_or_every_problem() {
        let ok = check_config_report(GOOD, "checks.yaml").unwrap();
        assert!(ok.starts_with("checks.yaml: valid, 2 checks"), "{ok}");
        assert!(
            ok.contains("orders_daily (line 3): mysql_prod.shop.orders vs awsdatacatalog.sales.orders_clean"),
            "{ok}"
        );
        let bad = GOOD.replace("percent: 0.5}", "percent: 0.5, direction: up}");
        let err = check_config_report(&bad, "checks.yaml").unwrap_err();
        assert!(
            err.contains("(line 3): tolerance.direction: \"up\""),
            "{err}"
        );
    }

    #[test]
    fn yaml_errors_carry_the_position() {
        let err = parse("checks:\n  - name: x\n    sorce: {}\n", "f").unwrap_err();
        assert!(err.problems[0].contains("line 3"), "{err}");
        assert!(parse("checks: []", "f")
            .unwrap_err()
            .to_string()
            .contains("no checks"));
    }

    #[test]
    fn tolerance_maths() {
        let t = |rows, percent, direction| Tolerance {
            rows,
            percent,
            direction,
            allowed_side_percent: None,
        };
        let eq = t(0, None, Direction::Equal);
        assert_eq!(
            eq.compare(0, 0),
            Comparison {
                diff: 0,
                diff_pct: None,
                within: true,
                beyond_allowed_side: false,
            }
        );
        assert!(
            !eq.compare(0, 5).within,
            "0 vs 5 has no percentage but is a mismatch"
        );
        assert_eq!(eq.compare(100, 90).diff, -10);
        assert_eq!(eq.compare(100, 90).diff_pct, Some(10.0));
        assert!(t(10, None, Direction::Equal).compare(100, 90).within);
        assert!(t(0, Some(10.0), Direction::Equal).compare(100, 110).within);
        assert!(!t(0, Some(9.9), Direction::Equal).compare(100, 110).within);
        assert!(
            t(5, Some(1.0), Direction::Equal).compare(10, 15).within,
            "either bound"
        );
        let ge = t(0, None, Direction::TargetGeSource);
        assert!(ge.compare(100, 150).within && !ge.compare(100, 99).within);
        let le = t(0, None, Direction::TargetLeSource);
        assert!(le.compare(100, 50).within && !le.compare(100, 101).within);
        assert!(!t(0, Some(50.0), Direction::Equal).compare(0, 1).within);
    }

    #[test]
    fn an_allowed_age_beyond_ten_years_is_refused_not_a_panic_later() {
        for bad in ["1e13", "0", "-1", ".nan", ".inf", "87601"] {
            let yaml = format!("checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c, freshness: {{max_age_hours: {bad}, measure: \"column:ts\"}}}}\n");
            let err = parse(&yaml, "f").unwrap_err().to_string();
            assert!(
                err.contains("freshness.max_age_hours: must be above 0"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn group_by_is_validated() {
        let file = |extra: &str| {
            format!("checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c}}\n{extra}")
        };
        let c = &parse(&file("    group_by: [region, channel]\n"), "f").unwrap()[0];
        assert_eq!(c.group_by, ["region", "channel"]);
        let err = parse(&file("    group_by: [\"re gion\", a, b, c, d]\n"), "f")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("group_by: \"re gion\" is not a valid identifier"),
            "{err}"
        );
        assert!(err.contains("at most 4 columns"), "{err}");
        let sql = "checks:\n  - name: c\n    source: {sql: \"SELECT 1\"}\n    target: {table: a.c}\n    group_by: [region]\n";
        assert!(parse(sql, "f")
            .unwrap_err()
            .to_string()
            .contains("needs `table` on both sides"));
    }

    #[test]
    fn one_sided_directions_bound_their_allowed_side() {
        let file = |tolerance: &str| {
            format!("checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c}}\n    tolerance: {tolerance}\n")
        };
        let le = parse(&file("{direction: target_le_source}"), "f").unwrap()[0].tolerance;
        assert_eq!(le.allowed_side_percent, Some(DEFAULT_MAX_DROP_PERCENT));
        let cmp = le.compare(1_000_000, 0);
        assert!(
            !cmp.within && cmp.beyond_allowed_side,
            "0 vs a million fails"
        );
        assert!(
            le.compare(1_000_000, 600_000).within,
            "a 40% drop is filtering"
        );
        assert!(le.compare(0, 0).within, "0 vs 0 stays a match");
        let strict = parse(
            &file("{direction: target_le_source, max_drop_percent: 5}"),
            "f",
        )
        .unwrap()[0]
            .tolerance;
        assert!(!strict.compare(100, 90).within && strict.compare(100, 96).within);
        let ge = parse(
            &file("{direction: target_ge_source, max_growth_percent: 10}"),
            "f",
        )
        .unwrap()[0]
            .tolerance;
        assert!(ge.compare(100, 110).within && !ge.compare(100, 111).within);
        assert_eq!(
            parse(&file("{direction: target_ge_source}"), "f").unwrap()[0]
                .tolerance
                .allowed_side_percent,
            Some(DEFAULT_MAX_GROWTH_PERCENT)
        );
        assert_eq!(
            parse(&file("{}"), "f").unwrap()[0]
                .tolerance
                .allowed_side_percent,
            None
        );
        let err = parse(
            &file("{direction: equal, max_drop_percent: 5, max_growth_percent: -1}"),
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("max_drop_percent: bounds the allowed side of direction target_le_source"),
            "{err}"
        );
        assert!(err.contains("max_growth_percent: bounds"), "{err}");
        let err = parse(
            &file("{direction: target_le_source, max_drop_percent: 150}"),
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("from 0 to 100"), "{err}");
    }
}
