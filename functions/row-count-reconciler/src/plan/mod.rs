//! Planning a run: which checks on which days, each side's window and count query, and what the
//! catalog must tell before anything is counted (the tables in Glue, Iceberg partition layouts,
//! whether an expected partition exists).
//!
//! Planning decides how each side is to be counted and runs no count. What only a measurement
//! can find out (an Iceberg snapshot with deletes) is acted on by [`crate::measure`].

mod error;
mod jobs;
mod window;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use lakeops::LakeopsError;

use crate::catalog::{Catalog, TableInfo};
use crate::checks::{Check, Counted, DeclaredSide, Freshness, FreshnessMeasure};
use crate::config::parse_s3_uri;
use crate::iceberg;
use crate::runner::Job;
use crate::side::{CountMethod, Side, SideResult, Sides};
use crate::sqlsafe::{self, quote_identifier, TableName};
use crate::template::{self, RunDate};
use window::RenderedWindow;

pub use error::PlanError;

/// Glue `GetTable` calls in flight at once while a run reads its tables.
const GLUE_READS_AT_ONCE: usize = 8;

/// One check on one day: the run date (`lookback_day` 0) or a look-back day.
pub struct CheckDay {
    /// Index into the run's selected checks.
    pub check: usize,
    pub lookback_day: u32,
    pub date: RunDate,
}

/// Every check on its run date and each look-back day.
pub fn days(selected: &[Check], base: &RunDate) -> Vec<CheckDay> {
    selected
        .iter()
        .enumerate()
        .flat_map(|(check, c)| {
            (0..=c.lookback_days).map(move |k| CheckDay {
                check,
                lookback_day: k,
                date: base.days_before(k as i64),
            })
        })
        .collect()
}

/// How a side's rows are to be counted.
#[derive(Debug, Clone)]
pub enum CountQuery {
    /// `count(*)` pruned by the window (with `group_by`, one row per segment), or the check's
    /// own query.
    Rows(String),
    /// The Iceberg data files' `record_count` (`$files`), and the `count(*)` to count by instead
    /// should the measured snapshot state deletes.
    IcebergFiles { sql: String, instead: String },
}

/// The part of a side's freshness that must be measured (what Glue's table entry already says
/// is filled in while planning).
#[derive(Debug, Clone)]
pub enum FreshnessLookup {
    /// Glue's newest partition: its creation time, or its first value read as a date.
    NewestPartition { table: TableName, by_value: bool },
    /// `max(column)` over recent data only; nothing found means at least as old as `floor`.
    Column { sql: String, floor: DateTime<Utc> },
}

/// One side of one check day, planned.
pub struct SidePlan {
    /// What is reported of the side, as far as planning knows it: what is counted, the window,
    /// the method and why, whether the partition exists, an error that stops the count.
    pub result: SideResult,
    /// `None` when the side cannot be counted (its window, query or catalog entry failed).
    pub count: Option<CountQuery>,
    /// A `count(*)` whose window is its partition values and day window only (disjoint from day
    /// to day): the table and the predicate, so look-back days can share one grouped query.
    pub groupable: Option<(String, String)>,
    pub freshness: Option<FreshnessLookup>,
    pub expect_partition: bool,
    pub bytes_cap: Option<u64>,
}

/// One side of one planned check day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideAt {
    /// Index into [`RunPlan::days`].
    pub day: usize,
    pub side: Side,
}

/// What an Athena query's answer measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measurement {
    Count(SideAt),
    IcebergFiles(SideAt),
    Freshness(SideAt),
    /// One query counting a side over all of a check's look-back days (`days` in look-back
    /// order).
    Grouped {
        side: Side,
        days: Vec<usize>,
    },
}

/// Athena queries, each with what its answer measures (`Job::key` indexes `measures`).
#[derive(Default)]
pub struct Queries {
    pub jobs: Vec<Job>,
    pub measures: Vec<Measurement>,
}

impl Queries {
    pub fn add(&mut self, measure: Measurement, sql: String, bytes_cap: Option<u64>) {
        self.jobs.push(Job {
            key: self.measures.len(),
            sql,
            bytes_cap,
        });
        self.measures.push(measure);
    }
}

/// A run's plan: every check day's two sides, and the queries that will measure them.
pub struct RunPlan {
    pub days: Vec<CheckDay>,
    pub sides: Vec<Sides<SidePlan>>,
    pub queries: Queries,
}

/// Reads what planning needs from the catalog: Glue tables and partitions, Iceberg metadata
/// files and, for a projected table, whether its partition's location holds files.
pub struct Planner<'a> {
    pub catalog: &'a Catalog,
    pub s3: &'a aws_sdk_s3::Client,
}

type Tables = BTreeMap<String, Result<TableInfo, LakeopsError>>;

impl Planner<'_> {
    /// Every check day's two sides, and the queries they need.
    pub async fn plan(&self, selected: &[Check], base: &RunDate) -> RunPlan {
        let days = days(selected, base);
        let mut tables = self.read_tables(selected).await;
        let mut sides = Vec::with_capacity(days.len());
        for day in &days {
            let c = &selected[day.check];
            let source = self.plan_side(c, &c.source, day, &mut tables).await;
            let target = self.plan_side(c, &c.target, day, &mut tables).await;
            sides.push(Sides { source, target });
        }
        jobs::queries(selected, days, sides)
    }

    /// A side's count, and on the run date its freshness.
    async fn plan_side(
        &self,
        c: &Check,
        side: &DeclaredSide,
        day: &CheckDay,
        tables: &mut Tables,
    ) -> SidePlan {
        let (mut plan, info) = self.count_plan(side, &c.group_by, &day.date, tables).await;
        plan.bytes_cap = c.bytes_cap;
        // Freshness is about now, not about a look-back day: measured once per check.
        if day.lookback_day == 0 {
            if let Some(f) = &side.freshness {
                plan_freshness(f, side, info.as_ref(), &mut plan, day.date.time);
            }
        }
        plan
    }

    /// Every Glue table the checks name, read [`GLUE_READS_AT_ONCE`] at a time before the sides
    /// are planned (one at a time, a run with many tables spent its time here before the
    /// deadline-aware runner even started).
    async fn read_tables(&self, selected: &[Check]) -> Tables {
        let names: BTreeMap<String, TableName> = selected
            .iter()
            .flat_map(|c| [c.source.table(), c.target.table()])
            .flatten()
            .filter(|t| t.in_glue())
            .map(|t| (t.to_string(), t.clone()))
            .collect();
        let mut tables = BTreeMap::new();
        let names: Vec<(String, TableName)> = names.into_iter().collect();
        for chunk in names.chunks(GLUE_READS_AT_ONCE) {
            let mut reads = tokio::task::JoinSet::new();
            for (key, name) in chunk.iter().cloned() {
                let catalog = Catalog {
                    client: self.catalog.client.clone(),
                };
                reads.spawn(async move {
                    let read = catalog.table(&name).await;
                    (key, read)
                });
            }
            while let Some(done) = reads.join_next().await {
                match done {
                    Ok((key, read)) => {
                        tables.insert(key, read);
                    }
                    // A read that panicked is read again, in line, by the side that needs it.
                    Err(e) => tracing::error!(error = %e, "a Glue table read did not finish"),
                }
            }
        }
        tables
    }

    /// Renders a side's window and count query, and asks the catalog what it needs.
    async fn count_plan(
        &self,
        side: &DeclaredSide,
        group_by: &[String],
        date: &RunDate,
        tables: &mut Tables,
    ) -> (SidePlan, Option<TableInfo>) {
        match &side.counted {
            Counted::Sql(sql) => {
                let mut r = SideResult::new("sql".into());
                r.method = CountMethod::Sql;
                let mut count = None;
                match template::render(sql, date).map_err(PlanError::template("sql")) {
                    Ok(s) => {
                        count = Some(CountQuery::Rows(sqlsafe::count_query(&s)));
                        r.window = s;
                    }
                    Err(e) => r.error = Some(e.to_string()),
                }
                (side_plan(r, count, side.expect_partition), None)
            }
            Counted::Table {
                name,
                partition,
                window,
                filter,
            } => {
                let mut r = SideResult::new(name.to_string());
                let info = self.table_info(name, tables, &mut r).await;
                let w =
                    match window::render(partition, window.as_ref(), filter, date, info.as_ref()) {
                        Ok(w) => w,
                        Err(e) => {
                            r.error = Some(e.to_string());
                            return (side_plan(r, None, side.expect_partition), info);
                        }
                    };
                let plan = self
                    .table_count_plan(name, side, group_by, &w, info.as_ref(), r)
                    .await;
                (plan, info)
            }
        }
    }

    /// A table side's count over its rendered window: `count(*)` (by segment with `group_by`),
    /// or the Iceberg metadata where the partition spec allows; and whether the expected
    /// partition of a Hive-style table exists.
    async fn table_count_plan(
        &self,
        name: &TableName,
        side: &DeclaredSide,
        group_by: &[String],
        w: &RenderedWindow,
        info: Option<&TableInfo>,
        mut r: SideResult,
    ) -> SidePlan {
        let filter = match &side.counted {
            Counted::Table { filter, .. } => filter.as_ref(),
            Counted::Sql(_) => None,
        };
        r.window = w.predicates.join(" AND ");
        let mut groupable = (filter.is_none() && !w.predicates.is_empty())
            .then(|| (name.quoted(""), r.window.clone()));
        let rows_sql = count_sql(name, &w.predicates, &r.window, group_by);
        if !group_by.is_empty() {
            r.segments = Some(BTreeMap::new());
            groupable = None;
            if info.is_some_and(|i| i.iceberg) {
                r.method = CountMethod::CountStarIceberg;
                r.method_reason = Some("group_by: segments are counted with count(*)".into());
            }
        }
        let mut files_sql = None;
        match info {
            Some(glue) if glue.iceberg && filter.is_none() && group_by.is_empty() => {
                match self.iceberg_files_query(name, glue, w).await {
                    Ok(sql) => {
                        r.method = CountMethod::IcebergMetadata;
                        files_sql = Some(sql);
                    }
                    Err(why) => {
                        r.method = CountMethod::CountStarIceberg;
                        r.method_reason = Some(why.to_string());
                    }
                }
            }
            Some(glue) if side.expect_partition && !glue.iceberg && r.error.is_none() => {
                match self.partition_present(name, glue, &w.partition).await {
                    Ok(present) => r.partition_present = Some(present),
                    Err(e) => r.error = Some(e.to_string()),
                }
            }
            _ => {}
        }
        let count = match files_sql {
            Some(sql) => CountQuery::IcebergFiles {
                sql,
                instead: rows_sql,
            },
            None => CountQuery::Rows(rows_sql),
        };
        let mut plan = side_plan(r, Some(count), side.expect_partition);
        plan.groupable = groupable;
        plan
    }

    /// What Glue knows about a table: read once per table and run, however many sides and days
    /// use it; an error is the side's.
    async fn table_info(
        &self,
        name: &TableName,
        tables: &mut Tables,
        r: &mut SideResult,
    ) -> Option<TableInfo> {
        if !name.in_glue() {
            return None;
        }
        let entry = match tables.entry(name.to_string()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(self.catalog.table(name).await)
            }
        };
        match entry {
            Ok(i) => Some(i.clone()),
            Err(e) => {
                r.error = Some(e.to_string());
                None
            }
        }
    }

    /// The `$files` query that counts an Iceberg side when its partition spec maps the window
    /// onto partitions; otherwise why `count(*)` it is.
    async fn iceberg_files_query(
        &self,
        name: &TableName,
        glue: &TableInfo,
        w: &RenderedWindow,
    ) -> Result<String, iceberg::IcebergError> {
        // The whole table needs no partition spec: every current data file counts.
        let whole_table = w.typed_identity.is_empty() && w.day.is_none();
        let layout = match &glue.metadata_location {
            _ if whole_table => Ok(iceberg::Layout::default()),
            Some(location) => iceberg::fetch_layout(self.s3, location).await,
            None => Err(iceberg::IcebergError::NoMetadataLocation),
        };
        let files_where = layout.and_then(|l| {
            iceberg::files_filter(
                &l,
                &w.typed_identity,
                w.day.as_ref().map(|(c, d)| (c.as_str(), *d)),
            )
        })?;
        Ok(iceberg::metadata_query(name, &files_where))
    }

    /// Whether a Hive-style table's expected partition exists: Glue's partitions, or for a
    /// projected table (Glue lists none) the files under its location.
    async fn partition_present(
        &self,
        name: &TableName,
        glue: &TableInfo,
        values: &[(String, String)],
    ) -> Result<bool, PlanError> {
        match &glue.projection {
            Some(projection) => match projection.partition_location(&glue.partition_keys, values) {
                Ok(location) => self.any_object_under(&location).await,
                Err(e) => Err(PlanError::Projection(e)),
            },
            None => Ok(self.catalog.partition_exists(name, glue, values).await?),
        }
    }

    /// Whether any object lies under an `s3://bucket/prefix/` location (one `ListObjectsV2` of
    /// at most one key).
    async fn any_object_under(&self, location: &str) -> Result<bool, PlanError> {
        let (bucket, prefix) = parse_s3_uri(location).ok_or_else(|| PlanError::NotS3Location {
            location: location.to_string(),
        })?;
        let out = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("s3:ListObjectsV2", e))?;
        Ok(out.key_count().unwrap_or(0) > 0 || !out.contents().is_empty())
    }
}

/// A planned side that counts by `count` unless planning already found an error.
fn side_plan(r: SideResult, count: Option<CountQuery>, expect_partition: bool) -> SidePlan {
    SidePlan {
        count: count.filter(|_| r.error.is_none()),
        result: r,
        groupable: None,
        freshness: None,
        expect_partition,
        bytes_cap: None,
    }
}

/// `SELECT [group-by columns, ]count(*) FROM t[ WHERE window][ GROUP BY 1, …]`: with
/// `group_by`, one row per segment.
fn count_sql(name: &TableName, predicates: &[String], window: &str, group_by: &[String]) -> String {
    let columns: Vec<String> = group_by.iter().map(|c| quote_identifier(c)).collect();
    format!(
        "SELECT {}count(*) FROM {}{}{}",
        columns.iter().map(|c| format!("{c}, ")).collect::<String>(),
        name.quoted(""),
        if predicates.is_empty() {
            String::new()
        } else {
            format!(" WHERE {window}")
        },
        if columns.is_empty() {
            String::new()
        } else {
            let numbers: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
            format!(" GROUP BY {}", numbers.join(", "))
        }
    )
}

/// A side's freshness: what Glue's table entry already says, or the lookup that measures it
/// (Glue's newest partition, or a `max(column)` query over recent data).
fn plan_freshness(
    f: &Freshness,
    side: &DeclaredSide,
    info: Option<&TableInfo>,
    plan: &mut SidePlan,
    run_time: DateTime<Utc>,
) {
    let r = &mut plan.result;
    r.max_age_hours = Some(f.max_age_hours);
    match (&f.measure, side.table(), info) {
        (FreshnessMeasure::TableUpdated, _, Some(info)) => match info.updated_at {
            Some(t) => r.fresh_as_of = Some(t),
            None => r.freshness_unmeasurable("Glue has no UpdateTime for the table"),
        },
        (
            FreshnessMeasure::NewestPartitionCreated | FreshnessMeasure::NewestPartitionValue,
            Some(t),
            Some(_),
        ) => {
            plan.freshness = Some(FreshnessLookup::NewestPartition {
                table: t.clone(),
                by_value: f.measure == FreshnessMeasure::NewestPartitionValue,
            });
        }
        (FreshnessMeasure::Column(col), Some(t), _) => {
            plan.freshness = Some(column_freshness(col, t, info, f.max_age_hours, run_time));
        }
        // The table's Glue entry could not be read: that error is already the side's.
        (_, _, None) => r.freshness_unmeasurable("the table's Glue entry could not be read"),
        _ => r.freshness_unmeasurable("this measure does not apply to this side"),
    }
}

/// `SELECT max(col) FROM t WHERE col >= <floor>[ AND <date partition key> >= <floor>]`.
fn column_freshness(
    col: &str,
    t: &TableName,
    info: Option<&TableInfo>,
    max_age_hours: f64,
    run_time: DateTime<Utc>,
) -> FreshnessLookup {
    // Only recent data is read: values since a day beyond the allowed age (the column's own
    // predicate prunes Iceberg hidden partitions and Parquet row groups; a DATE first partition
    // key prunes Hive partitions too). Nothing there means at least that old.
    // max_age_hours is validated to at most ten years: no overflow here.
    let floor = run_time - Duration::seconds((max_age_hours * 3600.0) as i64 + 86_400);
    let column_type = |c: &str| info.and_then(|i| i.column_type(c));
    let since = |c: &str| match column_type(c) {
        Some("date") => format!(
            "{} >= DATE '{}'",
            quote_identifier(c),
            floor.format("%Y-%m-%d")
        ),
        _ => format!(
            "{} >= TIMESTAMP '{}'",
            quote_identifier(c),
            floor.format("%Y-%m-%d %H:%M:%S")
        ),
    };
    let mut predicates = vec![since(col)];
    if let Some((key, _)) = info
        .and_then(|i| i.partition_keys.first())
        .filter(|(k, t)| t == "date" && !k.eq_ignore_ascii_case(col))
    {
        predicates.push(since(key));
    }
    let sql = format!(
        "SELECT max({}) FROM {} WHERE {}",
        quote_identifier(col),
        t.quoted(""),
        predicates.join(" AND ")
    );
    FreshnessLookup::Column { sql, floor }
}
