//! `make simulate-day`: a day in a busy account, simulated (`lakeops_e2e::sim`): the cost
//! watcher's and the killer's real decisions over memory adapters on a simulated clock, under the
//! fault schedule,
//! judged by an independent oracle. Prints what it measured and the verdict; exits 1 on any
//! discrepancy.
//!
//! `simulate_day [VOLUME] [SEED] [HOURS]` (defaults 1000000, 7, 24); `SIM_FAULTS=0` turns the
//! fault schedule off.

use chrono::{TimeZone, Utc};
use lakeops_e2e::sim::memory::CountingAlloc;
use lakeops_e2e::sim::{run, SimConfig};

/// Counts what each simulated invocation allocates (`lakeops_e2e::sim::memory`).
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| -> u64 {
        args.get(i)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse()
                    .unwrap_or_else(|_| panic!("argument {a} is not a whole number"))
            })
            .unwrap_or(default)
    };
    let config = SimConfig {
        per_day: arg(0, 1_000_000),
        seed: arg(1, 7),
        hours: arg(2, 24).clamp(1, 24) as u32,
        start: Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
        faults: std::env::var("SIM_FAULTS").map_or(true, |v| v != "0"),
        broken: Default::default(),
        runaway_odds: lakeops_e2e::sim::traffic::RUNAWAY_ODDS,
    };
    let report = run(config).await;
    println!("{report}");
    if !report.verdict.clean() {
        std::process::exit(1);
    }
}
