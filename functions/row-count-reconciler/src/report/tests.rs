//! The alert of a failing check, and a bad day said once then reminded over the look-back.

use super::*;
use crate::checks;
use crate::history;
use crate::side::{CountMethod, SideResult};
use crate::template::RunDate;
use crate::verdict::evaluate;
use lakeops::alert::Severity;

#[test]
fn a_mismatch_alert_has_both_counts_the_difference_and_the_window() {
    let text = r#"checks:
  - name: events_daily
    owner: platform
    source: {table: lake.events_raw, partition: {dt: "{{ yesterday }}"}}
    target: {table: lake.events_clean, partition: {dt: "{{ yesterday }}"}}
    tolerance: {percent: 1}
"#;
    let check = &checks::parse(text, "t").unwrap()[0];
    let run = RunDate::at(
        "2026-11-23T09:00:00Z".parse().unwrap(),
        chrono_tz::Asia::Seoul,
    );
    let side = |table: &str, rows: u64, id: &str| SideResult {
        counted: format!("awsdatacatalog.lake.{table}"),
        window: "\"dt\" = '2026-11-22'".into(),
        method: CountMethod::CountStar,
        method_reason: None,
        rows: Some(rows),
        query_ids: vec![id.into()],
        scanned_bytes: 1 << 20,
        partition_present: Some(true),
        fresh_as_of: None,
        age_seconds: None,
        max_age_hours: None,
        error: None,
        unfinished: false,
        segments: None,
        fresh_at_most: false,
    };
    let r = evaluate(
        check,
        0,
        &run,
        side("events_raw", 5000, "q-src"),
        side("events_clean", 4100, "q-tgt"),
        &history::History::default(),
    );
    assert_eq!(r.status, Status::Mismatch);
    let alert = check_alert(&r, "evt-1", "us-east-1", chrono_tz::Asia::Seoul, Utc::now());
    let body = alert.text_body();
    println!("{body}");
    assert_eq!(alert.kind, "RowCountMismatch");
    assert_eq!(
        alert.id,
        "row-count-reconciler/evt-1/events_daily/2026-11-23"
    );
    for expected in [
        "5000 rows",
        "4100 rows",
        "-900 rows (18.00%)",
        "\"dt\" = '2026-11-22'",
        "q-src",
        "platform",
    ] {
        assert!(body.contains(expected), "missing {expected:?} in\n{body}");
    }
    // 0 vs 0 is a match, with no percentage.
    let zero = evaluate(
        check,
        0,
        &run,
        side("events_raw", 0, "a"),
        side("events_clean", 0, "b"),
        &history::History::default(),
    );
    assert_eq!(zero.status, Status::Ok);
    assert_eq!(zero.comparison.unwrap().diff_pct, None);
}

#[tokio::test]
async fn a_bad_day_is_said_once_then_reminded_over_the_look_back() {
    use lakeops::alert::RecordingSink;
    use lakeops::ledger::MemoryLedger;
    let ledger = MemoryLedger::default();
    let sink = RecordingSink::default();
    let mut summary = RunSummary::default();
    let at = |run: &str| {
        Alert::new(
            "RowCountMismatch",
            Severity::Critical,
            FUNCTION,
            format!("{FUNCTION}/{run}/orders/2026-11-22"),
            Utc::now(),
            "Check orders: row counts differ (run date 2026-11-22)",
            "target has 90 rows, source 100",
        )
    };
    let key = ("orders", "2026-11-22", Status::Mismatch);
    // lookback_days 3: the date is looked at on four consecutive runs.
    for (run, k) in [("run-1", 0), ("run-2", 1), ("run-3", 2), ("run-4", 3)] {
        let mut alert = at(run);
        announce(
            &ledger,
            &sink,
            &mut alert,
            Repeat::of(k, 3),
            key,
            &mut summary,
        )
        .await;
    }
    let titles: Vec<String> = sink
        .alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.title.clone())
        .collect();
    assert_eq!(
        titles,
        [
            "Check orders: row counts differ (run date 2026-11-22)",
            "Reminder, last look-back day: Check orders: row counts differ (run date 2026-11-22)"
        ]
    );
    assert_eq!(summary.repeats_not_sent.len(), 2);
    // A date that was fine on its own run and went bad on a look-back is said.
    let mut late = at("run-5");
    announce(
        &ledger,
        &sink,
        &mut late,
        Repeat::Again,
        ("orders", "2026-11-21", Status::Mismatch),
        &mut summary,
    )
    .await;
    // ... and a changed status on the same date too.
    let mut changed = at("run-6");
    announce(
        &ledger,
        &sink,
        &mut changed,
        Repeat::Again,
        ("orders", "2026-11-22", Status::MissingPartition),
        &mut summary,
    )
    .await;
    assert_eq!(sink.alerts.lock().unwrap().len(), 4);
    // A date first failing at its last look is said plainly, not as a reminder.
    let mut last = at("run-7");
    announce(
        &ledger,
        &sink,
        &mut last,
        Repeat::LastLook,
        ("orders", "2026-11-19", Status::Mismatch),
        &mut summary,
    )
    .await;
    assert!(!sink.alerts.lock().unwrap()[4].title.starts_with("Reminder"));
    assert_eq!(
        Repeat::of(0, 0),
        Repeat::First,
        "no look-back: every run is a first look"
    );
}
