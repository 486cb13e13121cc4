//! The simulated day's slice in `make test`: three hours at 100,000 queries/day under the fault
//! schedule, judged by the oracle (`lakeops_e2e::sim`); and the same slice with a rule broken on
//! purpose, which the oracle must catch.

use chrono::{TimeZone, Utc};
use lakeops_e2e::sim::{run, SimConfig};

fn slice(forgetful_ledger: bool, killer_dry_run: bool) -> SimConfig {
    SimConfig {
        per_day: 100_000,
        seed: 7,
        // 07:00–10:00 UTC: dashboards and the first analysts, the SNS outage at 07:45; long
        // enough for runaways submitted in the first two hours to reach their 60-minute limit.
        start: Utc.with_ymd_and_hms(2026, 3, 2, 7, 0, 0).unwrap(),
        hours: 3,
        faults: true,
        forgetful_ledger,
        killer_dry_run,
        runaway_odds: 300,
    }
}

#[tokio::test]
async fn three_hours_at_100k_a_day_under_faults_are_judged_clean() {
    let report = run(slice(false, false)).await;
    println!("{report}");
    assert!(
        report.verdict.runaways > 0,
        "no runaway reached its limit: {report}"
    );
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
    let report = run(slice(true, false)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("alerted") && d.contains("times")),
        "{report}"
    );
}

#[tokio::test]
async fn the_oracle_catches_a_killer_that_stops_nothing() {
    let report = run(slice(false, true)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("was never stopped")),
        "{report}"
    );
}
