//! Who ran an Athena query: the CloudTrail record of its `StartQueryExecution`, as EventBridge
//! delivers it ("AWS API Call via CloudTrail"), read into a [`Caller`].
//!
//! Athena's own query record names no person. CloudTrail's does: `userIdentity` (who called, and
//! for a role session how it was obtained), the source IP, the user agent, and the new query's
//! id in `responseElements`. The person is read from the strongest part of `userIdentity` that
//! names one, never from an assumed role's session name, which whoever assumes the role chooses
//! ([`person_of`]; `docs/decisions/person-identity.md`). EventBridge delivers CloudTrail
//! management events only where a trail records them; without one, queries stay unattributed
//! and alerts say so ([`NO_TRAIL`]).
//!
//! The query's text (`requestParameters.queryString`) is not read here: CloudTrail may record
//! `***OMITTED***` in its place, and the tables a query read come from Athena's own record of
//! it (`tables_read`, which reads the placeholder as no tables).

mod client;
mod identity;

use serde_json::Value;

use crate::error::LakeopsError;

pub use client::{client_of, ClientSignals};
pub use identity::{person_of, principal_arn_of, Person};
pub use lakeops_core::caller::PersonSource;

/// What alerts and the digest say for a query no CloudTrail event named.
pub const NO_TRAIL: &str = "unknown (no CloudTrail trail)";
/// The person, client, ... of an unattributed query in message attributes and groupings.
pub const UNKNOWN: &str = "unknown";

pub use lakeops_core::caller::Caller;

/// A successful `StartQueryExecution`, from its CloudTrail record.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryStart {
    pub query_id: String,
    pub workgroup: Option<String>,
    /// `queryExecutionContext.database`: the database one-part table names are in.
    pub database: Option<String>,
    pub caller: Caller,
}

/// The detail-type EventBridge gives CloudTrail management events.
pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// Whether an EventBridge event is a CloudTrail record (of any call).
pub fn is_cloudtrail_event(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some(CLOUDTRAIL_DETAIL_TYPE)
}

impl QueryStart {
    /// Reads an "AWS API Call via CloudTrail" event for `athena:StartQueryExecution`.
    /// `Ok(None)` for a call that started no query (`errorCode` set, no `queryExecutionId`):
    /// there is nothing to attribute. A malformed event is an error naming what is wrong.
    pub fn from_event(event: &Value) -> Result<Option<Self>, LakeopsError> {
        let bad = |what: &str| LakeopsError::InvalidInput(format!("CloudTrail event: {what}"));
        if !is_cloudtrail_event(event) {
            return Err(bad("detail-type is not \"AWS API Call via CloudTrail\""));
        }
        let detail = &event["detail"];
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        if detail["eventSource"].as_str() != Some("athena.amazonaws.com")
            || detail["eventName"].as_str() != Some("StartQueryExecution")
        {
            return Err(bad("not athena.amazonaws.com StartQueryExecution"));
        }
        if detail.get("errorCode").is_some_and(|c| !c.is_null()) {
            return Ok(None);
        }
        let Some(query_id) = text(&detail["responseElements"]["queryExecutionId"]) else {
            return Ok(None);
        };
        let identity = &detail["userIdentity"];
        if !identity.is_object() {
            return Err(bad("no detail.userIdentity"));
        }
        let request = &detail["requestParameters"];
        let person = person_of(identity);
        Ok(Some(Self {
            query_id,
            workgroup: text(&request["workGroup"]),
            database: text(&request["queryExecutionContext"]["database"]),
            caller: Caller {
                principal_arn: principal_arn_of(identity),
                person: person.name,
                person_source: person.source,
                session_name: person.chosen_session,
                account: text(&identity["accountId"])
                    .or_else(|| text(&detail["recipientAccountId"]))
                    .or_else(|| text(&event["account"]))
                    .unwrap_or_default(),
                client: client_of(&ClientSignals::of_record(detail)).to_string(),
                source_ip: text(&detail["sourceIPAddress"]).unwrap_or_default(),
            },
        }))
    }
}

/// "Run by" as alerts show it: the person first (what budgets and routing key on), then where
/// the person came from — "jane (Identity Center, arn:…)", "Analysts (role arn:…; session 'bob'
/// chosen by the caller)" — or [`NO_TRAIL`].
pub fn run_by_text(caller: Option<&Caller>) -> String {
    let Some(c) = caller else {
        return NO_TRAIL.to_string();
    };
    let principal =
        Some(c.principal_arn.as_str()).filter(|p| !p.is_empty() && *p != UNKNOWN && *p != c.person);
    let with = |what: &str| match principal {
        Some(p) => format!("{what}, {p}"),
        None => what.to_string(),
    };
    let through = |what: &str| match principal {
        Some(p) => format!("{what}, through {p}"),
        None => what.to_string(),
    };
    let chosen = |what: &str| format!("{what} '{}' chosen by the caller", c.session_name);
    let how = match c.person_source {
        PersonSource::OnBehalfOf => through("Identity Center user"),
        PersonSource::SourceIdentity => through("source identity"),
        PersonSource::IdentityCenter => with("Identity Center"),
        PersonSource::IamUser => with("IAM user"),
        PersonSource::Root if !c.account.is_empty() => format!("root user of {}", c.account),
        PersonSource::Root => "root user".to_string(),
        PersonSource::Service => "AWS service".to_string(),
        PersonSource::Saml => with("SAML user"),
        PersonSource::WebIdentity => through("web identity"),
        PersonSource::Federated if !c.session_name.is_empty() => {
            format!(
                "{}; issued by {}",
                chosen("federated user"),
                c.principal_arn
            )
        }
        PersonSource::Federated => with("federated user"),
        PersonSource::CrossAccount => with("another AWS account"),
        PersonSource::CallerChosen if !c.session_name.is_empty() => {
            format!("role {}; {}", c.principal_arn, chosen("session"))
        }
        PersonSource::CallerChosen => format!("role {}", c.principal_arn),
        PersonSource::Other | PersonSource::Unrecorded => principal.unwrap_or_default().into(),
    };
    if how.is_empty() {
        c.person.clone()
    } else {
        format!("{} ({how})", c.person)
    }
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
