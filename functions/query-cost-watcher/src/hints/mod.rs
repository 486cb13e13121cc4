//! Why an expensive query cost so much: its SQL read into a shape (`lakeops::sql_shape`), the
//! tables it read looked up in the Glue Data Catalog ([`GlueCatalog`]), and the hints judged
//! (`lakeops_core::cost_hints`). Never in the alert's way: a lookup that fails leaves the hints
//! it could not give out and says so; SQL that does not parse gives none.

mod glue;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lakeops::alert::Alert;
use lakeops::attribution::Caller;
use lakeops::pricing::Charge;
use lakeops_core::cost_hints::{judge, Hint, TableCatalog, TableFacts};
use lakeops_core::query::QueryExecution;

use crate::{Deps, Expensive, RunSummary};

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

impl<A, L, I, H, S, C: TableCatalog> Deps<A, L, I, H, S, C> {
    /// The expensive-query alert with why it cost so much. A lookup that failed is counted
    /// (`summary.cost_hint_failures`) and logged; the alert goes out without those hints.
    pub(crate) async fn expensive_alert(
        &self,
        q: &QueryExecution,
        charge: &Charge,
        why: &Expensive,
        caller: Option<&Caller>,
        now: DateTime<Utc>,
        summary: &mut RunSummary,
    ) -> Alert {
        let hints = cost_hints(&self.catalog, q).await;
        if let Some(e) = &hints.lookup_failed {
            summary.cost_hint_failures += 1;
            tracing::warn!(query = %q.id, error = %e, "cost hints: catalog lookup failed");
        }
        crate::alerts::expensive_alert(q, charge, why, caller, &hints, &self.config, now)
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
