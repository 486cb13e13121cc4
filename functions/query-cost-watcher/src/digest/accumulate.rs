//! Counting a day into a digest one query at a time, so the day is never held whole: what is
//! kept grows with the day's workgroups, people, clients and tables, never with its queries.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::{DateTime, Utc};
use lakeops::athena::{QueryExecution, QueryState, StatementType};
use lakeops::attribution::NO_TRAIL;
use lakeops::calendar::LocalDay;
use lakeops::pricing::{Charge, PriceList};
use lakeops::query_index::Finished;
use lakeops::sql;
use lakeops::tables_read::TablesRead;

use super::cutoff::advise;
use super::{Digest, Spend, TableScan, TopQuery, WorkgroupDay, TOP_GROUPS, TOP_QUERIES};

/// Characters of SQL a top query shows.
const TOP_QUERY_SQL_CHARS: usize = 100;

/// A workgroup opened in a [`DigestBuilder`]: the queries added under it count for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkgroupEntry(usize);

/// The digest of one day, built as the index hands the day's queries over: open each workgroup
/// with [`DigestBuilder::workgroup`], [`DigestBuilder::add`] its queries in any number of pages,
/// then [`DigestBuilder::finish`]. Given the same queries in the same order, the digest is the
/// one the whole day held at once would give (sums are added in the same order, ties broken
/// the same way).
#[derive(Debug)]
pub struct DigestBuilder {
    day: LocalDay,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    price: PriceList,
    /// Each workgroup's day with its alert threshold (usd), in the order opened.
    workgroups: Vec<(WorkgroupDay, f64)>,
    top: TopQueries,
    by_person: BTreeMap<String, Spend>,
    by_client: BTreeMap<String, Spend>,
    tables: BTreeMap<String, TableScan>,
}

impl DigestBuilder {
    pub fn new(day: LocalDay, price: PriceList) -> Self {
        Self {
            day,
            start: day.start(),
            end: day.end(),
            price,
            workgroups: Vec::new(),
            top: TopQueries::default(),
            by_person: BTreeMap::new(),
            by_client: BTreeMap::new(),
            tables: BTreeMap::new(),
        }
    }

    /// The day's span in UTC: `[start, end)`.
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start, self.end)
    }

    /// Opens `workgroup`'s day (listed even if it ran nothing), with its alert threshold and
    /// budget.
    pub fn workgroup(
        &mut self,
        workgroup: &str,
        threshold_usd: f64,
        budget_usd: Option<f64>,
    ) -> WorkgroupEntry {
        self.workgroups.push((
            WorkgroupDay {
                workgroup: workgroup.to_string(),
                budget_usd,
                ..Default::default()
            },
            threshold_usd,
        ));
        WorkgroupEntry(self.workgroups.len() - 1)
    }

    /// Counts one finished query of `workgroup`; one still running or completing outside the
    /// day is ignored (the index's hours are UTC, a local day need not start on one).
    pub fn add(&mut self, workgroup: WorkgroupEntry, f: &Finished) {
        let q = &f.query;
        if !q.state.is_terminal()
            || !q
                .completed_at
                .is_some_and(|t| self.start <= t && t < self.end)
        {
            return;
        }
        let charge = self.price.charge(q);
        let usd = charge.usd();
        let bytes = q.data_scanned_bytes.unwrap_or(0);
        let (person, client) = match &f.caller {
            Some(c) => (c.person.as_str(), c.client.as_str()),
            None => (NO_TRAIL, NO_TRAIL),
        };
        spend(&mut self.by_person, person, usd);
        spend(&mut self.by_client, client, usd);
        match &f.tables {
            TablesRead::Tables(read) => {
                for table in read {
                    scan(&mut self.tables, table, bytes);
                }
            }
            TablesRead::Unparsed => scan(&mut self.tables, TablesRead::UNPARSED, bytes),
        }
        let (w, threshold) = &mut self.workgroups[workgroup.0];
        count(w, q, &charge, *threshold);
        if usd > 0.0 {
            self.top.offer(usd, q, &w.workgroup);
        }
    }

    /// The digest of what was added.
    pub fn finish(self) -> Digest {
        let mut workgroups: Vec<WorkgroupDay> =
            self.workgroups.into_iter().map(|(w, _)| w).collect();
        workgroups.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.workgroup.cmp(&b.workgroup)));
        let cutoffs = workgroups
            .iter()
            .filter_map(|w| advise(&w.workgroup, w.queries, &w.scans, &self.price))
            .collect();
        let mut top_tables: Vec<TableScan> = self.tables.into_values().collect();
        top_tables.sort_by(|a, b| {
            b.scanned_bytes
                .cmp(&a.scanned_bytes)
                .then(a.table.cmp(&b.table))
        });
        top_tables.truncate(TOP_GROUPS);
        Digest {
            day: self.day,
            workgroups,
            top: self.top.into_listing(),
            by_person: ranked(self.by_person),
            by_client: ranked(self.by_client),
            top_tables,
            cutoffs,
        }
    }
}

/// Adds a query's spend to `name`'s; the name is copied only the first time it is seen.
fn spend(groups: &mut BTreeMap<String, Spend>, name: &str, usd: f64) {
    let g = match groups.get_mut(name) {
        Some(g) => g,
        None => groups.entry(name.to_string()).or_insert_with(|| Spend {
            name: name.to_string(),
            ..Default::default()
        }),
    };
    g.usd += usd;
    g.queries += 1;
}

/// Adds a query's bytes to a table it read (all of them: Athena does not split a join's scan).
fn scan(tables: &mut BTreeMap<String, TableScan>, table: &str, bytes: u64) {
    let t = match tables.get_mut(table) {
        Some(t) => t,
        None => tables
            .entry(table.to_string())
            .or_insert_with(|| TableScan {
                table: table.to_string(),
                ..Default::default()
            }),
    };
    t.scanned_bytes += bytes;
    t.queries += 1;
}

/// Counts one query of the day in its workgroup.
fn count(w: &mut WorkgroupDay, q: &QueryExecution, charge: &Charge, threshold_usd: f64) {
    w.queries += 1;
    match q.state {
        QueryState::Succeeded => w.succeeded += 1,
        QueryState::Failed => w.failed += 1,
        QueryState::Cancelled => w.cancelled += 1,
        _ => {}
    }
    w.ddl += usize::from(q.statement_type == StatementType::Ddl);
    w.capacity_billed += usize::from(matches!(charge, Charge::Capacity { .. }));
    w.scanned_bytes += q.data_scanned_bytes.unwrap_or(0);
    w.usd += charge.usd();
    w.expensive += usize::from(charge.usd() > threshold_usd);
    if let Charge::Scanned { .. } = charge {
        w.scans.add(q.data_scanned_bytes.unwrap_or(0), charge.usd());
    }
}

/// The largest first, then by name; the rest folded into one `(N others)` entry.
fn ranked(groups: BTreeMap<String, Spend>) -> Vec<Spend> {
    let mut all: Vec<Spend> = groups.into_values().collect();
    all.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.name.cmp(&b.name)));
    if all.len() > TOP_GROUPS {
        let rest = all.split_off(TOP_GROUPS - 1);
        all.push(Spend {
            name: format!("({} others)", rest.len()),
            usd: rest.iter().map(|s| s.usd).sum(),
            queries: rest.iter().map(|s| s.queries).sum(),
        });
    }
    all
}

/// The order queries are listed in: most spend first, then by id, then the one added first (a
/// query the index returned twice keeps the place it had when the whole day was sorted at once).
fn listing_order(a: (f64, &str, u64), b: (f64, &str, u64)) -> Ordering {
    b.0.total_cmp(&a.0)
        .then_with(|| a.1.cmp(b.1))
        .then(a.2.cmp(&b.2))
}

/// A billed query and when it was offered.
#[derive(Debug)]
struct Ranked {
    query: TopQuery,
    offered: u64,
}

impl Ranked {
    fn key(&self) -> (f64, &str, u64) {
        (self.query.usd, &self.query.id, self.offered)
    }
}

/// Greater = listed later, so the heap's top is the query the next better one pushes out.
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        listing_order(self.key(), other.key())
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The [`TOP_QUERIES`] most expensive billed queries offered so far: at most that many held,
/// and the SQL excerpt made only for a query that gets in.
#[derive(Debug, Default)]
struct TopQueries {
    heap: BinaryHeap<Ranked>,
    offered: u64,
}

impl TopQueries {
    fn offer(&mut self, usd: f64, q: &QueryExecution, workgroup: &str) {
        let offered = self.offered;
        self.offered += 1;
        if self.heap.len() >= TOP_QUERIES {
            match self.heap.peek() {
                Some(last) if listing_order((usd, &q.id, offered), last.key()).is_lt() => {}
                _ => return,
            }
        }
        self.heap.push(Ranked {
            query: TopQuery {
                id: q.id.clone(),
                workgroup: workgroup.to_string(),
                usd,
                scanned_bytes: q.data_scanned_bytes.unwrap_or(0),
                state: q.state,
                sql: sql::excerpt(&q.sql, TOP_QUERY_SQL_CHARS),
            },
            offered,
        });
        if self.heap.len() > TOP_QUERIES {
            self.heap.pop();
        }
    }

    fn into_listing(self) -> Vec<TopQuery> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.query)
            .collect()
    }
}

#[cfg(test)]
mod tests;
