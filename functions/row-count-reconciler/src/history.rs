//! Volume history: is today's target count far outside the check's recent counts?
//!
//! The history is the reconciler's own results file (`RESULTS_S3_URI`, one JSON line per check
//! result): the target count of each earlier run date's own result (`lookback_day` 0) whose
//! status was `ok` — failed runs are left out, so a bad day does not become the norm. Read with
//! one listing of the last `history_days` run dates and one `GetObject` per results file, for
//! all checks at once. (Kept there rather than in a DynamoDB item per check: no new state to
//! write or keep consistent, and at one run a day both cost well under a cent a month.)
//!
//! The test is a robust z-score (Iglewicz and Hoaglin's modified z): `0.6745 · (x − median) /
//! MAD` against `threshold` (default 3.5), over at least `min_history` points; the median and the
//! median absolute deviation are not dragged by the outliers they are looking for, where a mean
//! and standard deviation are. With a MAD of 0 (every past count equal), a count that differs
//! from them by more than 1 % is an anomaly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A check's volume-anomaly settings (`volume_anomaly:` in the checks file).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VolumeSettings {
    /// How many run dates back the history reaches.
    pub history_days: u32,
    /// Fewer successful past runs than this: no verdict (a new check is not an anomaly).
    pub min_history: usize,
    /// |modified z| above this is an anomaly.
    pub threshold: f64,
}

impl Default for VolumeSettings {
    fn default() -> Self {
        Self {
            history_days: 28,
            min_history: 7,
            threshold: 3.5,
        }
    }
}

/// One past run date's count for a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub run_date: String,
    pub rows: u64,
}

/// A count far outside its history, with the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub rows: u64,
    pub median: f64,
    pub mad: f64,
    /// The modified z-score (infinite when the MAD is 0).
    pub z: f64,
    pub history: Vec<Point>,
}

/// Past target counts per check: `{check: {run_date: rows}}`, successful own-date results only.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct History(pub BTreeMap<String, BTreeMap<String, u64>>);

#[derive(Deserialize)]
struct Line {
    check: String,
    run_date: String,
    lookback_day: u32,
    status: String,
    target: LineSide,
}

#[derive(Deserialize)]
struct LineSide {
    rows: Option<u64>,
}

impl History {
    /// Adds one results file (JSON lines; a later file for the same run date overwrites an
    /// earlier one). Lines that do not parse are skipped and counted.
    pub fn add_file(&mut self, text: &str) -> usize {
        let mut unreadable = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Line>(line) {
                Ok(l) if l.lookback_day == 0 && l.status == "ok" => {
                    if let Some(rows) = l.target.rows {
                        self.0.entry(l.check).or_default().insert(l.run_date, rows);
                    }
                }
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
        unreadable
    }

    /// The check's points before `run_date`, newest `history_days` run dates at most.
    pub fn points(&self, check: &str, run_date: &str, history_days: u32) -> Vec<Point> {
        let Some(days) = self.0.get(check) else {
            return Vec::new();
        };
        let mut points: Vec<Point> = days
            .range::<str, _>((
                std::ops::Bound::Unbounded,
                std::ops::Bound::Excluded(run_date),
            ))
            .rev()
            .take(history_days as usize)
            .map(|(d, n)| Point {
                run_date: d.clone(),
                rows: *n,
            })
            .collect();
        points.reverse();
        points
    }
}

/// The median of a non-empty sorted list.
fn median(sorted: &[f64]) -> f64 {
    lakeops::stats::median(sorted).unwrap_or(0.0)
}

/// The verdict on today's count against its history; `None` when it is within it or the
/// history is too short to say.
pub fn anomaly(rows: u64, history: Vec<Point>, s: &VolumeSettings) -> Option<Anomaly> {
    if history.len() < s.min_history.max(1) {
        return None;
    }
    let mut values: Vec<f64> = history.iter().map(|p| p.rows as f64).collect();
    values.sort_by(f64::total_cmp);
    let med = median(&values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = median(&deviations);
    let x = rows as f64;
    let (z, far) = if mad > 0.0 {
        let z = 0.6745 * (x - med) / mad;
        (z, z.abs() > s.threshold)
    } else {
        let z = if x == med {
            0.0
        } else {
            f64::INFINITY.copysign(x - med)
        };
        (z, (x - med).abs() > med.abs() * 0.01)
    };
    far.then_some(Anomaly {
        rows,
        median: med,
        mad,
        z,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(check: &str, date: &str, k: u32, status: &str, rows: u64) -> String {
        serde_json::json!({"check": check, "run_date": date, "lookback_day": k, "status": status,
            "target": {"rows": rows}, "source": {"rows": rows}})
        .to_string()
    }

    #[test]
    fn history_keeps_successful_own_date_results_only() {
        let mut h = History::default();
        let file = [
            line("orders", "2026-11-20", 0, "ok", 1000),
            line("orders", "2026-11-19", 1, "ok", 5), // a look-back result: not that day's own
            line("orders", "2026-11-21", 0, "mismatch", 300), // a failed run: left out
            line("orders", "2026-11-22", 0, "ok", 1010),
            "not json".to_string(),
        ]
        .join("\n");
        assert_eq!(h.add_file(&file), 1);
        // A re-run of the 22nd, written later, wins.
        h.add_file(&line("orders", "2026-11-22", 0, "ok", 1020));
        let points = h.points("orders", "2026-11-23", 28);
        assert_eq!(
            points,
            vec![
                Point {
                    run_date: "2026-11-20".into(),
                    rows: 1000
                },
                Point {
                    run_date: "2026-11-22".into(),
                    rows: 1020
                },
            ]
        );
        assert_eq!(
            h.points("orders", "2026-11-21", 28).len(),
            1,
            "only before the run date"
        );
        assert_eq!(
            h.points("orders", "2026-11-23", 1).len(),
            1,
            "newest history_days"
        );
        assert!(h.points("other", "2026-11-23", 28).is_empty());
    }

    fn days(counts: &[u64]) -> Vec<Point> {
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| Point {
                run_date: format!("2026-11-{:02}", i + 1),
                rows: *n,
            })
            .collect()
    }

    #[test]
    fn robust_z_flags_far_counts_and_ignores_an_outlier_in_history() {
        let s = VolumeSettings::default();
        let normal = [1000, 1010, 990, 1005, 995, 1020, 980, 1000];
        assert_eq!(anomaly(1003, days(&normal), &s), None);
        let low = anomaly(300, days(&normal), &s).expect("a 70% drop");
        assert_eq!(low.median, 1000.0);
        assert!(low.z < -s.threshold, "{low:?}");
        assert!(anomaly(1600, days(&normal), &s).is_some(), "a spike too");
        // One old outlier in the history barely moves the median and MAD.
        let with_outlier = [1000, 1010, 990, 1005, 995, 1020, 980, 50_000];
        assert_eq!(anomaly(1003, days(&with_outlier), &s), None);
        assert!(anomaly(300, days(&with_outlier), &s).is_some());
        // Too little history: no verdict.
        assert_eq!(anomaly(1, days(&normal[..6]), &s), None);
        // Every past count equal: more than 1% off is an anomaly.
        let flat = [500; 8];
        assert_eq!(anomaly(503, days(&flat), &s), None);
        let off = anomaly(520, days(&flat), &s).unwrap();
        assert!(off.z.is_infinite() && off.mad == 0.0);
    }
}
