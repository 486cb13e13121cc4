use super::*;
use lakeops_core::cost_hints::{StorageFormat, TableFacts};
use lakeops_core::memory::MemoryCatalog;

fn query(sql: &str) -> QueryExecution {
    QueryExecution {
        sql: sql.into(),
        database: Some("sales".into()),
        ..QueryExecution::example("q-1")
    }
}

fn catalog() -> MemoryCatalog {
    let mut c = MemoryCatalog::default();
    c.tables.insert(
        "sales.clickstream".into(),
        TableFacts {
            format: StorageFormat::Parquet,
            columns: 40,
            partition_keys: vec!["dt".into()],
            partitions: None,
            size_bytes: None,
        },
    );
    c
}

#[tokio::test]
async fn the_hints_of_a_query_over_catalog_tables() {
    let got = cost_hints(&catalog(), &query("SELECT * FROM clickstream LIMIT 10")).await;
    let labels: Vec<String> = got.hints.iter().map(Hint::label).collect();
    assert_eq!(
        labels,
        [
            "no_partition_filter(sales.clickstream)",
            "select_star(sales.clickstream)"
        ]
    );
    assert_eq!((got.lookup_failed, got.unparsed), (None, false));
}

#[tokio::test]
async fn a_failed_lookup_or_unparsed_sql_gives_no_hint_and_says_so() {
    let throttled = MemoryCatalog {
        throttled: true,
        ..catalog()
    };
    let got = cost_hints(&throttled, &query("SELECT * FROM clickstream")).await;
    assert!(got.hints.is_empty());
    assert!(
        got.lookup_failed
            .as_deref()
            .is_some_and(|e| e.contains("sales.clickstream")),
        "{got:?}"
    );
    let unparsed = cost_hints(
        &catalog(),
        &query("SELECT * FROM clickstream FOR TIMESTAMP AS OF now()"),
    )
    .await;
    assert!(
        unparsed.unparsed && unparsed.hints.is_empty(),
        "{unparsed:?}"
    );
}
