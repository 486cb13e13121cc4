//! Athena pricing, exactly as AWS bills it: the one place lakeops turns a query into dollars.
//!
//! Rules (Athena pricing page and docs/reference/pricing.md):
//! - bytes scanned are rounded **up** to the next megabyte, with a **10 MB minimum** per query;
//! - the price is per terabyte scanned, $5.00 by default (configurable: some regions differ);
//! - FAILED queries and DDL statements are free; CANCELLED queries are billed for what they
//!   scanned (including those cut off by the workgroup's `BytesScannedCutoffPerQuery`);
//! - workgroups assigned to a capacity reservation are billed per DPU-hour of the reservation
//!   ($0.30 in us-east-1, billed per minute, 4 DPUs and 1 minute at least: Athena pricing page;
//!   AWS Big Data Blog, "Amazon Athena adds 1-minute reservations", 2025), never per byte. Such a
//!   query is [`Charge::Capacity`], and its share of the reservation is its DPU-time: the DPUs
//!   Athena reports it used (`Statistics.DpuCount`) × its engine time × the DPU-hour price. The
//!   reservation's minutes no query used are not any query's: budgets and the digest add up
//!   what the queries used, not the reservation's bill (docs/reference/pricing.md).
//!
//! Units: AWS bills data in binary units (its billing docs define a GB as 2^30 bytes), so a
//! megabyte here is 2^20 bytes and a terabyte 2^40 bytes. Using 10^12 would understate every
//! bill by about 9%.
//!
//! Decision: a query that scanned **0 bytes** (e.g. `SELECT 1`, a result-reuse hit) is reported
//! as free. AWS's 10 MB minimum applies to data scanned; charging phantom megabytes for queries
//! that read nothing would make "spend" disagree with the bill for dashboards full of health
//! checks.

use crate::query::{QueryExecution, QueryState, StatementType};

pub const MB: u64 = 1 << 20;
pub const TB: u64 = 1 << 40;
/// Athena's minimum billed data per query.
pub const MIN_BILLED_BYTES: u64 = 10 * MB;
pub const DEFAULT_USD_PER_TB: f64 = 5.0;
/// A capacity reservation's price per DPU-hour in us-east-1.
pub const DEFAULT_USD_PER_DPU_HOUR: f64 = 0.30;
const MS_PER_HOUR: f64 = 3_600_000.0;

/// Why a query costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeReason {
    Failed,
    Ddl,
    NothingScanned,
    /// Still QUEUED or RUNNING: see [`PriceList::cost_so_far`].
    NotFinished,
}

/// What a query costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Charge {
    /// Billed per byte: `billed_bytes` is the rounded amount AWS charges for.
    Scanned {
        billed_bytes: u64,
        usd: f64,
    },
    Free(FreeReason),
    /// On a capacity reservation: its DPU-time (`dpu_hours`, 0 when Athena reported no DPU
    /// count or engine time) at the reservation's DPU-hour price.
    Capacity {
        dpu_count: Option<f64>,
        dpu_hours: f64,
        usd: f64,
    },
}

impl Charge {
    /// Dollars attributable to this query (0 for free queries).
    pub fn usd(&self) -> f64 {
        match self {
            Charge::Scanned { usd, .. } | Charge::Capacity { usd, .. } => *usd,
            Charge::Free(_) => 0.0,
        }
    }
}

/// Bytes AWS bills for a scan of `scanned` bytes: rounded up to the MB, at least 10 MB
/// (0 stays 0, see the module docs).
pub fn billed_bytes(scanned: u64) -> u64 {
    if scanned == 0 {
        return 0;
    }
    scanned
        .div_ceil(MB)
        .saturating_mul(MB)
        .max(MIN_BILLED_BYTES)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceList {
    pub usd_per_tb: f64,
    pub usd_per_dpu_hour: f64,
}

impl Default for PriceList {
    fn default() -> Self {
        Self {
            usd_per_tb: DEFAULT_USD_PER_TB,
            usd_per_dpu_hour: DEFAULT_USD_PER_DPU_HOUR,
        }
    }
}

impl PriceList {
    /// Dollars for a scan of `scanned` bytes, after AWS's rounding.
    pub fn usd_for_scan(&self, scanned: u64) -> f64 {
        // Whole MB count times the per-MB price keeps the arithmetic exact for realistic sizes.
        let billed_mb = billed_bytes(scanned) / MB;
        billed_mb as f64 * (self.usd_per_tb / (TB / MB) as f64)
    }

    /// The charge of a finished query (or `Free(NotFinished)` for one still running).
    pub fn charge(&self, q: &QueryExecution) -> Charge {
        if q.dpu_count.is_some() {
            // The reservation's DPUs were held whether the query failed, was cancelled or was
            // DDL: its share is the time it used them (so far, for one still running).
            let dpu_hours = q.dpu_count.unwrap_or(0.0).max(0.0)
                * q.engine_ms.unwrap_or(0).max(0) as f64
                / MS_PER_HOUR;
            return Charge::Capacity {
                dpu_count: q.dpu_count,
                dpu_hours,
                usd: dpu_hours * self.usd_per_dpu_hour,
            };
        }
        if q.statement_type == StatementType::Ddl {
            return Charge::Free(FreeReason::Ddl);
        }
        match q.state {
            QueryState::Failed => Charge::Free(FreeReason::Failed),
            QueryState::Queued | QueryState::Running | QueryState::Unknown => {
                Charge::Free(FreeReason::NotFinished)
            }
            QueryState::Succeeded | QueryState::Cancelled => {
                let scanned = q.data_scanned_bytes.unwrap_or(0);
                if scanned == 0 {
                    Charge::Free(FreeReason::NothingScanned)
                } else {
                    Charge::Scanned {
                        billed_bytes: billed_bytes(scanned),
                        usd: self.usd_for_scan(scanned),
                    }
                }
            }
        }
    }

    /// What a running query has cost so far: stopping it now bills what it scanned, like any
    /// cancelled query.
    pub fn cost_so_far(&self, q: &QueryExecution) -> Charge {
        let mut as_cancelled = q.clone();
        if matches!(q.state, QueryState::Running | QueryState::Queued) {
            as_cancelled.state = QueryState::Cancelled;
        }
        self.charge(&as_cancelled)
    }
}

/// `1.23 GiB`-style size for people (binary units, as billed).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// `$12.34`, or `$0.0049` for sub-cent amounts so small queries don't all read `$0.00`.
pub fn format_usd(usd: f64) -> String {
    if usd > 0.0 && usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query(state: QueryState, statement: StatementType, scanned: Option<u64>) -> QueryExecution {
        QueryExecution {
            state,
            statement_type: statement,
            data_scanned_bytes: scanned,
            ..QueryExecution::example("q")
        }
    }

    #[test]
    fn rounding_and_minimum() {
        assert_eq!(billed_bytes(0), 0);
        assert_eq!(billed_bytes(1), 10 * MB);
        assert_eq!(billed_bytes(10 * MB), 10 * MB);
        assert_eq!(billed_bytes(10 * MB + 1), 11 * MB);
        assert_eq!(billed_bytes(TB), TB);
        let p = PriceList::default();
        assert_eq!(p.usd_for_scan(TB), 5.0);
        assert_eq!(p.usd_for_scan(1), 10.0 * 5.0 / 1_048_576.0);
        assert_eq!(p.usd_for_scan(3 * TB + 1), 15.0 + 5.0 / 1_048_576.0);
    }

    #[test]
    fn who_pays_what() {
        let p = PriceList::default();
        let tb = Some(TB);
        assert_eq!(
            p.charge(&query(QueryState::Succeeded, StatementType::Dml, tb))
                .usd(),
            5.0
        );
        assert_eq!(
            p.charge(&query(QueryState::Cancelled, StatementType::Dml, tb))
                .usd(),
            5.0
        );
        assert_eq!(
            p.charge(&query(QueryState::Failed, StatementType::Dml, tb)),
            Charge::Free(FreeReason::Failed)
        );
        assert_eq!(
            p.charge(&query(QueryState::Succeeded, StatementType::Ddl, tb)),
            Charge::Free(FreeReason::Ddl)
        );
        assert_eq!(
            p.charge(&query(QueryState::Succeeded, StatementType::Dml, Some(0))),
            Charge::Free(FreeReason::NothingScanned)
        );
        assert_eq!(
            p.charge(&query(QueryState::Running, StatementType::Dml, tb)),
            Charge::Free(FreeReason::NotFinished)
        );
        assert_eq!(
            p.cost_so_far(&query(QueryState::Running, StatementType::Dml, tb))
                .usd(),
            5.0
        );
        let mut capacity = query(QueryState::Succeeded, StatementType::Dml, tb);
        capacity.dpu_count = Some(24.0);
        capacity.engine_ms = Some(10 * 60_000);
        // 24 DPUs for 10 minutes: 4 DPU-hours at $0.30, whatever it scanned.
        match p.charge(&capacity) {
            Charge::Capacity {
                dpu_count: Some(d),
                dpu_hours,
                usd,
            } => {
                assert_eq!(d, 24.0);
                assert!((dpu_hours - 4.0).abs() < 1e-12, "{dpu_hours}");
                assert!((usd - 1.2).abs() < 1e-12, "{usd}");
            }
            other => panic!("{other:?}"),
        }
        capacity.state = QueryState::Failed;
        assert!(
            (p.charge(&capacity).usd() - 1.2).abs() < 1e-12,
            "a failed query held the reservation's DPUs too"
        );
        capacity.engine_ms = None;
        assert_eq!(
            p.charge(&capacity).usd(),
            0.0,
            "no engine time: nothing known"
        );
    }

    #[test]
    fn people_readable_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * TB / 2), "1.50 TiB");
        assert_eq!(format_usd(12.345), "$12.35");
        assert_eq!(format_usd(0.0000477), "$0.0000");
        assert_eq!(format_usd(0.004), "$0.0040");
    }

    proptest! {
        #[test]
        fn billed_is_whole_mb_at_least_minimum_and_never_below_scanned(scanned in 1u64..(1u64 << 50)) {
            let b = billed_bytes(scanned);
            prop_assert_eq!(b % MB, 0);
            prop_assert!(b >= MIN_BILLED_BYTES);
            prop_assert!(b >= scanned);
            // Never more than one MB of rounding above the minimum.
            prop_assert!(b < scanned.max(MIN_BILLED_BYTES - MB + 1) + MB);
        }

        #[test]
        fn price_is_monotonic_and_linear_in_the_rate(a in 0u64..(1u64 << 46), b in 0u64..(1u64 << 46), rate in 0.0f64..100.0) {
            let p = PriceList { usd_per_tb: rate, ..PriceList::default() };
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(p.usd_for_scan(lo) <= p.usd_for_scan(hi));
            let five = PriceList::default().usd_for_scan(hi);
            prop_assert!((p.usd_for_scan(hi) - five * rate / 5.0).abs() <= 1e-9 * (1.0 + five * rate));
        }

        #[test]
        fn everything_under_ten_mb_costs_the_minimum(scanned in 1u64..=(10 * MB)) {
            prop_assert_eq!(PriceList::default().usd_for_scan(scanned), PriceList::default().usd_for_scan(10 * MB));
        }
    }
}
