//! SQS queues as the functions' event sources, with the event source mapping played here.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::{Functions, ACCOUNT, REGION};

/// Batches one [`MappedQueue::run_mapping`] delivers at most before it calls the queue stuck.
const MAX_BATCHES: usize = 2000;

/// An SQS queue with its dead-letter queue (redrive after `max_receive_count` receives), as the
/// SAM template makes them, and the event source mapping Lambda runs on it in AWS (moto stores
/// queues and redrives to a DLQ, but does not invoke functions from a queue).
pub struct MappedQueue {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
    /// Seconds a message the function handed back stays invisible; `Some(0)`, the default here,
    /// redelivers it at once. `None` leaves it as Lambda does: invisible for the template's
    /// visibility timeout (660 s), or as long as the function itself set.
    pub retry_after_seconds: Option<i32>,
    sqs: aws_sdk_sqs::Client,
}

impl MappedQueue {
    pub async fn create(
        config: &aws_config::SdkConfig,
        name: &str,
        max_receive_count: u32,
    ) -> Self {
        let sqs = aws_sdk_sqs::Client::new(config);
        let dlq_url = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("create DLQ")
            .queue_url
            .expect("url");
        let dlq_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-dlq");
        let url = sqs
            .create_queue()
            .queue_name(name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
                    .to_string(),
            )
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url");
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
        Self {
            url,
            arn,
            dlq_url,
            retry_after_seconds: Some(0),
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

    /// What Lambda's event source mapping does, until no message is visible: receive up to 10,
    /// invoke the function with the SQS event, delete what it did not report as failed, and
    /// make the failed ones visible again after [`MappedQueue::retry_after_seconds`] (the
    /// visibility timeout, shortened) if set. Returns the number of invocations.
    pub async fn run_mapping(&self, functions: &Functions, function: &str) -> usize {
        for invocations in 0..MAX_BATCHES {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .visibility_timeout(if self.retry_after_seconds.is_some() {
                    120
                } else {
                    660
                })
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            let messages = got.messages.unwrap_or_default();
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
            let failed: Vec<String> = answer["batchItemFailures"]
                .as_array()
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
