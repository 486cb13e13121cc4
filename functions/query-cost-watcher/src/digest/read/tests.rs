//! The digest's reads: cut at UTC hours, a few at a time, and the same digest as one read after
//! another.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::{Asia::Kolkata, Tz, UTC};
use lakeops::athena::{QueryExecution, QueryState};
use lakeops::calendar::LocalDay;
use lakeops::pricing::{PriceList, TB};
use lakeops::query_index::Finished;
use lakeops::tables_read::TablesRead;

use super::*;

/// An index of finished queries per workgroup and UTC hour that answers each page after
/// `latency` (tokio's clock: paused in these tests, so the time is modelled, not waited).
struct SlowPages {
    hours: BTreeMap<(String, DateTime<Utc>), Vec<Vec<Finished>>>,
    latency: StdDuration,
}

impl FinishedPages for SlowPages {
    type Error = Infallible;

    async fn finished_pages(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(Vec<Finished>) + Send,
    ) -> Result<(), Infallible> {
        let hour = from.duration_trunc(Duration::hours(1)).unwrap();
        assert!(to <= hour + Duration::hours(1), "one read is one hour");
        let pages = self.hours.get(&(workgroup.to_string(), hour));
        // An hour with nothing in it still costs a call.
        tokio::time::sleep(self.latency).await;
        for (i, page) in pages.into_iter().flatten().enumerate() {
            if i > 0 {
                tokio::time::sleep(self.latency).await;
            }
            let page = page
                .iter()
                .filter(|f| f.query.completed_at.is_some_and(|t| from <= t && t < to))
                .cloned()
                .collect();
            each(page);
        }
        Ok(())
    }
}

fn query(id: usize, workgroup: &str, at: DateTime<Utc>) -> Finished {
    let q = QueryExecution {
        workgroup: workgroup.into(),
        state: QueryState::Succeeded,
        data_scanned_bytes: Some((id as u64 % 97 + 1) * TB / 100),
        completed_at: Some(at),
        ..QueryExecution::example(&format!("q-{id:07}"))
    };
    Finished {
        query: q,
        caller: None,
        tables: TablesRead::Tables(vec![format!("db.t{}", id % 13)]),
        usd: 0.0,
    }
}

/// `workgroups` workgroups over the UTC day of `day`; workgroup `w` hour `h` holds
/// `pages(w, h)` pages of `per_page` queries.
fn index(
    day: LocalDay,
    workgroups: usize,
    pages: impl Fn(usize, usize) -> usize,
    per_page: usize,
) -> SlowPages {
    let mut hours = BTreeMap::new();
    let mut id = 0;
    let first = day.start().duration_trunc(Duration::hours(1)).unwrap();
    for w in 0..workgroups {
        for h in 0..26 {
            let hour = first + Duration::hours(h as i64);
            let list: Vec<Vec<Finished>> = (0..pages(w, h))
                .map(|_| {
                    (0..per_page)
                        .map(|i| {
                            id += 1;
                            let at = hour + Duration::seconds((i * 3599 / per_page) as i64);
                            query(id, &format!("wg-{w:03}"), at)
                        })
                        .collect()
                })
                .collect();
            hours.insert((format!("wg-{w:03}"), hour), list);
        }
    }
    SlowPages {
        hours,
        latency: StdDuration::from_millis(15),
    }
}

fn specs(names: &[String]) -> Vec<WorkgroupSpec<'_>> {
    names
        .iter()
        .map(|w| WorkgroupSpec {
            workgroup: w,
            threshold_usd: 1.0,
            budget_usd: None,
        })
        .collect()
}

/// The digest as one read after another would count it.
fn one_after_another(pages: &SlowPages, day: LocalDay, names: &[String]) -> Digest {
    let mut builder = DigestBuilder::new(day, PriceList::default());
    for spec in specs(names) {
        let entry = builder.workgroup(spec.workgroup, spec.threshold_usd, spec.budget_usd);
        for ((wg, _), list) in &pages.hours {
            if wg == spec.workgroup {
                list.iter().flatten().for_each(|f| builder.add(entry, f));
            }
        }
    }
    builder.finish()
}

fn local_day(tz: Tz) -> LocalDay {
    LocalDay::containing("2026-12-02T12:00:00Z".parse().unwrap(), tz)
}

#[test]
fn a_day_is_cut_at_utc_hours() {
    let utc_day: Vec<_> = hours(local_day(UTC).start(), local_day(UTC).end()).collect();
    assert_eq!(utc_day.len(), 24);
    assert!(utc_day.iter().all(|(f, t)| *t - *f == Duration::hours(1)));
    // Kolkata is UTC+05:30: its day starts and ends on a half hour.
    let day = local_day(Kolkata);
    let cut: Vec<_> = hours(day.start(), day.end()).collect();
    assert_eq!(cut.len(), 25);
    assert_eq!(cut[0].1 - cut[0].0, Duration::minutes(30));
    assert_eq!(cut[24].1 - cut[24].0, Duration::minutes(30));
    assert!(cut.windows(2).all(|w| w[0].1 == w[1].0));
    assert_eq!((cut[0].0, cut[24].1), (day.start(), day.end()));
}

#[tokio::test(start_paused = true)]
async fn reads_a_few_at_a_time_into_the_digest_one_after_another_gives() {
    let day = local_day(Kolkata);
    let names: Vec<String> = (0..12).map(|w| format!("wg-{w:03}")).collect();
    let pages = index(day, names.len(), |w, h| (w * 7 + h * 3) % 4, 5);
    let read = read_day(
        &pages,
        DigestBuilder::new(day, PriceList::default()),
        specs(&names),
    )
    .await
    .unwrap();
    let expected = one_after_another(&pages, day, &names);
    assert!(read.total_queries() > 1000);
    assert_eq!(read.total_queries(), expected.total_queries());
    assert!((read.total_usd() - expected.total_usd()).abs() < 1e-6);
    assert_eq!(read.workgroups.len(), expected.workgroups.len());
    for (a, b) in read.workgroups.iter().zip(&expected.workgroups) {
        assert_eq!(
            (&a.workgroup, a.queries, a.scanned_bytes),
            (&b.workgroup, b.queries, b.scanned_bytes)
        );
    }
    assert_eq!(read.top, expected.top);
    assert_eq!(read.top_tables, expected.top_tables);
}

/// The 1M/day simulation's digest read 5,791 pages over 100 workgroups × 24 hours. The same
/// shape here — most workgroup-hours one page, the busy ones more — at 15 ms a page (DynamoDB
/// `Query` of a 1 MB page, in region): one after another that is about 87 s, above the 60 s
/// target; eight at a time it must be under 15 s.
#[tokio::test(start_paused = true)]
async fn reads_a_few_at_a_time_a_busy_day_in_seconds() {
    let day = local_day(UTC);
    let names: Vec<String> = (0..100).map(|w| format!("wg-{w:03}")).collect();
    let pages = index(
        day,
        names.len(),
        |w, h| {
            if w < 10 {
                10 + (h % 3)
            } else {
                1 + (w + h) % 3
            }
        },
        1,
    );
    let calls: usize = names
        .iter()
        .enumerate()
        .map(|(w, _)| {
            (0..24)
                .map(|h| {
                    if w < 10 {
                        10 + (h % 3)
                    } else {
                        1 + (w + h) % 3
                    }
                })
                .sum::<usize>()
        })
        .sum();
    assert!((5_000..7_000).contains(&calls), "{calls} pages");
    let started = tokio::time::Instant::now();
    let digest = read_day(
        &pages,
        DigestBuilder::new(day, PriceList::default()),
        specs(&names),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    let sequential = pages.latency * calls as u32;
    eprintln!(
        "{calls} pages: {took:?} {READS_AT_ONCE} at a time, {sequential:?} one after another"
    );
    assert_eq!(digest.total_queries(), calls);
    assert!(took < StdDuration::from_secs(15), "{took:?}");
    assert!(sequential > StdDuration::from_secs(60));
}
