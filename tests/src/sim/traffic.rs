//! A day of a busy lake's Athena traffic, from a seed: BI dashboards refreshing all day, ETL
//! bursts at night, analysts in office hours; failures, cancels, DDL; about one query in 300
//! expensive; one in `runaway_odds` (by default [`RUNAWAY_ODDS`]) a runaway (it would run 1.5
//! to 5 hours unless stopped); most CloudTrail
//! records minutes late and some never.

use chrono::{DateTime, Duration, Timelike, Utc};
use lakeops::athena::{QueryState, StatementType};

/// SplitMix64: small, fast, and the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Log-uniform in [lo, hi].
    pub fn log_between(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }
}

/// Who sends a query, which shapes everything about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Dashboard,
    Etl,
    Analyst,
}

/// One query of the day, as it will happen.
#[derive(Debug, Clone)]
pub struct PlannedQuery {
    pub id: String,
    pub workgroup: String,
    pub person: String,
    pub source: Source,
    pub sql: String,
    pub statement: StatementType,
    pub submitted: DateTime<Utc>,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub state: QueryState,
    pub bytes: u64,
    /// When its CloudTrail record reaches EventBridge (`None`: never).
    pub trail_at: Option<DateTime<Utc>>,
    /// The DPUs Athena reports it used, in a workgroup on a capacity reservation.
    pub dpu: Option<f64>,
}

/// Three dashboard workgroups run on capacity reservations (24, 8 and 4 DPUs a query): priced by
/// DPU-time, not bytes; a runaway among them is expensive by its hours.
pub fn reservation_dpus(workgroup: &str) -> Option<f64> {
    match workgroup {
        "bi-00" => Some(24.0),
        "bi-01" => Some(8.0),
        "bi-02" => Some(4.0),
        _ => None,
    }
}

const GB: f64 = (1u64 << 30) as f64;
/// By default one query in this many would run for hours (a cross join, a missing predicate)
/// unless stopped: about 33 a day at 100,000 queries/day.
pub const RUNAWAY_ODDS: u64 = 3000;

/// Share of the day's queries each source sends in `hour` (UTC), before normalising.
fn weight(source: Source, hour: u32) -> f64 {
    match source {
        Source::Dashboard => 0.30,
        Source::Etl if (1..5).contains(&hour) => 0.30 * 24.0 / 4.0,
        Source::Etl => 0.0,
        Source::Analyst if (9..18).contains(&hour) => 0.40 * 24.0 / 9.0,
        Source::Analyst => 0.0,
    }
}

/// Queries submitted per minute from `start` for `minutes`, at `per_day` a day; one in
/// `runaway_odds` a runaway.
pub fn plan(
    per_day: u64,
    start: DateTime<Utc>,
    minutes: i64,
    runaway_odds: u64,
    rng: &mut Rng,
) -> Vec<PlannedQuery> {
    let mut out = Vec::new();
    let mut carry = [0.0f64; 3];
    let sources = [Source::Dashboard, Source::Etl, Source::Analyst];
    for m in 0..minutes {
        let minute = start + Duration::minutes(m);
        for (i, source) in sources.iter().enumerate() {
            carry[i] += per_day as f64 * weight(*source, minute.hour()) / (24.0 * 60.0);
            while carry[i] >= 1.0 {
                carry[i] -= 1.0;
                let at = minute + Duration::milliseconds(rng.below(60_000) as i64);
                out.push(query(*source, out.len(), at, runaway_odds, rng));
            }
        }
    }
    out.sort_by(|a, b| (a.submitted, &a.id).cmp(&(b.submitted, &b.id)));
    out
}

/// Where a query of `source` runs, who sends it, its SQL, the bytes it scans if it succeeds and
/// how long it runs (seconds).
fn shape(source: Source, rng: &mut Rng) -> (String, String, String, f64, f64) {
    match source {
        Source::Dashboard => {
            let board = rng.below(40);
            (
                format!("bi-{:02}", board % 20),
                "svc-dashboards".to_string(),
                format!("SELECT region, sum(amount) FROM sales.orders_{board} GROUP BY region"),
                rng.log_between(0.05 * GB, 2.0 * GB),
                rng.log_between(1.0, 20.0),
            )
        }
        Source::Etl => {
            let job = rng.below(60);
            (
                format!("etl-{:02}", job % 20),
                format!("svc-etl-{}", job % 6),
                format!("INSERT INTO curated.events_{job} SELECT * FROM raw.events_{job} WHERE dt = '2026-03-01'"),
                rng.log_between(GB, 200.0 * GB),
                rng.log_between(20.0, 600.0),
            )
        }
        Source::Analyst => {
            let who = rng.below(200);
            // About one analyst query in 120 scans terabytes: ~1 in 300 of the day's queries.
            let huge = rng.chance(1.0 / 120.0);
            let bytes = if huge {
                rng.log_between(1100.0 * GB, 6000.0 * GB)
            } else {
                rng.log_between(0.01 * GB, 50.0 * GB)
            };
            (
                format!("adhoc-{:02}", who % 60),
                format!("analyst-{who:03}"),
                format!(
                    "SELECT * FROM lake.clicks_{} WHERE user_id = {}",
                    who % 17,
                    rng.below(1 << 20)
                ),
                bytes,
                rng.log_between(2.0, if huge { 900.0 } else { 120.0 }),
            )
        }
    }
}

fn query(
    source: Source,
    n: usize,
    submitted: DateTime<Utc>,
    runaway_odds: u64,
    rng: &mut Rng,
) -> PlannedQuery {
    let (workgroup, person, sql, bytes, mut seconds) = shape(source, rng);
    if rng.below(runaway_odds) == 0 {
        seconds = rng.log_between(90.0 * 60.0, 300.0 * 60.0);
    }
    let statement = if rng.chance(0.03) {
        StatementType::Ddl
    } else {
        StatementType::Dml
    };
    let roll = rng.unit();
    let state = if roll < 0.94 {
        QueryState::Succeeded
    } else if roll < 0.98 {
        QueryState::Failed
    } else {
        QueryState::Cancelled
    };
    let scanned = match state {
        QueryState::Succeeded => bytes,
        _ => bytes * rng.unit(),
    };
    let queued = Duration::milliseconds(rng.log_between(50.0, 5000.0) as i64);
    let started = submitted + queued;
    let ended = started + Duration::milliseconds((seconds * 1000.0) as i64);
    let trail_at = rng
        .chance(0.97)
        .then(|| submitted + Duration::seconds(rng.log_between(30.0, 480.0) as i64));
    let dpu = reservation_dpus(&workgroup);
    PlannedQuery {
        id: format!("sim-{n:08}-{:04x}", rng.below(1 << 16)),
        workgroup,
        person,
        source,
        sql,
        statement,
        submitted,
        started,
        ended,
        state,
        bytes: scanned as u64,
        trail_at,
        dpu,
    }
}
