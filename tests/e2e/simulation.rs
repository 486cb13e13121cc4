//! The simulated day's slice in `make test`: three hours at 100,000 queries/day under the fault
//! schedule, judged by the oracle (`lakeops_e2e::sim`); and the same slice with a rule broken on
//! purpose (alerts sent many times, a killer that stops nothing, a loosened spike rule, a digest
//! made before the day settled, alerts that do not wait for who ran the query), which the oracle
//! must catch.

use chrono::{TimeZone, Utc};
use lakeops_e2e::sim::{run, Broken, SimConfig};

fn slice(broken: Broken) -> SimConfig {
    SimConfig {
        per_day: 100_000,
        seed: 7,
        // 07:00–10:00 UTC: dashboards and the first analysts, the SNS outage at 07:45; long
        // enough for runaways submitted in the first two hours to reach their 60-minute limit.
        start: Utc.with_ymd_and_hms(2026, 3, 2, 7, 0, 0).unwrap(),
        hours: 3,
        faults: true,
        runaway_odds: 300,
        broken,
    }
}

#[tokio::test]
async fn three_hours_at_100k_a_day_under_faults_are_judged_clean() {
    let report = run(slice(Broken::Nothing)).await;
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
    assert!(report.verdict.budgets >= 4, "{report}");
    assert!(report.verdict.spikes >= 1, "the spike put in: {report}");
    assert!(report.verdict.digest, "{report}");
    assert!(report.verdict.clean(), "{report}");
}

#[tokio::test]
async fn the_oracle_catches_a_ledger_that_forgets_what_it_sent() {
    let report = run(slice(Broken::ForgetfulLedger)).await;
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
    let report = run(slice(Broken::KillerDryRun)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("was never stopped")),
        "{report}"
    );
}

#[tokio::test]
async fn the_oracle_catches_spike_alerts_without_a_spike() {
    let report = run(slice(Broken::SpikeRuleLoosened)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("without a spike")),
        "{report}"
    );
}

#[tokio::test]
async fn the_oracle_catches_a_digest_made_before_the_day_settled() {
    let report = run(slice(Broken::DigestBeforeTheDaySettles)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.starts_with("digest")),
        "{report}"
    );
}

#[tokio::test]
async fn the_oracle_catches_alerts_that_do_not_wait_for_who_ran_the_query() {
    let report = run(slice(Broken::NoAttributionWait)).await;
    assert!(
        report
            .verdict
            .discrepancies
            .iter()
            .any(|d| d.contains("without who ran it")),
        "{report}"
    );
}
