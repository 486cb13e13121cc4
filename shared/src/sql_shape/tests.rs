use super::*;

fn shape(sql: &str) -> QueryShape {
    query_shape(sql, Some("sales")).unwrap_or_else(|| panic!("unparsed: {sql}"))
}

/// `table: filtered columns (*)` per table use, in order.
fn uses(s: &QueryShape) -> Vec<String> {
    s.tables
        .iter()
        .map(|u| {
            let cols: Vec<&str> = u.filtered.iter().map(String::as_str).collect();
            format!(
                "{}: {}{}",
                u.table,
                cols.join(","),
                if u.select_star { " *" } else { "" }
            )
        })
        .collect()
}

#[test]
fn predicates_go_to_the_table_their_qualifier_names() {
    let s = shape(
        "SELECT c.page, o.total FROM clickstream c JOIN web.orders o ON c.order_id = o.id \
         WHERE o.dt = '2026-12-01' AND upper(c.country) = 'NL'",
    );
    assert_eq!(
        uses(&s),
        ["sales.clickstream: country,order_id", "web.orders: dt,id"]
    );
    assert!(s.cross_joins.is_empty());
    assert_eq!(s.statement, StatementKind::Select);
}

#[test]
fn an_unqualified_column_counts_for_every_table_of_its_scope_only() {
    let s = shape(
        "SELECT * FROM a.t1, a.t2 WHERE dt = '1' AND t1.id = t2.id AND x IN (SELECT x FROM a.t3)",
    );
    assert_eq!(uses(&s), ["a.t1: dt,id,x *", "a.t2: dt,id,x *", "a.t3: "]);
    assert!(s.cross_joins.is_empty(), "linked by t1.id = t2.id");
}

#[test]
fn a_predicate_over_a_cte_is_pushed_down_and_star_reaches_through_it() {
    let s = shape(
        "WITH recent AS (SELECT * FROM events) SELECT * FROM recent WHERE event_date > '2026'",
    );
    assert_eq!(uses(&s), ["sales.events:  *"]);
    assert!(s.filtered_anywhere.contains("event_date"));
    let named = shape("WITH r AS (SELECT * FROM events) SELECT a, b FROM r");
    assert_eq!(
        uses(&named),
        ["sales.events: "],
        "the outer query names columns"
    );
}

#[test]
fn cross_joins_but_not_unnest_or_a_one_row_subquery() {
    let s = shape("SELECT a.x, b.y FROM a CROSS JOIN b");
    assert_eq!(s.cross_joins, [("a".to_string(), "b".to_string())]);
    let comma = shape("SELECT * FROM a, b WHERE a.x > 3");
    assert_eq!(comma.cross_joins.len(), 1, "{comma:?}");
    for sql in [
        "SELECT e.id, t.tag FROM events e CROSS JOIN UNNEST(e.tags) AS t(tag)",
        "SELECT * FROM events e CROSS JOIN (SELECT max(dt) AS m FROM events) last",
        "SELECT * FROM events e, UNNEST(e.tags) AS t(tag)",
    ] {
        assert!(shape(sql).cross_joins.is_empty(), "{sql}");
    }
}

#[test]
fn ctas_and_insert_are_told_apart_and_read_their_source() {
    let ctas = shape(
        "CREATE TABLE x.copy WITH (format = 'PARQUET') AS SELECT * FROM sales.orders WHERE amount > 1",
    );
    assert_eq!(ctas.statement, StatementKind::CreateTableAs);
    assert_eq!(
        uses(&ctas),
        ["sales.orders: amount *"],
        "the copy reads every column"
    );
    let insert = shape("INSERT INTO x.copy SELECT id FROM awsdatacatalog.sales.orders");
    assert_eq!(insert.statement, StatementKind::Insert);
    assert_eq!(uses(&insert), ["sales.orders: "]);
}

#[test]
fn using_and_nested_join_conditions_count() {
    let s = shape("SELECT a.v FROM a JOIN b USING (dt)");
    assert_eq!(uses(&s), ["sales.a: dt", "sales.b: dt"]);
    let nested = shape("SELECT 1 FROM (a JOIN b ON a.dt = b.dt)");
    assert_eq!(uses(&nested), ["sales.a: dt", "sales.b: dt"]);
}

#[test]
fn what_does_not_parse_has_no_shape() {
    assert_eq!(query_shape("SELEC oops", None), None);
    assert_eq!(query_shape(crate::tables_read::OMITTED, None), None);
}
