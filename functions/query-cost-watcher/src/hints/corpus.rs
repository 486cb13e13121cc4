//! The hints measured on the corpus of real SQL shapes (`corpus/expensive-sql.txt` over the
//! tables of `corpus/catalog.json`, each block's source and hand-judged labels in the file):
//! precision (hints given that the labels hold) and recall (labels that a hint gave), per kind.
//! `cargo test -p query-cost-watcher --lib hints::corpus -- --nocapture` prints them.

use std::collections::{BTreeMap, BTreeSet};

use lakeops_core::cost_hints::{PartitionCount, StorageFormat, TableFacts};
use lakeops_core::memory::MemoryCatalog;
use lakeops_core::query::QueryExecution;
use serde::Deserialize;

use super::cost_hints;

#[derive(Deserialize)]
struct Catalog {
    tables: Vec<CatalogTable>,
}

#[derive(Deserialize)]
struct CatalogTable {
    database: String,
    name: String,
    format: String,
    columns: Vec<String>,
    partition_keys: Vec<String>,
    partitions: Option<u64>,
    size_bytes: Option<u64>,
}

struct Block {
    line: usize,
    sql: String,
    database: Option<String>,
    expect: BTreeSet<String>,
    unparsed: bool,
}

fn corpus_file(name: &str) -> String {
    let path = format!("{}/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn catalog() -> MemoryCatalog {
    let c: Catalog = serde_json::from_str(&corpus_file("catalog.json")).expect("catalog.json");
    let mut memory = MemoryCatalog::default();
    for t in c.tables {
        let format = match t.format.as_str() {
            "parquet" => StorageFormat::Parquet,
            "orc" => StorageFormat::Orc,
            "iceberg" => StorageFormat::Iceberg,
            "csv" => StorageFormat::Csv,
            "json" => StorageFormat::Json,
            "text" => StorageFormat::Text,
            other => panic!("catalog.json: format {other}"),
        };
        let facts = TableFacts {
            format,
            columns: t.columns.len(),
            partition_keys: t.partition_keys.iter().map(|k| k.to_lowercase()).collect(),
            partitions: t.partitions.map(|counted| PartitionCount {
                counted,
                more: false,
            }),
            size_bytes: t.size_bytes,
        };
        memory
            .tables
            .insert(format!("{}.{}", t.database, t.name), facts);
    }
    memory
}

fn blocks() -> Vec<Block> {
    let text = corpus_file("expensive-sql.txt");
    let mut out = Vec::new();
    let mut header: Option<(usize, Option<String>, BTreeSet<String>, bool)> = None;
    let mut sql = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim() == ";;" {
            let (line, database, expect, unparsed) = header.take().expect("a block's header");
            out.push(Block {
                line,
                sql: std::mem::take(&mut sql),
                database,
                expect,
                unparsed,
            });
        } else if let Some(rest) = line.strip_prefix("# expect:") {
            let labels: BTreeSet<String> = rest.split_whitespace().map(str::to_string).collect();
            let unparsed = labels.contains("unparsed");
            let h = header.get_or_insert((i + 1, None, BTreeSet::new(), false));
            h.2 = labels.into_iter().filter(|l| l != "unparsed").collect();
            h.3 = unparsed;
        } else if let Some(db) = line.strip_prefix("# database:") {
            let h = header.get_or_insert((i + 1, None, BTreeSet::new(), false));
            h.1 = Some(db.trim().to_string());
        } else if header.is_some() && !line.starts_with('#') {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    out
}

#[derive(Default, Debug)]
struct Score {
    given: usize,
    right: usize,
    expected: usize,
}

#[tokio::test]
async fn hints_on_the_sql_corpus_are_precise() {
    let catalog = catalog();
    let blocks = blocks();
    assert!(blocks.len() >= 100, "{} blocks", blocks.len());
    let mut per_kind: BTreeMap<String, Score> = BTreeMap::new();
    let mut wrong = Vec::new();
    for b in &blocks {
        let q = QueryExecution {
            sql: b.sql.clone(),
            database: Some(b.database.clone().unwrap_or_else(|| "sales".into())),
            ..QueryExecution::example("corpus")
        };
        let got = cost_hints(&catalog, &q).await;
        assert_eq!(got.unparsed, b.unparsed, "line {}: parsed or not", b.line);
        let given: BTreeSet<String> = got.hints.iter().map(|h| h.label()).collect();
        let kind = |l: &str| l.split('(').next().unwrap_or(l).to_string();
        for l in &given {
            let s = per_kind.entry(kind(l)).or_default();
            s.given += 1;
            s.right += b.expect.contains(l) as usize;
        }
        for l in &b.expect {
            per_kind.entry(kind(l)).or_default().expected += 1;
        }
        if given != b.expect {
            wrong.push(format!(
                "line {}: gave {given:?}, labels {:?}",
                b.line, b.expect
            ));
        }
    }
    let total = per_kind.values().fold(Score::default(), |t, s| Score {
        given: t.given + s.given,
        right: t.right + s.right,
        expected: t.expected + s.expected,
    });
    println!(
        "{} statements; per kind (given / right / labelled):",
        blocks.len()
    );
    for (k, s) in per_kind.iter().chain([(&"all".to_string(), &total)]) {
        println!(
            "  {k:<20} {:>3} / {:>3} / {:>3}   precision {:.1} %, recall {:.1} %",
            s.given,
            s.right,
            s.expected,
            100.0 * s.right as f64 / s.given.max(1) as f64,
            100.0 * s.right as f64 / s.expected.max(1) as f64
        );
    }
    for w in &wrong {
        println!("  {w}");
    }
    let precision = total.right as f64 / total.given.max(1) as f64;
    let recall = total.right as f64 / total.expected.max(1) as f64;
    assert!(precision >= 0.95, "precision {precision:.3}: {wrong:#?}");
    assert!(recall >= 0.85, "recall {recall:.3}: {wrong:#?}");
}
