//! The reads of the DynamoDB index: by key (`BatchGetItem`, [`crate::batch_get`]), the sparse
//! in-flight index, finished queries by workgroup and hour, and reconciliation's place.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Timelike, Utc};

use super::item::*;
use super::{
    Checkpoint, Finished, InFlight, QueryIndex, COMPLETED_INDEX, IN_FLIGHT_INDEX, KEY, ROTATION_KEY,
};
use crate::attribution::Caller;
use crate::batch_get::batch_get_items;
use crate::error::LakeopsError;
use lakeops_core::query::QueryState;

impl QueryIndex {
    /// The `usd` of each total item, by the name it is asked under (0 when absent).
    pub(super) async fn read_totals(
        &self,
        keys: Vec<(&String, String)>,
    ) -> Result<HashMap<String, f64>, LakeopsError> {
        let wanted: Vec<String> = keys.iter().map(|(_, key)| key.clone()).collect();
        let items = self.get_items(&wanted, "query_id, usd").await?;
        Ok(keys
            .into_iter()
            .map(|(name, key)| {
                let usd = items
                    .get(&key)
                    .and_then(|i| number(i, "usd"))
                    .unwrap_or(0.0);
                (name.clone(), usd)
            })
            .collect())
    }

    /// Who ran each of `ids`, for those whose CloudTrail record arrived.
    pub(super) async fn read_callers(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Caller>, LakeopsError> {
        let projection = format!("{KEY}, {}", CALLER_FIELDS.join(", "));
        let items = self.get_items(ids, &projection).await?;
        Ok(items
            .into_iter()
            .filter_map(|(id, item)| caller_of(&item).map(|c| (id, c)))
            .collect())
    }

    /// The finished queries of `workgroup` that completed in `[from, to)`, handed to `each` one
    /// `Query` page (at most 1 MB read) at a time and kept nowhere, so a day of a million queries
    /// costs a page of memory, not the day: one `Query` of the `completed` index per UTC hour the
    /// span touches, in hour order and, within an hour, in completion order. Empty pages are not
    /// handed over.
    pub(super) async fn read_finished_pages(
        &self,
        workgroup: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(Vec<Finished>) + Send,
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

    /// Every unsettled query the index knows (in flight, or ended but not yet priced): the
    /// sparse index, page by page.
    pub(super) async fn read_in_flight(&self) -> Result<Vec<InFlight>, LakeopsError> {
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
    pub(super) async fn read_known(
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

    pub(super) fn checkpoint_key(workgroup: &str) -> String {
        format!("checkpoint#{workgroup}")
    }

    /// Where reconciliation's round of the workgroups goes on next run (see
    /// [`QueryIndex::save_rotation`]); `None` to start from the first.
    pub(super) async fn read_rotation(&self) -> Result<Option<String>, LakeopsError> {
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

    pub(super) async fn read_checkpoint(
        &self,
        workgroup: &str,
    ) -> Result<Checkpoint, LakeopsError> {
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
}
