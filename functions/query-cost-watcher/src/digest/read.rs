//! Reading a day into a [`DigestBuilder`]: the index keeps finished queries per workgroup and
//! UTC hour, and those reads are independent, so they run [`READS_AT_ONCE`] at a time. At
//! 1M queries a day the digest reads about 5,800 index pages (measured by the simulation); one
//! after another at DynamoDB's 10–20 ms a page that is 60–120 s, a few at a time it is a few
//! seconds (the `reads_a_few_at_a_time_*` tests in `read/tests.rs` measure the shape with a modelled latency).
//!
//! Memory stays bounded: a read hands each page to the builder as it arrives, so at most
//! [`READS_AT_ONCE`] pages (DynamoDB's 1 MB each) are held besides the builder's counts.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures_util::stream::{self, TryStreamExt};
use lakeops::query_index::{Finished, IndexStore};

use super::{Digest, DigestBuilder, WorkgroupEntry};

/// Index reads (one workgroup-hour each) in flight at once: enough to hide DynamoDB's latency,
/// few enough that the pages held stay small and a throttled table is not stormed.
pub const READS_AT_ONCE: usize = 8;

/// What the digest needs from the index: one workgroup's finished queries in a span, page by
/// page. Every [`IndexStore`] is one.
pub trait FinishedPages: Sync {
    type Error;

    fn finished_pages(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: impl FnMut(Vec<Finished>) + Send,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send;
}

impl<I: IndexStore + Sync> FinishedPages for I {
    type Error = I::Error;

    fn finished_pages(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        each: impl FnMut(Vec<Finished>) + Send,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send {
        self.for_each_finished_page(workgroup, from, to, each)
    }
}

/// One workgroup of the digest: its name, alert threshold (usd) and budget.
pub struct WorkgroupSpec<'a> {
    pub workgroup: &'a str,
    pub threshold_usd: f64,
    pub budget_usd: Option<f64>,
}

/// The digest of `builder`'s day over `workgroups`, read from `pages` a few workgroup-hours at a
/// time. The first failed read fails the digest (the sweep sends it on its next run).
pub async fn read_day<P: FinishedPages>(
    pages: &P,
    mut builder: DigestBuilder,
    workgroups: impl IntoIterator<Item = WorkgroupSpec<'_>>,
) -> Result<Digest, P::Error> {
    let (start, end) = builder.span();
    let mut reads: Vec<(&str, WorkgroupEntry, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for spec in workgroups {
        let entry = builder.workgroup(spec.workgroup, spec.threshold_usd, spec.budget_usd);
        reads.extend(hours(start, end).map(|(from, to)| (spec.workgroup, entry, from, to)));
    }
    let builder = Mutex::new(builder);
    let shared = &builder;
    stream::iter(reads.into_iter().map(Ok))
        .try_for_each_concurrent(READS_AT_ONCE, |(workgroup, entry, from, to)| {
            pages.finished_pages(workgroup, from, to, move |page| {
                let mut b = shared.lock().unwrap_or_else(PoisonError::into_inner);
                page.iter().for_each(|f| b.add(entry, f));
            })
        })
        .await?;
    Ok(builder
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .finish())
}

/// `[start, end)` cut at each UTC hour (a local day need not start on one).
fn hours(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> {
    let hour = Duration::hours(1);
    let mut from = start;
    std::iter::from_fn(move || {
        if from >= end {
            return None;
        }
        let floor = from.duration_trunc(hour).unwrap_or(from);
        let to = (floor + hour).min(end);
        let span = (from, to);
        from = to;
        Some(span)
    })
}

#[cfg(test)]
mod tests;
