use super::*;

fn facts(format: StorageFormat, columns: usize, keys: &[&str]) -> TableFacts {
    TableFacts {
        format,
        columns,
        partition_keys: keys.iter().map(|k| k.to_string()).collect(),
        partitions: None,
        size_bytes: None,
    }
}

fn reads(table: &str, filtered: &[&str], star: bool) -> TableUse {
    TableUse {
        table: table.into(),
        filtered: filtered.iter().map(|c| c.to_string()).collect(),
        select_star: star,
    }
}

fn labels(hints: &[Hint]) -> Vec<String> {
    hints.iter().map(Hint::label).collect()
}

#[test]
fn an_unfiltered_partitioned_table_is_named_with_its_partition_count() {
    let mut f = facts(StorageFormat::Parquet, 12, &["dt"]);
    f.partitions = Some(PartitionCount {
        counted: 3650,
        more: false,
    });
    let catalog = BTreeMap::from([("sales.clickstream".to_string(), f)]);
    let shape = QueryShape {
        tables: vec![reads("sales.clickstream", &["user_id"], false)],
        ..Default::default()
    };
    let hints = judge(&shape, &catalog);
    assert_eq!(labels(&hints), ["no_partition_filter(sales.clickstream)"]);
    assert!(
        hints[0].why.starts_with(
            "sales.clickstream has 3,650 partitions by dt; this query filtered on none"
        ),
        "{}",
        hints[0].why
    );
    assert!(hints[0].fix.contains("WHERE dt = …"), "{}", hints[0].fix);

    let filtered = QueryShape {
        tables: vec![reads("sales.clickstream", &["dt"], false)],
        ..Default::default()
    };
    assert!(judge(&filtered, &catalog).is_empty());
    let pushed_down = QueryShape {
        tables: vec![reads("sales.clickstream", &[], false)],
        filtered_anywhere: BTreeSet::from(["dt".to_string()]),
        ..Default::default()
    };
    assert!(judge(&pushed_down, &catalog).is_empty());
}

#[test]
fn select_star_only_over_a_wide_columnar_table() {
    let catalog = BTreeMap::from([
        ("a.wide".to_string(), facts(StorageFormat::Parquet, 60, &[])),
        (
            "a.narrow".to_string(),
            facts(StorageFormat::Parquet, 8, &[]),
        ),
        ("a.csv".to_string(), facts(StorageFormat::Csv, 40, &[])),
    ]);
    let shape = QueryShape {
        tables: vec![
            reads("a.wide", &[], true),
            reads("a.narrow", &[], true),
            reads("a.csv", &[], true),
            reads("a.unknown", &[], true),
        ],
        ..Default::default()
    };
    assert_eq!(
        labels(&judge(&shape, &catalog)),
        ["select_star(a.wide)", "row_format(a.csv)"]
    );
}

#[test]
fn a_ctas_over_a_whole_table_is_a_rewrite_and_hints_come_once_per_table() {
    let catalog = BTreeMap::from([(
        "sales.orders".to_string(),
        facts(StorageFormat::Orc, 10, &["year", "month"]),
    )]);
    let shape = QueryShape {
        statement: StatementKind::CreateTableAs,
        tables: vec![
            reads("sales.orders", &[], false),
            reads("sales.orders", &["amount"], false),
        ],
        cross_joins: vec![("sales.orders".into(), "o2".into())],
        ..Default::default()
    };
    let hints = judge(&shape, &catalog);
    assert_eq!(
        labels(&hints),
        [
            "no_partition_filter(sales.orders)",
            "cross_join",
            "full_rewrite(sales.orders)"
        ]
    );
    assert!(hints[2]
        .why
        .starts_with("This CREATE TABLE AS copies all of sales.orders"));
    let one_filtered = QueryShape {
        tables: vec![
            reads("sales.orders", &["month"], false),
            reads("sales.orders", &[], false),
        ],
        ..Default::default()
    };
    assert_eq!(
        labels(&judge(&one_filtered, &catalog)),
        ["no_partition_filter(sales.orders)"],
        "a self-join with one side unfiltered still reads every partition"
    );
}

#[test]
fn thousands_are_grouped() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}
