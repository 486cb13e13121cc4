//! The streamed digest against the whole-day one it replaced, and what a million queries leave
//! behind in the builder.

use super::*;
use chrono::{Duration, NaiveDate};
use chrono_tz::Asia::Seoul;
use lakeops::attribution::Caller;
use lakeops::pricing::{MB, TB};

/// The digest as it was built before it streamed: every workgroup's whole day in memory, every
/// billed query sorted at the end. Kept verbatim as the reference the builder must agree with.
fn whole_day(
    day: LocalDay,
    histories: &[(String, Vec<Finished>)],
    price: &PriceList,
    threshold: impl Fn(&str) -> f64,
    budget: impl Fn(&str) -> Option<f64>,
) -> Digest {
    let (start, end) = (day.start(), day.end());
    let mut workgroups = Vec::new();
    let mut top = Vec::new();
    let mut by_person: BTreeMap<String, Spend> = BTreeMap::new();
    let mut by_client: BTreeMap<String, Spend> = BTreeMap::new();
    let mut tables: BTreeMap<String, TableScan> = BTreeMap::new();
    for (wg, queries) in histories {
        let mut w = WorkgroupDay {
            workgroup: wg.clone(),
            budget_usd: budget(wg),
            ..Default::default()
        };
        for f in queries.iter().filter(|f| {
            f.query.state.is_terminal()
                && f.query.completed_at.is_some_and(|t| start <= t && t < end)
        }) {
            let q = &f.query;
            let charge = price.charge(q);
            let (person, client) = match &f.caller {
                Some(c) => (c.person.clone(), c.client.clone()),
                None => (NO_TRAIL.to_string(), NO_TRAIL.to_string()),
            };
            for (groups, name) in [(&mut by_person, person), (&mut by_client, client)] {
                let g = groups.entry(name.clone()).or_insert_with(|| Spend {
                    name,
                    ..Default::default()
                });
                g.usd += charge.usd();
                g.queries += 1;
            }
            let read: Vec<String> = match &f.tables {
                TablesRead::Tables(t) => t.clone(),
                TablesRead::Unparsed => vec![TablesRead::UNPARSED.to_string()],
            };
            for table in read {
                let t = tables.entry(table.clone()).or_insert_with(|| TableScan {
                    table,
                    ..Default::default()
                });
                t.scanned_bytes += q.data_scanned_bytes.unwrap_or(0);
                t.queries += 1;
            }
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
            w.expensive += usize::from(charge.usd() > threshold(wg));
            if let Charge::Scanned { .. } = charge {
                w.scans.add(q.data_scanned_bytes.unwrap_or(0), charge.usd());
            }
            if charge.usd() > 0.0 {
                top.push(TopQuery {
                    id: q.id.clone(),
                    workgroup: wg.clone(),
                    usd: charge.usd(),
                    scanned_bytes: q.data_scanned_bytes.unwrap_or(0),
                    state: q.state,
                    sql: sql::excerpt(&q.sql, 100),
                });
            }
        }
        workgroups.push(w);
    }
    workgroups.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.workgroup.cmp(&b.workgroup)));
    top.sort_by(|a, b| b.usd.total_cmp(&a.usd).then(a.id.cmp(&b.id)));
    top.truncate(TOP_QUERIES);
    let mut top_tables: Vec<TableScan> = tables.into_values().collect();
    top_tables.sort_by(|a, b| {
        b.scanned_bytes
            .cmp(&a.scanned_bytes)
            .then(a.table.cmp(&b.table))
    });
    top_tables.truncate(TOP_GROUPS);
    let cutoffs = workgroups
        .iter()
        .filter_map(|w| super::super::cutoff::advise(&w.workgroup, w.queries, &w.scans, price))
        .collect();
    Digest {
        day,
        cutoffs,
        workgroups,
        top,
        by_person: ranked(by_person),
        by_client: ranked(by_client),
        top_tables,
    }
}

/// splitmix64: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

fn seoul_day() -> LocalDay {
    LocalDay::new(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), Seoul)
}

/// A query of every kind the index can hold: running, failed, DDL, capacity-billed, outside the
/// day, unattributed, unparsed; scans from a handful of sizes so costs tie, ids that repeat.
fn random_finished(rng: &mut Rng, day: LocalDay, wg: &str) -> Finished {
    let states = [
        QueryState::Succeeded,
        QueryState::Succeeded,
        QueryState::Succeeded,
        QueryState::Failed,
        QueryState::Cancelled,
        QueryState::Running,
    ];
    let scans = [
        None,
        Some(0),
        Some(MB),
        Some(10 * MB),
        Some(TB),
        Some(2 * TB),
    ];
    let id = format!("q{:03}", rng.below(400));
    let seconds = rng.below(26 * 3600) as i64 - 3600;
    let query = QueryExecution {
        workgroup: wg.into(),
        state: rng.pick(&states),
        statement_type: if rng.one_in(10) {
            StatementType::Ddl
        } else {
            StatementType::Dml
        },
        dpu_count: rng.one_in(20).then_some(4.0),
        data_scanned_bytes: rng.pick(&scans),
        completed_at: (!rng.one_in(20)).then(|| day.start() + Duration::seconds(seconds)),
        sql: format!("SELECT * FROM t WHERE id = '{id}' AND note = 'not for chat'"),
        ..QueryExecution::example(&id)
    };
    let caller = (!rng.one_in(5)).then(|| Caller {
        person: format!("person-{}", rng.below(30)),
        client: format!("client-{}", rng.below(12)),
        ..Default::default()
    });
    let tables = if rng.one_in(10) {
        TablesRead::Unparsed
    } else {
        let n = rng.below(4);
        TablesRead::Tables((0..n).map(|_| format!("db.t{}", rng.below(15))).collect())
    };
    Finished {
        query,
        caller,
        tables,
        usd: 0.0,
    }
}

#[test]
fn streaming_page_by_page_gives_the_whole_day_digest_whatever_the_order_and_ties() {
    let day = seoul_day();
    let price = PriceList::default();
    let threshold = |wg: &str| if wg == "etl" { 4.0 } else { 9.0 };
    let budget = |wg: &str| (wg != "adhoc").then_some(50.0);
    let now = "2026-11-23T00:05:00Z".parse().unwrap();
    let mut ties = 0;
    for seed in 1..=25 {
        let mut rng = Rng(seed);
        let histories: Vec<(String, Vec<Finished>)> = ["etl", "adhoc", "idle", "bi"]
            .iter()
            .map(|wg| {
                let n = if *wg == "idle" { 0 } else { rng.below(400) };
                let day_of = (0..n).map(|_| random_finished(&mut rng, day, wg)).collect();
                (wg.to_string(), day_of)
            })
            .collect();
        let whole = whole_day(day, &histories, &price, threshold, budget);

        let mut builder = DigestBuilder::new(day, price);
        for (wg, queries) in &histories {
            let entry = builder.workgroup(wg, threshold(wg), budget(wg));
            let mut rest = queries.as_slice();
            while !rest.is_empty() {
                let (page, after) = rest.split_at((1 + rng.below(60) as usize).min(rest.len()));
                page.iter().for_each(|f| builder.add(entry, f));
                rest = after;
            }
        }
        let streamed = builder.finish();

        assert_eq!(streamed, whole, "seed {seed}");
        assert_eq!(
            streamed.alert("k", "query-cost-watcher", "us-east-1", now),
            whole.alert("k", "query-cost-watcher", "us-east-1", now),
            "seed {seed}"
        );
        ties += whole
            .top
            .windows(2)
            .filter(|p| p[0].usd == p[1].usd)
            .count();
        assert!(
            whole.by_person.len() == TOP_GROUPS,
            "seed {seed}: 30 people fold"
        );
    }
    assert!(
        ties > 25,
        "the cases must tie on cost to test the order: {ties}"
    );
}

/// A rough count of what a builder holds: each map entry's strings and value plus a B-tree's
/// share of a node, each top query with its strings. Enough to tell bounded from growing.
fn retained_bytes(b: &DigestBuilder) -> (usize, usize) {
    const NODE_SHARE: usize = 2 * std::mem::size_of::<usize>();
    let spends = |m: &BTreeMap<String, Spend>| -> usize {
        m.iter()
            .map(|(k, v)| k.capacity() + v.name.capacity() + std::mem::size_of::<(String, Spend)>())
            .sum::<usize>()
            + m.len() * NODE_SHARE
    };
    let tables: usize = b
        .tables
        .iter()
        .map(|(k, v)| {
            k.capacity() + v.table.capacity() + std::mem::size_of::<(String, TableScan)>()
        })
        .sum::<usize>()
        + b.tables.len() * NODE_SHARE;
    let maps = spends(&b.by_person) + spends(&b.by_client) + tables;
    let top: usize = b
        .top
        .heap
        .iter()
        .map(|r| {
            let q = &r.query;
            q.id.capacity()
                + q.workgroup.capacity()
                + q.sql.capacity()
                + std::mem::size_of::<Ranked>()
        })
        .sum();
    (maps, top)
}

/// Fills `f` as query number `n` of a busy day, reusing its strings (so that the test measures
/// the builder, not the making of a million queries).
fn busy_query(f: &mut Finished, n: u64, rng: &mut Rng, day: LocalDay, names: &BusyNames) {
    use std::fmt::Write;
    let q = &mut f.query;
    q.id.clear();
    write!(q.id, "{n:08x}-0000-4000-8000-000000000000").unwrap();
    q.data_scanned_bytes = Some(rng.below(2 * TB));
    q.completed_at = Some(day.start() + Duration::milliseconds(rng.below(86_400_000) as i64));
    let c = f.caller.get_or_insert_with(Caller::default);
    c.person.clear();
    c.person.push_str(&names.people[rng.below(2_000) as usize]);
    c.client.clear();
    c.client.push_str(&names.clients[rng.below(20) as usize]);
    if let TablesRead::Tables(read) = &mut f.tables {
        read.truncate(0);
        for _ in 0..=rng.below(3) {
            read.push(names.tables[rng.below(500) as usize].clone());
        }
    }
}

struct BusyNames {
    people: Vec<String>,
    clients: Vec<String>,
    tables: Vec<String>,
}

#[test]
fn a_million_queries_leave_the_top_ten_and_one_entry_per_name() {
    let names = BusyNames {
        people: (0..2_000).map(|i| format!("person-{i:04}")).collect(),
        clients: (0..20).map(|i| format!("client-{i:02}")).collect(),
        tables: (0..500)
            .map(|i| format!("db{}.table_{i:03}", i % 25))
            .collect(),
    };
    let day = seoul_day();
    let mut builder = DigestBuilder::new(day, PriceList::default());
    let mut rng = Rng(7);
    let mut f = Finished {
        // What the index keeps of a query's SQL: up to 1,000 characters.
        query: QueryExecution {
            sql: format!("SELECT {} FROM db.t", "c, ".repeat(330)),
            completed_at: Some(day.start()),
            ..QueryExecution::example("")
        },
        caller: None,
        tables: TablesRead::Tables(Vec::new()),
        usd: 0.0,
    };
    let mut halfway = (0, 0);
    for w in 0..100u64 {
        let entry = builder.workgroup(&format!("wg-{w:03}"), 5.0, None);
        for i in 0..10_000 {
            busy_query(&mut f, w * 10_000 + i, &mut rng, day, &names);
            builder.add(entry, &f);
        }
        if w == 49 {
            halfway = retained_bytes(&builder);
        }
    }
    let (maps, top) = retained_bytes(&builder);
    assert_eq!(builder.top.heap.len(), TOP_QUERIES);
    assert_eq!(
        (
            builder.by_person.len(),
            builder.by_client.len(),
            builder.tables.len()
        ),
        (2_000, 20, 500)
    );
    // Half a million queries later, nothing more is held.
    assert_eq!((maps, top), halfway);
    assert!(maps + top < 1 << 20, "{maps} + {top} bytes");
    let d = builder.finish();
    assert_eq!(d.total_queries(), 1_000_000);
    assert_eq!(d.top.len(), TOP_QUERIES);
    assert!(d.top.windows(2).all(|p| p[0].usd >= p[1].usd));
}
