//! SQS queues as the functions' event sources, with the event source mapping played here.
//!
//! What the template deploys (queue visibility, receive count, dead-letter queue, the mapping's
//! batch size and response types) comes in a [`QueueSpec`] built from `pub const`s that name
//! their template value (scripts/check_harness.py, `make lint`, fails when they differ). What the
//! harness does differently to keep tests fast is named as such: [`TEST_SPEED_RETRY_AFTER_SECONDS`]
//! and no batching window (a batch is what is visible at once, up to the batch size).

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::{Functions, ACCOUNT, REGION};

/// Batches one [`MappedQueue::run_mapping`] delivers at most before it calls the queue stuck.
const MAX_BATCHES: usize = 2000;

/// Most messages one SQS `ReceiveMessage` returns (the mapping polls until its batch is full).
const SQS_RECEIVE_MAX: usize = 10;

/// The response types of both SQS event source mappings: the function reports the messages it
/// failed (`batchItemFailures`); the others are deleted. Template:
/// `QueryCostFeedFunction.Properties.Events.StateChanges.Properties.FunctionResponseTypes`,
/// `AlertNotifierFunction.Properties.Events.Alerts.Properties.FunctionResponseTypes`.
pub const MAPPING_FUNCTION_RESPONSE_TYPES: &[&str] = &["ReportBatchItemFailures"];

/// Test-speed shortcut, not the template's: a message the function handed back is visible again
/// after this many seconds instead of the queue's visibility timeout (set
/// [`MappedQueue::retry_after_seconds`] to `None` for the template's behaviour).
pub const TEST_SPEED_RETRY_AFTER_SECONDS: i32 = 0;

/// A queue, its dead-letter queue and its event source mapping, as the template makes them.
#[derive(Debug, Clone, Copy)]
pub struct QueueSpec {
    pub name: &'static str,
    pub dead_letter_queue: &'static str,
    /// The queue's `VisibilityTimeout`: how long a received message stays invisible.
    pub visibility_timeout_seconds: i32,
    /// The redrive policy's `maxReceiveCount`: receives before a message goes to the DLQ.
    pub max_receive_count: u32,
    /// The mapping's `BatchSize`: most messages in one invocation.
    pub batch_size: usize,
    /// The mapping's `FunctionResponseTypes`.
    pub function_response_types: &'static [&'static str],
}

/// An SQS queue with its dead-letter queue, as the SAM template makes them ([`QueueSpec`]), and
/// the event source mapping Lambda runs on it in AWS (moto stores queues and redrives to a DLQ,
/// but does not invoke functions from a queue).
pub struct MappedQueue {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    pub spec: QueueSpec,
    /// Test-speed shortcut: seconds a message the function handed back stays invisible;
    /// `Some(TEST_SPEED_RETRY_AFTER_SECONDS)`, the default here, redelivers it at once. `None`
    /// leaves it as Lambda does: invisible for the queue's visibility timeout (the template's),
    /// or as long as the function itself set.
    pub retry_after_seconds: Option<i32>,
    sqs: aws_sdk_sqs::Client,
}

impl MappedQueue {
    /// The queue of `spec` with its DLQ.
    pub async fn create(config: &aws_config::SdkConfig, spec: &QueueSpec) -> Self {
        use aws_sdk_sqs::types::QueueAttributeName;
        let sqs = aws_sdk_sqs::Client::new(config);
        let dlq_url = sqs
            .create_queue()
            .queue_name(spec.dead_letter_queue)
            .send()
            .await
            .expect("create DLQ")
            .queue_url
            .expect("url");
        let dlq_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", spec.dead_letter_queue);
        let url = sqs
            .create_queue()
            .queue_name(spec.name)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count})
                    .to_string(),
            )
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                spec.visibility_timeout_seconds.to_string(),
            )
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url");
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", spec.name);
        Self {
            url,
            arn,
            dlq_url,
            spec: *spec,
            retry_after_seconds: Some(TEST_SPEED_RETRY_AFTER_SECONDS),
            sqs,
        }
    }

    /// Subscribes the queue to an SNS topic (SNS envelope, not raw delivery).
    pub async fn subscribe_to(&self, config: &aws_config::SdkConfig, topic_arn: &str) {
        aws_sdk_sns::Client::new(config)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&self.arn)
            .send()
            .await
            .expect("subscribe the queue");
    }

    /// Sends each body as one message (what an EventBridge rule with an SQS target does).
    pub async fn send(&self, bodies: &[String]) {
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .build()
                        .expect("entry")
                })
                .collect();
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("send to the queue");
            assert!(
                out.failed().is_empty(),
                "messages refused: {:?}",
                out.failed()
            );
        }
    }

    /// Messages waiting (visible or not) in the queue.
    pub async fn depth(&self) -> usize {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .expect("queue attributes");
        out.attributes()
            .map(|a| a.values().filter_map(|v| v.parse::<usize>().ok()).sum())
            .unwrap_or(0)
    }

    /// What Lambda's event source mapping does, until no message is visible: receive up to the
    /// template's batch size (as many `ReceiveMessage` calls as it takes; no batching window is
    /// waited out — a test-speed shortcut), each message invisible for the queue's visibility
    /// timeout; invoke the function with the SQS event; delete what it did not report as failed
    /// (all of it without `ReportBatchItemFailures`), and make the failed ones visible again
    /// after [`MappedQueue::retry_after_seconds`] if set. Returns the number of invocations.
    pub async fn run_mapping(&self, functions: &Functions, function: &str) -> usize {
        for invocations in 0..MAX_BATCHES {
            let messages = self.receive_batch().await;
            if messages.is_empty() {
                return invocations;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let attributes: serde_json::Map<String, Value> = m
                        .attributes()
                        .map(|a| {
                            a.iter()
                                .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": attributes,
                        "messageAttributes": {},
                        "md5OfBody": m.md5_of_body(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": self.arn,
                        "awsRegion": REGION,
                    })
                })
                .collect();
            let answer = functions
                .invoke(function, &json!({ "Records": records }))
                .unwrap_or_else(|e| panic!("{function} failed a whole batch: {e}"));
            let reports_failures = self
                .spec
                .function_response_types
                .contains(&"ReportBatchItemFailures");
            let failed: Vec<String> = answer["batchItemFailures"]
                .as_array()
                .filter(|_| reports_failures)
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect();
            for m in &messages {
                let handle = m.receipt_handle().unwrap_or_default();
                if failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
                    if let Some(seconds) = self.retry_after_seconds {
                        self.sqs
                            .change_message_visibility()
                            .queue_url(&self.url)
                            .receipt_handle(handle)
                            .visibility_timeout(seconds)
                            .send()
                            .await
                            .expect("change visibility");
                    }
                } else {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete");
                }
            }
        }
        panic!("the queue did not empty in {MAX_BATCHES} batches");
    }

    /// One batch: up to [`QueueSpec::batch_size`] visible messages.
    async fn receive_batch(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut batch = Vec::new();
        while batch.len() < self.spec.batch_size {
            let want = (self.spec.batch_size - batch.len()).min(SQS_RECEIVE_MAX);
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(want as i32)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            batch.extend(messages);
        }
        batch
    }

    /// Messages in the DLQ: (body, message attributes).
    pub async fn dead_letters(&self) -> Vec<(Value, HashMap<String, String>)> {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive DLQ");
        got.messages
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let attrs = m
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| {
                                (k.clone(), v.string_value().unwrap_or_default().to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null),
                    attrs,
                )
            })
            .collect()
    }
}
