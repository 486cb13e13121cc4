//! How a query record is laid out in a DynamoDB item: attribute names, value encodings, and the
//! reading back of what the writes stored.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::KEY;
use crate::attribution::{Caller, PersonSource};
use crate::tables_read::TablesRead;
use lakeops_core::query::{QueryExecution, QueryState, StatementType};

/// The attributes `record_start` writes, read back by [`caller_of`]. `person_source` and
/// `session_name` came later: an older item without them reads as
/// [`PersonSource::Unrecorded`] and no session name.
pub(super) const CALLER_FIELDS: [&str; 7] = [
    "principal_arn",
    "person",
    "person_source",
    "session_name",
    "account",
    "source_ip",
    "client",
];

/// Who ran a query, if its CloudTrail record arrived.
pub(super) fn caller_of(item: &HashMap<String, AttributeValue>) -> Option<Caller> {
    let get = |name: &str| text(item, name).unwrap_or_default().to_string();
    text(item, "person")?;
    Some(Caller {
        principal_arn: get("principal_arn"),
        person: get("person"),
        person_source: PersonSource::parse(text(item, "person_source").unwrap_or_default()),
        session_name: get("session_name"),
        account: get("account"),
        source_ip: get("source_ip"),
        client: get("client"),
    })
}

/// The tables a priced query read, as stored (`["unparsed"]` for unparsable SQL).
pub(super) fn tables_of(item: &HashMap<String, AttributeValue>) -> TablesRead {
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

pub(super) fn completed_bucket(workgroup: &str, t: DateTime<Utc>) -> String {
    format!("{workgroup}#{}", t.format("%Y-%m-%dT%H"))
}

/// Times that sort as text: fixed width, UTC, milliseconds.
pub(super) fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn number<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A finished query as priced into the index.
pub(super) fn execution_of(item: &HashMap<String, AttributeValue>) -> QueryExecution {
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

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) fn time(item: &HashMap<String, AttributeValue>, name: &str) -> Option<DateTime<Utc>> {
    text(item, name)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub(super) fn is_condition_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &E,
) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

pub(super) fn statement_type_name(t: StatementType) -> &'static str {
    match t {
        StatementType::Dml => "DML",
        StatementType::Ddl => "DDL",
        StatementType::Utility => "UTILITY",
        StatementType::Unknown => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), s(*v))).collect()
    }

    #[test]
    fn a_caller_reads_back_with_its_source_and_an_older_item_without_one() {
        let now = item(&[
            (KEY, "q-1"),
            ("principal_arn", "arn:aws:iam::1:role/Analysts"),
            ("person", "Analysts"),
            ("person_source", "caller-chosen"),
            ("session_name", "bob"),
            ("client", "boto3"),
        ]);
        let c = caller_of(&now).unwrap();
        assert_eq!(c.person_source, PersonSource::CallerChosen);
        assert_eq!(c.session_name, "bob");
        // Written before the source was kept: a sensible default, not a failed read.
        let older = item(&[(KEY, "q-2"), ("person", "jane"), ("client", "console")]);
        let c = caller_of(&older).unwrap();
        assert_eq!(
            (c.person.as_str(), c.person_source, c.session_name.as_str()),
            ("jane", PersonSource::Unrecorded, "")
        );
        assert_eq!(
            caller_of(&item(&[(KEY, "q-3")])),
            None,
            "no record, no caller"
        );
    }
}
