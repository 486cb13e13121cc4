//! Measuring a run: Glue's newest partitions for freshness, then every Athena query at once
//! (counts, Iceberg `$files` metadata, `max(column)`), and for an Iceberg side whose metadata the
//! measurement shows unusable, the `count(*)` it is counted by instead.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use lakeops::pricing::human_bytes;
use tokio::time::Instant;

use crate::catalog::{self, Catalog};
use crate::iceberg;
use crate::plan::{
    CheckDay, CountQuery, FreshnessLookup, Measurement, Queries, RunPlan, SideAt, SidePlan,
};
use crate::report::RunSummary;
use crate::runner::{Outcome, QueryRunner};
use crate::side::{CountMethod, Side, SideResult, Sides};

/// Takes a plan's measurements: Glue and Athena.
pub struct Measurer<'a> {
    pub runner: &'a QueryRunner,
    pub catalog: &'a Catalog,
    /// Where a partition value's day ends.
    pub timezone: Tz,
}

/// An Iceberg side's `$files` answer that cannot stand as its count.
struct MetadataUnusable {
    /// Why, as the result says it (`method_reason`).
    reason: String,
}

impl Measurer<'_> {
    /// Every side of the plan, measured; the queries' cost and times go to the summary.
    pub async fn measure(
        &self,
        mut plan: RunPlan,
        deadline: Instant,
        summary: &mut RunSummary,
    ) -> (Vec<CheckDay>, Vec<Sides<SideResult>>) {
        self.read_freshness(&mut plan.sides, deadline).await;
        let started = std::time::Instant::now();
        let outcomes = self
            .runner
            .run(std::mem::take(&mut plan.queries.jobs), deadline)
            .await;
        summary.queries += outcomes.len();
        let mut instead = Queries::default();
        for (key, outcome) in outcomes {
            let measure = &plan.queries.measures[key];
            match measure {
                Measurement::Grouped { side, days } => {
                    record_grouped(&mut plan.sides, *side, days, &outcome, summary)
                }
                Measurement::Count(at)
                | Measurement::Freshness(at)
                | Measurement::IcebergFiles(at) => {
                    let side = plan.sides[at.day].get_mut(at.side);
                    if let Err(unusable) = record(side, measure, &outcome, summary) {
                        count_instead(side, *at, unusable, &mut instead);
                    }
                }
            }
        }
        self.run_instead(&mut plan.sides, instead, deadline, summary)
            .await;
        summary.query_wall_ms = started.elapsed().as_millis();
        let sides = plan
            .sides
            .into_iter()
            .map(|s| s.map(|_, p| p.result))
            .collect();
        (plan.days, sides)
    }

    /// Glue's newest partition, for the sides whose freshness is measured by it.
    async fn read_freshness(&self, sides: &mut [Sides<SidePlan>], deadline: Instant) {
        for pair in sides {
            for side in Side::BOTH {
                let plan = pair.get_mut(side);
                let Some(FreshnessLookup::NewestPartition { table, by_value }) = &plan.freshness
                else {
                    continue;
                };
                let r = &mut plan.result;
                match self
                    .catalog
                    .newest_partition(table, *by_value, deadline)
                    .await
                {
                    Ok(Some(p)) if *by_value => {
                        r.fresh_as_of = p
                            .values
                            .first()
                            .and_then(|v| catalog::partition_value_end(v, self.timezone));
                        if r.fresh_as_of.is_none() {
                            r.error = Some(format!(
                                "newest partition value {:?} is not a date",
                                p.values.first()
                            ));
                        }
                    }
                    Ok(Some(p)) => match p.created_at {
                        Some(t) => r.fresh_as_of = Some(t),
                        None => r.freshness_unmeasurable(
                            "Glue gives the newest partition no creation time",
                        ),
                    },
                    Ok(None) => r.freshness_unmeasurable(
                        "Glue lists no partitions (a partition-projected or Iceberg table? use column:<name>)",
                    ),
                    Err(e) => r.error = Some(e.to_string()),
                }
            }
        }
    }

    /// The `count(*)` queries of the sides whose Iceberg metadata was unusable, run and
    /// recorded.
    async fn run_instead(
        &self,
        sides: &mut [Sides<SidePlan>],
        instead: Queries,
        deadline: Instant,
        summary: &mut RunSummary,
    ) {
        if instead.jobs.is_empty() {
            return;
        }
        let outcomes = self.runner.run(instead.jobs, deadline).await;
        summary.queries += outcomes.len();
        for (key, outcome) in outcomes {
            let measure = &instead.measures[key];
            if let Measurement::Count(at) = measure {
                // A `count(*)` answer is never unusable metadata.
                let _ = record(sides[at.day].get_mut(at.side), measure, &outcome, summary);
            }
        }
    }
}

/// An Iceberg side whose metadata was unusable: the method and reason say so, the metadata's
/// count is dropped, and the `count(*)` planned for this case is queued to count it instead.
fn count_instead(
    side: &mut SidePlan,
    at: SideAt,
    unusable: MetadataUnusable,
    instead: &mut Queries,
) {
    side.result.method = CountMethod::CountStarIcebergHasDeletes;
    side.result.method_reason = Some(unusable.reason);
    side.result.rows = None;
    if let Some(CountQuery::IcebergFiles { instead: sql, .. }) = &side.count {
        instead.add(Measurement::Count(at), sql.clone(), side.bytes_cap);
    }
}

/// One query's answer, on its side; an Iceberg `$files` answer that cannot be trusted is
/// returned as such (its count stays until the caller drops it).
fn record(
    side: &mut SidePlan,
    measure: &Measurement,
    outcome: &Outcome,
    summary: &mut RunSummary,
) -> Result<(), MetadataUnusable> {
    summary.scanned_bytes += outcome.scanned_bytes();
    let r = &mut side.result;
    r.scanned_bytes += outcome.scanned_bytes();
    if let Some(id) = outcome.id() {
        r.query_ids.push(id.to_string());
    }
    let Outcome::Succeeded {
        rows, engine_ms, ..
    } = outcome
    else {
        record_unsuccessful(r, outcome);
        return Ok(());
    };
    summary.query_engine_ms_sum += engine_ms.unwrap_or(0);
    // What a query returned is described by its shape, never echoed: a cell could be any
    // table's data, and this text goes into the alert and the results file.
    match measure {
        Measurement::Count(_) if r.segments.is_some() => match segment_counts(rows) {
            Some(segments) => {
                r.rows = Some(segments.values().sum());
                r.segments = Some(segments);
            }
            None => {
                r.error = Some(format!(
                    "the segmented count returned {}, not segments and counts",
                    shape(rows)
                ))
            }
        },
        Measurement::Count(_) => match cell_u64(rows, 0) {
            Some(n) => r.rows = Some(n),
            None => {
                r.error = Some(format!(
                    "the count query returned {}, not one count",
                    shape(rows)
                ))
            }
        },
        Measurement::IcebergFiles(_) => {
            let earlier = r.error.clone();
            record_iceberg_files(r, side.expect_partition, rows);
            if let Some(reason) = iceberg::untrusted_because(rows) {
                // The metadata's own complaint is moot (it is counted instead); an error an
                // earlier answer of this side gave (its freshness) stands.
                r.error = earlier;
                return Err(MetadataUnusable { reason });
            }
        }
        Measurement::Freshness(_) => record_freshness(side, rows),
        Measurement::Grouped { .. } => {}
    }
    Ok(())
}

/// The data files' row count, and whether any data file lies in the window's partition.
fn record_iceberg_files(r: &mut SideResult, expect_partition: bool, rows: &[Vec<Option<String>>]) {
    r.rows = cell_u64(rows, iceberg::DATA_ROWS);
    if r.rows.is_none() {
        r.error = Some(format!(
            "Iceberg metadata returned {}, not a count",
            shape(rows)
        ));
    }
    if expect_partition {
        r.partition_present = cell_u64(rows, iceberg::FILES).map(|files| files > 0);
    }
}

/// `max(column)`: the side's freshness, or nothing since the floor (at least that old).
fn record_freshness(side: &mut SidePlan, rows: &[Vec<Option<String>>]) {
    let floor = match &side.freshness {
        Some(FreshnessLookup::Column { floor, .. }) => Some(*floor),
        _ => None,
    };
    let r = &mut side.result;
    match rows.first().and_then(|r| r.first()).cloned().flatten() {
        Some(v) => match catalog::parse_timestamp(&v) {
            Some(t) => r.fresh_as_of = Some(t),
            None => {
                r.error = Some("max() of the freshness column is not a date or timestamp".into())
            }
        },
        None => match floor {
            Some(floor) => {
                r.fresh_as_of = Some(floor);
                r.fresh_at_most = true;
            }
            None => r.error = Some("the table is empty: no freshness".into()),
        },
    }
}

/// A grouped count's answer, given to each of its days' sides (a day with no row counted 0).
fn record_grouped(
    sides: &mut [Sides<SidePlan>],
    side: Side,
    days: &[usize],
    outcome: &Outcome,
    summary: &mut RunSummary,
) {
    summary.scanned_bytes += outcome.scanned_bytes();
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut shape_error = None;
    if let Outcome::Succeeded {
        rows, engine_ms, ..
    } = outcome
    {
        summary.query_engine_ms_sum += engine_ms.unwrap_or(0);
        for row in rows {
            let cell = |i: usize| row.get(i)?.as_deref()?.trim().parse::<u64>().ok();
            match (cell(0), cell(1)) {
                (Some(k), Some(n)) => {
                    counts.insert(k, n);
                }
                _ => shape_error = Some(format!("the grouped count returned {}", shape(rows))),
            }
        }
    }
    for (k, &day) in days.iter().enumerate() {
        let r = &mut sides[day].get_mut(side).result;
        if k == 0 {
            r.scanned_bytes += outcome.scanned_bytes();
        }
        if let Some(id) = outcome.id() {
            r.query_ids.push(id.to_string());
        }
        match outcome {
            Outcome::Succeeded { .. } => match &shape_error {
                Some(e) => r.error = Some(e.clone()),
                None => r.rows = Some(counts.get(&(k as u64)).copied().unwrap_or(0)),
            },
            _ => record_unsuccessful(r, outcome),
        }
    }
}

/// A query that did not succeed, on its side: failed or over its cap (an error), or stopped at
/// the deadline (unfinished).
fn record_unsuccessful(side: &mut SideResult, outcome: &Outcome) {
    match outcome {
        Outcome::Succeeded { .. } => {}
        Outcome::Failed { reason, .. } => side.error = Some(format!("query failed: {reason}")),
        Outcome::Unfinished { .. } => side.unfinished = true,
        Outcome::OverCap {
            scanned_bytes, cap, ..
        } => {
            side.error = Some(format!(
                "stopped after scanning {} (bytes_cap {})",
                human_bytes(*scanned_bytes),
                human_bytes(*cap)
            ))
        }
    }
}

/// A `group_by` count's rows as `{segment: count}`: the leading cells (NULL as `(null)`) joined
/// by ` / `, the last cell the count; `None` when a count is not a whole number.
pub(crate) fn segment_counts(rows: &[Vec<Option<String>>]) -> Option<BTreeMap<String, u64>> {
    let mut segments = BTreeMap::new();
    for row in rows {
        let (count, key) = row.split_last()?;
        let n: u64 = count.as_deref()?.trim().parse().ok()?;
        let key = key
            .iter()
            .map(|c| c.as_deref().unwrap_or("(null)"))
            .collect::<Vec<_>>()
            .join(" / ");
        *segments.entry(key).or_insert(0) += n;
    }
    Some(segments)
}

/// `2 rows × 3 columns`, `no row`, `an empty (NULL) cell`: a result described without its data.
fn shape(rows: &[Vec<Option<String>>]) -> String {
    match rows {
        [] => "no row".into(),
        [row] if row.len() == 1 && row[0].is_none() => "NULL".into(),
        [row] if row.len() == 1 => "a value that is not a whole number".into(),
        _ => format!(
            "{} row{} × {} column{}",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            rows[0].len(),
            if rows[0].len() == 1 { "" } else { "s" }
        ),
    }
}

fn cell_u64(rows: &[Vec<Option<String>>], col: usize) -> Option<u64> {
    rows.first()?.get(col)?.as_deref()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CountQuery, Measurement, SideAt, SidePlan};

    fn iceberg_side() -> SidePlan {
        SidePlan {
            result: SideResult::new("lake.orders".into()),
            count: Some(CountQuery::IcebergFiles {
                sql: "SELECT … FROM \"lake\".\"orders$files\"".into(),
                instead: "SELECT count(*) FROM lake.orders".into(),
            }),
            groupable: None,
            freshness: None,
            expect_partition: false,
            bytes_cap: None,
        }
    }

    /// The freshness query failed, then the `$files` answer showed deletes: the side is counted
    /// by `count(*)` instead, and the freshness error is still reported (it was dropped).
    #[test]
    fn unusable_iceberg_metadata_keeps_an_earlier_error_of_the_side() {
        let at = SideAt {
            day: 0,
            side: Side::Target,
        };
        let mut side = iceberg_side();
        let mut summary = RunSummary::default();
        let failed = Outcome::Failed {
            id: Some("q-fresh".into()),
            reason: "TABLE_NOT_FOUND".into(),
            scanned_bytes: 0,
        };
        assert!(record(
            &mut side,
            &Measurement::Freshness(at),
            &failed,
            &mut summary
        )
        .is_ok());
        let no_snapshot = Outcome::Succeeded {
            id: "q-files".into(),
            rows: vec![],
            scanned_bytes: 0,
            engine_ms: None,
        };
        let unusable = record(
            &mut side,
            &Measurement::IcebergFiles(at),
            &no_snapshot,
            &mut summary,
        )
        .expect_err("no snapshot: the metadata cannot stand as the count");
        let mut instead = Queries::default();
        count_instead(&mut side, at, unusable, &mut instead);
        assert_eq!(
            side.result.error.as_deref(),
            Some("query failed: TABLE_NOT_FOUND")
        );
        assert_eq!(side.result.method, CountMethod::CountStarIcebergHasDeletes);
        assert_eq!(side.result.rows, None);
    }
}
