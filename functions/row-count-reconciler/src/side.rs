//! A check's two sides: which side a value belongs to, a value for each, and what is reported of
//! one side once it is measured.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The two sides a check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Source, Side::Target];

    /// `source` or `target`, as problems and alerts name the side.
    pub fn label(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// A value for each side of a check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sides<T> {
    pub source: T,
    pub target: T,
}

impl<T> Sides<T> {
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Source => &self.source,
            Side::Target => &self.target,
        }
    }

    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Source => &mut self.source,
            Side::Target => &mut self.target,
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(Side, T) -> U) -> Sides<U> {
        Sides {
            source: f(Side::Source, self.source),
            target: f(Side::Target, self.target),
        }
    }

    /// Source first, then target.
    pub fn iter(&self) -> impl Iterator<Item = (Side, &T)> {
        [(Side::Source, &self.source), (Side::Target, &self.target)].into_iter()
    }
}

/// How a side's rows were counted (said in every result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountMethod {
    /// `SELECT count(*)` pruned by the partition and filter.
    CountStar,
    /// Sum of `record_count` over the Iceberg data files (`$files`); the current snapshot's
    /// summary states no deletes ([`crate::iceberg`]).
    IcebergMetadata,
    /// Iceberg whose metadata turned out unusable when measured (deletes, or a summary without
    /// delete totals): counted by `count(*)` instead; `method_reason` says why.
    CountStarIcebergHasDeletes,
    /// Iceberg whose partition spec does not map the window onto partitions (a transform that
    /// is not a day, a key that is not an identity partition, partition evolution, metadata
    /// that cannot be read): `count(*)`; `method_reason` says why.
    CountStarIceberg,
    /// The check's own query.
    Sql,
}

/// One side of one check run, as reported: planning fills in what is counted, the window and the
/// method; measuring the rows, queries, partition and freshness; the verdict the age.
#[derive(Debug, Clone, Serialize)]
pub struct SideResult {
    /// The table, or `sql`.
    pub counted: String,
    /// The rendered window (`WHERE` text) or query.
    pub window: String,
    pub method: CountMethod,
    /// Why this method rather than the cheaper one, where it was not the first choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method_reason: Option<String>,
    pub rows: Option<u64>,
    pub query_ids: Vec<String>,
    pub scanned_bytes: u64,
    pub partition_present: Option<bool>,
    pub fresh_as_of: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub max_age_hours: Option<f64>,
    pub error: Option<String>,
    pub unfinished: bool,
    /// `fresh_as_of` is a bound: the freshness query looked back only to it and found nothing
    /// newer, so the data is at least this old.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fresh_at_most: bool,
    /// With `group_by`: the count of each segment (the group-by values joined by ` / `).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<BTreeMap<String, u64>>,
}

impl SideResult {
    /// A side of which nothing is known yet: counted by `count(*)`.
    pub fn new(counted: String) -> Self {
        Self {
            counted,
            window: String::new(),
            method: CountMethod::CountStar,
            method_reason: None,
            rows: None,
            query_ids: Vec::new(),
            scanned_bytes: 0,
            partition_present: None,
            fresh_as_of: None,
            age_seconds: None,
            max_age_hours: None,
            error: None,
            unfinished: false,
            fresh_at_most: false,
            segments: None,
        }
    }

    /// A freshness that cannot be measured is an error naming why, never a silent pass (an
    /// error the side already has stands).
    pub fn freshness_unmeasurable(&mut self, why: &str) {
        if self.error.is_none() {
            self.error = Some(format!("freshness cannot be measured: {why}"));
        }
    }
}
