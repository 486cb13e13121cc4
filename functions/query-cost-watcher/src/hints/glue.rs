//! The Glue Data Catalog through the SDK: `GetTable` for a table's format, columns and
//! partition keys, `GetPartitions` (paged, schema left out, bounded) to count its partitions.
//! Answers are kept for a few minutes: the watcher's container runs many batches, and the
//! expensive queries of a day read the same few tables.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_glue::types::Table;
use lakeops::LakeopsError;
use lakeops_core::cost_hints::{PartitionCount, StorageFormat, TableCatalog, TableFacts};

/// `GetPartitions` returns at most 1,000 partitions a page.
const PARTITIONS_PER_PAGE: i32 = 1000;
/// Partitions are counted up to this many pages ("more than 10,000" beyond).
const MAX_PARTITION_PAGES: usize = 10;
/// How long a table's facts are reused.
const KEEP_FOR: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub struct GlueCatalog {
    client: aws_sdk_glue::Client,
    kept: Mutex<HashMap<String, (Instant, Option<TableFacts>)>>,
}

impl GlueCatalog {
    pub fn new(client: aws_sdk_glue::Client) -> Self {
        Self {
            client,
            kept: Mutex::new(HashMap::new()),
        }
    }

    fn kept(&self, key: &str) -> Option<Option<TableFacts>> {
        let kept = self.kept.lock().ok()?;
        kept.get(key)
            .filter(|(at, _)| at.elapsed() < KEEP_FOR)
            .map(|(_, f)| f.clone())
    }

    async fn read(&self, database: &str, table: &str) -> Result<Option<TableFacts>, LakeopsError> {
        let answer = self
            .client
            .get_table()
            .database_name(database)
            .name(table)
            .send()
            .await;
        let table_def = match answer {
            Ok(out) => match out.table {
                Some(t) => t,
                None => return Ok(None),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(LakeopsError::aws("glue:GetTable", e)),
        };
        let mut facts = facts_of(&table_def);
        if !facts.partition_keys.is_empty() && !is_projected(&table_def) {
            facts.partitions = Some(self.count_partitions(database, table).await?);
        }
        Ok(Some(facts))
    }

    async fn count_partitions(
        &self,
        database: &str,
        table: &str,
    ) -> Result<PartitionCount, LakeopsError> {
        let mut counted = 0u64;
        let mut token: Option<String> = None;
        for _ in 0..MAX_PARTITION_PAGES {
            let page = self
                .client
                .get_partitions()
                .database_name(database)
                .table_name(table)
                .exclude_column_schema(true)
                .max_results(PARTITIONS_PER_PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| LakeopsError::aws("glue:GetPartitions", e))?;
            counted += page.partitions().len() as u64;
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(PartitionCount {
                    counted,
                    more: false,
                });
            }
        }
        Ok(PartitionCount {
            counted,
            more: true,
        })
    }
}

impl TableCatalog for GlueCatalog {
    type Error = LakeopsError;

    async fn table(&self, database: &str, table: &str) -> Result<Option<TableFacts>, LakeopsError> {
        let key = format!("{database}.{table}");
        if let Some(f) = self.kept(&key) {
            return Ok(f);
        }
        let facts = self.read(database, table).await?;
        if let Ok(mut kept) = self.kept.lock() {
            kept.retain(|_, (at, _)| at.elapsed() < KEEP_FOR);
            kept.insert(key, (Instant::now(), facts.clone()));
        }
        Ok(facts)
    }
}

/// Partition projection: Athena works partitions out from the table's properties and Glue
/// lists none, so they are not counted.
fn is_projected(t: &Table) -> bool {
    parameter(t, "projection.enabled").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn parameter<'a>(t: &'a Table, name: &str) -> Option<&'a str> {
    t.parameters().and_then(|p| p.get(name)).map(String::as_str)
}

/// A table's facts from its definition (partitions not yet counted).
pub(crate) fn facts_of(t: &Table) -> TableFacts {
    let sd = t.storage_descriptor();
    TableFacts {
        format: format_of(t),
        columns: sd.map_or(0, |s| s.columns().len()),
        partition_keys: t
            .partition_keys()
            .iter()
            .map(|c| c.name().to_lowercase())
            .collect(),
        partitions: None,
        // A crawler's table property: the bytes it found.
        size_bytes: parameter(t, "sizeKey").and_then(|v| v.parse().ok()),
    }
}

/// The storage format from what Athena's own DDL and Glue's crawlers write: `table_type`
/// `ICEBERG`; the input format and SerDe class (Parquet, ORC, JSON SerDes, CloudTrail's, CSV and
/// delimited text, regex-parsed logs); else the crawler's `classification`.
pub(crate) fn format_of(t: &Table) -> StorageFormat {
    if parameter(t, "table_type").is_some_and(|v| v.eq_ignore_ascii_case("iceberg")) {
        return StorageFormat::Iceberg;
    }
    let sd = t.storage_descriptor();
    let input = sd
        .and_then(|s| s.input_format())
        .unwrap_or_default()
        .to_lowercase();
    let serde = sd
        .and_then(|s| s.serde_info())
        .and_then(|s| s.serialization_library())
        .unwrap_or_default()
        .to_lowercase();
    let classification = parameter(t, "classification")
        .unwrap_or_default()
        .to_lowercase();
    let says = |word: &str| input.contains(word) || serde.contains(word) || classification == word;
    if says("parquet") {
        StorageFormat::Parquet
    } else if says("orc") {
        StorageFormat::Orc
    } else if says("json") || serde.contains("cloudtrail") {
        StorageFormat::Json
    } else if says("csv") {
        StorageFormat::Csv
    } else if serde.contains("lazysimpleserde")
        || serde.contains("regexserde")
        || input.contains("textinputformat")
    {
        StorageFormat::Text
    } else {
        StorageFormat::Other
    }
}

#[cfg(test)]
mod tests;
