//! The Glue Data Catalog in memory: tables by `database.table`, a lookup of an unknown table
//! answering "no such table" as Glue's `EntityNotFoundException` does.

use std::collections::BTreeMap;

use super::MemoryError;
use crate::cost_hints::{TableCatalog, TableFacts};

#[derive(Debug, Default, Clone)]
pub struct MemoryCatalog {
    pub tables: BTreeMap<String, TableFacts>,
    /// Every lookup fails as a throttled Glue would (after the SDK's retries).
    pub throttled: bool,
}

impl TableCatalog for MemoryCatalog {
    type Error = MemoryError;

    async fn table(&self, database: &str, table: &str) -> Result<Option<TableFacts>, MemoryError> {
        if self.throttled {
            return Err(MemoryError::Throttled("glue"));
        }
        Ok(self.tables.get(&format!("{database}.{table}")).cloned())
    }
}
