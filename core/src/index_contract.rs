//! The query index contract: the behaviour every [`IndexStore`] adapter must show, as one suite
//! run against the memory index (the core's unit tests) and the DynamoDB index in the emulator
//! (the end-to-end test `index::the_dynamodb_index_keeps_the_index_contract`). A rule of
//! [`crate::record`] that one adapter breaks fails here, naming the rule.
//!
//! Every id, workgroup and person is prefixed with `prefix`, so the suite can run in a table
//! other tests share. Times are whole milliseconds (DynamoDB keeps completion times so).

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::caller::{Caller, PersonSource};
use crate::index::{Checkpoint, IndexStore, Pricing};
use crate::query::{QueryExecution, QueryState, StatementType, TablesRead};
use crate::record::StateChange;

const DAY: &str = "2026-03-02";

fn at(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap() + Duration::milliseconds(ms.into())
}

struct Names<'a>(&'a str);

impl Names<'_> {
    fn id(&self, n: &str) -> String {
        format!("{}{n}", self.0)
    }
    fn workgroup(&self) -> String {
        format!("{}wg", self.0)
    }
    /// A caller with every field set, the source and the chosen session name too: an adapter
    /// that drops one fails the round trips below.
    fn caller(&self, person: &str) -> Caller {
        Caller {
            principal_arn: format!("arn:aws:iam::123456789012:role/{}{person}", self.0),
            person: format!("{}{person}", self.0),
            person_source: PersonSource::CallerChosen,
            session_name: format!("session-of-{person}"),
            account: "123456789012".into(),
            source_ip: "192.0.2.10".into(),
            client: "console".into(),
        }
    }
    fn event(&self, n: &str, state: QueryState, sequence: u64, t: DateTime<Utc>) -> StateChange {
        StateChange {
            query_id: self.id(n),
            workgroup: self.workgroup(),
            state,
            statement_type: StatementType::Dml,
            sequence,
            at: t,
        }
    }
    fn finished(&self, n: &str, bytes: u64, completed: DateTime<Utc>) -> QueryExecution {
        QueryExecution {
            workgroup: self.workgroup(),
            sql: "SELECT count(*) FROM sales.orders".into(),
            submitted_at: Some(completed - Duration::seconds(30)),
            completed_at: Some(completed),
            data_scanned_bytes: Some(bytes),
            database: Some("sales".into()),
            ..QueryExecution::example(&self.id(n))
        }
    }
}

fn tables() -> TablesRead {
    TablesRead::Tables(vec!["sales.orders".into()])
}

async fn price<S: IndexStore>(
    store: &S,
    q: &QueryExecution,
    usd: f64,
    caller: Option<&Caller>,
) -> bool {
    let t = tables();
    let p = Pricing {
        query: q,
        usd,
        day: DAY,
        tables: &t,
    };
    store
        .record_finished(p, at(23, 0, 0, 0), caller)
        .await
        .expect("record_finished")
}

async fn unsettled<S: IndexStore>(store: &S, names: &Names<'_>) -> Vec<(String, QueryState)> {
    store
        .in_flight()
        .await
        .expect("in_flight")
        .into_iter()
        .filter(|q| q.query_id.starts_with(names.0))
        .map(|q| (q.query_id, q.state))
        .collect()
}

async fn person_total<S: IndexStore>(store: &S, names: &Names<'_>, person: &str) -> f64 {
    let p = names.caller(person).person;
    store
        .person_day_totals(std::slice::from_ref(&p), DAY)
        .await
        .expect("person totals")[&p]
}

/// Runs every rule against `store`.
pub async fn run<S: IndexStore>(store: &S, prefix: &str) {
    let names = Names(prefix);
    a_later_event_wins_and_no_earlier_one_overwrites_it(store, &names).await;
    an_ended_query_stays_unsettled_until_it_is_priced_once(store, &names).await;
    a_person_is_charged_once_whichever_comes_first(store, &names).await;
    a_query_read_from_athena_is_recorded_corrected_and_checked(store, &names).await;
    finished_queries_come_back_by_span_with_what_was_priced(store, &names).await;
    reconciliation_keeps_its_place(store, &names).await;
}

async fn a_later_event_wins_and_no_earlier_one_overwrites_it<S: IndexStore>(
    store: &S,
    n: &Names<'_>,
) {
    let apply = |e: StateChange| async move { store.apply_state_change(&e).await.expect("apply") };
    assert!(apply(n.event("e1", QueryState::Running, 2, at(9, 0, 1, 0))).await);
    assert!(
        !apply(n.event("e1", QueryState::Queued, 1, at(9, 0, 0, 0))).await,
        "an earlier event (lower sequence) must not overwrite a later state"
    );
    assert!(
        !apply(n.event("e1", QueryState::Running, 2, at(9, 0, 1, 0))).await,
        "a repeated event must change nothing"
    );
    assert_eq!(
        unsettled(store, n).await,
        vec![(n.id("e1"), QueryState::Running)]
    );
    let known = store
        .known(&[n.id("e1"), n.id("nope")])
        .await
        .expect("known");
    assert_eq!(known.len(), 1, "only queries with a state are known");
    assert_eq!(known[&n.id("e1")], Some(at(9, 0, 1, 0)));
}

async fn an_ended_query_stays_unsettled_until_it_is_priced_once<S: IndexStore>(
    store: &S,
    n: &Names<'_>,
) {
    let ended = n.event("e1", QueryState::Succeeded, 3, at(9, 5, 0, 0));
    assert!(store.apply_state_change(&ended).await.expect("apply"));
    assert_eq!(
        unsettled(store, n).await,
        vec![(n.id("e1"), QueryState::Succeeded)],
        "an ended query is unsettled until it is priced"
    );
    let q = n.finished("e1", 1 << 30, at(9, 5, 0, 0));
    assert!(price(store, &q, 0.25, None).await);
    assert!(
        !price(store, &q, 0.25, None).await,
        "a query is priced once"
    );
    assert!(unsettled(store, n).await.is_empty(), "pricing settles it");
    let late = n.event("e1", QueryState::Running, 9, at(9, 6, 0, 0));
    assert!(
        !store.apply_state_change(&late).await.expect("apply"),
        "no event overwrites a state read from Athena"
    );
    let wg = n.workgroup();
    let totals = store
        .day_totals(std::slice::from_ref(&wg), DAY)
        .await
        .expect("totals");
    assert!(
        (totals[&wg] - 0.25).abs() < 1e-9,
        "the day total counts it once"
    );
}

async fn a_person_is_charged_once_whichever_comes_first<S: IndexStore>(store: &S, n: &Names<'_>) {
    let (ann, bob, cy) = (n.caller("ann"), n.caller("bob"), n.caller("cy"));
    let start = |id: String, c: Caller| async move {
        store
            .record_start(&id, &c, Some("sales"), at(10, 0, 0, 0))
            .await
            .expect("record_start")
    };
    // The caller first, then a pricing that knows it.
    assert!(!start(n.id("p1"), ann.clone()).await);
    assert!(
        price(
            store,
            &n.finished("p1", 1 << 20, at(10, 1, 0, 0)),
            1.0,
            Some(&ann)
        )
        .await
    );
    assert!(
        !start(n.id("p1"), ann.clone()).await,
        "a repeated start adds nothing"
    );
    // Priced first, then the caller.
    assert!(
        price(
            store,
            &n.finished("p2", 1 << 20, at(10, 2, 0, 0)),
            2.0,
            None
        )
        .await
    );
    assert!(
        start(n.id("p2"), bob.clone()).await,
        "a late caller is charged"
    );
    assert!(!start(n.id("p2"), bob.clone()).await, "... once");
    // The caller arrives between the reader's look and its pricing.
    assert!(!start(n.id("p3"), cy.clone()).await);
    assert!(
        price(
            store,
            &n.finished("p3", 1 << 20, at(10, 3, 0, 0)),
            4.0,
            None
        )
        .await
    );
    assert!(!start(n.id("p3"), cy.clone()).await);
    for (person, usd) in [("ann", 1.0), ("bob", 2.0), ("cy", 4.0)] {
        let got = person_total(store, n, person).await;
        assert!(
            (got - usd).abs() < 1e-9,
            "{person}: charged {got}, not {usd}"
        );
    }
    let callers = store
        .callers(&[n.id("p1"), n.id("p2"), n.id("none")])
        .await
        .expect("callers");
    assert_eq!(callers.len(), 2);
    assert_eq!(callers[&n.id("p2")], bob);
}

async fn a_query_read_from_athena_is_recorded_corrected_and_checked<S: IndexStore>(
    store: &S,
    n: &Names<'_>,
) {
    let mut q = n.finished("r1", 0, at(11, 0, 0, 0));
    q.state = QueryState::Running;
    q.completed_at = None;
    q.submitted_at = Some(at(10, 50, 0, 0));
    let read = |q: QueryExecution, now| async move {
        store
            .record_in_flight(&q, now)
            .await
            .expect("record_in_flight");
        let all = store.in_flight().await.expect("in_flight");
        all.into_iter().find(|f| f.query_id == q.id)
    };
    let first = read(q.clone(), at(11, 0, 0, 0)).await.expect("recorded");
    assert_eq!(
        (first.state, first.since, first.checked_at),
        (QueryState::Running, at(10, 50, 0, 0), Some(at(11, 0, 0, 0))),
        "first sight: dated from its submission"
    );
    q.state = QueryState::Queued;
    let requeued = read(q.clone(), at(11, 5, 0, 0))
        .await
        .expect("still unsettled");
    assert_eq!(
        (requeued.state, requeued.since),
        (QueryState::Queued, at(11, 5, 0, 0)),
        "a dropped requeue is corrected, dated by the read"
    );
    let again = read(q.clone(), at(11, 10, 0, 0))
        .await
        .expect("still unsettled");
    assert_eq!(
        (again.since, again.checked_at),
        (at(11, 5, 0, 0), Some(at(11, 10, 0, 0))),
        "an unchanged re-read only marks the check"
    );
    let mut done = n.finished("r1", 1 << 20, at(11, 12, 0, 0));
    done.submitted_at = Some(at(10, 50, 0, 0));
    assert!(price(store, &done, 0.5, None).await);
    assert!(
        read(q, at(11, 15, 0, 0)).await.is_none(),
        "a stale read of a settled query changes nothing"
    );
}

async fn finished_queries_come_back_by_span_with_what_was_priced<S: IndexStore>(
    store: &S,
    n: &Names<'_>,
) {
    let ann = n.caller("fin");
    for id in ["f1", "f2", "f3"] {
        let id = n.id(id);
        let start = store.record_start(&id, &ann, None, at(12, 0, 0, 0));
        assert!(!start.await.expect("record_start"));
    }
    for (id, t) in [
        ("f1", at(12, 10, 0, 0)),
        ("f2", at(12, 59, 59, 999)),
        ("f3", at(13, 0, 0, 0)),
    ] {
        assert!(price(store, &n.finished(id, 3 << 30, t), 0.75, Some(&ann)).await);
    }
    let mut pages = Vec::new();
    store
        .for_each_finished_page(&n.workgroup(), at(12, 0, 0, 0), at(13, 0, 0, 0), |p| {
            pages.push(p)
        })
        .await
        .expect("finished pages");
    assert!(pages.iter().all(|p| !p.is_empty()), "no empty page");
    let found: Vec<_> = pages.into_iter().flatten().collect();
    let ids: Vec<&str> = found.iter().map(|f| f.query.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![n.id("f1"), n.id("f2")],
        "[from, to) in completion order"
    );
    let f = &found[0];
    assert_eq!(f.caller.as_ref(), Some(&ann));
    assert_eq!(f.tables, tables());
    assert_eq!(f.query.data_scanned_bytes, Some(3 << 30));
    assert_eq!(f.query.completed_at, Some(at(12, 10, 0, 0)));
    assert!((f.usd - 0.75).abs() < 1e-9);
}

async fn reconciliation_keeps_its_place<S: IndexStore>(store: &S, n: &Names<'_>) {
    let wg = n.workgroup();
    assert_eq!(
        store.checkpoint(&wg).await.expect("checkpoint"),
        Checkpoint::default()
    );
    let saved = Checkpoint {
        stop_at: Some(n.id("newest")),
        resume_token: Some("token".into()),
        resume_newest: Some(n.id("newer")),
    };
    store
        .save_checkpoint(&wg, &saved, at(14, 0, 0, 0))
        .await
        .expect("save checkpoint");
    assert_eq!(store.checkpoint(&wg).await.expect("checkpoint"), saved);
    store
        .save_rotation(Some(&wg), at(14, 0, 0, 0))
        .await
        .expect("save rotation");
    assert_eq!(
        store.rotation().await.expect("rotation").as_deref(),
        Some(wg.as_str())
    );
    store
        .save_rotation(None, at(14, 0, 0, 0))
        .await
        .expect("clear rotation");
    assert_eq!(store.rotation().await.expect("rotation"), None);
}
