//! The tables a query read (`database.table`), from its SQL.
//!
//! Parsed with the `sqlparser` crate (Apache DataFusion's SQL parser; its generic dialect reads
//! the Trino SQL that Athena speaks: `CROSS JOIN UNNEST(..) AS t(x)`, double-quoted names,
//! `"catalog"."db"."table"`, lambdas, `UNLOAD`). What the parser cannot read is
//! [`TablesRead::Unparsed`], never a guess from a regular expression: a wrong table in the
//! digest is worse than an honest "unparsed". Known gap: Iceberg time travel
//! (`FOR TIMESTAMP AS OF ..`, `FOR VERSION AS OF ..`) is not in sqlparser 0.63's grammar, so such
//! queries are unparsed.
//!
//! Rules: a one-part name is in the query's default database (Athena's `default` when the query
//! names none); a name bound by the statement's `WITH` is a subquery, not a table; the table an
//! `INSERT INTO` or `CREATE TABLE .. AS` writes is not read (unless the query also reads it);
//! `awsdatacatalog` (Athena's name for the Glue catalog) is left out, other catalogs are kept
//! (`catalog.db.table`); names are lowercased, as Glue stores them.

use std::collections::{BTreeSet, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, Query, Statement, TableObject, Visit, Visitor};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

/// Athena's name for the Glue Data Catalog in three-part names.
const GLUE_CATALOG: &str = "awsdatacatalog";
/// The database Athena uses when a query's context names none.
const DEFAULT_DATABASE: &str = "default";
/// Longer SQL is not parsed (bounded work per query; Athena's own limit is 256 KB).
const MAX_PARSED_BYTES: usize = 262_144;

pub use lakeops_core::query::TablesRead;

/// What CloudTrail records in place of a request parameter it leaves out (a
/// `StartQueryExecution`'s `queryString` among them). Not SQL: it reads as no tables
/// ([`TablesRead::Unparsed`]), never as a guess. The tables a query read come from Athena's own
/// record of it; this guards any path that would hand over CloudTrail's text instead.
pub const OMITTED: &str = "***OMITTED***";

#[derive(Default)]
struct Names {
    read: Vec<Vec<String>>,
    written: Vec<Vec<String>>,
    ctes: HashSet<String>,
}

fn parts(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
        .collect()
}

impl Visitor for Names {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if let Some(p) = parts(relation) {
            self.read.push(p);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        let target = match statement {
            Statement::Insert(insert) => match &insert.table {
                TableObject::TableName(name) => parts(name),
                _ => None,
            },
            Statement::CreateTable(create) => parts(&create.name),
            _ => None,
        };
        self.written.extend(target);
        ControlFlow::Continue(())
    }
}

/// The tables `sql` reads, one-part names resolved in `default_database`.
///
/// Bounded work, never a crash: SQL over [`MAX_PARSED_BYTES`] or with more than
/// [`MAX_OPERATORS`] operators is not parsed. A chain like `1+1+…+1` is parsed by a loop but
/// builds a tree as deep as the chain, and walking or dropping that tree recurses once per level:
/// unbounded, 256 KB of it overflows any thread's stack and aborts the process (a known class in
/// sqlparser). Within the bound the tree is walked and dropped on a thread of its own with
/// [`PARSE_STACK_BYTES`] of stack, whatever stack the caller has (tokio's workers have 2 MiB).
pub fn tables_read(sql: &str, default_database: Option<&str>) -> TablesRead {
    match with_parsed(sql, names_in) {
        Some(names) => resolve(names, default_database),
        None => TablesRead::Unparsed,
    }
}

/// What `read` makes of `sql`'s statements, within the bounds above (`None`: not parsed, or
/// no statement). The syntax tree is made, read and dropped on a thread of its own.
pub(crate) fn with_parsed<T: Send + 'static>(sql: &str, read: fn(&[Statement]) -> T) -> Option<T> {
    if sql.trim() == OMITTED || sql.len() > MAX_PARSED_BYTES || too_many_operators(sql) {
        return None;
    }
    let owned = sql.to_string();
    std::thread::Builder::new()
        .name("sql-parse".into())
        .stack_size(PARSE_STACK_BYTES)
        .spawn(
            move || match Parser::parse_sql(&GenericDialect {}, &owned) {
                Ok(statements) if !statements.is_empty() => Some(read(&statements)),
                _ => None,
            },
        )
        .ok()
        .and_then(|worker| worker.join().ok())
        .flatten()
}

/// Operators (and commas) per query beyond which SQL is not parsed. BI tools' generated `OR` and
/// `IN` lists reach a few thousand; the parse tree's depth is at most this.
pub const MAX_OPERATORS: usize = 20_000;
/// The parsing thread's stack: room for a tree [`MAX_OPERATORS`] deep.
const PARSE_STACK_BYTES: usize = 64 << 20;

/// Whether `sql` holds more operator characters and keywords than [`MAX_OPERATORS`]: a cheap
/// upper bound on the parse tree's depth, counted without parsing (quoted text counts too, which
/// only errs towards "unparsed").
fn too_many_operators(sql: &str) -> bool {
    let symbols = sql
        .bytes()
        .filter(|b| {
            matches!(
                b,
                b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'=' | b'<' | b'>' | b'(' | b','
            )
        })
        .count();
    let words = sql
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| {
            w.eq_ignore_ascii_case("and")
                || w.eq_ignore_ascii_case("or")
                || w.eq_ignore_ascii_case("not")
        })
        .count();
    symbols + words > MAX_OPERATORS
}

/// The names the statements read and write. Runs on the parsing thread.
fn names_in(statements: &[Statement]) -> Names {
    let mut names = Names::default();
    for statement in statements {
        let _ = statement.visit(&mut names);
    }
    names
}

/// Qualified, sorted table names from what a statement named.
fn resolve(mut names: Names, default_database: Option<&str>) -> TablesRead {
    // The written table is visited as a relation too: take one occurrence out per target.
    for target in &names.written {
        if let Some(i) = names.read.iter().position(|r| r == target) {
            names.read.remove(i);
        }
    }
    let database = database_or_default(default_database);
    let mut tables = BTreeSet::new();
    for name in names.read {
        if let [table] = name.as_slice() {
            if names.ctes.contains(table) {
                continue;
            }
        }
        tables.insert(qualify(&name, &database));
    }
    TablesRead::Tables(tables.into_iter().collect())
}

/// The query's database, lower-cased: Athena's `default` when its context names none.
pub(crate) fn database_or_default(database: Option<&str>) -> String {
    database
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_DATABASE)
        .to_lowercase()
}

/// A table's name as the index keeps it (lower-cased parts): `database.table`, a one-part name
/// in `database`, `awsdatacatalog` left out, other catalogs kept (`catalog.db.table`).
pub(crate) fn qualify(name: &[String], database: &str) -> String {
    match name {
        [table] => format!("{database}.{table}"),
        [catalog, db, table] if catalog == GLUE_CATALOG => format!("{db}.{table}"),
        _ => name.join("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(sql: &str) -> Vec<String> {
        match tables_read(sql, Some("sales")) {
            TablesRead::Tables(t) => t,
            TablesRead::Unparsed => panic!("unparsed: {sql}"),
        }
    }

    #[test]
    fn ctes_are_not_tables_and_joins_name_both_sides() {
        assert_eq!(
            read(
                "WITH recent AS (SELECT * FROM orders WHERE dt > '2026-11-01') \
                  SELECT r.id, c.name FROM recent r JOIN crm.customers c ON r.cid = c.id"
            ),
            ["crm.customers", "sales.orders"]
        );
        assert_eq!(
            read("SELECT * FROM a LEFT JOIN b USING (id) FULL OUTER JOIN other.c ON true"),
            ["other.c", "sales.a", "sales.b"]
        );
    }

    #[test]
    fn subqueries_and_unnest() {
        assert_eq!(
            read(
                "SELECT tag, count(*) FROM logs.cloudfront c CROSS JOIN UNNEST(c.tags) AS t(tag) \
                  WHERE c.host IN (SELECT host FROM (SELECT host FROM ref.hosts) h) GROUP BY 1"
            ),
            ["logs.cloudfront", "ref.hosts"]
        );
        assert_eq!(
            read("SELECT * FROM UNNEST(ARRAY[1, 2, 3]) AS t(n)"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn quoted_and_three_part_names() {
        assert_eq!(
            read(
                r#"SELECT * FROM "AwsDataCatalog"."Web-Logs"."access log" TABLESAMPLE BERNOULLI (10)"#
            ),
            ["web-logs.access log"]
        );
        assert_eq!(
            read("SELECT * FROM dynamo_catalog.default.users"),
            ["dynamo_catalog.default.users"]
        );
        assert_eq!(
            read(r#"SELECT * FROM "db"."t$partitions""#),
            ["db.t$partitions"]
        );
    }

    #[test]
    fn written_tables_are_not_read_ones() {
        assert_eq!(
            read("INSERT INTO warehouse.daily SELECT * FROM raw.events"),
            ["raw.events"]
        );
        assert_eq!(
            read("CREATE TABLE x.y WITH (format = 'PARQUET') AS SELECT * FROM a.b"),
            ["a.b"]
        );
        assert_eq!(
            read("INSERT INTO t SELECT * FROM t WHERE dt = '2026-11-23'"),
            ["sales.t"]
        );
        assert_eq!(
            read("UNLOAD (SELECT * FROM db.t) TO 's3://bucket/p/' WITH (format = 'PARQUET')"),
            ["db.t"]
        );
    }

    #[test]
    fn trino_functions_parse() {
        assert_eq!(
            read("SELECT transform(arr, x -> x + 1), approx_percentile(v, 0.5), try_cast(y AS integer) \
                  FROM events WHERE from_iso8601_timestamp(ts) > now() - interval '1' day"),
            ["sales.events"]
        );
    }

    #[test]
    fn the_default_database_when_none_is_named() {
        assert_eq!(
            tables_read("SELECT 1 FROM t", None),
            TablesRead::Tables(vec!["default.t".into()])
        );
        assert_eq!(read("SELECT 1"), Vec::<String>::new());
    }

    /// A long left-associative chain parses into a tree as deep as the chain: unbounded, walking
    /// or dropping it overflowed the stack and aborted the feed. Now bounded (unparsed) and,
    /// within the bound, walked on the parser's own thread, whatever the caller's stack.
    #[test]
    fn a_deep_expression_is_unparsed_or_read_never_a_crash() {
        let chain = |n: usize| format!("SELECT {}1 FROM sales.orders", "1+".repeat(n));
        assert_eq!(tables_read(&chain(120_000), None), TablesRead::Unparsed);
        let small_stack = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || tables_read(&chain(MAX_OPERATORS - 100), None))
            .unwrap();
        assert_eq!(
            small_stack.join().unwrap(),
            TablesRead::Tables(vec!["sales.orders".into()])
        );
        let ors: Vec<String> = (0..3000).map(|i| format!("id = {i}")).collect();
        let bi = format!("SELECT * FROM sales.orders WHERE {}", ors.join(" OR "));
        assert_eq!(read(&bi), ["sales.orders"]);
    }

    #[test]
    fn unparsable_sql_is_unparsed_not_guessed() {
        for sql in [
            "SELEC * FROM t",
            "SELECT * FROM t FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 00:00:00 UTC'",
            "",
            "SELECT * FROM (",
            // CloudTrail's placeholder for a query text it left out.
            OMITTED,
            " ***OMITTED***\n",
        ] {
            assert_eq!(tables_read(sql, Some("db")), TablesRead::Unparsed, "{sql}");
        }
        let long = format!("SELECT 1 FROM t WHERE x IN ({})", "1, ".repeat(100_000));
        assert_eq!(tables_read(&long, None), TablesRead::Unparsed);
    }
}
