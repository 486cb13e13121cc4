//! The simulated day's slice in `make test`: two hours at 100,000 queries/day under the fault
//! schedule, judged by the oracle (`lakeops_e2e::sim`); and the same slice with a rule broken on
//! purpose, which the oracle must catch.

use chrono::{TimeZone, Utc};
use lakeops_e2e::sim::{run, SimConfig};

fn slice(forgetful_ledger: bool) -> SimConfig {
    SimConfig {
        per_day: 100_000,
        seed: 7,
        // 08:00–10:00 UTC: dashboards and the first analysts, the SNS outage at 08:30.
        start: Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap(),
        hours: 2,
        faults: true,
        forgetful_ledger,
    }
}

#[tokio::test]
async fn two_hours_at_100k_a_day_under_faults_are_judged_clean() {
    let report = run(slice(false)).await;
    println!("{report}");
    assert!(report.verdict.judged > 5_000, "{report}");
    assert!(report.verdict.expensive > 5, "{report}");
    assert!(
        report.alerts_refused > 0,
        "the SNS outage was not hit: {report}"
    );
    assert!(report.dead_letters >= 2, "the poison messages: {report}");
    assert!(report.verdict.clean(), "{report}");
}

#[tokio::test]
async fn the_oracle_catches_a_ledger_that_forgets_what_it_sent() {
    let report = run(slice(true)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("alerted") && d.contains("times")),
        "{report}"
    );
}
