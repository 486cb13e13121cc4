//! Validating the checks file into [`Check`]s: every problem at once, each naming its check and
//! line, so that nothing runs until the whole file is right.

use std::collections::BTreeMap;

use super::file::{
    line_of, CheckModel, FileModel, FreshnessModel, SideModel, ToleranceModel, VolumeModel,
};
use super::{
    Check, CheckSeverity, ChecksError, Counted, DeclaredSide, Direction, Freshness,
    FreshnessMeasure, Tolerance, Window, DEFAULT_MAX_DROP_PERCENT, DEFAULT_MAX_GROWTH_PERCENT,
    MAX_AGE_HOURS, MAX_GROUP_BY, MAX_LOOKBACK_DAYS,
};
use crate::history::VolumeSettings;
use crate::sqlsafe::{self, TableName};
use crate::template;

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
        let duplicate = seen.insert(m.name.clone(), ()).is_some();
        let mut problem = |p: String| problems.push(format!("{at}: {p}"));
        if let Some(check) = check(m, line, duplicate, &mut problem) {
            checks.push(check);
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

/// One check, or `None` when a side is unusable (its problems are said either way).
fn check(
    m: CheckModel,
    line: Option<usize>,
    duplicate: bool,
    problem: &mut impl FnMut(String),
) -> Option<Check> {
    if sqlsafe::identifier(&m.name).is_err() {
        problem("name: use letters, digits, _ and - (it becomes a metric dimension)".into());
    }
    if duplicate {
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
    let source = side(&m.source, "source", problem);
    let target = side(&m.target, "target", problem);
    let tolerance = tolerance(&m.tolerance, problem);
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
    let volume = volume(m.volume_anomaly.as_ref(), problem);
    Some(Check {
        name: m.name,
        line,
        owner: m.owner,
        severity,
        tags: m.tags,
        source: source?,
        target: target?,
        tolerance,
        lookback_days: m.lookback_days,
        bytes_cap: m.bytes_cap,
        min_rows: m.min_rows,
        volume,
        group_by: m.group_by,
    })
}

/// The tolerance: its direction, and a one-sided direction's bound on its allowed side.
fn tolerance(m: &ToleranceModel, problem: &mut impl FnMut(String)) -> Tolerance {
    let direction = match m.direction.as_deref().unwrap_or("equal") {
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
    if let Some(p) = m.percent {
        if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
            problem("tolerance.percent: must be between 0 and 100".into());
        }
    }
    let allowed_side_percent = match direction {
        Direction::Equal => None,
        Direction::TargetLeSource => Some(m.max_drop_percent.unwrap_or(DEFAULT_MAX_DROP_PERCENT)),
        Direction::TargetGeSource => {
            Some(m.max_growth_percent.unwrap_or(DEFAULT_MAX_GROWTH_PERCENT))
        }
    };
    for (field, value, needs, max) in [
        (
            "max_drop_percent",
            m.max_drop_percent,
            Direction::TargetLeSource,
            100.0,
        ),
        (
            "max_growth_percent",
            m.max_growth_percent,
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
    Tolerance {
        rows: m.rows.unwrap_or(0),
        percent: m.percent,
        direction,
        allowed_side_percent,
    }
}

/// The volume-anomaly settings: on with defaults unless switched off.
fn volume(m: Option<&VolumeModel>, problem: &mut impl FnMut(String)) -> Option<VolumeSettings> {
    if m.is_some_and(|v| v.enabled == Some(false)) {
        return None;
    }
    let d = VolumeSettings::default();
    let s = VolumeSettings {
        history_days: m.and_then(|v| v.history_days).unwrap_or(d.history_days),
        min_history: m.and_then(|v| v.min_history).unwrap_or(d.min_history),
        threshold: m.and_then(|v| v.threshold).unwrap_or(d.threshold),
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

/// One side, or `None` when any of its problems makes it unusable.
fn side(m: &SideModel, which: &str, problem: &mut impl FnMut(String)) -> Option<DeclaredSide> {
    let mut ok = true;
    let mut bad = |p: String| {
        problem(format!("{which}.{p}"));
        ok = false;
    };
    let counted = match (&m.table, &m.sql) {
        (Some(table), None) => table_side(table, m, &mut bad),
        (None, Some(sql)) => sql_side(sql, m, &mut bad),
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
    let is_sql = matches!(counted, Some(Counted::Sql(_)));
    let freshness = m
        .freshness
        .as_ref()
        .and_then(|f| freshness(f, in_glue, is_sql, &mut bad));
    match counted {
        Some(counted) if ok => Some(DeclaredSide {
            counted,
            expect_partition,
            freshness,
        }),
        _ => None,
    }
}

/// A `table` side: the table, its partition values, its day window and its filter.
fn table_side(table: &str, m: &SideModel, bad: &mut impl FnMut(String)) -> Option<Counted> {
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

/// A `sql` side: the check's own query, which holds its window itself.
fn sql_side(sql: &str, m: &SideModel, bad: &mut impl FnMut(String)) -> Option<Counted> {
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

/// A side's freshness: its allowed age and how it is measured (Glue measures need a Glue table).
fn freshness(
    f: &FreshnessModel,
    in_glue: bool,
    is_sql: bool,
    bad: &mut impl FnMut(String),
) -> Option<Freshness> {
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
    let is_column = matches!(measure, Some(FreshnessMeasure::Column(_)));
    if !is_column && !in_glue {
        bad("freshness.measure: only `column:<name>` works outside the Glue Data Catalog and for `sql` sides".into());
    }
    if is_column && is_sql {
        bad("freshness.measure: column freshness needs a `table` side".into());
    }
    measure.map(|measure| Freshness {
        max_age_hours: f.max_age_hours,
        measure,
    })
}
