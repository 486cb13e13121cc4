//! The writes of the DynamoDB index: each one transition of [`lakeops_core::record`], made with
//! the condition its [`Expect`] names ([`super::condition`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use lakeops_core::record::Expect;

use super::item::*;
use super::{
    condition, day_total_key, person_day_total_key, Checkpoint, Pricing, QueryIndex, StateChange,
    CONFLICT_ATTEMPTS, DAY_TOTAL_KEEP, KEEP, KEY, OBSERVED_TERMINAL, ROTATION_KEY,
    STORED_SQL_CHARS,
};
use crate::attribution::Caller;
use crate::error::LakeopsError;
use crate::tables_read::TablesRead;
use lakeops_core::query::QueryExecution;

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

impl QueryIndex {
    /// Applies one event; `Ok(false)` when the index already holds a newer (or the same) state.
    pub(super) async fn write_state_change(&self, e: &StateChange) -> Result<bool, LakeopsError> {
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
            .condition_expression(condition(&Expect::EarlierThan(e.sequence)))
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
    /// and the pricing tried again with it), and [`QueryIndex::write_start`] counts it later.
    pub(super) async fn write_price(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<bool, LakeopsError> {
        let mut caller = caller.cloned();
        for _ in 0..3 {
            match self.price(p, now, caller.as_ref()).await? {
                Priced::Now => return Ok(true),
                Priced::Before => return Ok(false),
                Priced::CallerArrived(c) => caller = Some(c),
            }
        }
        Err(LakeopsError::aws(
            "dynamodb:TransactWriteItems",
            std::io::Error::other(format!("query {}: its caller kept changing", p.query.id)),
        ))
    }

    async fn price(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<Priced, LakeopsError> {
        let mut items = vec![self.priced_item(p, now, caller)?, self.day_total(p, now)?];
        if let Some(c) = caller {
            items.push(self.person_total(&c.person, p.day, p.usd, now)?);
        }
        let q = p.query;
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

    /// The query's item, priced: every attribute the digest and the sweeps read, `in_flight`
    /// removed; only if it was not priced before (and, without a caller, none arrived since).
    fn priced_item(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
        caller: Option<&Caller>,
    ) -> Result<aws_sdk_dynamodb::types::Update, LakeopsError> {
        let mut names = HashMap::from([("#in_flight".to_string(), "in_flight".to_string())]);
        if caller.is_none() {
            names.insert("#person".to_string(), "person".to_string());
        }
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (name, value) in priced_fields(p, now, caller) {
            if let Some(v) = value {
                names.insert(format!("#{name}"), name.to_string());
                values.insert(format!(":{name}"), v);
                sets.push(format!("#{name} = :{name}"));
            }
        }
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(KEY, s(&p.query.id))
            .update_expression(format!("SET {} REMOVE #in_flight", sets.join(", ")))
            // Priced once: the first reader's price stands. Without a caller, also: none arrived
            // since it was read (else its person's total would miss this query).
            .condition_expression(condition(if caller.is_some() {
                &Expect::Unpriced
            } else {
                &Expect::UnpricedUnattributed
            }))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))
    }

    /// The workgroup's day total, with the query added.
    fn day_total(
        &self,
        p: Pricing<'_>,
        now: DateTime<Utc>,
    ) -> Result<aws_sdk_dynamodb::types::Update, LakeopsError> {
        let q = p.query;
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key(KEY, s(day_total_key(&q.workgroup, p.day)))
            .update_expression("ADD usd :usd, #bytes :bytes, queries :one SET expires_at = :exp")
            .expression_attribute_names("#bytes", "bytes")
            .expression_attribute_values(":usd", n(p.usd))
            .expression_attribute_values(":bytes", n(q.data_scanned_bytes.unwrap_or(0)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n((now + DAY_TOTAL_KEEP).timestamp()))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))
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
    pub(super) async fn write_start(
        &self,
        query_id: &str,
        c: &Caller,
        database: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, LakeopsError> {
        self.count(0, 1);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(query_id))
            .update_expression(format!(
                "SET {}, expires_at = if_not_exists(expires_at, :exp){}",
                CALLER_FIELDS
                    .iter()
                    .map(|f| format!("#{f} = :{f}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if database.is_some() {
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
            .expression_attribute_values(":person_source", s(c.person_source.as_str()))
            .expression_attribute_values(":session_name", s(&c.session_name))
            .expression_attribute_values(":account", s(&c.account))
            .expression_attribute_values(":source_ip", s(&c.source_ip))
            .expression_attribute_values(":client", s(&c.client))
            .expression_attribute_values(":exp", n((now + KEEP).timestamp()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        if let Some(db) = database {
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
        self.count_for_person(query_id, &c.person, usd, day, now)
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
            .condition_expression(condition(&Expect::PricedUncounted))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(|e| LakeopsError::aws("dynamodb:TransactWriteItems", e))?;
        let total = self.person_total(person, day, usd, now)?;
        Ok(self.transact(&[mark, total]).await? == Committed::Yes)
    }

    /// Records a QUEUED or RUNNING query read from Athena: a new item if the index never heard of
    /// it (its events were dropped), else the time of this read (`checked_at`, so a long-running
    /// query is re-read once per staleness period, not on every run) and its state if it differs.
    pub(super) async fn write_in_flight(
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
            .condition_expression(condition(&Expect::NoState))
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
        let update = |expression: &str, expect: Expect| {
            self.count(0, 1);
            self.client
                .update_item()
                .table_name(&self.table)
                .key(KEY, s(&q.id))
                .update_expression(expression)
                .condition_expression(condition(&expect))
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":st", s(q.state.as_str()))
                .expression_attribute_values(":now", s(now.to_rfc3339()))
                .send()
        };
        let changed = update(
            "SET #state = :st, changed_at = :now, checked_at = :now",
            Expect::UnsettledOtherThan(q.state),
        )
        .await;
        let unchanged = match changed {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => {
                update("SET checked_at = :now", Expect::UnsettledIn(q.state)).await
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

    /// Saves the workgroup the next reconciliation starts from (the first one this run did not
    /// finish), so a run out of time never leaves the same workgroups for last.
    pub(super) async fn write_rotation(
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

    pub(super) async fn write_checkpoint(
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

/// A priced query's attributes, by name (`None`: not set). Every attribute goes by placeholder:
/// several names (state, database, catalog, ...) are DynamoDB reserved words, and unused
/// placeholders are refused.
fn priced_fields(
    p: Pricing<'_>,
    now: DateTime<Utc>,
    caller: Option<&Caller>,
) -> Vec<(&'static str, Option<AttributeValue>)> {
    let q = p.query;
    let completed = q.completed_at.unwrap_or(now);
    let tables: Vec<AttributeValue> = match p.tables {
        TablesRead::Tables(t) => t.iter().map(s).collect(),
        TablesRead::Unparsed => vec![s(TablesRead::UNPARSED)],
    };
    vec![
        ("workgroup", Some(s(&q.workgroup))),
        ("state", Some(s(q.state.as_str()))),
        ("seq", Some(n(OBSERVED_TERMINAL))),
        ("changed_at", Some(s(completed.to_rfc3339()))),
        (
            "statement_type",
            Some(s(statement_type_name(q.statement_type))),
        ),
        ("expires_at", Some(n((now + KEEP).timestamp()))),
        ("usd", Some(n(p.usd))),
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
        ("day", Some(s(p.day))),
        ("tables", Some(AttributeValue::L(tables))),
        (
            "principal_counted",
            caller.map(|_| AttributeValue::Bool(true)),
        ),
    ]
}
