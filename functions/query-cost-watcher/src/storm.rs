//! Retry storms: the same statement (by [`lakeops::sql::fingerprint`]) failing or being cancelled
//! again and again — a scheduler retrying a broken job, a dashboard refreshing a bad query.
//!
//! A storm is `RETRY_STORM_COUNT` or more FAILED/CANCELLED completions of one fingerprint in one
//! workgroup within the last `RETRY_STORM_MINUTES`, at least one of them in the window being
//! swept (so an old storm is not reported again by every later sweep). It is alerted once per
//! fingerprint per storm period: the ledger key carries the period the window falls in.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lakeops::athena::{QueryExecution, QueryState};
use lakeops::sql;

use crate::window::Window;

#[derive(Debug, Clone)]
pub struct Storm {
    pub workgroup: String,
    pub fingerprint: String,
    pub fingerprint_id: String,
    pub failed: usize,
    pub cancelled: usize,
    pub first_completed: DateTime<Utc>,
    pub last_completed: DateTime<Utc>,
    /// State change reasons and how often each was seen, most frequent first.
    pub reasons: Vec<(String, usize)>,
    /// The most recent occurrence (for the SQL excerpt, database and link).
    pub latest: QueryExecution,
}

impl Storm {
    pub fn count(&self) -> usize {
        self.failed + self.cancelled
    }

    /// The storm period `window` falls in: storms are alerted once per fingerprint per period.
    pub fn period_start(window: Window, lookback: Duration) -> DateTime<Utc> {
        let step = lookback.num_seconds().max(60);
        let secs = window.start.timestamp().div_euclid(step) * step;
        DateTime::from_timestamp(secs, 0).unwrap_or(window.start)
    }
}

/// The storms among `queries` (one workgroup's recent history).
pub fn find(
    queries: &[QueryExecution],
    window: Window,
    lookback: Duration,
    min_count: usize,
) -> Vec<Storm> {
    if min_count == 0 {
        return Vec::new();
    }
    let since = window.end - lookback;
    let mut groups: BTreeMap<String, Vec<&QueryExecution>> = BTreeMap::new();
    for q in queries {
        let Some(done) = q.completed_at else { continue };
        if matches!(q.state, QueryState::Failed | QueryState::Cancelled)
            && since <= done
            && done < window.end
        {
            groups.entry(sql::fingerprint(&q.sql)).or_default().push(q);
        }
    }
    let mut storms = Vec::new();
    for (fingerprint, mut runs) in groups {
        if runs.len() < min_count
            || !runs
                .iter()
                .any(|q| q.completed_at.is_some_and(|t| window.contains(t)))
        {
            continue;
        }
        runs.sort_by_key(|q| q.completed_at);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for q in &runs {
            let reason = q
                .state_change_reason
                .clone()
                .unwrap_or_else(|| "(no reason given)".into());
            *reasons.entry(reason).or_default() += 1;
        }
        let mut reasons: Vec<(String, usize)> = reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let latest = (*runs.last().expect("group is not empty")).clone();
        storms.push(Storm {
            workgroup: latest.workgroup.clone(),
            fingerprint_id: sql::fingerprint_id(&fingerprint),
            fingerprint,
            failed: runs
                .iter()
                .filter(|q| q.state == QueryState::Failed)
                .count(),
            cancelled: runs
                .iter()
                .filter(|q| q.state == QueryState::Cancelled)
                .count(),
            first_completed: runs[0].completed_at.unwrap_or(window.start),
            last_completed: latest.completed_at.unwrap_or(window.start),
            reasons,
            latest,
        });
    }
    storms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        "2026-11-23T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute)
    }

    fn run(id: &str, sql: &str, state: QueryState, minute: i64) -> QueryExecution {
        QueryExecution {
            sql: sql.into(),
            state,
            completed_at: Some(at(minute)),
            state_change_reason: Some("TABLE_NOT_FOUND: Table sales.gone does not exist".into()),
            ..QueryExecution::example(id)
        }
    }

    #[test]
    fn repeats_of_one_shape_in_the_lookback_make_one_storm() {
        let window = Window::ending_at(at(60), Duration::minutes(5));
        let mut qs: Vec<QueryExecution> = (0..4)
            .map(|i| {
                run(
                    &format!("f{i}"),
                    &format!("SELECT * FROM gone WHERE dt = '2026-11-{:02}'", 10 + i),
                    QueryState::Failed,
                    10 * i,
                )
            })
            .collect();
        qs.push(run(
            "c",
            "select * from gone where dt='x'",
            QueryState::Cancelled,
            57,
        ));
        qs.push(run(
            "ok",
            "SELECT * FROM gone WHERE dt = '1'",
            QueryState::Succeeded,
            58,
        ));
        qs.push(run("other", "SELECT 1", QueryState::Failed, 58));
        qs.push(run(
            "old",
            "SELECT * FROM gone WHERE dt = '1'",
            QueryState::Failed,
            -10,
        ));
        let storms = find(&qs, window, Duration::minutes(60), 5);
        assert_eq!(storms.len(), 1, "{storms:?}");
        let s = &storms[0];
        assert_eq!((s.failed, s.cancelled, s.count()), (4, 1, 5));
        assert_eq!(s.latest.id, "c");
        assert_eq!(s.first_completed, at(0));
        assert_eq!(s.reasons[0].1, 5);
        assert!(find(&qs, window, Duration::minutes(60), 6).is_empty());
        assert!(
            find(&qs, window, Duration::minutes(60), 0).is_empty(),
            "0 disables"
        );
    }

    #[test]
    fn an_old_storm_with_nothing_new_in_the_window_is_not_repeated() {
        let window = Window::ending_at(at(60), Duration::minutes(5));
        let qs: Vec<QueryExecution> = (0..6)
            .map(|i| {
                run(
                    &format!("f{i}"),
                    "SELECT broken",
                    QueryState::Failed,
                    10 + i,
                )
            })
            .collect();
        assert!(find(&qs, window, Duration::minutes(60), 5).is_empty());
        assert_eq!(
            Storm::period_start(window, Duration::minutes(60)),
            at(0),
            "09:55-10:00 falls in the 09:00 period"
        );
    }
}
