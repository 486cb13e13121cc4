//! The query index: one DynamoDB item per Athena query, kept from the "Athena Query State Change"
//! events (and, for what the events missed, from reading Athena itself), so nothing has to page
//! `ListQueryExecutions` to find out what is running.
//!
//! An item holds the workgroup, the state, the time of the last state change, the submission time
//! and statement type, the `sequenceNumber` of the event that set the state and, once the query
//! ended and was priced, its price and bytes. Ordering: a state is written only if its sequence
//! number is above the stored one, so a repeated or late event never overwrites a newer state; a
//! terminal state read from Athena carries [`OBSERVED_TERMINAL`], above any event's number (a
//! finished query never changes again). Until a query is settled — while it is QUEUED or
//! RUNNING, and after it ended until it is priced — its item also carries `in_flight` (the
//! workgroup): the key of the sparse index [`IN_FLIGHT_INDEX`], which holds only unsettled
//! queries, so finding them costs what is unsettled, never a scan of the table. A query whose
//! end was recorded but whose pricing or alert failed (SNS down on every delivery of its event,
//! its message gone to the DLQ) therefore stays there until reconciliation settles it.
//!
//! Items expire through DynamoDB TTL (`expires_at`, [`KEEP`] after the last write). The same
//! table holds one checkpoint item per workgroup (`checkpoint#<workgroup>`) for the
//! reconciliation that catches the events EventBridge dropped.
//!
//! Attribution: the CloudTrail record of a query's `StartQueryExecution` adds who ran it
//! ([`QueryIndex::record_start`]: principal, person, account, source IP, client) to the same
//! item, whether it comes before the state-change events (the item is created with just those)
//! or after the query was priced; pricing adds the tables it read and its default database. A
//! query's spend is added to its person's running total of the day (`pday#<person>#<date>`)
//! exactly once, by whichever of the two comes second (`principal_counted` marks it).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::Value;

use crate::athena::{QueryExecution, QueryState, StatementType};
use crate::attribution::{Caller, QueryStart};
use crate::batch_get::batch_get_items;
use crate::error::LakeopsError;
use crate::tables_read::{tables_read, TablesRead};

/// Partition key of the index table.
pub const KEY: &str = "query_id";
/// The sparse global secondary index of in-flight queries (partition key `in_flight`).
pub const IN_FLIGHT_INDEX: &str = "in-flight";
/// Sequence number of a terminal state read from Athena: above any event's.
pub const OBSERVED_TERMINAL: u64 = 1 << 53;
/// How long an item is kept after its last write (the digest reads yesterday; a day's slack).
pub const KEEP: Duration = Duration::days(3);
/// The global secondary index of finished queries by workgroup and UTC hour of completion
/// (partition key `completed_bucket` = `<workgroup>#<YYYY-MM-DDTHH>`, sort key `completed_at`).
pub const COMPLETED_INDEX: &str = "completed";
/// SQL kept per finished query (string literals masked, as in alerts): enough for the digest's
/// excerpts and the retry-storm fingerprints, small enough for one or two write units.
const STORED_SQL_CHARS: usize = 1000;
/// The item holding where reconciliation's round of the workgroups goes on (`#` cannot start a
/// workgroup name: Athena allows letters, digits, `.`, `-` and `_`).
const ROTATION_KEY: &str = "#reconcile-rotation";
/// Attempts of a transaction DynamoDB cancels for `TransactionConflict`.
const CONFLICT_ATTEMPTS: u32 = 8;
/// Day totals outlive the spike baseline's longest look-back (14 days).
const DAY_TOTAL_KEEP: Duration = Duration::days(16);

/// The item holding `workgroup`'s running totals of a local day (`YYYY-MM-DD`).
pub fn day_total_key(workgroup: &str, day: &str) -> String {
    format!("day#{workgroup}#{day}")
}

/// The item holding `person`'s running totals of a local day (`YYYY-MM-DD`).
pub fn person_day_total_key(person: &str, day: &str) -> String {
    format!("pday#{person}#{day}")
}

/// The attributes [`QueryIndex::record_start`] writes, read back by [`caller_of`].
const CALLER_FIELDS: [&str; 5] = ["principal_arn", "person", "account", "source_ip", "client"];

/// Who ran a query, if its CloudTrail record arrived.
fn caller_of(item: &HashMap<String, AttributeValue>) -> Option<Caller> {
    let get = |name: &str| text(item, name).unwrap_or_default().to_string();
    text(item, "person")?;
    Some(Caller {
        principal_arn: get("principal_arn"),
        person: get("person"),
        account: get("account"),
        source_ip: get("source_ip"),
        client: get("client"),
    })
}

/// The tables a priced query read, as stored (`["unparsed"]` for unparsable SQL).
fn tables_of(item: &HashMap<String, AttributeValue>) -> TablesRead {
    let list: Vec<String> = item
        .get("tables")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    if list.len() == 1 && list[0] == TablesRead::UNPARSED {
        TablesRead::Unparsed
    } else {
        TablesRead::Tables(list)
    }
}

/// A finished query as the index holds it: priced, with who ran it and what it read.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub query: QueryExecution,
    /// `None`: no CloudTrail record of its start arrived (no trail, or not yet).
    pub caller: Option<Caller>,
    pub tables: TablesRead,
    pub usd: f64,
}

fn completed_bucket(workgroup: &str, t: DateTime<Utc>) -> String {
    format!("{workgroup}#{}", t.format("%Y-%m-%dT%H"))
}

/// Times that sort as text: fixed width, UTC, milliseconds.
fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A finished query as priced into the index.
fn execution_of(item: &HashMap<String, AttributeValue>) -> QueryExecution {
    let get = |name: &str| text(item, name).map(str::to_string);
    QueryExecution {
        id: get(KEY).unwrap_or_default(),
        workgroup: get("workgroup").unwrap_or_default(),
        sql: get("sql").unwrap_or_default(),
        statement_type: StatementType::parse(text(item, "statement_type").unwrap_or_default()),
        state: QueryState::parse(text(item, "state").unwrap_or_default()),
        state_change_reason: get("reason"),
        error_category: number(item, "error_category"),
        error_type: number(item, "error_type"),
        submitted_at: time(item, "submitted_at"),
        completed_at: time(item, "completed_at"),
        data_scanned_bytes: number(item, "bytes"),
        engine_ms: number(item, "engine_ms"),
        queue_ms: number(item, "queue_ms"),
        total_ms: number(item, "total_ms"),
        dpu_count: number(item, "dpu_count"),
        database: get("database"),
        catalog: get("catalog"),
    }
}

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

impl StateChange {
    /// Reads an EventBridge event; every missing or malformed field is named in the error.
    pub fn from_event(event: &Value) -> Result<Self, LakeopsError> {
        let bad = |what: &str| {
            LakeopsError::InvalidInput(format!("Athena Query State Change event: {what}"))
        };
        if event.get("detail-type").and_then(Value::as_str) != Some("Athena Query State Change") {
            return Err(bad("detail-type is not \"Athena Query State Change\""));
        }
        let detail = &event["detail"];
        let text = |field: &str| {
            detail
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let query_id = text("queryExecutionId").ok_or_else(|| bad("no detail.queryExecutionId"))?;
        let state =
            QueryState::parse(text("currentState").ok_or_else(|| bad("no detail.currentState"))?);
        if state == QueryState::Unknown {
            return Err(bad("detail.currentState is not an Athena query state"));
        }
        // Documented as a string ("3"); a number is accepted too.
        let sequence = match detail.get("sequenceNumber") {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .filter(|n| *n < OBSERVED_TERMINAL)
        .ok_or_else(|| bad("detail.sequenceNumber is missing or not a whole number"))?;
        let at = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| bad("time is missing or not an RFC 3339 time"))?;
        Ok(Self {
            query_id: query_id.to_string(),
            workgroup: text("workgroupName").unwrap_or("primary").to_string(),
            state,
            statement_type: text("statementType")
                .map(StatementType::parse)
                .unwrap_or(StatementType::Unknown),
            sequence,
            at,
        })
    }
}

/// What the index knows of one in-flight query.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub query_id: String,
    pub workgroup: String,
    pub state: QueryState,
    /// When it entered `state` (the event's time, or when a read first saw it).
    pub since: DateTime<Utc>,
    /// When reconciliation last re-read it from Athena, if ever.
    pub checked_at: Option<DateTime<Utc>>,
}

/// How a transaction ended (errors aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committed {
    Yes,
    FirstConditionFailed,
}

/// What one pricing attempt found.
enum Priced {
    Now,
    Before,
    CallerArrived(Caller),
}

/// Where a workgroup's reconciliation stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// The newest query id a finished pass started from: the next pass stops when it reaches it.
    pub stop_at: Option<String>,
    /// A pass that ran out of time: where to go on (`ListQueryExecutions` token) ...
    pub resume_token: Option<String>,
    /// ... and the newest id of that pass, the next `stop_at` once it is finished.
    pub resume_newest: Option<String>,
}

/// Calls made, for the run summaries and the scale benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexCalls {
    pub reads: u32,
    pub writes: u32,
}

/// The index in a DynamoDB table.
#[derive(Debug)]
pub struct QueryIndex {
    client: aws_sdk_dynamodb::Client,
    table: String,
    calls: std::sync::Mutex<IndexCalls>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn time(item: &HashMap<String, AttributeValue>, name: &str) -> Option<DateTime<Utc>> {
    text(item, name)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn statement_type_name(t: StatementType) -> &'static str {
    match t {
        StatementType::Dml => "DML",
        StatementType::Ddl => "DDL",
        StatementType::Utility => "UTILITY",
        StatementType::Unknown => "UNKNOWN",
    }
}

impl QueryIndex {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            calls: Default::default(),
        }
    }

    /// Calls made since the last time this was asked (one invocation's calls: the value lives
    /// as long as the Lambda instance).
    pub fn calls(&self) -> IndexCalls {
        std::mem::take(&mut *self.calls.lock().expect("index call counter"))
    }

    fn count(&self, reads: u32, writes: u32) {
        let mut c = self.calls.lock().expect("index call counter");
        c.reads += reads;
        c.writes += writes;
    }

    /// Applies one event; `Ok(false)` when the index already holds a newer (or the same) state.
    pub async fn apply_state_change(&self, e: &StateChange) -> Result<bool, LakeopsError> {
        // A terminal state keeps `in_flight`: the query is not settled until it is priced
        // (which removes it), so a query whose pricing or alert failed on every delivery of its
        // event is still found by reconciliation's stale re-read.
        let expression = "SET workgroup = :wg, #state = :st, seq = :seq, changed_at = :at, statement_type = :ty, expires_at = :exp, in_flight = :wg";
        self.count(0, 1);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(&e.query_id))
            .update_expression(expression)
            .condition_expression("attribute_not_exists(seq) OR seq < :seq")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":wg", s(&e.workgroup))
            .expression_attribute_values(":st", s(e.state.as_str()))
            .expression_attribute_values(":seq", n(e.sequence))
            .expression_attribute_values(":at", s(e.at.to_rfc3339()))
            .expression_attribute_values(":ty", s(statement_type_name(e.statement_type)))
            .expression_attribute_values(":exp", n((e.at + KEEP).timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => Ok(false),
            Err(err) => Err(LakeopsError::aws("dynamodb:UpdateItem", err)),
        }
    }

    /// Records a finished query read from Athena with its price, and adds it to its workgroup's
    /// running total of `day` (the local day it completed in: [`day_total_key`]) in the same
    /// transaction. `Ok(true)` when this call is the first to price it: a query is counted once,
    /// whichever path — the event, reconciliation, a retry — read it, and never half-counted.
    ///
    /// `caller`: who ran it, as read from the item before (`None` if no CloudTrail record had
    /// arrived). With a caller, the same transaction adds the query to its person's total of the
    /// day; without, the transaction requires that no caller arrived meanwhile (else it is read
    /// and the pricing tried again with it), and [`QueryIndex::record_start`] counts it later.
    pub async fn record_finished(
        &self,
        q: &QueryExecution,
        usd: f64,
        day: &str,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<bool, LakeopsError> {
        let mut caller = caller.cloned();
        for _ in 0..3 {
            match self.price(q, usd, day, now, caller.as_ref()).await? {
                Priced::Now => return Ok(true),
                Priced::Before => return Ok(false),
                Priced::CallerArrived(c) => caller = Some(c),
            }
        }
        Err(LakeopsError::aws(
            "dynamodb:TransactWriteItems",
            std::io::Error::other(format!("query {}: its caller kept changing", q.id)),
        ))
    }

    async fn price(
        &self,
        q: &QueryExecution,
        usd: f64,
        day: &str,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<Priced, LakeopsError> {
        use aws_sdk_dynamodb::types::Update;
        let completed = q.completed_at.unwrap_or(now);
        let tables: Vec<AttributeValue> = match tables_read(&q.sql, q.database.as_deref()) {
            TablesRead::Tables(t) => t.into_iter().map(s).collect(),
            TablesRead::Unparsed => vec![s(TablesRead::UNPARSED)],
        };
        // Every attribute by placeholder: several names (state, database, catalog, ...) are
        // DynamoDB reserved words, and unused placeholders are refused.
        let fields: Vec<(&str, Option<AttributeValue>)> = vec![
            ("workgroup", Some(s(&q.workgroup))),
            ("state", Some(s(q.state.as_str()))),
            ("seq", Some(n(OBSERVED_TERMINAL))),
            ("changed_at", Some(s(completed.to_rfc3339()))),
            (
                "statement_type",
                Some(s(statement_type_name(q.statement_type))),
            ),
            ("expires_at", Some(n((now + KEEP).timestamp()))),
            ("usd", Some(n(usd))),
            ("bytes", Some(n(q.data_scanned_bytes.unwrap_or(0)))),
            ("completed_at", Some(s(sortable(completed)))),
            (
                "completed_bucket",
                Some(s(completed_bucket(&q.workgroup, completed))),
            ),
            (
                "sql",
                Some(s(crate::sql::excerpt(&q.sql, STORED_SQL_CHARS))),
            ),
            ("submitted_at", q.submitted_at.map(|t| s(sortable(t)))),
            ("reason", q.state_change_reason.clone().map(s)),
            ("error_category", q.error_category.map(n)),
            ("error_type", q.error_type.map(n)),
            ("dpu_count", q.dpu_count.map(n)),
            ("engine_ms", q.engine_ms.map(n)),
            ("queue_ms", q.queue_ms.map(n)),
            ("total_ms", q.total_ms.map(n)),
            ("database", q.database.clone().map(s)),
            ("catalog", q.catalog.clone().map(s)),
            ("day", Some(s(day))),
            ("tables", Some(AttributeValue::L(tables))),
            (
                "principal_counted",
                caller.map(|_| AttributeValue::Bool(true)),
            ),
        ];
        let mut names = HashMap::from([("#in_flight".to_string(), "in_flight".to_string())]);
        if caller.is_none() {
            names.insert("#person".to_string(), "person".to_string());
        }
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (name, value) in fields {
            if let Some(v) = value {
                names.insert(format!("#{name}"), name.to_string());
                values.insert(format!(":{name}"), v);
                sets.push(format!("#{name} = :{name}"));
            }
        }
        let query_item = Update::builder()
            .table_name(&self.table)
            .key(KEY, s(&q.id))
            .update_expression(format!("SET {} REMOVE #in_flight", sets.join(", ")))
            // Priced once: the first reader's price stands. Without a caller, also: none arrived
            // since it was read (else its person's total would miss this query).
            .condition_expression(if caller.is_some() {
                "attribute_not_exists(#usd)"
            } else {
                "attribute_not_exists(#usd) AND attribute_not_exists(#person)"
            })
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))?;
        let total = Update::builder()
            .table_name(&self.table)
            .key(KEY, s(day_total_key(&q.workgroup, day)))
            .update_expression("ADD usd :usd, #bytes :bytes, queries :one SET expires_at = :exp")
            .expression_attribute_names("#bytes", "bytes")
            .expression_attribute_values(":usd", n(usd))
            .expression_attribute_values(":bytes", n(q.data_scanned_bytes.unwrap_or(0)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n((now + DAY_TOTAL_KEEP).timestamp()))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))?;
        let mut items = vec![query_item, total];
        if let Some(c) = caller {
            items.push(self.person_total(&c.person, day, usd, now)?);
        }
        match self.transact(&items).await? {
            Committed::Yes => Ok(Priced::Now),
            // Priced before (someone else counted it), or its caller arrived meanwhile.
            Committed::FirstConditionFailed => {
                let item = self.consistent_item(&q.id).await?.unwrap_or_default();
                Ok(match caller_of(&item) {
                    Some(c) if !item.contains_key("usd") => Priced::CallerArrived(c),
                    _ => Priced::Before,
                })
            }
        }
    }

    /// One transaction of updates. Concurrent ones on the same item (two pricings of one
    /// workgroup's day: the busiest workgroup's day total is a hot key) conflict
    /// (`TransactionConflict`): tried again up to [`CONFLICT_ATTEMPTS`] times with full jitter
    /// (at most ~4 s in all), so five feeders colliding on one workgroup spread out instead of
    /// failing the message. [`Committed::FirstConditionFailed`] when the first update's
    /// condition failed (the others are day totals, without conditions).
    async fn transact(
        &self,
        items: &[aws_sdk_dynamodb::types::Update],
    ) -> Result<Committed, LakeopsError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::TransactWriteItem;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.count(0, items.len() as u32);
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(
                    items
                        .iter()
                        .map(|u| TransactWriteItem::builder().update(u.clone()).build())
                        .collect(),
                ))
                .send()
                .await;
            let Err(err) = result else {
                return Ok(Committed::Yes);
            };
            let reasons: Vec<String> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None").to_string())
                    .collect(),
                _ => Vec::new(),
            };
            match reasons.first().map(String::as_str) {
                Some("ConditionalCheckFailed") => return Ok(Committed::FirstConditionFailed),
                _ if reasons.iter().any(|r| r == "TransactionConflict")
                    && attempt < CONFLICT_ATTEMPTS =>
                {
                    tokio::time::sleep(crate::backoff::full_jitter(
                        attempt,
                        std::time::Duration::from_millis(20),
                        std::time::Duration::from_millis(1000),
                    ))
                    .await;
                }
                _ => return Err(LakeopsError::aws("dynamodb:TransactWriteItems", err)),
            }
        }
    }

    /// Adds `usd` and one query to `person`'s running total of `day` (a transaction item).
    fn person_total(
        &self,
        person: &str,
        day: &str,
        usd: f64,
        now: DateTime<Utc>,
    ) -> Result<aws_sdk_dynamodb::types::Update, LakeopsError> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(KEY, s(person_day_total_key(person, day)))
            .update_expression("ADD usd :usd, queries :one SET expires_at = :exp")
            .expression_attribute_values(":usd", n(usd))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n((now + DAY_TOTAL_KEEP).timestamp()))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))
    }

    async fn consistent_item(
        &self,
        id: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, LakeopsError> {
        self.count(1, 0);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        Ok(out.item)
    }

    /// Records who started a query (its CloudTrail record): a new item if no state change
    /// arrived yet, else added to it. A repeat writes the same values. If the query was already
    /// priced without a caller, its spend is now added to the person's total of its day, once.
    /// `Ok(true)` when that happened.
    pub async fn record_start(
        &self,
        start: &QueryStart,
        now: DateTime<Utc>,
    ) -> Result<bool, LakeopsError> {
        let c = &start.caller;
        self.count(0, 1);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(&start.query_id))
            .update_expression(format!(
                "SET {}, expires_at = if_not_exists(expires_at, :exp){}",
                CALLER_FIELDS
                    .iter()
                    .map(|f| format!("#{f} = :{f}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if start.database.is_some() {
                    ", start_database = :db"
                } else {
                    ""
                }
            ))
            .set_expression_attribute_names(Some(
                CALLER_FIELDS
                    .iter()
                    .map(|f| (format!("#{f}"), f.to_string()))
                    .collect(),
            ))
            .expression_attribute_values(":principal_arn", s(&c.principal_arn))
            .expression_attribute_values(":person", s(&c.person))
            .expression_attribute_values(":account", s(&c.account))
            .expression_attribute_values(":source_ip", s(&c.source_ip))
            .expression_attribute_values(":client", s(&c.client))
            .expression_attribute_values(":exp", n((now + KEEP).timestamp()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        if let Some(db) = &start.database {
            update = update.expression_attribute_values(":db", s(db));
        }
        let item = update
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:UpdateItem", e))?
            .attributes
            .unwrap_or_default();
        let (Some(usd), Some(day)) = (number::<f64>(&item, "usd"), text(&item, "day")) else {
            return Ok(false);
        };
        if item.contains_key("principal_counted") {
            return Ok(false);
        }
        self.count_for_person(&start.query_id, &c.person, usd, day, now)
            .await
    }

    /// Adds a priced query to its person's day total, once (`principal_counted`).
    async fn count_for_person(
        &self,
        id: &str,
        person: &str,
        usd: f64,
        day: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, LakeopsError> {
        use aws_sdk_dynamodb::types::Update;
        let mark = Update::builder()
            .table_name(&self.table)
            .key(KEY, s(id))
            .update_expression("SET principal_counted = :yes")
            .condition_expression(
                "attribute_exists(usd) AND attribute_not_exists(principal_counted)",
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))?;
        let total = self.person_total(person, day, usd, now)?;
        Ok(self.transact(&[mark, total]).await? == Committed::Yes)
    }

    /// Who ran each of `ids`, for those whose CloudTrail record arrived.
    pub async fn callers(&self, ids: &[String]) -> Result<HashMap<String, Caller>, LakeopsError> {
        let projection = format!("{KEY}, {}", CALLER_FIELDS.join(", "));
        let items = self.get_items(ids, &projection).await?;
        Ok(items
            .into_iter()
            .filter_map(|(id, item)| caller_of(&item).map(|c| (id, c)))
            .collect())
    }

    /// The running totals of `day` per person (usd; absent = nothing priced for them).
    pub async fn person_day_totals(
        &self,
        persons: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, LakeopsError> {
        let keys: Vec<String> = persons
            .iter()
            .map(|p| person_day_total_key(p, day))
            .collect();
        let items = self.get_items(&keys, "query_id, usd").await?;
        Ok(persons
            .iter()
            .map(|p| {
                let usd = items
                    .get(&person_day_total_key(p, day))
                    .and_then(|item| number(item, "usd"))
                    .unwrap_or(0.0);
                (p.clone(), usd)
            })
            .collect())
    }

    /// The finished queries of `workgroup` that completed in `[from, to)`, as priced into the
    /// index, with who ran each query, what it read and its price: all of them at once, for a
    /// span short enough to hold (a sweep's window); a day goes through
    /// [`QueryIndex::for_each_finished_page`].
    pub async fn finished_between(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Finished>, LakeopsError> {
        let mut found = Vec::new();
        self.for_each_finished_page(workgroup, from, to, |page| found.extend(page))
            .await?;
        Ok(found)
    }

    /// The finished queries of `workgroup` that completed in `[from, to)`, handed to `each` one
    /// `Query` page (at most 1 MB read) at a time and kept nowhere, so a day of a million queries
    /// costs a page of memory, not the day: one `Query` of the `completed` index per UTC hour the
    /// span touches, in hour order and, within an hour, in completion order. Empty pages are not
    /// handed over.
    pub async fn for_each_finished_page(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(Vec<Finished>),
    ) -> Result<(), LakeopsError> {
        let mut hour = from
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(from);
        while hour < to {
            let mut start: Option<HashMap<String, AttributeValue>> = None;
            loop {
                self.count(1, 0);
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(COMPLETED_INDEX)
                    .key_condition_expression(
                        "completed_bucket = :bucket AND completed_at BETWEEN :from AND :to",
                    )
                    .expression_attribute_values(":bucket", s(completed_bucket(workgroup, hour)))
                    .expression_attribute_values(":from", s(sortable(from)))
                    .expression_attribute_values(":to", s(sortable(to)))
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| LakeopsError::aws("dynamodb:Query", e))?;
                // `BETWEEN` includes `to`; the span does not.
                let page: Vec<Finished> = out
                    .items()
                    .iter()
                    .map(|item| Finished {
                        query: execution_of(item),
                        caller: caller_of(item),
                        tables: tables_of(item),
                        usd: number(item, "usd").unwrap_or(0.0),
                    })
                    .filter(|f| f.query.completed_at.is_some_and(|t| from <= t && t < to))
                    .collect();
                if !page.is_empty() {
                    each(page);
                }
                match out.last_evaluated_key {
                    Some(key) if !key.is_empty() => start = Some(key),
                    _ => break,
                }
            }
            hour += Duration::hours(1);
        }
        Ok(())
    }

    /// The running totals of `day` per workgroup (usd; absent = nothing priced that day).
    pub async fn day_totals(
        &self,
        workgroups: &[String],
        day: &str,
    ) -> Result<HashMap<String, f64>, LakeopsError> {
        let keys: Vec<String> = workgroups.iter().map(|wg| day_total_key(wg, day)).collect();
        let items = self.get_items(&keys, "query_id, usd").await?;
        Ok(workgroups
            .iter()
            .map(|wg| {
                let usd = items
                    .get(&day_total_key(wg, day))
                    .and_then(|item| item.get("usd"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                (wg.clone(), usd)
            })
            .collect())
    }

    /// Records a QUEUED or RUNNING query read from Athena: a new item if the index never heard of
    /// it (its events were dropped), else the time of this read (`checked_at`, so a long-running
    /// query is re-read once per staleness period, not on every run) and its state if it differs.
    pub async fn record_in_flight(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.count(0, 1);
        let since = q.submitted_at.unwrap_or(now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(&q.id))
            .update_expression(
                "SET workgroup = :wg, #state = :st, seq = :zero, changed_at = :at, statement_type = :ty, expires_at = :exp, in_flight = :wg, checked_at = :now",
            )
            .condition_expression("attribute_not_exists(seq)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":wg", s(&q.workgroup))
            .expression_attribute_values(":st", s(q.state.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":at", s(since.to_rfc3339()))
            .expression_attribute_values(":ty", s(statement_type_name(q.statement_type)))
            .expression_attribute_values(":exp", n((now + KEEP).timestamp()))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(is_condition_failure) => {
                self.mark_checked(q, now).await
            }
            Err(err) => Err(LakeopsError::aws("dynamodb:UpdateItem", err)),
        }
    }

    /// A known in-flight item read again: its state corrected if Athena says otherwise (an event
    /// was dropped, e.g. a RUNNING → QUEUED requeue; the change is dated now, the earliest this
    /// reader can vouch for), and the time of the read. Nothing if it ended meanwhile.
    async fn mark_checked(
        &self,
        q: &QueryExecution,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        let update = |expression: &str, condition: &str| {
            self.count(0, 1);
            self.client
                .update_item()
                .table_name(&self.table)
                .key(KEY, s(&q.id))
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":st", s(q.state.as_str()))
                .expression_attribute_values(":now", s(now.to_rfc3339()))
                .send()
        };
        let changed = update(
            "SET #state = :st, changed_at = :now, checked_at = :now",
            "attribute_exists(in_flight) AND #state <> :st",
        )
        .await;
        let unchanged = match changed {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => {
                update(
                    "SET checked_at = :now",
                    "attribute_exists(in_flight) AND #state = :st",
                )
                .await
            }
            Err(e) => return Err(LakeopsError::aws("dynamodb:UpdateItem", e)),
        };
        match unchanged {
            Ok(_) => Ok(()),
            // It finished meanwhile: nothing to mark.
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(()),
            Err(e) => Err(LakeopsError::aws("dynamodb:UpdateItem", e)),
        }
    }

    /// Every unsettled query the index knows (in flight, or ended but not yet priced): the
    /// sparse index, page by page.
    pub async fn in_flight(&self) -> Result<Vec<InFlight>, LakeopsError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            self.count(1, 0);
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .index_name(IN_FLIGHT_INDEX)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| LakeopsError::aws("dynamodb:Scan", e))?;
            for item in out.items() {
                let (Some(id), Some(wg)) = (text(item, KEY), text(item, "in_flight")) else {
                    continue;
                };
                found.push(InFlight {
                    query_id: id.to_string(),
                    workgroup: wg.to_string(),
                    state: QueryState::parse(text(item, "state").unwrap_or_default()),
                    since: time(item, "changed_at").unwrap_or(DateTime::UNIX_EPOCH),
                    checked_at: time(item, "checked_at"),
                });
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        found.sort_by(|a, b| a.query_id.cmp(&b.query_id));
        Ok(found)
    }

    /// Which of `ids` the index holds a state of, with the time of their last state change (an
    /// item holding only who started it, from CloudTrail, is not known: its state is still to
    /// be read).
    pub async fn known(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Option<DateTime<Utc>>>, LakeopsError> {
        let items = self.get_items(ids, "query_id, changed_at, seq").await?;
        Ok(items
            .into_iter()
            .filter(|(_, item)| item.contains_key("seq"))
            .map(|(id, item)| (id, time(&item, "changed_at")))
            .collect())
    }

    /// The items of `keys` that exist, by key ([`crate::batch_get`]: 100 keys a call,
    /// unprocessed keys asked again).
    async fn get_items(
        &self,
        keys: &[String],
        projection: &str,
    ) -> Result<HashMap<String, HashMap<String, AttributeValue>>, LakeopsError> {
        let unique: Vec<_> = keys
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|id| HashMap::from([(KEY.to_string(), s(id))]))
            .collect();
        let (items, calls) =
            batch_get_items(&self.client, &self.table, unique, Some(projection), false).await?;
        self.count(calls, 0);
        Ok(items
            .into_iter()
            .filter_map(|item| Some((text(&item, KEY)?.to_string(), item)))
            .collect())
    }

    fn checkpoint_key(workgroup: &str) -> String {
        format!("checkpoint#{workgroup}")
    }

    /// Where reconciliation's round of the workgroups goes on next run (see
    /// [`QueryIndex::save_rotation`]); `None` to start from the first.
    pub async fn rotation(&self) -> Result<Option<String>, LakeopsError> {
        self.count(1, 0);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(ROTATION_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        Ok(out
            .item
            .as_ref()
            .and_then(|i| text(i, "next"))
            .map(str::to_string))
    }

    /// Saves the workgroup the next reconciliation starts from (the first one this run did not
    /// finish), so a run out of time never leaves the same workgroups for last.
    pub async fn save_rotation(
        &self,
        next: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.count(0, 1);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, s(ROTATION_KEY))
            .item("saved_at", s(now.to_rfc3339()));
        if let Some(next) = next {
            put = put.item("next", s(next));
        }
        put.send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:PutItem", e))?;
        Ok(())
    }

    pub async fn checkpoint(&self, workgroup: &str) -> Result<Checkpoint, LakeopsError> {
        self.count(1, 0);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(Self::checkpoint_key(workgroup)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        let Some(item) = out.item else {
            return Ok(Checkpoint::default());
        };
        let get = |name: &str| text(&item, name).map(str::to_string);
        Ok(Checkpoint {
            stop_at: get("stop_at"),
            resume_token: get("resume_token"),
            resume_newest: get("resume_newest"),
        })
    }

    pub async fn save_checkpoint(
        &self,
        workgroup: &str,
        checkpoint: &Checkpoint,
        now: DateTime<Utc>,
    ) -> Result<(), LakeopsError> {
        self.count(0, 1);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, s(Self::checkpoint_key(workgroup)))
            .item("saved_at", s(now.to_rfc3339()));
        for (name, value) in [
            ("stop_at", &checkpoint.stop_at),
            ("resume_token", &checkpoint.resume_token),
            ("resume_newest", &checkpoint.resume_newest),
        ] {
            if let Some(v) = value {
                put = put.item(name, s(v));
            }
        }
        put.send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:PutItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An item of the `completed` index as pricing leaves it (only what the reader needs).
    fn completed_item(id: &str, at: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (KEY.to_string(), s(id)),
            ("workgroup".to_string(), s("etl")),
            ("state".to_string(), s("SUCCEEDED")),
            ("completed_at".to_string(), s(at)),
            ("usd".to_string(), n(5)),
        ])
    }

    #[tokio::test]
    async fn finished_queries_are_handed_over_page_by_page_hour_by_hour() {
        use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        fn asks(r: &QueryInput, hour: &str, after: Option<&str>) -> bool {
            let values = r.expression_attribute_values().cloned().unwrap_or_default();
            let start = r
                .exclusive_start_key()
                .and_then(|k| k.get(KEY))
                .and_then(|v| v.as_s().ok());
            values[":bucket"] == s(format!("etl#{hour}")) && start.map(String::as_str) == after
        }
        // 10:00's hour takes two pages; 11:00's one, whose last query completed at the span's
        // (excluded) end.
        let first = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|r| asks(r, "2026-11-22T10", None))
            .then_output(|| {
                QueryOutput::builder()
                    .items(completed_item("a", "2026-11-22T10:45:00.000Z"))
                    .last_evaluated_key(KEY, s("a"))
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|r| asks(r, "2026-11-22T10", Some("a")))
            .then_output(|| {
                QueryOutput::builder()
                    .items(completed_item("b", "2026-11-22T10:50:00.000Z"))
                    .build()
            });
        let third = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|r| asks(r, "2026-11-22T11", None))
            .then_output(|| {
                QueryOutput::builder()
                    .items(completed_item("c", "2026-11-22T11:59:59.999Z"))
                    .items(completed_item("end", "2026-11-22T12:00:00.000Z"))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            &[&first, &second, &third]
        );
        let index = QueryIndex::new(client, "index");
        let (from, to) = (
            "2026-11-22T10:30:00Z".parse().unwrap(),
            "2026-11-22T12:00:00Z".parse().unwrap(),
        );
        let mut pages: Vec<Vec<String>> = Vec::new();
        index
            .for_each_finished_page("etl", from, to, |page| {
                pages.push(page.into_iter().map(|f| f.query.id).collect())
            })
            .await
            .unwrap();
        assert_eq!(pages, [vec!["a"], vec!["b"], vec!["c"]]);
        let all = index.finished_between("etl", from, to).await.unwrap();
        let all: Vec<(&str, f64)> = all.iter().map(|f| (f.query.id.as_str(), f.usd)).collect();
        assert_eq!(all, [("a", 5.0), ("b", 5.0), ("c", 5.0)]);
        assert_eq!(
            (first.num_calls(), second.num_calls(), third.num_calls()),
            (2, 2, 2)
        );
    }

    fn event(state: &str, seq: Value) -> Value {
        // The shape of AWS's documented example (Athena User Guide, "Monitoring Athena queries
        // with EventBridge events").
        json!({
            "version": "0",
            "id": "abcdef00-1234-5678-9abc-def012345678",
            "detail-type": "Athena Query State Change",
            "source": "aws.athena",
            "account": "123456789012",
            "time": "2026-11-24T09:30:10Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "versionId": "0",
                "currentState": state,
                "previousState": "RUNNING",
                "statementType": "DDL",
                "queryExecutionId": "01234567-0123-0123-0123-012345678901",
                "workgroupName": "etl",
                "sequenceNumber": seq
            }
        })
    }

    #[test]
    fn reads_the_documented_event() {
        let e = StateChange::from_event(&event("SUCCEEDED", json!("3"))).unwrap();
        assert_eq!(e.query_id, "01234567-0123-0123-0123-012345678901");
        assert_eq!(e.workgroup, "etl");
        assert_eq!(e.state, QueryState::Succeeded);
        assert_eq!(e.statement_type, StatementType::Ddl);
        assert_eq!(e.sequence, 3);
        assert_eq!(e.at.to_rfc3339(), "2026-11-24T09:30:10+00:00");
        assert_eq!(
            StateChange::from_event(&event("QUEUED", json!(1)))
                .unwrap()
                .sequence,
            1
        );
    }

    #[test]
    fn a_malformed_event_is_an_error_naming_what_is_wrong() {
        let cases = [
            (event("SUCCEEDED", json!("three")), "sequenceNumber"),
            (event("SUCCEEDED", Value::Null), "sequenceNumber"),
            (
                event("SUCCEEDED", json!(OBSERVED_TERMINAL)),
                "sequenceNumber",
            ),
            (event("DONE", json!("1")), "currentState"),
            (json!({"detail-type": "Scheduled Event"}), "detail-type"),
        ];
        for (e, what) in cases {
            let err = StateChange::from_event(&e).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
        let mut no_id = event("RUNNING", json!("2"));
        no_id["detail"]["queryExecutionId"] = json!("");
        assert!(StateChange::from_event(&no_id)
            .unwrap_err()
            .to_string()
            .contains("queryExecutionId"));
        let mut no_time = event("RUNNING", json!("2"));
        no_time["time"] = json!("yesterday");
        assert!(StateChange::from_event(&no_time)
            .unwrap_err()
            .to_string()
            .contains("time"));
    }
}
