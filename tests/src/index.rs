//! The query index's side of the harness: its DynamoDB table (as the SAM template defines it),
//! its event queue, and Athena's state-change events — which moto does not emit, so this module
//! plays EventBridge: it writes the events a query's life produces and delivers them to the
//! queue, dropping, repeating and reordering as asked (EventBridge delivery is best effort, at
//! least once, unordered).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::queue::{MappedQueue, QueueSpec, MAPPING_FUNCTION_RESPONSE_TYPES};
use crate::template::{GsiSpec, TableSpec};
use crate::{Functions, ACCOUNT, REGION};

// The index table, as the template makes it (scripts/check_harness.py compares each constant
// naming a template value with it).

/// Template: `QueryIndexTable.Properties.TableName`.
pub const INDEX_TABLE: &str = "lakeops-query-index";
/// Template: `QueryIndexTable.Properties.BillingMode`.
pub const INDEX_TABLE_BILLING_MODE: &str = "PAY_PER_REQUEST";
/// Template: `QueryIndexTable.Properties.AttributeDefinitions`.
pub const INDEX_TABLE_ATTRIBUTES: &[(&str, &str)] = &[
    ("query_id", "S"),
    ("in_flight", "S"),
    ("completed_bucket", "S"),
    ("completed_at", "S"),
];
/// Template: `QueryIndexTable.Properties.KeySchema`.
pub const INDEX_TABLE_KEY_SCHEMA: &[(&str, &str)] = &[("query_id", "HASH")];
/// The sparse index of unsettled queries, by the name the functions use. Template:
/// `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=in-flight].IndexName`.
pub const IN_FLIGHT_INDEX: &str = lakeops::query_index::IN_FLIGHT_INDEX;
/// Template: `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=in-flight].KeySchema`.
pub const IN_FLIGHT_INDEX_KEY_SCHEMA: &[(&str, &str)] = &[("in_flight", "HASH")];
/// Template:
/// `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=in-flight].Projection.ProjectionType`.
pub const IN_FLIGHT_INDEX_PROJECTION: &str = "INCLUDE";
/// Template:
/// `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=in-flight].Projection.NonKeyAttributes`.
pub const IN_FLIGHT_INDEX_NON_KEY_ATTRIBUTES: &[&str] = &["state", "changed_at", "checked_at"];
/// Finished queries by workgroup and hour, by the name the functions use. Template:
/// `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=completed].IndexName`.
pub const COMPLETED_INDEX: &str = lakeops::query_index::COMPLETED_INDEX;
/// Template: `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=completed].KeySchema`.
pub const COMPLETED_INDEX_KEY_SCHEMA: &[(&str, &str)] =
    &[("completed_bucket", "HASH"), ("completed_at", "RANGE")];
/// Template:
/// `QueryIndexTable.Properties.GlobalSecondaryIndexes[IndexName=completed].Projection.ProjectionType`.
pub const COMPLETED_INDEX_PROJECTION: &str = "ALL";

/// The index table: partition key `query_id`; the sparse global secondary indexes `in-flight`
/// (on `in_flight`, projecting only what the killer and reconciliation read) and `completed`
/// (on `completed_bucket`, `completed_at`); pay per request.
pub const INDEX_TABLE_SPEC: TableSpec = TableSpec {
    name: INDEX_TABLE,
    billing_mode: INDEX_TABLE_BILLING_MODE,
    attributes: INDEX_TABLE_ATTRIBUTES,
    key_schema: INDEX_TABLE_KEY_SCHEMA,
    global_secondary_indexes: &[
        GsiSpec {
            name: IN_FLIGHT_INDEX,
            key_schema: IN_FLIGHT_INDEX_KEY_SCHEMA,
            projection: IN_FLIGHT_INDEX_PROJECTION,
            non_key_attributes: IN_FLIGHT_INDEX_NON_KEY_ATTRIBUTES,
        },
        GsiSpec {
            name: COMPLETED_INDEX,
            key_schema: COMPLETED_INDEX_KEY_SCHEMA,
            projection: COMPLETED_INDEX_PROJECTION,
            non_key_attributes: &[],
        },
    ],
};

// The index's event queue and its event source mapping, as the template makes them.

/// Template: `QueryEventsQueue.Properties.QueueName`,
/// `QueryCostFeedFunction.Properties.Events.StateChanges.Properties.Queue`.
pub const EVENT_QUEUE: &str = "lakeops-query-events";
/// Template: `QueryEventsQueue.Properties.RedrivePolicy.deadLetterTargetArn` (its queue's name).
pub const EVENT_DEAD_LETTER_QUEUE: &str = "lakeops-query-events-dlq";
/// Template: `QueryEventsQueue.Properties.VisibilityTimeout`.
pub const EVENT_QUEUE_VISIBILITY_TIMEOUT_SECONDS: i32 = 360;
/// Receives of a message before it goes to the DLQ. Template:
/// `QueryEventsQueue.Properties.RedrivePolicy.maxReceiveCount`.
pub const EVENT_QUEUE_MAX_RECEIVE_COUNT: u32 = 5;
/// Template: `QueryCostFeedFunction.Properties.Events.StateChanges.Properties.BatchSize`.
pub const EVENT_QUEUE_BATCH_SIZE: usize = 100;
/// The function the event queue's mapping invokes: the index's feed.
/// Template: `QueryCostFeedFunction.Metadata.BuildProperties.Binary`.
pub const FEED_FUNCTION: &str = "query-cost-feed";

pub const EVENT_QUEUE_SPEC: QueueSpec = QueueSpec {
    name: EVENT_QUEUE,
    dead_letter_queue: EVENT_DEAD_LETTER_QUEUE,
    visibility_timeout_seconds: EVENT_QUEUE_VISIBILITY_TIMEOUT_SECONDS,
    max_receive_count: EVENT_QUEUE_MAX_RECEIVE_COUNT,
    batch_size: EVENT_QUEUE_BATCH_SIZE,
    function_response_types: MAPPING_FUNCTION_RESPONSE_TYPES,
};

/// The index table as the template defines it ([`INDEX_TABLE_SPEC`]).
pub async fn create_index_table(config: &aws_config::SdkConfig) {
    crate::template::create_table(config, &INDEX_TABLE_SPEC).await;
}

/// An "Athena Query State Change" event as EventBridge delivers it to an SQS target (the
/// documented shape: Athena User Guide, "Monitoring Athena queries with EventBridge events").
pub fn state_change(
    id: &str,
    workgroup: &str,
    previous: Option<&str>,
    state: &str,
    sequence: u32,
    at: DateTime<Utc>,
) -> Value {
    let mut detail = json!({
        "versionId": "0",
        "currentState": state,
        "statementType": "DML",
        "queryExecutionId": id,
        "workgroupName": workgroup,
        "sequenceNumber": sequence.to_string(),
    });
    if let Some(p) = previous {
        detail["previousState"] = json!(p);
    }
    json!({
        "version": "0",
        "id": format!("{id}-{sequence}"),
        "detail-type": "Athena Query State Change",
        "source": "aws.athena",
        "account": ACCOUNT,
        "time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [],
        "detail": detail,
    })
}

/// The events of one query's life: QUEUED at submission, RUNNING, then its end if it ended.
pub fn life(
    id: &str,
    workgroup: &str,
    submitted: DateTime<Utc>,
    ended: Option<(&str, DateTime<Utc>)>,
) -> Vec<Value> {
    let mut events = vec![
        state_change(id, workgroup, None, "QUEUED", 1, submitted),
        state_change(id, workgroup, Some("QUEUED"), "RUNNING", 2, submitted),
    ];
    if let Some((state, at)) = ended {
        events.push(state_change(id, workgroup, Some("RUNNING"), state, 3, at));
    }
    events
}

/// A deterministic pseudo-random number in [0, 1) from a text (FNV-1a, then the SplitMix64
/// finalizer so that texts differing only in their last character — the events of one query —
/// get independent numbers): which events a run drops is the same on every machine.
pub fn share_of(text: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// EventBridge → the index's queue → the cost watcher.
pub struct EventFeed {
    pub queue: MappedQueue,
}

/// How EventBridge misbehaves in a delivery.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery {
    /// Share of events never delivered (0.1 = 10%), chosen by [`share_of`] of the event id.
    pub drop: f64,
    /// Share of events delivered twice.
    pub repeat: f64,
    /// Deliver in reverse order (the latest state first).
    pub reverse: bool,
}

/// What a delivery sent and left out.
#[derive(Debug, Default)]
pub struct Delivered {
    pub sent: usize,
    pub dropped: Vec<Value>,
}

impl EventFeed {
    /// The queue with its DLQ, as the template makes them ([`EVENT_QUEUE_SPEC`]).
    pub async fn create(config: &aws_config::SdkConfig) -> Self {
        Self {
            queue: MappedQueue::create(config, &EVENT_QUEUE_SPEC).await,
        }
    }

    /// Delivers `events` to the queue, misbehaving as `how` says.
    pub async fn deliver(&self, events: &[Value], how: Delivery) -> Delivered {
        let mut out = Delivered::default();
        let mut bodies = Vec::new();
        for e in events {
            let id = e["id"].as_str().unwrap_or_default();
            if share_of(&format!("drop:{id}")) < how.drop {
                out.dropped.push(e.clone());
                continue;
            }
            bodies.push(e.to_string());
            if share_of(&format!("repeat:{id}")) < how.repeat {
                bodies.push(e.to_string());
            }
        }
        if how.reverse {
            bodies.reverse();
        }
        out.sent = bodies.len();
        self.queue.send(&bodies).await;
        out
    }

    /// Runs the event source mapping until no message is visible; returns the invocations.
    pub async fn drain(&self, functions: &Functions) -> usize {
        self.queue.run_mapping(functions, FEED_FUNCTION).await
    }

    /// Runs the mapping until the queue is empty, waiting up to `patience` for handed-back
    /// messages to become visible again; returns the invocations.
    pub async fn drain_all(&self, functions: &Functions, patience: std::time::Duration) -> usize {
        let give_up = std::time::Instant::now() + patience;
        let mut invocations = 0;
        loop {
            invocations += self.drain(functions).await;
            if self.queue.depth().await == 0 {
                return invocations;
            }
            assert!(
                std::time::Instant::now() < give_up,
                "the event queue did not empty in {patience:?}"
            );
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

/// A CloudTrail `userIdentity`: an IAM Identity Center (SSO) user's assumed-role session (the
/// session name is the user's name), an assumed role of a service (Lambda: the function's name),
/// or an IAM user. Shapes: CloudTrail User Guide, "CloudTrail userIdentity element".
pub enum Identity<'a> {
    Sso {
        permission_set: &'a str,
        user: &'a str,
    },
    Role {
        role: &'a str,
        session: &'a str,
    },
    IamUser(&'a str),
}

impl Identity<'_> {
    pub fn json(&self) -> Value {
        match self {
            Identity::Sso {
                permission_set,
                user,
            } => {
                let role = format!("AWSReservedSSO_{permission_set}_0a1b2c3d4e5f6789");
                json!({
                    "type": "AssumedRole",
                    "principalId": format!("AROAEXAMPLESSO:{user}"),
                    "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{user}"),
                    "accountId": ACCOUNT,
                    "sessionContext": {"sessionIssuer": {
                        "type": "Role",
                        "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{role}"),
                        "accountId": ACCOUNT,
                        "userName": role
                    }}
                })
            }
            Identity::Role { role, session } => json!({
                "type": "AssumedRole",
                "principalId": format!("AROAEXAMPLEROLE:{session}"),
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
                "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {
                    "type": "Role",
                    "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                    "accountId": ACCOUNT,
                    "userName": role
                }}
            }),
            Identity::IamUser(name) => json!({
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLEUSER",
                "arn": format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
                "accountId": ACCOUNT,
                "userName": name
            }),
        }
    }
}

/// The "AWS API Call via CloudTrail" event of a query's `StartQueryExecution`, as EventBridge
/// delivers it (the record's shape: Athena User Guide, "Logging Amazon Athena API calls with
/// AWS CloudTrail").
pub fn cloudtrail_start(
    id: &str,
    workgroup: &str,
    who: &Identity,
    user_agent: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "version": "0",
        "id": format!("{id}-start"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.athena",
        "account": ACCOUNT,
        "time": at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": who.json(),
            "eventTime": at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "eventSource": "athena.amazonaws.com",
            "eventName": "StartQueryExecution",
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.7",
            "userAgent": user_agent,
            "requestParameters": {
                "queryString": "***",
                "queryExecutionContext": {"database": "sales"},
                "workGroup": workgroup
            },
            "responseElements": {"queryExecutionId": id},
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT
        }
    })
}

/// The events Athena would have sent for queries seeded in the emulator (the `query` JSON of
/// [`crate::lake::query`]): QUEUED at submission, RUNNING unless still queued, the end if any.
pub fn events_of_seeded(queries: &[Value]) -> Vec<Value> {
    let time = |v: &Value| {
        v.as_f64()
            .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64))
    };
    let mut events = Vec::new();
    for q in queries {
        let id = q["QueryExecutionId"].as_str().unwrap_or_default();
        let wg = q["WorkGroup"].as_str().unwrap_or("primary");
        let state = q["State"].as_str().unwrap_or("SUCCEEDED");
        let submitted = time(&q["SubmissionDateTime"]).unwrap_or_else(Utc::now);
        let ended = time(&q["CompletionDateTime"]).unwrap_or(submitted);
        match state {
            "QUEUED" => events.push(state_change(id, wg, None, "QUEUED", 1, submitted)),
            "RUNNING" => events.extend(life(id, wg, submitted, None)),
            end => events.extend(life(id, wg, submitted, Some((end, ended)))),
        }
    }
    events
}

impl EventFeed {
    /// Delivers the events of `queries` (all of them, once, in order) and runs the feed.
    pub async fn announce(&self, functions: &Functions, queries: &[Value]) {
        self.deliver(&events_of_seeded(queries), Delivery::default())
            .await;
        self.drain(functions).await;
    }
}
