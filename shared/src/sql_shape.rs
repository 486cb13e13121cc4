//! What a statement does, from its SQL, as the cost hints need it ([`QueryShape`]): which
//! catalog tables each scope reads, which columns its predicates name, whether `SELECT *`
//! reaches the result, and joins with no condition.
//!
//! Parsed with sqlparser like [`crate::tables_read`] (same bounds, same naming rules). Every
//! rule leans towards no hint: a column named without a qualifier counts for every table of its
//! scope, a predicate over a subquery or CTE counts for every table (Athena pushes it down), a
//! comma join with any comparison of columns in its `WHERE` counts as joined.

use std::collections::HashSet;
use std::ops::ControlFlow;

use lakeops_core::cost_hints::{QueryShape, StatementKind, TableUse};
use sqlparser::ast::{
    BinaryOperator, Expr, JoinConstraint, JoinOperator, ObjectName, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Statement, TableFactor, Visit, Visitor,
};

use crate::tables_read::{database_or_default, qualify, with_parsed};

/// The shape of `sql`'s first statement, one-part names in `default_database`; `None` when the
/// SQL does not parse.
pub fn query_shape(sql: &str, default_database: Option<&str>) -> Option<QueryShape> {
    let database = database_or_default(default_database);
    let shapes = with_parsed(sql, |statements| {
        statements.first().map(|s| {
            let mut walker = Walker::default();
            walker.statement(s);
            walker
        })
    })??;
    Some(shapes.finish(&database))
}

/// A relation of a scope: what a qualifier (its alias or name) stands for.
#[derive(Debug)]
struct Relation {
    key: String,
    kind: RelationKind,
}

#[derive(Debug, PartialEq)]
enum RelationKind {
    /// Index into the walker's table uses.
    Table(usize),
    /// A subquery or CTE: predicates over it are pushed down.
    Derived,
    /// `UNNEST`, a table function, a `VALUES` list.
    Other,
}

#[derive(Default)]
struct Walker {
    shape: QueryShape,
    /// Table names as written (lower-cased parts), qualified in [`Walker::finish`].
    names: Vec<Vec<String>>,
    ctes: HashSet<String>,
}

impl Walker {
    fn finish(mut self, database: &str) -> QueryShape {
        for (u, name) in self.shape.tables.iter_mut().zip(&self.names) {
            u.table = qualify(name, database);
        }
        self.shape
    }

    fn statement(&mut self, s: &Statement) {
        let (kind, source, output) = match s {
            Statement::Query(q) => (StatementKind::Select, Some(q), true),
            // What a CTAS or INSERT selects is written out: its `*` reads every column too.
            Statement::Insert(i) => (StatementKind::Insert, i.source.as_ref(), true),
            Statement::CreateTable(c) if c.query.is_some() => {
                (StatementKind::CreateTableAs, c.query.as_ref(), true)
            }
            _ => (StatementKind::Other, None, false),
        };
        self.shape.statement = kind;
        if let Some(q) = source {
            self.query(q, output);
        }
    }

    /// A query; `output`: its rows are the statement's result (a `SELECT *` there reads every
    /// column of what it selects from).
    fn query(&mut self, q: &Query, output: bool) {
        let ctes = q.with.as_ref().map(|w| &w.cte_tables[..]).unwrap_or(&[]);
        for cte in ctes {
            self.ctes.insert(cte.alias.name.value.to_lowercase());
        }
        let mut starred = Vec::new();
        self.set_expr(&q.body, output, &mut starred);
        for cte in ctes {
            let name = cte.alias.name.value.to_lowercase();
            self.query(&cte.query, output && starred.contains(&name));
        }
    }

    fn set_expr(&mut self, e: &SetExpr, output: bool, starred: &mut Vec<String>) {
        match e {
            SetExpr::Select(s) => self.select(s, output, starred),
            SetExpr::Query(q) => self.query(q, output),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, output, starred);
                self.set_expr(right, output, starred);
            }
            _ => {}
        }
    }

    /// One `SELECT`: its relations, what its predicates name, its `*`, its joins.
    fn select(&mut self, s: &Select, output: bool, starred: &mut Vec<String>) {
        let stars = Stars::of(s, output);
        let mut scope = Vec::new();
        let mut predicates: Vec<&Expr> = s.selection.iter().collect();
        let mut using: Vec<String> = Vec::new();
        let mut joined_items = 0;
        for from in &s.from {
            let left = self.relation(&from.relation, &stars, &mut scope, starred, &mut predicates);
            if !matches!(left.kind, RelationKind::Other) {
                joined_items += 1;
            }
            let left_name = left.key.clone();
            scope.push(left);
            for join in &from.joins {
                let right =
                    self.relation(&join.relation, &stars, &mut scope, starred, &mut predicates);
                match constraint(&join.join_operator) {
                    Some(JoinConstraint::On(e)) => predicates.push(e),
                    Some(JoinConstraint::Using(cols)) => {
                        using.extend(cols.iter().filter_map(last_part));
                    }
                    _ => {}
                }
                if is_cross_join(&join.join_operator, &join.relation) {
                    self.shape
                        .cross_joins
                        .push((left_name.clone(), right.key.clone()));
                }
                scope.push(right);
            }
        }
        if joined_items >= 2 && !where_links_relations(s.selection.as_ref(), &scope) {
            let names: Vec<&Relation> = scope
                .iter()
                .filter(|r| !matches!(r.kind, RelationKind::Other))
                .collect();
            self.shape
                .cross_joins
                .push((names[0].key.clone(), names[1].key.clone()));
        }
        let mut found = Found::default();
        for p in &predicates {
            let _ = p.visit(&mut found);
        }
        for item in &s.projection {
            let _ = item.visit(&mut found.only_queries());
        }
        for column in using {
            found.idents.push(vec![column]);
        }
        self.attribute(&found.idents, &scope);
        for q in found.queries.iter().chain(&found.more_queries) {
            self.query(q, false);
        }
    }

    /// Registers one relation of a scope (walking a subquery), with whether `*` reaches it.
    fn relation<'a>(
        &mut self,
        factor: &'a TableFactor,
        stars: &Stars,
        scope: &mut Vec<Relation>,
        starred: &mut Vec<String>,
        on: &mut Vec<&'a Expr>,
    ) -> Relation {
        match factor {
            TableFactor::Table {
                name, alias, args, ..
            } if args.is_none() => {
                let parts = parts(name);
                let key = alias
                    .as_ref()
                    .map(|a| a.name.value.to_lowercase())
                    .or_else(|| parts.last().cloned())
                    .unwrap_or_default();
                let reached = stars.reach(&key);
                if let [one] = parts.as_slice() {
                    if self.ctes.contains(one) {
                        if reached {
                            starred.push(one.clone());
                        }
                        return Relation {
                            key,
                            kind: RelationKind::Derived,
                        };
                    }
                }
                self.names.push(parts);
                self.shape.tables.push(TableUse {
                    select_star: reached,
                    ..TableUse::default()
                });
                Relation {
                    key,
                    kind: RelationKind::Table(self.shape.tables.len() - 1),
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let key = alias
                    .as_ref()
                    .map(|a| a.name.value.to_lowercase())
                    .unwrap_or_default();
                self.query(subquery, stars.reach(&key));
                Relation {
                    key,
                    kind: RelationKind::Derived,
                }
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                // `(a JOIN b ON …) AS x`: its relations join the scope; itself a derived one.
                let inner = self.relation(&table_with_joins.relation, stars, scope, starred, on);
                scope.push(inner);
                for j in &table_with_joins.joins {
                    let r = self.relation(&j.relation, stars, scope, starred, on);
                    scope.push(r);
                    if let Some(JoinConstraint::On(e)) = constraint(&j.join_operator) {
                        on.push(e);
                    }
                }
                Relation {
                    key: alias
                        .as_ref()
                        .map(|a| a.name.value.to_lowercase())
                        .unwrap_or_default(),
                    kind: RelationKind::Derived,
                }
            }
            _ => Relation {
                key: String::new(),
                kind: RelationKind::Other,
            },
        }
    }

    /// Each predicate column to the table its qualifier names: unqualified, to every table of
    /// the scope; over a subquery or CTE (or an outer query's relation), to every table.
    fn attribute(&mut self, idents: &[Vec<String>], scope: &[Relation]) {
        for ident in idents {
            let Some(column) = ident.last() else { continue };
            let targets: Vec<&Relation> = match ident.len() {
                1 => scope.iter().collect(),
                n => scope.iter().filter(|r| r.key == ident[n - 2]).collect(),
            };
            let pushed_down =
                targets.is_empty() || targets.iter().any(|r| r.kind == RelationKind::Derived);
            if pushed_down {
                self.shape.filtered_anywhere.insert(column.clone());
            }
            for r in targets {
                if let RelationKind::Table(i) = r.kind {
                    self.shape.tables[i].filtered.insert(column.clone());
                }
            }
        }
    }
}

/// Where a `SELECT`'s `*` reaches: everything (`*`), or the named relations (`t.*`).
struct Stars {
    all: bool,
    named: Vec<String>,
}

impl Stars {
    fn of(s: &Select, output: bool) -> Self {
        let mut stars = Stars {
            all: false,
            named: Vec::new(),
        };
        if !output {
            return stars;
        }
        for item in &s.projection {
            match item {
                SelectItem::Wildcard(_) => stars.all = true,
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => {
                    stars.named.extend(parts(n).last().cloned());
                }
                _ => {}
            }
        }
        stars
    }

    fn reach(&self, key: &str) -> bool {
        self.all || self.named.iter().any(|n| n == key)
    }
}

/// Columns and subqueries an expression names, at its own level (a subquery's own columns are
/// its own scope's).
#[derive(Default)]
struct Found {
    idents: Vec<Vec<String>>,
    queries: Vec<Query>,
    more_queries: Vec<Query>,
    depth: usize,
    queries_only: bool,
}

impl Found {
    /// A visitor that collects only subqueries, into this one's list (projections).
    fn only_queries(&mut self) -> QueriesOnly<'_> {
        QueriesOnly(self)
    }
}

struct QueriesOnly<'a>(&'a mut Found);

impl Visitor for QueriesOnly<'_> {
    type Break = ();
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.0.queries_only = true;
        self.0.pre_visit_query(q)
    }
    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        self.0.post_visit_query(q)
    }
}

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            if self.queries_only {
                self.more_queries.push(q.clone());
            } else {
                self.queries.push(q.clone());
            }
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            match e {
                Expr::Identifier(i) => self.idents.push(vec![i.value.to_lowercase()]),
                Expr::CompoundIdentifier(parts) => self
                    .idents
                    .push(parts.iter().map(|p| p.value.to_lowercase()).collect()),
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
        .collect()
}

fn last_part(name: &ObjectName) -> Option<String> {
    parts(name).pop()
}

fn constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    use JoinOperator as J;
    match op {
        J::Join(c)
        | J::Inner(c)
        | J::Left(c)
        | J::LeftOuter(c)
        | J::Right(c)
        | J::RightOuter(c)
        | J::FullOuter(c)
        | J::CrossJoin(c)
        | J::Semi(c)
        | J::LeftSemi(c)
        | J::RightSemi(c)
        | J::Anti(c)
        | J::LeftAnti(c)
        | J::RightAnti(c) => Some(c),
        _ => None,
    }
}

/// `CROSS JOIN <table>`: not `CROSS JOIN UNNEST(…)` (Trino's way to expand an array) nor a
/// subquery (usually one row: `CROSS JOIN (SELECT max(dt) …)`).
fn is_cross_join(op: &JoinOperator, right: &TableFactor) -> bool {
    let unconstrained = match op {
        JoinOperator::CrossJoin(c) => matches!(c, JoinConstraint::None),
        JoinOperator::Join(JoinConstraint::None) | JoinOperator::Inner(JoinConstraint::None) => {
            true
        }
        _ => false,
    };
    unconstrained && matches!(right, TableFactor::Table { args: None, .. })
}

/// Whether a comma join's `WHERE` compares columns: two of different relations, or any one
/// unqualified (it cannot be told which relation it is from).
fn where_links_relations(selection: Option<&Expr>, scope: &[Relation]) -> bool {
    let Some(selection) = selection else {
        return false;
    };
    let mut links = Links {
        scope,
        linked: false,
    };
    let _ = selection.visit(&mut links);
    links.linked
}

struct Links<'a> {
    scope: &'a [Relation],
    linked: bool,
}

impl Visitor for Links<'_> {
    type Break = ();
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp { left, op, right } = e {
            if is_comparison(op) {
                let (l, r) = (qualifier(left), qualifier(right));
                let linked = match (l, r) {
                    (Some(Some(a)), Some(Some(b))) => {
                        a != b
                            && [&a, &b]
                                .iter()
                                .all(|k| self.scope.iter().any(|s| &&s.key == k))
                    }
                    (Some(None), Some(_)) | (Some(_), Some(None)) => true,
                    _ => false,
                };
                self.linked |= linked;
            }
        }
        ControlFlow::Continue(())
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    use BinaryOperator as B;
    matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq)
}

/// For a column (possibly inside a cast or function): `Some(Some(qualifier))`, `Some(None)`
/// when unqualified; `None` when the expression names no column.
fn qualifier(e: &Expr) -> Option<Option<String>> {
    let mut found = Found::default();
    let _ = e.visit(&mut found);
    let first = found.idents.first()?;
    Some(match first.len() {
        1 => None,
        n => Some(first[n - 2].clone()),
    })
}

#[cfg(test)]
mod tests;
