//! The query record: what the index knows of one Athena query, the [`Stage`]s it goes through,
//! and every transition between them — what each write changes ([`QueryRecord`]'s methods) and
//! the condition it is made under ([`Expect`]). This is the one statement of those rules: the
//! memory index applies it directly; the DynamoDB index (`lakeops::query_index`) writes the same
//! changes as update expressions under the condition [`Expect`] names, and one contract suite
//! (`lakeops_core::index_contract`) runs against both.
//!
//! ```text
//!   CloudTrail start ─▶ Attributed ──state change / read from Athena──▶ Unsettled
//!                                                                       │  QUEUED ⇄ RUNNING
//!   state change / read from Athena ─────────────────────────────────▶  │  ended, not priced
//!                                                                       ▼
//!                                                  priced (once) ─▶  Priced
//! ```
//!
//! - A state is written only if its event's sequence number is above the stored one, so a
//!   repeated or late event never overwrites a newer state ([`Expect::EarlierThan`]). A terminal
//!   state read from Athena carries [`OBSERVED_TERMINAL`], above any event's.
//! - A query stays *unsettled* (in the in-flight index) from its first state until it is priced,
//!   including after it ended: a query whose pricing or alert failed is still found.
//! - A query is priced once ([`Expect::Unpriced`]); its price is added to its workgroup's day
//!   total in the same write, and to its person's day total exactly once — by the pricing if its
//!   caller is known then, else by the attribution that arrives later
//!   ([`Expect::UnpricedUnattributed`], [`Expect::PricedUncounted`]).

use chrono::{DateTime, Utc};

use crate::caller::Caller;
use crate::query::{QueryExecution, QueryState, StatementType, TablesRead};

/// Sequence number of a terminal state read from Athena: above any event's.
pub const OBSERVED_TERMINAL: u64 = 1 << 53;

/// One "Athena Query State Change" event, as the index needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub query_id: String,
    pub workgroup: String,
    pub state: QueryState,
    pub statement_type: StatementType,
    /// `detail.sequenceNumber`: orders the events of one query.
    pub sequence: u64,
    /// The event's `time`: when the query entered `state`.
    pub at: DateTime<Utc>,
}

/// Where a query stands in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Only who started it is known (its CloudTrail record came before any state).
    Attributed,
    /// Queued or running, or ended and not yet priced: in the in-flight index.
    Unsettled,
    /// Ended and priced. Only a late attribution still changes it.
    Priced,
}

/// The price of a finished query, as recorded once.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub usd: f64,
    /// The local day (`YYYY-MM-DD`) whose totals it was added to.
    pub day: String,
    /// The query as Athena reported it when it was priced.
    pub query: QueryExecution,
    pub tables: TablesRead,
}

/// What the index holds of one query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryRecord {
    pub query_id: String,
    pub workgroup: Option<String>,
    /// With `sequence`: absent until a state change or a read from Athena recorded one.
    pub state: Option<QueryState>,
    pub sequence: Option<u64>,
    pub statement_type: Option<StatementType>,
    /// When it entered `state`.
    pub changed_at: Option<DateTime<Utc>>,
    /// When reconciliation last re-read it from Athena while unsettled.
    pub checked_at: Option<DateTime<Utc>>,
    pub caller: Option<Caller>,
    /// The database its CloudTrail start named (one-part table names are in it).
    pub start_database: Option<String>,
    pub price: Option<Price>,
    /// Its price was added to its person's day total.
    pub principal_counted: bool,
}

/// The condition a write to one record is made under — DynamoDB's condition expression, the
/// memory index's check. A write whose condition does not hold changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// A state change: no state yet, or one set by an earlier event (lower sequence number).
    EarlierThan(u64),
    /// A query read from Athena that the index has no state of.
    NoState,
    /// A correction of an unsettled query's state read from Athena: it is in another state.
    UnsettledOtherThan(QueryState),
    /// A re-read that found an unsettled query as recorded: only the time of the check changes.
    UnsettledIn(QueryState),
    /// Pricing by a reader that knows the query's caller: not priced yet.
    Unpriced,
    /// Pricing by a reader that knows no caller: not priced, and no caller arrived meanwhile
    /// (else the person's total would miss the query).
    UnpricedUnattributed,
    /// Adding a priced query to its person's total: priced and not yet counted.
    PricedUncounted,
}

impl Expect {
    /// Whether the condition holds for `record` (`None`: no item).
    pub fn holds(&self, record: Option<&QueryRecord>) -> bool {
        let stage = record.map(QueryRecord::stage);
        let priced = stage == Some(Stage::Priced);
        match self {
            Expect::EarlierThan(seq) => record.and_then(|r| r.sequence).is_none_or(|s| s < *seq),
            Expect::NoState => record.and_then(|r| r.sequence).is_none(),
            Expect::UnsettledOtherThan(state) => {
                stage == Some(Stage::Unsettled) && record.and_then(|r| r.state) != Some(*state)
            }
            Expect::UnsettledIn(state) => {
                stage == Some(Stage::Unsettled) && record.and_then(|r| r.state) == Some(*state)
            }
            Expect::Unpriced => !priced,
            Expect::UnpricedUnattributed => !priced && record.is_none_or(|r| r.caller.is_none()),
            Expect::PricedUncounted => priced && record.is_some_and(|r| !r.principal_counted),
        }
    }
}

impl QueryRecord {
    pub fn new(query_id: &str) -> Self {
        Self {
            query_id: query_id.to_string(),
            ..Self::default()
        }
    }

    pub fn stage(&self) -> Stage {
        if self.price.is_some() {
            Stage::Priced
        } else if self.sequence.is_some() {
            Stage::Unsettled
        } else {
            Stage::Attributed
        }
    }

    /// Under [`Expect::EarlierThan`]`(e.sequence)`. A terminal state keeps the query unsettled:
    /// it is settled when it is priced.
    pub fn apply_state_change(&mut self, e: &StateChange) {
        self.workgroup = Some(e.workgroup.clone());
        self.state = Some(e.state);
        self.sequence = Some(e.sequence);
        self.changed_at = Some(e.at);
        self.statement_type = Some(e.statement_type);
    }

    /// Under [`Expect::NoState`]: a QUEUED or RUNNING query the events never announced, first
    /// seen by a read at `now` (dated from its submission).
    pub fn observe_in_flight(&mut self, q: &QueryExecution, now: DateTime<Utc>) {
        self.workgroup = Some(q.workgroup.clone());
        self.state = Some(q.state);
        self.sequence = Some(0);
        self.changed_at = Some(q.submitted_at.unwrap_or(now));
        self.statement_type = Some(q.statement_type);
        self.checked_at = Some(now);
    }

    /// Under [`Expect::UnsettledOtherThan`]`(state)`: an event was dropped (e.g. a RUNNING →
    /// QUEUED requeue); the change is dated `now`, the earliest this reader can vouch for.
    pub fn correct_state(&mut self, state: QueryState, now: DateTime<Utc>) {
        self.state = Some(state);
        self.changed_at = Some(now);
        self.checked_at = Some(now);
    }

    /// Under [`Expect::UnsettledIn`].
    pub fn mark_checked(&mut self, now: DateTime<Utc>) {
        self.checked_at = Some(now);
    }

    /// Under [`Expect::Unpriced`] (caller known: `counted` = true, the same write adds it to
    /// the person's total) or [`Expect::UnpricedUnattributed`] (`counted` = false). Settles it.
    pub fn price(
        &mut self,
        q: &QueryExecution,
        usd: f64,
        day: &str,
        tables: &TablesRead,
        counted: bool,
    ) {
        self.workgroup = Some(q.workgroup.clone());
        self.state = Some(q.state);
        self.sequence = Some(OBSERVED_TERMINAL);
        self.statement_type = Some(q.statement_type);
        self.changed_at = q.completed_at.or(self.changed_at);
        self.price = Some(Price {
            usd,
            day: day.to_string(),
            query: q.clone(),
            tables: tables.clone(),
        });
        self.principal_counted = counted;
    }

    /// Unconditional: who started it (a repeat writes the same values). Returns the price to add
    /// to the person's day total if the query was priced without a caller and not yet counted —
    /// to be applied under [`Expect::PricedUncounted`] with [`QueryRecord::count_for_person`].
    pub fn attribute(&mut self, caller: &Caller, database: Option<&str>) -> Option<(f64, String)> {
        self.caller = Some(caller.clone());
        if let Some(db) = database {
            self.start_database = Some(db.to_string());
        }
        match &self.price {
            Some(p) if !self.principal_counted => Some((p.usd, p.day.clone())),
            _ => None,
        }
    }

    /// Under [`Expect::PricedUncounted`].
    pub fn count_for_person(&mut self) {
        self.principal_counted = true;
    }

    /// In the in-flight index: it has a state and is not priced.
    pub fn is_unsettled(&self) -> bool {
        self.stage() == Stage::Unsettled
    }
}

#[cfg(test)]
mod tests;
