//! The kill policy: limits, exemptions and the decision for one query (pure, no I/O).
//!
//! Decisions, in order:
//! 1. a query that is not QUEUED or RUNNING is left alone;
//! 2. a workgroup on the allowlist (`EXEMPT_WORKGROUPS`) is exempt;
//! 3. a SQL marker `lakeops:allow-long` exempts the query; `lakeops:allow-long=240` instead gives
//!    it its own limit of 240 minutes; a marker whose value is no whole number of minutes above 0
//!    (`=0`, `=abc`) leaves the usual limit, and the alerts say so;
//! 4. DDL (`MSCK REPAIR TABLE`, `ALTER TABLE ... ADD PARTITION`, ...) is exempt unless
//!    `DDL_LIMIT_MINUTES` is set. Decision: DDL legitimately runs long, Athena already caps it
//!    (600 min DDL timeout), and killing a half-done partition repair leaves the catalog worse;
//! 5. the limit is the workgroup's override (`LIMIT_MINUTES_BY_WORKGROUP`) or `LIMIT_MINUTES`;
//!    a QUEUED query is also held to `QUEUED_LIMIT_MINUTES` when that is set;
//! 6. age at or past the limit: stop; at or past `WARN_AT_PERCENT` of it: warn. A RUNNING query's
//!    age runs from its submission; a QUEUED query's from when it entered the queue (its last
//!    state change, from the query index), so a query Athena puts back from RUNNING to QUEUED is
//!    judged on its time in the queue, not on the time it spent running.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use lakeops::athena::{QueryExecution, QueryState, StatementType};
use lakeops::config::ConfigReader;

pub const MARKER: &str = "lakeops:allow-long";

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `LIMIT_MINUTES` (default 60): the run-time limit.
    pub limit: Duration,
    /// `LIMIT_MINUTES_BY_WORKGROUP`: per-workgroup limits, e.g. `etl=180,adhoc=30`.
    pub limit_by_workgroup: BTreeMap<String, Duration>,
    /// `QUEUED_LIMIT_MINUTES` (optional): the limit for queries still QUEUED (the smaller of this
    /// and the run-time limit applies).
    pub queued_limit: Option<Duration>,
    /// `DDL_LIMIT_MINUTES` (optional; unset: DDL is exempt): the limit for DDL statements.
    pub ddl_limit: Option<Duration>,
    /// `WARN_AT_PERCENT` (default 80): warn when this share of the limit has passed (1 to 99);
    /// held as a fraction (0.8 = 80%).
    pub warn_fraction: f64,
    /// `EXEMPT_WORKGROUPS`: comma-separated workgroups never touched.
    pub exempt_workgroups: BTreeSet<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            limit: Duration::minutes(60),
            limit_by_workgroup: BTreeMap::new(),
            queued_limit: None,
            ddl_limit: None,
            warn_fraction: 0.8,
            exempt_workgroups: BTreeSet::new(),
        }
    }
}

fn positive_minutes(r: &mut ConfigReader, name: &str, minutes: u32) -> Duration {
    if minutes == 0 {
        r.problem(name, "must be at least 1 minute");
    }
    Duration::minutes(minutes as i64)
}

impl Policy {
    pub fn read(r: &mut ConfigReader) -> Self {
        let limit_minutes: u32 = r.parse_or("LIMIT_MINUTES", 60);
        let limit = positive_minutes(r, "LIMIT_MINUTES", limit_minutes);
        let by_wg: BTreeMap<String, u32> = r.map("LIMIT_MINUTES_BY_WORKGROUP");
        let limit_by_workgroup = by_wg
            .into_iter()
            .map(|(wg, m)| (wg, positive_minutes(r, "LIMIT_MINUTES_BY_WORKGROUP", m)))
            .collect();
        let queued_limit = r
            .optional_parsed::<u32>("QUEUED_LIMIT_MINUTES")
            .map(|m| positive_minutes(r, "QUEUED_LIMIT_MINUTES", m));
        let ddl_limit = r
            .optional_parsed::<u32>("DDL_LIMIT_MINUTES")
            .map(|m| positive_minutes(r, "DDL_LIMIT_MINUTES", m));
        let warn_percent: u32 = r.parse_or("WARN_AT_PERCENT", 80);
        if !(1..=99).contains(&warn_percent) {
            r.problem("WARN_AT_PERCENT", "must be between 1 and 99");
        }
        Self {
            limit,
            limit_by_workgroup,
            queued_limit,
            ddl_limit,
            warn_fraction: warn_percent as f64 / 100.0,
            exempt_workgroups: r.list("EXEMPT_WORKGROUPS").into_iter().collect(),
        }
    }
}

/// Which limit applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKind {
    Default,
    Workgroup,
    Queued,
    Ddl,
    SqlMarker,
    /// The usual limit, because the query's marker gave no valid number of minutes.
    InvalidMarker,
}

impl LimitKind {
    pub fn describe(&self) -> &'static str {
        match self {
            LimitKind::Default => "the default run-time limit (LIMIT_MINUTES)",
            LimitKind::Workgroup => "the workgroup's run-time limit (LIMIT_MINUTES_BY_WORKGROUP)",
            LimitKind::Queued => "the queue-time limit (QUEUED_LIMIT_MINUTES)",
            LimitKind::Ddl => "the DDL limit (DDL_LIMIT_MINUTES)",
            LimitKind::SqlMarker => "the limit in the query's lakeops:allow-long marker",
            LimitKind::InvalidMarker => "the usual run-time limit: the query's lakeops:allow-long marker gives no valid number of minutes (write lakeops:allow-long=<minutes>, at least 1)",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub kind: LimitKind,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KillDecision {
    /// Finished, or nothing to judge by.
    Ignore,
    Exempt(&'static str),
    WithinLimit {
        age: Duration,
        limit: Limit,
    },
    Warn {
        age: Duration,
        limit: Limit,
        stop_at: DateTime<Utc>,
    },
    Stop {
        age: Duration,
        limit: Limit,
    },
}

/// What a query's SQL says with the [`MARKER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `lakeops:allow-long`: never stopped.
    Exempt,
    /// `lakeops:allow-long=<minutes>`: its own limit.
    Minutes(u32),
    /// `lakeops:allow-long=` with no whole number of minutes above 0 (`=0`, `=abc`, `=1e13`):
    /// a mistake, not a wish to run for ever — the usual limit applies, and the alerts say why.
    Invalid,
}

/// The marker in `sql`, if any.
pub fn marker(sql: &str) -> Option<Marker> {
    let pos = sql.find(MARKER)?;
    let rest = &sql[pos + MARKER.len()..];
    Some(match rest.strip_prefix('=') {
        None => Marker::Exempt,
        Some(value) => {
            let digits: &str = &value[..value.bytes().take_while(u8::is_ascii_digit).count()];
            let after = value[digits.len()..].chars().next();
            let whole = after.is_none_or(|c| !c.is_alphanumeric() && c != '.');
            match digits.parse::<u32>() {
                Ok(m) if m > 0 && whole => Marker::Minutes(m),
                _ => Marker::Invalid,
            }
        }
    })
}

/// `queued_since`: when a QUEUED query entered the queue, if known (else its submission).
pub fn decide(
    q: &QueryExecution,
    queued_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: &Policy,
) -> KillDecision {
    if !matches!(q.state, QueryState::Queued | QueryState::Running) {
        return KillDecision::Ignore;
    }
    let since = match q.state {
        QueryState::Queued => queued_since.or(q.submitted_at),
        _ => q.submitted_at,
    };
    let Some(since) = since else {
        return KillDecision::Ignore;
    };
    let age = now - since;
    if policy.exempt_workgroups.contains(&q.workgroup) {
        return KillDecision::Exempt("workgroup is on the allowlist (EXEMPT_WORKGROUPS)");
    }
    let marked = marker(&q.sql);
    let mut limit = match marked {
        Some(Marker::Exempt) => {
            return KillDecision::Exempt("SQL carries the lakeops:allow-long marker")
        }
        Some(Marker::Minutes(minutes)) => Limit {
            kind: LimitKind::SqlMarker,
            duration: Duration::minutes(minutes as i64),
        },
        _ if q.statement_type == StatementType::Ddl => match policy.ddl_limit {
            None => {
                return KillDecision::Exempt(
                    "DDL statements are exempt (DDL_LIMIT_MINUTES not set)",
                )
            }
            Some(d) => Limit {
                kind: LimitKind::Ddl,
                duration: d,
            },
        },
        _ => match policy.limit_by_workgroup.get(&q.workgroup) {
            Some(d) => Limit {
                kind: LimitKind::Workgroup,
                duration: *d,
            },
            None => Limit {
                kind: LimitKind::Default,
                duration: policy.limit,
            },
        },
    };
    if marked == Some(Marker::Invalid)
        && matches!(limit.kind, LimitKind::Default | LimitKind::Workgroup)
    {
        limit.kind = LimitKind::InvalidMarker;
    }
    if q.state == QueryState::Queued {
        if let Some(queued) = policy.queued_limit {
            if queued < limit.duration {
                limit = Limit {
                    kind: LimitKind::Queued,
                    duration: queued,
                };
            }
        }
    }
    if age >= limit.duration {
        return KillDecision::Stop { age, limit };
    }
    let warn_after = Duration::milliseconds(
        (limit.duration.num_milliseconds() as f64 * policy.warn_fraction) as i64,
    );
    if age >= warn_after {
        let stop_at = since + limit.duration;
        return KillDecision::Warn {
            age,
            limit,
            stop_at,
        };
    }
    KillDecision::WithinLimit { age, limit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn q(
        state: QueryState,
        age_minutes: i64,
        workgroup: &str,
        sql: &str,
        statement: StatementType,
    ) -> QueryExecution {
        QueryExecution {
            state,
            workgroup: workgroup.into(),
            sql: sql.into(),
            statement_type: statement,
            submitted_at: Some(now() - Duration::minutes(age_minutes)),
            ..QueryExecution::example("q")
        }
    }

    fn running(age_minutes: i64) -> QueryExecution {
        q(
            QueryState::Running,
            age_minutes,
            "adhoc",
            "SELECT 1",
            StatementType::Dml,
        )
    }

    fn kind(d: &KillDecision) -> &'static str {
        match d {
            KillDecision::Ignore => "ignore",
            KillDecision::Exempt(_) => "exempt",
            KillDecision::WithinLimit { .. } => "ok",
            KillDecision::Warn { .. } => "warn",
            KillDecision::Stop { .. } => "stop",
        }
    }

    #[test]
    fn boundaries_of_the_default_limit() {
        let p = Policy::default();
        // 80% of 60 min = 48 min.
        for (age, expected) in [
            (0, "ok"),
            (47, "ok"),
            (48, "warn"),
            (59, "warn"),
            (60, "stop"),
            (61, "stop"),
            (600, "stop"),
        ] {
            assert_eq!(
                kind(&decide(&running(age), None, now(), &p)),
                expected,
                "age {age}"
            );
        }
        let d = decide(&running(50), None, now(), &p);
        assert_eq!(
            d,
            KillDecision::Warn {
                age: Duration::minutes(50),
                limit: Limit {
                    kind: LimitKind::Default,
                    duration: Duration::minutes(60)
                },
                stop_at: now() + Duration::minutes(10)
            }
        );
    }

    #[test]
    fn the_decision_table() {
        let mut p = Policy::default();
        p.limit_by_workgroup
            .insert("etl".into(), Duration::minutes(180));
        p.exempt_workgroups.insert("ml".into());
        p.queued_limit = Some(Duration::minutes(15));
        use QueryState::*;
        use StatementType::*;
        let cases = [
            // state, age, workgroup, sql, statement, expected
            (Succeeded, 500, "adhoc", "SELECT 1", Dml, "ignore"),
            (Failed, 500, "adhoc", "SELECT 1", Dml, "ignore"),
            (Cancelled, 500, "adhoc", "SELECT 1", Dml, "ignore"),
            (Running, 500, "ml", "SELECT 1", Dml, "exempt"),
            (
                Running,
                500,
                "adhoc",
                "-- lakeops:allow-long\nSELECT 1",
                Dml,
                "exempt",
            ),
            (
                Running,
                200,
                "adhoc",
                "/* lakeops:allow-long=240 */ SELECT 1",
                Dml,
                "warn",
            ),
            (
                Running,
                240,
                "adhoc",
                "/* lakeops:allow-long=240 */ SELECT 1",
                Dml,
                "stop",
            ),
            // A marker without a valid number of minutes is not an exemption.
            (
                Running,
                500,
                "adhoc",
                "-- lakeops:allow-long=0\nSELECT 1",
                Dml,
                "stop",
            ),
            (Running, 500, "adhoc", "MSCK REPAIR TABLE t", Ddl, "exempt"),
            (Running, 100, "etl", "SELECT 1", Dml, "ok"),
            (Running, 150, "etl", "SELECT 1", Dml, "warn"),
            (Running, 180, "etl", "SELECT 1", Dml, "stop"),
            (Queued, 14, "adhoc", "SELECT 1", Dml, "warn"),
            (Queued, 15, "adhoc", "SELECT 1", Dml, "stop"),
            (Running, 15, "adhoc", "SELECT 1", Dml, "ok"),
        ];
        for (state, age, wg, sql, st, expected) in cases {
            let d = decide(&q(state, age, wg, sql, st), None, now(), &p);
            assert_eq!(kind(&d), expected, "{state:?} {age} min in {wg}: {sql}");
        }
        let stop = decide(&q(Queued, 20, "adhoc", "SELECT 1", Dml), None, now(), &p);
        assert!(matches!(
            stop,
            KillDecision::Stop {
                limit: Limit {
                    kind: LimitKind::Queued,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn ddl_follows_its_own_limit_when_set() {
        let p = Policy {
            ddl_limit: Some(Duration::minutes(120)),
            ..Policy::default()
        };
        let ddl = |age| {
            q(
                QueryState::Running,
                age,
                "etl",
                "MSCK REPAIR TABLE t",
                StatementType::Ddl,
            )
        };
        assert_eq!(kind(&decide(&ddl(90), None, now(), &p)), "ok");
        assert_eq!(kind(&decide(&ddl(100), None, now(), &p)), "warn");
        assert!(matches!(
            decide(&ddl(121), None, now(), &p),
            KillDecision::Stop {
                limit: Limit {
                    kind: LimitKind::Ddl,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn a_requeued_query_is_judged_on_its_time_in_the_queue() {
        let p = Policy {
            queued_limit: Some(Duration::minutes(10)),
            ..Policy::default()
        };
        // Submitted 55 min ago, ran, put back in the queue 3 min ago.
        let requeued = q(
            QueryState::Queued,
            55,
            "adhoc",
            "SELECT 1",
            StatementType::Dml,
        );
        let back = Some(now() - Duration::minutes(3));
        assert_eq!(kind(&decide(&requeued, back, now(), &p)), "ok");
        // 12 minutes in the queue is past the queue-time limit, whatever ran before.
        let long = Some(now() - Duration::minutes(12));
        assert_eq!(kind(&decide(&requeued, long, now(), &p)), "stop");
        // Unknown entry time: from submission, as before.
        assert_eq!(kind(&decide(&requeued, None, now(), &p)), "stop");
        // A RUNNING query's age is from its submission, whatever the index says.
        let running = q(
            QueryState::Running,
            55,
            "adhoc",
            "SELECT 1",
            StatementType::Dml,
        );
        assert_eq!(kind(&decide(&running, back, now(), &p)), "warn");
    }

    #[test]
    fn markers() {
        assert_eq!(marker("SELECT 1"), None);
        assert_eq!(
            marker("-- lakeops:allow-long\nSELECT"),
            Some(Marker::Exempt)
        );
        assert_eq!(
            marker("/* lakeops:allow-long=90 */"),
            Some(Marker::Minutes(90))
        );
        assert_eq!(
            marker("-- lakeops:allow-long=90\nSELECT"),
            Some(Marker::Minutes(90))
        );
        // A malformed limit is a mistake, not an exemption: the usual limit applies.
        for bad in ["=0", "=abc", "=", "=1e13", "=99999999999", "=1.5", "= 90"] {
            assert_eq!(
                marker(&format!("-- lakeops:allow-long{bad}\nSELECT 1")),
                Some(Marker::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_query_without_submission_time_is_left_alone() {
        let mut r = running(100);
        r.submitted_at = None;
        assert_eq!(
            decide(&r, None, now(), &Policy::default()),
            KillDecision::Ignore
        );
    }

    #[test]
    fn config_is_validated() {
        let mut r = ConfigReader::from_map([
            ("LIMIT_MINUTES", "0"),
            ("WARN_AT_PERCENT", "120"),
            ("LIMIT_MINUTES_BY_WORKGROUP", "etl=180,adhoc=x"),
            ("EXEMPT_WORKGROUPS", "ml, research"),
        ]);
        let p = Policy::read(&mut r);
        assert_eq!(p.limit_by_workgroup["etl"], Duration::minutes(180));
        assert!(p.exempt_workgroups.contains("research"));
        let err = r.finish().unwrap_err();
        let vars: Vec<_> = err.problems.iter().map(|p| p.variable.as_str()).collect();
        assert_eq!(
            vars,
            [
                "LIMIT_MINUTES",
                "LIMIT_MINUTES_BY_WORKGROUP",
                "WARN_AT_PERCENT"
            ]
        );
    }
}
