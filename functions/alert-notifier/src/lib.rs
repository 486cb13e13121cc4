//! alert-notifier: every message on the alert topic, delivered to Microsoft Teams, Google Chat
//! and Slack channels, routed by purpose.
//!
//! The alert topic feeds an SQS queue (so a chat outage delays alerts instead of losing them);
//! Lambda's event source mapping hands this function batches of up to 10 messages. For each
//! message:
//! 1. **read** it into an alert ([`message`]): a lakeops alert, a CloudWatch alarm, or any other
//!    text on the topic;
//! 2. **route** it ([`routes`]) to one or more named channels, whose webhooks come from one
//!    Secrets Manager secret ([`channels`]);
//! 3. for each channel not yet given this alert id (the ledger), **render** the platform's format
//!    ([`format`]) and **post** it ([`delivery`]: pacing, 429, retries), then record it in the
//!    ledger. "Post, then record": a crash between the two repeats a post, never loses one;
//! 4. **settle** the message: all delivered — done; a channel refused it for good (4xx) — the
//!    message goes to the dead-letter queue with the reason, the others keep their delivery;
//!    anything worth retrying (5xx storm, 429 past the deadline, AWS errors) — reported as a
//!    batch item failure, so SQS redelivers it, and after the queue's receive limit the DLQ keeps
//!    it. Nothing is dropped and nothing already posted is posted twice.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod channels;
pub mod corpus;
pub mod delivery;
pub mod format;
pub mod mentions;
pub mod message;
pub mod routes;
pub mod safe;
pub mod threads;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::Utc;
use lakeops::alert::Alert;
use lakeops::config::ConfigReader;
use lakeops::ledger::{DynamoLedger, Ledger};
use lakeops::{LakeopsError, Metrics, Unit};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use tokio::sync::RwLock;
use tokio::time::Instant;

use crate::channels::{Channel, Channels};
use crate::delivery::{Poster, RetryPolicy, Verdict};
use crate::routes::Routes;

pub const FUNCTION: &str = "alert-notifier";
/// The routes compiled into the function (used when `ROUTES_S3_URI` is not set).
pub const BUNDLED_ROUTES: &str = include_str!("../routes.yaml");
/// How long "delivered alert X to channel C" is remembered: longer than SQS keeps a message
/// (14 days at most) and than any producer's retries.
const DELIVERED_KEEP_DAYS: i64 = 15;
/// Time kept back from the invocation's deadline to settle the batch.
const SETTLE_MARGIN: Duration = Duration::from_secs(3);

/// Settings, from the environment (every problem listed at once).
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `CHANNELS_SECRET_ID`: name or ARN of the Secrets Manager secret holding the channels.
    pub channels_secret_id: String,
    /// `ROUTES_S3_URI` (optional, `s3://bucket/key`): the routing document; unset = the one
    /// compiled in (`routes.yaml`: everything to the channel `alerts`).
    pub routes_s3_uri: Option<(String, String)>,
    /// `LEDGER_TABLE`: the alert ledger (delivered alert ids per channel:
    /// `notified#<channel>#<alert id>`, kept 15 days, longer than SQS keeps a message).
    pub ledger_table: String,
    /// `DEAD_LETTER_QUEUE_URL`: where a message a channel refused for good is kept, with why
    /// (attributes `lakeops_reason` and `lakeops_source_message_id`).
    pub dead_letter_queue_url: String,
    /// `METRICS_NAMESPACE` (default `Lakeops`): CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// `NOTIFIER_CONCURRENCY` (default 2): instances that may post at once (the event source
    /// mapping's maximum concurrency); each paces a channel at this share of its platform's rate
    /// (1 to 1000).
    pub concurrency: u32,
    /// `DELIVERY_MAX_ATTEMPTS` (default 5): tries of one post that fail with 5xx / timeouts
    /// before the message is handed back to SQS (429s do not count: they say when to return);
    /// 1 to 20.
    pub max_attempts: u32,
    /// `WEBHOOK_TIMEOUT_SECONDS` (default 10): one HTTP request's limit (1 to 60).
    pub webhook_timeout: Duration,
    /// `CHANNELS_REFRESH_SECONDS` (default 300): how long the secret is cached before it is read
    /// again (a rotated or added webhook takes effect within this time).
    pub channels_refresh: Duration,
}

impl NotifierConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let routes_s3_uri = r.optional("ROUTES_S3_URI").and_then(|uri| {
            match uri
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
            {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Some((bucket.to_string(), key.to_string()))
                }
                _ => {
                    r.problem("ROUTES_S3_URI", format!("{uri:?} is not s3://bucket/key"));
                    None
                }
            }
        });
        let concurrency: u32 = r.parse_or("NOTIFIER_CONCURRENCY", 2);
        if !(1..=1000).contains(&concurrency) {
            r.problem("NOTIFIER_CONCURRENCY", "must be 1 to 1000");
        }
        let max_attempts: u32 = r.parse_or("DELIVERY_MAX_ATTEMPTS", 5);
        if !(1..=20).contains(&max_attempts) {
            r.problem("DELIVERY_MAX_ATTEMPTS", "must be 1 to 20");
        }
        let timeout: u64 = r.parse_or("WEBHOOK_TIMEOUT_SECONDS", 10);
        if !(1..=60).contains(&timeout) {
            r.problem("WEBHOOK_TIMEOUT_SECONDS", "must be 1 to 60");
        }
        Self {
            channels_secret_id: r.required("CHANNELS_SECRET_ID"),
            routes_s3_uri,
            ledger_table: r.required("LEDGER_TABLE"),
            dead_letter_queue_url: r.required("DEAD_LETTER_QUEUE_URL"),
            metrics_namespace: r.string_or("METRICS_NAMESPACE", "Lakeops"),
            concurrency,
            max_attempts,
            webhook_timeout: Duration::from_secs(timeout),
            channels_refresh: Duration::from_secs(r.parse_or("CHANNELS_REFRESH_SECONDS", 300)),
        }
    }
}

/// The channels and the routes checked against them, with when they were read.
struct Book {
    channels: Arc<Channels>,
    routes: Arc<Routes>,
    read_at: Instant,
}

pub struct Deps {
    pub config: NotifierConfig,
    secrets: aws_sdk_secretsmanager::Client,
    sqs: aws_sdk_sqs::Client,
    ledger: DynamoLedger,
    poster: Poster,
    /// The routing document's text (re-checked when the channels change).
    routes_text: String,
    book: RwLock<Book>,
}

impl Deps {
    /// Reads the settings, the channels secret and the routes; any problem in any of them fails
    /// the start-up with all of them listed.
    pub async fn from_env() -> Result<Self, LakeopsError> {
        let mut r = ConfigReader::from_env();
        let config = NotifierConfig::read(&mut r);
        r.finish()?;
        let sdk = lakeops::aws::sdk_config().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let routes_text = match &config.routes_s3_uri {
            None => BUNDLED_ROUTES.to_string(),
            Some((bucket, key)) => {
                read_s3_text(&aws_sdk_s3::Client::new(&sdk), bucket, key).await?
            }
        };
        let channels = read_channels(&secrets, &config.channels_secret_id).await?;
        let routes = Routes::parse(&routes_text, &channels).map_err(|problems| {
            config_error(
                config
                    .routes_s3_uri
                    .as_ref()
                    .map_or("routes.yaml (compiled in)".to_string(), |(b, k)| {
                        format!("ROUTES_S3_URI s3://{b}/{k}")
                    }),
                problems,
            )
        })?;
        let policy = RetryPolicy {
            max_attempts: config.max_attempts,
            concurrency: config.concurrency,
            ..RetryPolicy::default()
        };
        let poster = Poster::new(policy, config.webhook_timeout)?;
        tracing::info!(
            channels = ?channels.names().collect::<Vec<_>>(),
            "channels and routes read"
        );
        Ok(Self {
            ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), &config.ledger_table),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            secrets,
            poster,
            routes_text,
            book: RwLock::new(Book {
                channels: Arc::new(channels),
                routes: Arc::new(routes),
                read_at: Instant::now(),
            }),
            config,
        })
    }

    /// The channels and routes, the secret read again once the cache is older than
    /// `CHANNELS_REFRESH_SECONDS`. A secret that no longer reads, or no longer fits the routes,
    /// keeps the last good one (logged and counted: `ChannelsRefreshFailed`).
    async fn book(&self, metrics: &mut Metrics) -> (Arc<Channels>, Arc<Routes>) {
        {
            let book = self.book.read().await;
            if book.read_at.elapsed() < self.config.channels_refresh {
                return (book.channels.clone(), book.routes.clone());
            }
        }
        let mut book = self.book.write().await;
        if book.read_at.elapsed() >= self.config.channels_refresh {
            book.read_at = Instant::now();
            let fresh = read_channels(&self.secrets, &self.config.channels_secret_id)
                .await
                .and_then(|c| {
                    Routes::parse(&self.routes_text, &c)
                        .map(|r| (c, r))
                        .map_err(|p| config_error("routes against the new channels".into(), p))
                });
            match fresh {
                Ok((c, r)) => {
                    book.channels = Arc::new(c);
                    book.routes = Arc::new(r);
                }
                Err(e) => {
                    tracing::error!(error = %e, "channels secret not refreshed; keeping the last good one");
                    metrics.record(&[], "ChannelsRefreshFailed", 1.0, Unit::Count);
                }
            }
        }
        (book.channels.clone(), book.routes.clone())
    }
}

fn config_error(what: String, problems: Vec<String>) -> LakeopsError {
    LakeopsError::Config(lakeops::ConfigError {
        problems: problems
            .into_iter()
            .map(|problem| lakeops::config::ConfigProblem {
                variable: what.clone(),
                problem,
            })
            .collect(),
    })
}

async fn read_channels(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<Channels, LakeopsError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| LakeopsError::aws("secretsmanager:GetSecretValue", e))?;
    let text = out.secret_string().ok_or_else(|| {
        config_error(
            format!("CHANNELS_SECRET_ID {secret_id}"),
            vec!["the secret has no text (a binary secret?)".into()],
        )
    })?;
    Channels::parse(text).map_err(|p| config_error(format!("CHANNELS_SECRET_ID {secret_id}"), p))
}

async fn read_s3_text(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<String, LakeopsError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| LakeopsError::aws("s3:GetObject", e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| LakeopsError::aws("s3:GetObject", e))?
        .into_bytes();
    String::from_utf8(bytes.to_vec())
        .map_err(|_| LakeopsError::InvalidInput(format!("s3://{bucket}/{key} is not UTF-8 text")))
}

/// What one batch did (logged; the invocation's answer is the batch response).
#[derive(Debug, Default, Serialize)]
pub struct BatchSummary {
    pub messages: usize,
    /// `alert id → channel` posts made now.
    pub delivered: Vec<String>,
    /// Posts skipped because the ledger says they were made before.
    pub already_delivered: usize,
    /// Alert ids no route sent anywhere (`default: []`).
    pub unrouted: Vec<String>,
    /// Messages sent to the dead-letter queue, with why.
    pub dead_lettered: Vec<String>,
    /// Messages handed back to SQS, with why.
    pub retrying: Vec<String>,
}

/// How one message ended.
enum Settled {
    Done,
    /// Give it back to SQS: it is redelivered after the visibility timeout.
    Retry(String),
}

/// The Lambda handler: one SQS batch.
pub async fn handle(
    event: LambdaEvent<SqsEvent>,
    deps: &Deps,
) -> Result<SqsBatchResponse, LakeopsError> {
    let deadline = deadline_of(&event.context);
    let mut metrics = Metrics::new(&deps.config.metrics_namespace);
    let (channels, routes) = deps.book(&mut metrics).await;
    let mut summary = BatchSummary {
        messages: event.payload.records.len(),
        ..BatchSummary::default()
    };
    let mut response = SqsBatchResponse::default();
    for record in &event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let settled = deliver(
            deps,
            record,
            &channels,
            &routes,
            deadline,
            &mut metrics,
            &mut summary,
        )
        .await;
        if let Settled::Retry(reason) = settled {
            tracing::warn!(sqs_message_id = %id, %reason, "message handed back to SQS");
            metrics.record(&[], "MessagesRetried", 1.0, Unit::Count);
            summary.retrying.push(format!("{id}: {reason}"));
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "batch done");
    metrics.flush();
    Ok(response)
}

/// The invocation's deadline less the settling margin.
fn deadline_of(context: &lambda_runtime::Context) -> Instant {
    let remaining = lakeops::deadline::remaining(context.deadline, Utc::now().timestamp_millis())
        .unwrap_or(Duration::from_secs(30));
    Instant::now() + remaining.saturating_sub(SETTLE_MARGIN)
}

/// The delivered-ledger key of one publish of an alert to one channel. It holds SNS's
/// `MessageId`, which the publisher cannot choose: a message forged with a real alert's id (alert
/// ids are predictable: a budget alert's is its workgroup and day) claims only its own key and
/// cannot silence the real alert. SNS's redeliveries of one publish share the `MessageId`, so
/// they are still posted once; two publishes of one alert (a publisher that crashed between
/// publishing and recording it) post twice — better than a forgeable "once"
/// (docs/security.md).
pub fn delivered_key(channel: &str, alert_id: &str, message_id: &str) -> String {
    format!("notified#{channel}#{alert_id}#{message_id}")
}

/// Read, route, post to each channel not yet given this alert, settle.
async fn deliver(
    deps: &Deps,
    record: &SqsMessage,
    channels: &Channels,
    routes: &Routes,
    deadline: Instant,
    metrics: &mut Metrics,
    summary: &mut BatchSummary,
) -> Settled {
    let sqs_id = record.message_id.as_deref().unwrap_or_default();
    let notice = message::read(
        record.body.as_deref().unwrap_or_default(),
        sqs_id,
        Utc::now(),
    );
    let alert = &notice.alert;
    let targets = routes.channels_for(alert);
    if targets.is_empty() {
        tracing::warn!(alert_id = %alert.id, kind = %alert.kind, "no route and an empty default: not delivered to any channel");
        metrics.record(&[("Kind", &alert.kind)], "AlertsUnrouted", 1.0, Unit::Count);
        summary.unrouted.push(alert.id.clone());
        return Settled::Done;
    }
    let mut retry = Vec::new();
    let mut rejected = Vec::new();
    for name in &targets {
        let Some(channel) = channels.get(name) else {
            // Routes are checked against the channels they were read with: unreachable, but a
            // message is never dropped for it.
            retry.push(format!("channel {name} is not in the secret"));
            continue;
        };
        let key = delivered_key(name, &alert.id, &notice.message_id);
        let to = ToChannel {
            channel,
            key: &key,
            deadline,
            mention: routes.people.to_mention(alert),
        };
        match deliver_to(deps, alert, to, channels, metrics, summary).await {
            Ok(()) => {}
            Err(Undelivered::Retry(reason)) => retry.push(reason),
            Err(Undelivered::Rejected(reason)) => rejected.push(reason),
        }
    }
    if !retry.is_empty() {
        // Redelivery repeats only what is missing (the ledger), including the rejected ones'
        // channels — they get their DLQ copy when nothing else is left to retry.
        return Settled::Retry(retry.join("; "));
    }
    if rejected.is_empty() {
        return Settled::Done;
    }
    let reason = rejected.join("; ");
    match dead_letter(deps, record, &reason).await {
        Ok(()) => {
            summary
                .dead_lettered
                .push(format!("{}: {reason}", alert.id));
            metrics.record(&[], "MessagesDeadLettered", 1.0, Unit::Count);
            Settled::Done
        }
        Err(e) => Settled::Retry(format!(
            "{reason}; and the dead-letter queue refused it: {e}"
        )),
    }
}

/// One channel of an alert's delivery: where, under which ledger key, by when.
struct ToChannel<'a> {
    channel: &'a Channel,
    key: &'a str,
    deadline: Instant,
    /// The person the alert is about, to mention ([`mentions`]).
    mention: Option<&'a mentions::Person>,
}

/// Why an alert did not reach one channel.
enum Undelivered {
    /// Try again on redelivery (the ledger or the platform failed for now).
    Retry(String),
    /// The platform refused it for good.
    Rejected(String),
}

/// Posts `alert` to one channel unless the ledger says it already was, and records it.
async fn deliver_to(
    deps: &Deps,
    alert: &Alert,
    to: ToChannel<'_>,
    channels: &Channels,
    metrics: &mut Metrics,
    summary: &mut BatchSummary,
) -> Result<(), Undelivered> {
    let (channel, name) = (to.channel, to.channel.name.as_str());
    match deps.ledger.is_claimed(to.key).await {
        Ok(true) => {
            summary.already_delivered += 1;
            metrics.record(
                &[("Channel", name)],
                "AlertsAlreadyDelivered",
                1.0,
                Unit::Count,
            );
            return Ok(());
        }
        Ok(false) => {}
        Err(e) => return Err(Undelivered::Retry(format!("ledger: {e}"))),
    }
    let mut body = format::render(channel.platform, alert);
    if let Some(person) = to.mention {
        body = mentions::mention(channel.platform, body, person);
    }
    let body = threads::in_thread(channel.platform, alert, body);
    let url = threads::post_url(channel, to.key);
    match deps
        .poster
        .post(channel, &url, &body, to.deadline, channels)
        .await
    {
        Verdict::Delivered { attempts } => {
            tracing::info!(alert_id = %alert.id, kind = %alert.kind, channel = %name, platform = %channel.platform, attempts, "alert delivered");
            metrics.record(&[("Channel", name)], "AlertsDelivered", 1.0, Unit::Count);
            summary.delivered.push(format!("{} → {name}", alert.id));
            let now = Utc::now();
            if let Err(e) = deps
                .ledger
                .claim(to.key, now, chrono::Duration::days(DELIVERED_KEEP_DAYS))
                .await
            {
                // Posted but not recorded: a redelivery would post it again. Better twice
                // than never; say so.
                tracing::error!(alert_id = %alert.id, channel = %name, error = %e, "delivered but not recorded in the ledger");
            }
            Ok(())
        }
        Verdict::Rejected { status, reason } => {
            tracing::error!(alert_id = %alert.id, channel = %name, status, %reason, "channel refused the alert");
            metrics.record(&[("Channel", name)], "AlertsRejected", 1.0, Unit::Count);
            Err(Undelivered::Rejected(reason))
        }
        Verdict::Retry { reason } => {
            metrics.record(&[("Channel", name)], "DeliveryRetries", 1.0, Unit::Count);
            Err(Undelivered::Retry(reason))
        }
    }
}

/// Keeps a message a channel refused in the dead-letter queue, with the reason and the SQS
/// message id as message attributes (redrive it after fixing the channel; channels that already
/// had it are skipped through the ledger).
async fn dead_letter(deps: &Deps, record: &SqsMessage, reason: &str) -> Result<(), LakeopsError> {
    let attribute = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(lakeops::alert::truncate(v, 1000))
            .build()
            .map_err(|e| LakeopsError::aws("sqs:SendMessage", e))
    };
    deps.sqs
        .send_message()
        .queue_url(&deps.config.dead_letter_queue_url)
        .message_body(record.body.clone().unwrap_or_default())
        .message_attributes("lakeops_reason", attribute(reason)?)
        .message_attributes(
            "lakeops_source_message_id",
            attribute(record.message_id.as_deref().unwrap_or("unknown"))?,
        )
        .send()
        .await
        .map_err(|e| LakeopsError::aws("sqs:SendMessage", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_and_every_problem_listed() {
        let mut r = ConfigReader::from_map([
            ("ROUTES_S3_URI", "s3://nobucket"),
            ("NOTIFIER_CONCURRENCY", "0"),
            ("WEBHOOK_TIMEOUT_SECONDS", "600"),
        ]);
        NotifierConfig::read(&mut r);
        let text = r.finish().unwrap_err().to_string();
        for v in [
            "ROUTES_S3_URI",
            "NOTIFIER_CONCURRENCY",
            "WEBHOOK_TIMEOUT_SECONDS",
            "CHANNELS_SECRET_ID",
            "LEDGER_TABLE",
            "DEAD_LETTER_QUEUE_URL",
        ] {
            assert!(text.contains(v), "{v} missing in {text}");
        }
        let mut r = ConfigReader::from_map([
            ("ROUTES_S3_URI", "s3://b/routes/prod.yaml"),
            ("CHANNELS_SECRET_ID", "lakeops/chat-channels"),
            ("LEDGER_TABLE", "l"),
            ("DEAD_LETTER_QUEUE_URL", "https://sqs/q"),
        ]);
        let c = NotifierConfig::read(&mut r);
        r.finish().unwrap();
        assert_eq!(
            c.routes_s3_uri,
            Some(("b".into(), "routes/prod.yaml".into()))
        );
        assert_eq!(c.concurrency, 2);
        assert_eq!(c.max_attempts, 5);
    }
}
