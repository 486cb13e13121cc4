//! Why an Athena query cost so much: hints from what the query did ([`QueryShape`], read from
//! its SQL by the shared crate's `sql_shape`) and what the Glue Data Catalog says about the
//! tables it read ([`TableFacts`], through the [`TableCatalog`] port), each with the numbers
//! behind it and a one-line fix.
//!
//! Precision before recall: a hint is given only where the SQL shows the cause. A predicate
//! that names a partition column anywhere in the table's scope (a function of it, a join on it)
//! counts as a filter; SQL that cannot be parsed, or a table the catalog does not know, gives no
//! hint. How often the hints are right is measured on a corpus of real SQL shapes
//! (`functions/query-cost-watcher/corpus/`, docs/reference/cost-hints.md).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use crate::pricing::human_bytes;

/// `SELECT *` is worth a hint from this many columns of a columnar table: below it, reading
/// every column costs little more than naming the few needed.
pub const SELECT_STAR_MIN_COLUMNS: usize = 20;

/// How a table's files are stored, as far as the cost of reading them goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageFormat {
    Parquet,
    Orc,
    /// Apache Iceberg (Parquet underneath, partitioned in its own metadata).
    Iceberg,
    Csv,
    Json,
    /// Other delimited or regex-parsed text (access logs).
    Text,
    /// Anything else (Avro, Ion, a format the catalog does not say).
    Other,
}

impl StorageFormat {
    /// Read column by column: naming fewer columns reads fewer bytes.
    pub fn is_columnar(&self) -> bool {
        matches!(self, Self::Parquet | Self::Orc | Self::Iceberg)
    }

    /// Read row by row: every file opened is read whole, whatever the query names.
    pub fn is_row_format(&self) -> bool {
        matches!(self, Self::Csv | Self::Json | Self::Text)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::Parquet => "Parquet",
            Self::Orc => "ORC",
            Self::Iceberg => "Iceberg",
            Self::Csv => "CSV",
            Self::Json => "JSON",
            Self::Text => "text",
            Self::Other => "another format",
        }
    }
}

/// How many partitions Glue lists for a table, as far as it was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionCount {
    pub counted: u64,
    /// Counting stopped at a bound: there are more.
    pub more: bool,
}

/// What the catalog says about one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFacts {
    pub format: StorageFormat,
    /// Its columns, partition columns not included.
    pub columns: usize,
    /// Partition columns, lower-cased, in order.
    pub partition_keys: Vec<String>,
    /// `None`: not counted (partition projection: Glue lists none).
    pub partitions: Option<PartitionCount>,
    /// The table's size where the catalog keeps one (a crawler's `sizeKey`).
    pub size_bytes: Option<u64>,
}

/// The Glue Data Catalog, as the hints read it.
pub trait TableCatalog: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the catalog knows of `database.table` (`None`: no such table).
    fn table(
        &self,
        database: &str,
        table: &str,
    ) -> impl Future<Output = Result<Option<TableFacts>, Self::Error>> + Send;
}

/// What kind of statement the query was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatementKind {
    #[default]
    Select,
    CreateTableAs,
    Insert,
    Other,
}

/// One place a statement reads a catalog table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableUse {
    /// `database.table`, lower-cased.
    pub table: String,
    /// Columns (lower-cased) named by a predicate in this reference's scope: `WHERE`, `ON`,
    /// `USING`.
    pub filtered: BTreeSet<String>,
    /// Its columns reach the result through `SELECT *` (or `alias.*`).
    pub select_star: bool,
}

/// What a statement does, read from its SQL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryShape {
    pub statement: StatementKind,
    pub tables: Vec<TableUse>,
    /// Columns named by predicates over a subquery or CTE: Athena pushes such a predicate down
    /// to the tables underneath, so they count as a filter for every table read.
    pub filtered_anywhere: BTreeSet<String>,
    /// `(left, right)` of each join with no condition between two tables, as written.
    pub cross_joins: Vec<(String, String)>,
}

/// What a hint is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HintKind {
    /// A partitioned table read with no predicate on any partition column.
    NoPartitionFilter,
    /// `SELECT *` over a wide columnar table.
    SelectStar,
    /// A row-format (CSV, JSON, text) table: whole files are read.
    RowFormat,
    /// Every row of one table with every row of another.
    CrossJoin,
    /// A `CREATE TABLE AS` or `INSERT` that copies a whole partitioned table.
    FullRewrite,
}

impl HintKind {
    /// The hint's id in alert details and the corpus.
    pub fn id(self) -> &'static str {
        match self {
            Self::NoPartitionFilter => "no_partition_filter",
            Self::SelectStar => "select_star",
            Self::RowFormat => "row_format",
            Self::CrossJoin => "cross_join",
            Self::FullRewrite => "full_rewrite",
        }
    }
}

/// One reason a query cost what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub kind: HintKind,
    /// The table it is about (`database.table`), if one.
    pub table: Option<String>,
    /// What the query did, with the numbers behind it.
    pub why: String,
    /// One line: what to change.
    pub fix: String,
}

impl Hint {
    /// `kind(table)` or `kind`: how the corpus labels a hint.
    pub fn label(&self) -> String {
        match &self.table {
            Some(t) => format!("{}({t})", self.kind.id()),
            None => self.kind.id().to_string(),
        }
    }
}

/// The hints for a query of `shape` over tables the catalog described as `facts` (tables
/// missing from it get none), ordered by kind, one per kind and table.
pub fn judge(shape: &QueryShape, facts: &BTreeMap<String, TableFacts>) -> Vec<Hint> {
    let mut hints = Vec::new();
    let mut seen = BTreeSet::new();
    let mut unfiltered = Vec::new();
    for u in &shape.tables {
        let Some(f) = facts.get(&u.table) else {
            continue;
        };
        if !f.partition_keys.is_empty() && !partition_filtered(u, f, shape) {
            unfiltered.push((u.table.as_str(), f));
            if seen.insert((HintKind::NoPartitionFilter, u.table.as_str())) {
                hints.push(no_partition_filter(&u.table, f));
            }
        }
        if u.select_star
            && f.format.is_columnar()
            && f.columns + f.partition_keys.len() >= SELECT_STAR_MIN_COLUMNS
            && seen.insert((HintKind::SelectStar, u.table.as_str()))
        {
            hints.push(select_star(&u.table, f));
        }
        if f.format.is_row_format() && seen.insert((HintKind::RowFormat, u.table.as_str())) {
            hints.push(row_format(&u.table, f));
        }
    }
    for (left, right) in &shape.cross_joins {
        hints.push(Hint {
            kind: HintKind::CrossJoin,
            table: None,
            why: format!(
                "It cross-joins {left} with {right}: every row of one with every row of the other."
            ),
            fix: "Join on a key (JOIN … ON a.id = b.id), or filter each side before joining."
                .into(),
        });
    }
    if matches!(
        shape.statement,
        StatementKind::CreateTableAs | StatementKind::Insert
    ) {
        for (table, f) in unfiltered {
            if seen.insert((HintKind::FullRewrite, table)) {
                hints.push(full_rewrite(shape.statement, table, f));
            }
        }
    }
    hints.sort_by(|a, b| (a.kind, &a.table).cmp(&(b.kind, &b.table)));
    hints
}

/// Whether a predicate in the table's scope, or one pushed down from above, names a partition
/// column.
fn partition_filtered(u: &TableUse, f: &TableFacts, shape: &QueryShape) -> bool {
    f.partition_keys
        .iter()
        .any(|k| u.filtered.contains(k) || shape.filtered_anywhere.contains(k))
}

fn no_partition_filter(table: &str, f: &TableFacts) -> Hint {
    let keys = f.partition_keys.join(", ");
    let partitions = match f.partitions {
        Some(PartitionCount { counted, more }) if counted > 0 => format!(
            "{}{} partitions",
            if more { "more than " } else { "" },
            thousands(counted)
        ),
        _ => "partitions".to_string(),
    };
    Hint {
        kind: HintKind::NoPartitionFilter,
        table: Some(table.to_string()),
        why: format!(
            "{table} has {partitions} by {keys}; this query filtered on none of them, so Athena read every one{}.",
            size_note(f)
        ),
        fix: format!("Filter on {keys} (WHERE {} = …) so Athena reads only the partitions needed.", f.partition_keys[0]),
    }
}

fn select_star(table: &str, f: &TableFacts) -> Hint {
    Hint {
        kind: HintKind::SelectStar,
        table: Some(table.to_string()),
        why: format!(
            "SELECT * read all {} columns of {table}; {} is read column by column.",
            f.columns + f.partition_keys.len(),
            f.format.label()
        ),
        fix: "Select only the columns needed (LIMIT does not reduce the columns read).".into(),
    }
}

fn row_format(table: &str, f: &TableFacts) -> Hint {
    Hint {
        kind: HintKind::RowFormat,
        table: Some(table.to_string()),
        why: format!(
            "{table} is stored as {}{}: Athena reads every file it opens whole, every column.",
            f.format.label(),
            size_note(f)
        ),
        fix: "Keep a Parquet copy (CREATE TABLE … WITH (format = 'PARQUET', partitioned_by = …) AS SELECT …) and query that.".into(),
    }
}

fn full_rewrite(statement: StatementKind, table: &str, f: &TableFacts) -> Hint {
    let what = match statement {
        StatementKind::CreateTableAs => "CREATE TABLE AS",
        _ => "INSERT",
    };
    let keys = f.partition_keys.join(", ");
    Hint {
        kind: HintKind::FullRewrite,
        table: Some(table.to_string()),
        why: format!("This {what} copies all of {table} (no filter on {keys}): the whole table is read and written again."),
        fix: format!("Write only what is new: filter the source on {keys} and INSERT INTO the target one partition at a time."),
    }
}

fn size_note(f: &TableFacts) -> String {
    f.size_bytes
        .map(|b| format!(" ({} in the catalog)", human_bytes(b)))
        .unwrap_or_default()
}

/// `3,650`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
