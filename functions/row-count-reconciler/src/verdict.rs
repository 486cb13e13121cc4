//! The verdict on each check day: errors and unfinished queries, missing partitions, staleness,
//! segment by segment and total row counts against the tolerance, `min_rows`, and the target's
//! volume against its history.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checks::{self, Check, CheckSeverity, Comparison};
use crate::history;
use crate::plan::CheckDay;
use crate::side::{Side, SideResult, Sides};
use crate::template::RunDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Stale,
    Mismatch,
    VolumeAnomaly,
    TooFewRows,
    MissingPartition,
    Unfinished,
    Error,
}

impl Status {
    pub fn alert_kind(self) -> &'static str {
        match self {
            Status::Ok => "RowCountOk",
            Status::Stale => "StaleData",
            Status::Mismatch => "RowCountMismatch",
            Status::TooFewRows => "TooFewRows",
            Status::VolumeAnomaly => "VolumeAnomaly",
            Status::MissingPartition => "MissingPartition",
            Status::Unfinished => "CheckUnfinished",
            Status::Error => "CheckError",
        }
    }
}

/// One check on one date.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub run_date: String,
    /// 0 for the run's own date, N for the N-th look-back day.
    pub lookback_day: u32,
    pub status: Status,
    pub problems: Vec<String>,
    pub source: SideResult,
    pub target: SideResult,
    pub comparison: Option<Comparison>,
    /// With `group_by`: every segment's comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<SegmentComparison>>,
    /// The target count far outside its history, with that history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_anomaly: Option<history::Anomaly>,
    pub tolerance: checks::Tolerance,
    pub severity: CheckSeverity,
    pub owner: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// One segment of a `group_by` check: its counts on both sides (0 where a side has no row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentComparison {
    pub segment: String,
    pub source: u64,
    pub target: u64,
    pub comparison: Comparison,
}

/// The verdict on every measured check day (each side's age taken at its day's run time).
pub fn judge(
    selected: &[Check],
    days: &[CheckDay],
    sides: Vec<Sides<SideResult>>,
    history: &history::History,
) -> Vec<CheckResult> {
    days.iter()
        .zip(sides)
        .map(|(day, sides)| {
            let Sides { source, target } = sides.map(|_, mut s| {
                s.age_seconds = s
                    .fresh_as_of
                    .map(|t| (day.date.time - t).num_seconds().max(0));
                s
            });
            let c = &selected[day.check];
            evaluate(c, day.lookback_day, &day.date, source, target, history)
        })
        .collect()
}

/// The worst status found so far, and every problem in the order found.
struct Findings {
    status: Status,
    problems: Vec<String>,
}

impl Findings {
    fn add(&mut self, status: Status, problem: String) {
        self.status = self.status.max(status);
        self.problems.push(problem);
    }
}

/// The verdict on one check run.
pub fn evaluate(
    c: &Check,
    k: u32,
    date: &RunDate,
    source: SideResult,
    target: SideResult,
    history: &history::History,
) -> CheckResult {
    let mut f = Findings {
        status: Status::Ok,
        problems: Vec::new(),
    };
    let sides = Sides { source, target };
    for (side, s) in sides.iter() {
        side_findings(&mut f, side, s);
    }
    let segments = match (&sides.source.segments, &sides.target.segments) {
        (Some(s), Some(t)) => Some(segment_findings(&mut f, c, s, t)),
        _ => None,
    };
    if let Some(min) = c.min_rows {
        for (side, s) in sides.iter() {
            if let Some(n) = s.rows.filter(|n| *n < min) {
                f.add(
                    Status::TooFewRows,
                    format!("{} has {n} rows, fewer than min_rows {min}", side.label()),
                );
            }
        }
    }
    let comparison = match (sides.source.rows, sides.target.rows) {
        (Some(s), Some(t)) => Some(count_findings(&mut f, c, s, t)),
        _ => None,
    };
    // Volume history: the run date's own target count only (a look-back day is a re-count).
    let volume_anomaly = match (c.volume, sides.target.rows, k) {
        (Some(settings), Some(rows), 0) => history::anomaly(
            rows,
            history.points(&c.name, &date.day.to_string(), settings.history_days),
            &settings,
        ),
        _ => None,
    };
    if let Some(a) = &volume_anomaly {
        f.add(
            Status::VolumeAnomaly,
            format!(
                "target has {} rows against a median of {:.0} over the last {} successful runs (modified z-score {:.1})",
                a.rows,
                a.median,
                a.history.len(),
                a.z
            ),
        );
    }
    CheckResult {
        check: c.name.clone(),
        run_date: date.day.to_string(),
        lookback_day: k,
        status: f.status,
        problems: f.problems,
        source: sides.source,
        target: sides.target,
        comparison,
        segments,
        volume_anomaly,
        tolerance: c.tolerance,
        severity: c.severity,
        owner: c.owner.clone(),
        tags: c.tags.clone(),
    }
}

/// What one side's measurement says on its own: an error, a query stopped at the deadline, a
/// missing partition, stale data.
fn side_findings(f: &mut Findings, side: Side, s: &SideResult) {
    let label = side.label();
    if let Some(e) = &s.error {
        f.add(Status::Error, format!("{label}: {e}"));
    }
    if s.unfinished {
        f.add(
            Status::Unfinished,
            format!("{label}: the query did not finish before the deadline and was stopped"),
        );
    }
    if s.partition_present == Some(false) {
        f.add(
            Status::MissingPartition,
            format!(
                "{label}: partition {} does not exist (no data arrived)",
                s.window
            ),
        );
    }
    if let (Some(age), Some(max)) = (s.age_seconds, s.max_age_hours) {
        if age as f64 > max * 3600.0 {
            f.add(
                Status::Stale,
                if s.fresh_at_most {
                    format!(
                        "{label}: nothing newer than {:.1} h ago (as far back as it looks), more than {max} h",
                        age as f64 / 3600.0
                    )
                } else {
                    format!(
                        "{label}: last updated {:.1} h ago, more than {max} h",
                        age as f64 / 3600.0
                    )
                },
            );
        }
    }
}

/// Every segment compared; the ones beyond tolerance are one problem (the first ten named).
fn segment_findings(
    f: &mut Findings,
    c: &Check,
    source: &BTreeMap<String, u64>,
    target: &BTreeMap<String, u64>,
) -> Vec<SegmentComparison> {
    let compared = compare_segments(source, target, &c.tolerance);
    let differing: Vec<&SegmentComparison> =
        compared.iter().filter(|x| !x.comparison.within).collect();
    if !differing.is_empty() {
        let shown: Vec<String> = differing
            .iter()
            .take(10)
            .map(|x| format!("{} (source {}, target {})", x.segment, x.source, x.target))
            .collect();
        f.add(
            Status::Mismatch,
            format!(
                "{} of {} segments by {} differ beyond tolerance: {}{}",
                differing.len(),
                compared.len(),
                c.group_by.join(", "),
                shown.join("; "),
                if differing.len() > shown.len() {
                    "; …"
                } else {
                    ""
                }
            ),
        );
    }
    compared
}

/// The two totals compared with the check's tolerance.
fn count_findings(f: &mut Findings, c: &Check, s: u64, t: u64) -> Comparison {
    let cmp = c.tolerance.compare(s, t);
    if !cmp.within {
        let pct = cmp
            .diff_pct
            .map(|p| format!("{p:.2}%"))
            .unwrap_or_else(|| "n/a".into());
        let why = match (cmp.beyond_allowed_side, c.tolerance.allowed_side_percent) {
            (true, Some(bound)) => format!(
                "beyond the {direction:?} bound of {bound}%",
                direction = c.tolerance.direction
            ),
            _ => "beyond tolerance".into(),
        };
        f.add(
            Status::Mismatch,
            format!(
                "target has {t} rows, source {s}: difference {:+} ({pct}) {why}",
                cmp.diff
            ),
        );
    }
    cmp
}

/// Every segment of either side, compared with the check's tolerance.
pub fn compare_segments(
    source: &BTreeMap<String, u64>,
    target: &BTreeMap<String, u64>,
    tolerance: &checks::Tolerance,
) -> Vec<SegmentComparison> {
    let keys: std::collections::BTreeSet<&String> = source.keys().chain(target.keys()).collect();
    keys.into_iter()
        .map(|k| {
            let (s, t) = (
                source.get(k).copied().unwrap_or(0),
                target.get(k).copied().unwrap_or(0),
            );
            SegmentComparison {
                segment: k.clone(),
                source: s,
                target: t,
                comparison: tolerance.compare(s, t),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
