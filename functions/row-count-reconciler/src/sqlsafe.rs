//! Safe SQL for the count queries: identifiers are validated and quoted, template values can only
//! become literal text, and no check can smuggle a second statement or a comment.

use std::fmt;

/// Why a table name, an identifier or a SQL fragment of a check is refused. The caller says
/// which field of which check it came from (`table:`, `filter:`, `group_by:` …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlSafetyError {
    #[error("{0:?} is not `catalog.database.table` or `database.table`")]
    NotATableName(String),
    #[error(
        "{0:?} is not a valid identifier (letters, digits, _ and -; not starting with a digit)"
    )]
    NotAnIdentifier(String),
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    #[error("a `)` closes a parenthesis that was never opened")]
    UnopenedParenthesis,
    #[error("{open} unclosed parenthes{}", if *open == 1 { "is" } else { "es" })]
    UnclosedParentheses { open: usize },
    #[error("`;` is not allowed: one statement per side")]
    Semicolon,
    /// The comment's opening (`--` or `/*`).
    #[error("SQL comments (`{0}`) are not allowed")]
    Comment(&'static str),
    #[error("`{0}` outside parentheses: a filter is one boolean expression")]
    StatementWordInFilter(String),
    #[error("a `sql` side must be one SELECT (or WITH ... SELECT) query")]
    NotOneSelect,
}

/// A validated `catalog.database.table` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub catalog: String,
    pub database: String,
    pub table: String,
}

impl TableName {
    /// Parses `catalog.database.table` or `database.table` (catalog `awsdatacatalog`). Each part:
    /// letters, digits, `_` and `-`, at most 255 characters (Glue and federated catalog names).
    pub fn parse(s: &str) -> Result<Self, SqlSafetyError> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let (catalog, database, table) = match parts.as_slice() {
            [d, t] => ("awsdatacatalog", *d, *t),
            [c, d, t] => (*c, *d, *t),
            _ => return Err(SqlSafetyError::NotATableName(s.to_string())),
        };
        for part in [catalog, database, table] {
            identifier(part)?;
        }
        Ok(Self {
            catalog: catalog.to_ascii_lowercase(),
            database: database.to_string(),
            table: table.to_string(),
        })
    }

    /// Whether the table lives in the Glue Data Catalog (Glue can describe it).
    pub fn in_glue(&self) -> bool {
        self.catalog == "awsdatacatalog"
    }

    /// `"catalog"."database"."table"`; `suffix` names an Iceberg metadata table (`$files`).
    pub fn quoted(&self, suffix: &str) -> String {
        format!(
            "\"{}\".\"{}\".\"{}{suffix}\"",
            self.catalog, self.database, self.table
        )
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.database, self.table)
    }
}

/// A column or partition-key name: letters, digits and `_` only, not starting with a digit.
pub fn identifier(s: &str) -> Result<&str, SqlSafetyError> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !s.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    if ok {
        Ok(s)
    } else {
        Err(SqlSafetyError::NotAnIdentifier(s.to_string()))
    }
}

/// `"column"`, for an already validated identifier.
pub fn quote_identifier(s: &str) -> String {
    format!("\"{s}\"")
}

/// A string literal: `'...'` with embedded quotes doubled.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Words that begin or continue a statement rather than a predicate: in a `filter`, outside
/// parentheses (where `x IN (SELECT …)` is still a predicate) they are refused.
const STATEMENT_WORDS: [&str; 18] = [
    "select",
    "from",
    "where",
    "union",
    "intersect",
    "except",
    "group",
    "having",
    "order",
    "limit",
    "offset",
    "insert",
    "update",
    "delete",
    "merge",
    "drop",
    "create",
    "alter",
];

/// Checks a predicate (a `filter`) or a whole statement (a `sql` side) for what could turn it
/// into more than one expression or statement: `;`, comments, unbalanced quotes or parentheses
/// (outside string literals and quoted names). A `filter` must also be one boolean expression:
/// no statement words ([`STATEMENT_WORDS`]) outside parentheses, so `1=1) OR (1=1` or
/// `1=1 UNION SELECT …` cannot widen or leave the window. `statement` requires a single
/// `SELECT` / `WITH` query instead.
pub fn check_fragment(s: &str, statement: bool) -> Result<(), SqlSafetyError> {
    let chars: Vec<char> = s.chars().collect();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            quote @ ('\'' | '"') => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(SqlSafetyError::UnterminatedQuote(quote)),
                        Some(c) if *c == quote && chars.get(i + 1) == Some(&quote) => i += 2,
                        Some(c) if *c == quote => break,
                        Some(_) => i += 1,
                    }
                }
            }
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(SqlSafetyError::UnopenedParenthesis)?;
            }
            ';' => {
                let rest: String = chars[i + 1..].iter().collect();
                if !(statement && rest.trim().is_empty()) {
                    return Err(SqlSafetyError::Semicolon);
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => return Err(SqlSafetyError::Comment("--")),
            '/' if chars.get(i + 1) == Some(&'*') => return Err(SqlSafetyError::Comment("/*")),
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    i += 1;
                }
                let word: String = chars[start..=i].iter().collect::<String>().to_lowercase();
                if !statement && depth == 0 && STATEMENT_WORDS.contains(&word.as_str()) {
                    return Err(SqlSafetyError::StatementWordInFilter(word));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err(SqlSafetyError::UnclosedParentheses { open: depth });
    }
    if statement {
        let head = s.trim_start().to_ascii_lowercase();
        if !(head.starts_with("select") || head.starts_with("with")) {
            return Err(SqlSafetyError::NotOneSelect);
        }
    }
    Ok(())
}

/// A `sql` side as it is run: its query as a scalar subquery cast to `bigint`, so whatever
/// it selects, the answer is one number or a failed query — never rows of a table.
pub fn count_query(sql: &str) -> String {
    format!("SELECT CAST(({sql}) AS bigint)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_validated_and_quoted() {
        let t = TableName::parse("AwsDataCatalog.sales.orders_raw").unwrap();
        assert_eq!(t.quoted(""), "\"awsdatacatalog\".\"sales\".\"orders_raw\"");
        assert_eq!(
            t.quoted("$files"),
            "\"awsdatacatalog\".\"sales\".\"orders_raw$files\""
        );
        assert!(t.in_glue());
        let mysql = TableName::parse("mysql_prod.shop.orders").unwrap();
        assert!(!mysql.in_glue());
        assert_eq!(
            TableName::parse("sales.orders").unwrap().catalog,
            "awsdatacatalog"
        );
        for bad in [
            "orders",
            "a.b.c.d",
            "sales.orders\"; DROP TABLE x; --",
            "sales.orders x",
            "sales.",
            "sales.1abc",
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn injection_attempts_are_rejected() {
        assert!(check_fragment("dt = '2026-11-22'", false).is_ok());
        assert!(check_fragment("name = 'it''s; fine -- really'", false).is_ok());
        assert!(check_fragment("dt = '1'; DROP TABLE t", false).is_err());
        assert!(check_fragment("dt = '1' -- and the rest", false).is_err());
        assert!(check_fragment("dt = '1' /* x */", false).is_err());
        assert!(check_fragment("dt = 'unterminated", false).is_err());
        assert!(check_fragment("SELECT count(*) FROM t;", true).is_ok());
        assert!(check_fragment("SELECT 1; SELECT 2", true).is_err());
        assert!(check_fragment("DELETE FROM t", true).is_err());
        // A filter is one balanced boolean expression.
        for bad in [
            "1=1) OR (1=1",
            "(dt = '1'",
            "dt = '1' UNION SELECT secret FROM t",
            "dt = '1' ORDER BY 1",
            "dt = '1') UNION (SELECT 1",
            "x = 1 or 1=1 limit 1",
        ] {
            assert!(check_fragment(bad, false).is_err(), "{bad}");
        }
        for good in [
            "customer_id IN (SELECT id FROM sales.vip)",
            "(region = 'eu' OR region = 'us') AND status <> 'test'",
            "note = 'a ) or ( b' AND \"from\" = 'x'",
            "selected_flag = true AND updated_at >= timestamp '{{ yesterday_start }}'",
        ] {
            assert!(check_fragment(good, false).is_ok(), "{good}");
        }
        assert!(check_fragment("SELECT count(*) FROM (SELECT 1) t WHERE (1=1", true).is_err());
        assert_eq!(
            count_query("SELECT count(*) FROM t"),
            "SELECT CAST((SELECT count(*) FROM t) AS bigint)"
        );
        assert_eq!(literal("it's"), "'it''s'");
        assert!(identifier("dt").is_ok());
        assert!(identifier("d\"t").is_err());
    }

    #[test]
    fn a_refusal_says_what_was_refused() {
        assert_eq!(
            check_fragment("dt = '1' UNION SELECT secret FROM t", false),
            Err(SqlSafetyError::StatementWordInFilter("union".into()))
        );
        assert_eq!(
            check_fragment("(a = 1 AND (b = 2)", false)
                .unwrap_err()
                .to_string(),
            "1 unclosed parenthesis"
        );
        assert_eq!(
            check_fragment("dt = '1' /* x */", false)
                .unwrap_err()
                .to_string(),
            "SQL comments (`/*`) are not allowed"
        );
        assert_eq!(
            TableName::parse("orders").unwrap_err().to_string(),
            "\"orders\" is not `catalog.database.table` or `database.table`"
        );
        assert_eq!(
            identifier("1dt").unwrap_err().to_string(),
            "\"1dt\" is not a valid identifier (letters, digits, _ and -; not starting with a digit)"
        );
    }
}
