//! The checks file: the shipped example, validation (every problem with its line), the
//! check-config report, and the tolerance maths.

use super::*;

const GOOD: &str = r#"
checks:
  - name: orders_daily
    owner: sales-data
    tags: {pipeline: orders}
    source:
      table: mysql_prod.shop.orders
      filter: "created_at >= timestamp '{{ yesterday_start }}' AND created_at < timestamp '{{ today_start }}'"
    target:
      table: sales.orders_clean
      partition: {dt: "{{ yesterday }}"}
      freshness: {max_age_hours: 30, measure: newest_partition_value}
    tolerance: {rows: 10, percent: 0.5}
    lookback_days: 2
  - name: events_by_sql
    severity: warning
    source:
      sql: "SELECT count(*) FROM raw.events WHERE dt = '{{ yesterday }}';"
    target:
      table: awsdatacatalog.clean.events
      freshness: {max_age_hours: 2, measure: "column:ingested_at"}
    tolerance: {direction: target_ge_source}
"#;

#[test]
fn the_shipped_example_is_valid() {
    let checks = parse(
        include_str!("../../checks.example.yaml"),
        "checks.example.yaml",
    )
    .unwrap();
    assert_eq!(checks.len(), 4);
    assert_eq!(checks[0].lookback_days, 2);
    assert_eq!(checks[0].min_rows, Some(1));
    assert_eq!(
        checks[1].tolerance.allowed_side_percent,
        Some(10.0),
        "max_drop_percent"
    );
    match &checks[2].target.counted {
        Counted::Table { window, .. } => assert_eq!(
            window.as_ref().map(|w| w.column.as_str()),
            Some("event_time")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_good_file() {
    let checks = parse(GOOD, "checks.yaml").unwrap();
    assert_eq!(checks.len(), 2);
    let c = &checks[0];
    assert_eq!(c.line, Some(3));
    assert_eq!(c.severity, CheckSeverity::Critical);
    assert!(c.target.expect_partition && !c.source.expect_partition);
    assert_eq!(c.tolerance.rows, 10);
    assert_eq!(
        checks[1].source.counted,
        Counted::Sql("SELECT count(*) FROM raw.events WHERE dt = '{{ yesterday }}'".into())
    );
    assert_eq!(
        checks[1].target.freshness.as_ref().unwrap().measure,
        FreshnessMeasure::Column("ingested_at".into())
    );
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let bad = r#"
checks:
  - name: one
    source:
      table: "sales.orders; DROP TABLE x"
    target:
      table: sales.orders_clean
      filter: "dt = '{{ tomorrow }}'"
    tolerance: {direction: sideways}
  - name: two
    source:
      sql: "SELECT 1; DELETE FROM t"
    target:
      table: mysql.db.t
      freshness: {max_age_hours: 1, measure: table_updated}
  - name: one
    source: {table: a.b}
    target: {table: a.c, partition: {dt: x}, filter: "x = 1 -- c"}
"#;
    let err = parse(bad, "s3://cfg/checks.yaml").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid checks file s3://cfg/checks.yaml (7 problems):"),
        "{text}"
    );
    for expected in [
        "check \"one\" (line 3): source.table:",
        "target.filter: unknown template variable \"tomorrow\"",
        "tolerance.direction: \"sideways\"",
        "check \"two\" (line 10): source.sql: `;` is not allowed",
        "target.freshness.measure: only `column:<name>`",
        "name: another check has the same name",
        "target.filter: SQL comments",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn check_config_lists_the_checks_or_every_problem() {
    let ok = check_config_report(GOOD, "checks.yaml").unwrap();
    assert!(ok.starts_with("checks.yaml: valid, 2 checks"), "{ok}");
    assert!(
        ok.contains(
            "orders_daily (line 3): mysql_prod.shop.orders vs awsdatacatalog.sales.orders_clean"
        ),
        "{ok}"
    );
    let bad = GOOD.replace("percent: 0.5}", "percent: 0.5, direction: up}");
    let err = check_config_report(&bad, "checks.yaml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("(line 3): tolerance.direction: \"up\""),
        "{err}"
    );
}

#[test]
fn yaml_errors_carry_the_position() {
    let err = parse("checks:\n  - name: x\n    sorce: {}\n", "f").unwrap_err();
    assert!(err.problems[0].contains("line 3"), "{err}");
    assert!(parse("checks: []", "f")
        .unwrap_err()
        .to_string()
        .contains("no checks"));
}

#[test]
fn tolerance_maths() {
    let t = |rows, percent, direction| Tolerance {
        rows,
        percent,
        direction,
        allowed_side_percent: None,
    };
    let eq = t(0, None, Direction::Equal);
    assert_eq!(
        eq.compare(0, 0),
        Comparison {
            diff: 0,
            diff_pct: None,
            within: true,
            beyond_allowed_side: false,
        }
    );
    assert!(
        !eq.compare(0, 5).within,
        "0 vs 5 has no percentage but is a mismatch"
    );
    assert_eq!(eq.compare(100, 90).diff, -10);
    assert_eq!(eq.compare(100, 90).diff_pct, Some(10.0));
    assert!(t(10, None, Direction::Equal).compare(100, 90).within);
    assert!(t(0, Some(10.0), Direction::Equal).compare(100, 110).within);
    assert!(!t(0, Some(9.9), Direction::Equal).compare(100, 110).within);
    assert!(
        t(5, Some(1.0), Direction::Equal).compare(10, 15).within,
        "either bound"
    );
    let ge = t(0, None, Direction::TargetGeSource);
    assert!(ge.compare(100, 150).within && !ge.compare(100, 99).within);
    let le = t(0, None, Direction::TargetLeSource);
    assert!(le.compare(100, 50).within && !le.compare(100, 101).within);
    assert!(!t(0, Some(50.0), Direction::Equal).compare(0, 1).within);
}

#[test]
fn an_allowed_age_beyond_ten_years_is_refused_not_a_panic_later() {
    for bad in ["1e13", "0", "-1", ".nan", ".inf", "87601"] {
        let yaml = format!("checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c, freshness: {{max_age_hours: {bad}, measure: \"column:ts\"}}}}\n");
        let err = parse(&yaml, "f").unwrap_err().to_string();
        assert!(
            err.contains("freshness.max_age_hours: must be above 0"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn group_by_is_validated() {
    let file = |extra: &str| {
        format!(
            "checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c}}\n{extra}"
        )
    };
    let c = &parse(&file("    group_by: [region, channel]\n"), "f").unwrap()[0];
    assert_eq!(c.group_by, ["region", "channel"]);
    let err = parse(&file("    group_by: [\"re gion\", a, b, c, d]\n"), "f")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("group_by: \"re gion\" is not a valid identifier"),
        "{err}"
    );
    assert!(err.contains("at most 4 columns"), "{err}");
    let sql = "checks:\n  - name: c\n    source: {sql: \"SELECT 1\"}\n    target: {table: a.c}\n    group_by: [region]\n";
    assert!(parse(sql, "f")
        .unwrap_err()
        .to_string()
        .contains("needs `table` on both sides"));
}

#[test]
fn one_sided_directions_bound_their_allowed_side() {
    let file = |tolerance: &str| {
        format!("checks:\n  - name: c\n    source: {{table: a.b}}\n    target: {{table: a.c}}\n    tolerance: {tolerance}\n")
    };
    let le = parse(&file("{direction: target_le_source}"), "f").unwrap()[0].tolerance;
    assert_eq!(le.allowed_side_percent, Some(DEFAULT_MAX_DROP_PERCENT));
    let cmp = le.compare(1_000_000, 0);
    assert!(
        !cmp.within && cmp.beyond_allowed_side,
        "0 vs a million fails"
    );
    assert!(
        le.compare(1_000_000, 600_000).within,
        "a 40% drop is filtering"
    );
    assert!(le.compare(0, 0).within, "0 vs 0 stays a match");
    let strict = parse(
        &file("{direction: target_le_source, max_drop_percent: 5}"),
        "f",
    )
    .unwrap()[0]
        .tolerance;
    assert!(!strict.compare(100, 90).within && strict.compare(100, 96).within);
    let ge = parse(
        &file("{direction: target_ge_source, max_growth_percent: 10}"),
        "f",
    )
    .unwrap()[0]
        .tolerance;
    assert!(ge.compare(100, 110).within && !ge.compare(100, 111).within);
    assert_eq!(
        parse(&file("{direction: target_ge_source}"), "f").unwrap()[0]
            .tolerance
            .allowed_side_percent,
        Some(DEFAULT_MAX_GROWTH_PERCENT)
    );
    assert_eq!(
        parse(&file("{}"), "f").unwrap()[0]
            .tolerance
            .allowed_side_percent,
        None
    );
    let err = parse(
        &file("{direction: equal, max_drop_percent: 5, max_growth_percent: -1}"),
        "f",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("max_drop_percent: bounds the allowed side of direction target_le_source"),
        "{err}"
    );
    assert!(err.contains("max_growth_percent: bounds"), "{err}");
    let err = parse(
        &file("{direction: target_le_source, max_drop_percent: 150}"),
        "f",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("from 0 to 100"), "{err}");
}
