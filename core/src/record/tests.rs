//! The record's rules under any order of what arrives: events repeated, late and reordered, the
//! pricing and the caller in either order.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::caller::Caller;

/// What can happen to one query's record.
#[derive(Debug, Clone)]
enum Arrival {
    Event(QueryState, u64),
    Priced,
    Start,
}

fn arrival() -> impl Strategy<Value = Arrival> {
    prop_oneof![
        (0u64..6).prop_map(|seq| {
            let state = [
                QueryState::Queued,
                QueryState::Running,
                QueryState::Queued,
                QueryState::Running,
                QueryState::Succeeded,
                QueryState::Succeeded,
            ][seq as usize];
            Arrival::Event(state, seq + 1)
        }),
        Just(Arrival::Priced),
        Just(Arrival::Start),
    ]
}

fn caller() -> Caller {
    Caller {
        person: "ann".into(),
        ..Caller::default()
    }
}

/// Applies `arrivals` as an adapter must (each write under its [`Expect`]); returns the record
/// and how often the person was charged.
fn apply(arrivals: &[Arrival]) -> (Option<QueryRecord>, u32) {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let mut record: Option<QueryRecord> = None;
    let mut charged = 0;
    for a in arrivals {
        match a {
            Arrival::Event(state, seq) => {
                let e = StateChange {
                    query_id: "q".into(),
                    workgroup: "wg".into(),
                    state: *state,
                    statement_type: StatementType::Dml,
                    sequence: *seq,
                    at: t0 + Duration::seconds(*seq as i64),
                };
                if Expect::EarlierThan(e.sequence).holds(record.as_ref()) {
                    record
                        .get_or_insert_with(|| QueryRecord::new("q"))
                        .apply_state_change(&e);
                }
            }
            Arrival::Priced => {
                // The reader prices with the caller the record holds (if it arrived).
                let known = record.as_ref().is_some_and(|r| r.caller.is_some());
                if Expect::Unpriced.holds(record.as_ref()) {
                    let q = QueryExecution::example("q");
                    record.get_or_insert_with(|| QueryRecord::new("q")).price(
                        &q,
                        1.0,
                        "2026-03-02",
                        &TablesRead::Tables(vec![]),
                        known,
                    );
                    charged += u32::from(known);
                }
            }
            Arrival::Start => {
                let r = record.get_or_insert_with(|| QueryRecord::new("q"));
                if r.attribute(&caller(), None).is_some() && Expect::PricedUncounted.holds(Some(r))
                {
                    r.count_for_person();
                    charged += 1;
                }
            }
        }
    }
    (record, charged)
}

proptest! {
    #[test]
    fn any_order_ends_in_the_same_place(arrivals in prop::collection::vec(arrival(), 0..12)) {
        let (record, charged) = apply(&arrivals);
        let priced = arrivals.iter().any(|a| matches!(a, Arrival::Priced));
        let started = arrivals.iter().any(|a| matches!(a, Arrival::Start));
        let highest = arrivals.iter().filter_map(|a| match a {
            Arrival::Event(s, seq) => Some((*seq, *s)),
            _ => None,
        }).max_by_key(|(seq, _)| *seq);
        let r = record.clone().unwrap_or_default();
        // Priced once, whatever came before or after.
        prop_assert_eq!(r.price.is_some(), priced);
        // The person is charged once if both the pricing and the caller arrived, else never.
        prop_assert_eq!(charged, u32::from(priced && started));
        prop_assert_eq!(r.principal_counted, priced && started);
        // Unpriced, the state is the latest event's whatever the order.
        if !priced {
            prop_assert_eq!(r.state, highest.map(|(_, s)| s));
            prop_assert_eq!(r.is_unsettled(), highest.is_some());
        } else {
            prop_assert_eq!(r.stage(), Stage::Priced);
            prop_assert_eq!(r.sequence, Some(OBSERVED_TERMINAL));
        }
    }
}

#[test]
fn stages() {
    let mut r = QueryRecord::new("q");
    assert_eq!(r.stage(), Stage::Attributed);
    assert!(Expect::NoState.holds(Some(&r)));
    r.observe_in_flight(&QueryExecution::example("q"), Utc::now());
    assert_eq!(r.stage(), Stage::Unsettled);
    assert!(!Expect::NoState.holds(Some(&r)));
    r.price(
        &QueryExecution::example("q"),
        0.0,
        "2026-03-02",
        &TablesRead::Unparsed,
        false,
    );
    assert_eq!(r.stage(), Stage::Priced);
    assert!(!Expect::UnsettledIn(QueryState::Succeeded).holds(Some(&r)));
    assert!(Expect::PricedUncounted.holds(Some(&r)));
    assert!(
        Expect::EarlierThan(1).holds(None),
        "no item: any state applies"
    );
}
