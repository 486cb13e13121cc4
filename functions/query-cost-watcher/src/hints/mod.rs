//! Why an expensive query cost so much: its SQL read into a shape (`lakeops::sql_shape`), the
//! tables it read looked up in the Glue Data Catalog ([`GlueCatalog`]), and the hints judged
//! (`lakeops_core::cost_hints`). Never in the alert's way: a lookup that fails leaves the hints
//! it could not give out and says so; SQL that does not parse gives none.

mod glue;

use std::collections::BTreeMap;

use lakeops_core::cost_hints::{judge, Hint, TableCatalog, TableFacts};
use lakeops_core::query::QueryExecution;

pub use glue::GlueCatalog;

/// At most this many of a query's tables are looked up (bounded calls per alert).
pub const MAX_TABLES_LOOKED_UP: usize = 8;

/// The hints for one query, and what kept any from being given.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CostHints {
    pub hints: Vec<Hint>,
    /// A catalog lookup that failed (the first): its hints are missing.
    pub lookup_failed: Option<String>,
    /// The SQL did not parse: no hints.
    pub unparsed: bool,
}

/// Reads `q`'s SQL and looks its tables up in `catalog` (two-part names only: another catalog's
/// tables are not Glue's).
pub async fn cost_hints<C: TableCatalog>(catalog: &C, q: &QueryExecution) -> CostHints {
    let Some(shape) = lakeops::sql_shape::query_shape(&q.sql, q.database.as_deref()) else {
        return CostHints {
            unparsed: true,
            ..CostHints::default()
        };
    };
    let mut facts: BTreeMap<String, TableFacts> = BTreeMap::new();
    let mut lookup_failed = None;
    let mut names: Vec<&str> = shape.tables.iter().map(|u| u.table.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names.into_iter().take(MAX_TABLES_LOOKED_UP) {
        let Some((database, table)) = name.split_once('.').filter(|(_, t)| !t.contains('.')) else {
            continue;
        };
        match catalog.table(database, table).await {
            Ok(Some(f)) => {
                facts.insert(name.to_string(), f);
            }
            Ok(None) => {}
            Err(e) => {
                lookup_failed.get_or_insert_with(|| {
                    format!("glue:GetTable {name}: {}", lakeops::error::error_chain(&e))
                });
            }
        }
    }
    CostHints {
        hints: judge(&shape, &facts),
        lookup_failed,
        unparsed: false,
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
