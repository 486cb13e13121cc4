//! Newline-delimited JSON records to Firehose `PutRecordBatch`: at most 500 records and 4 MiB a
//! call; only the records Firehose reports failed are sent again, with backoff, until the
//! deadline. What still failed is returned so the invocation can fail and Lambda keep the event.

use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use lakeops::LakeopsError;
use tokio::time::Instant;

pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delivery {
    pub delivered: usize,
    pub failed: usize,
    pub calls: usize,
    /// The last error Firehose gave for a record that never got through.
    pub last_error: Option<String>,
}

pub struct FirehoseSink {
    pub client: aws_sdk_firehose::Client,
    pub stream: String,
}

/// Splits into calls of at most 500 records and 4 MiB.
pub fn batches(records: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut bytes = 0;
    for r in records {
        let start_new = out.last().is_none_or(|b| {
            b.len() >= MAX_RECORDS_PER_CALL || bytes + r.len() > MAX_BYTES_PER_CALL
        });
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += r.len();
        out.last_mut().expect("just pushed").push(r);
    }
    out
}

impl FirehoseSink {
    /// Sends every record (each already one JSON line with its newline).
    pub async fn send(&self, records: Vec<Vec<u8>>, deadline: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        for batch in batches(records) {
            let mut pending = batch;
            let mut backoff = FIRST_BACKOFF;
            loop {
                delivery.calls += 1;
                let entries: Vec<Record> = pending
                    .iter()
                    .map(|r| {
                        Record::builder()
                            .data(Blob::new(r.clone()))
                            .build()
                            .expect("data is set")
                    })
                    .collect();
                let result = self
                    .client
                    .put_record_batch()
                    .delivery_stream_name(&self.stream)
                    .set_records(Some(entries))
                    .send()
                    .await;
                let retry: Vec<Vec<u8>> = match result {
                    Ok(out) if out.failed_put_count() == 0 => {
                        delivery.delivered += pending.len();
                        Vec::new()
                    }
                    Ok(out) => {
                        let responses = out.request_responses();
                        let mut retry = Vec::new();
                        for (record, response) in pending.into_iter().zip(responses) {
                            match response.error_code() {
                                None => delivery.delivered += 1,
                                Some(code) => {
                                    delivery.last_error = Some(format!(
                                        "{code}: {}",
                                        response.error_message().unwrap_or_default()
                                    ));
                                    retry.push(record);
                                }
                            }
                        }
                        retry
                    }
                    Err(e) => {
                        delivery.last_error =
                            Some(LakeopsError::aws("firehose:PutRecordBatch", e).to_string());
                        pending
                    }
                };
                if retry.is_empty() {
                    break;
                }
                if Instant::now() + backoff >= deadline {
                    delivery.failed += retry.len();
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                pending = retry;
            }
        }
        delivery
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_firehose::operation::put_record_batch::{
        PutRecordBatchError, PutRecordBatchOutput,
    };
    use aws_sdk_firehose::types::PutRecordBatchResponseEntry;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn entry(ok: bool) -> PutRecordBatchResponseEntry {
        if ok {
            PutRecordBatchResponseEntry::builder()
                .record_id("r")
                .build()
        } else {
            PutRecordBatchResponseEntry::builder()
                .error_code("ServiceUnavailableException")
                .error_message("Slow down.")
                .build()
        }
    }

    #[test]
    fn batches_respect_both_limits() {
        let small: Vec<Vec<u8>> = (0..1201).map(|_| vec![b'x'; 10]).collect();
        assert_eq!(
            batches(small).iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 201]
        );
        let big: Vec<Vec<u8>> = (0..9).map(|_| vec![b'x'; 1000 * 1024]).collect();
        assert_eq!(
            batches(big).iter().map(Vec::len).collect::<Vec<_>>(),
            [4, 4, 1]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn only_failed_records_are_sent_again() {
        let first = mock!(aws_sdk_firehose::Client::put_record_batch)
            .match_requests(|r| r.records().len() == 3)
            .then_output(|| {
                PutRecordBatchOutput::builder()
                    .failed_put_count(2)
                    .request_responses(entry(true))
                    .request_responses(entry(false))
                    .request_responses(entry(false))
                    .build()
                    .unwrap()
            });
        let second = mock!(aws_sdk_firehose::Client::put_record_batch)
            .match_requests(|r| r.records().len() == 2 && r.records()[0].data().as_ref() == b"b\n")
            .then_output(|| {
                PutRecordBatchOutput::builder()
                    .failed_put_count(0)
                    .request_responses(entry(true))
                    .request_responses(entry(true))
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_firehose, RuleMode::MatchAny, &[&first, &second]);
        let sink = FirehoseSink {
            client,
            stream: "s".into(),
        };
        let records = vec![b"a\n".to_vec(), b"b\n".to_vec(), b"c\n".to_vec()];
        let d = sink
            .send(records, Instant::now() + Duration::from_secs(60))
            .await;
        assert_eq!((d.delivered, d.failed, d.calls), (3, 0, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_until_the_deadline_reports_the_records_undelivered() {
        let throttled = mock!(aws_sdk_firehose::Client::put_record_batch).then_error(|| {
            PutRecordBatchError::ServiceUnavailableException(
                aws_sdk_firehose::types::error::ServiceUnavailableException::builder()
                    .message("Slow down.")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_firehose, RuleMode::MatchAny, &[&throttled]);
        let sink = FirehoseSink {
            client,
            stream: "s".into(),
        };
        let d = sink
            .send(
                vec![b"a\n".to_vec(), b"b\n".to_vec()],
                Instant::now() + Duration::from_secs(2),
            )
            .await;
        assert_eq!((d.delivered, d.failed), (0, 2));
        assert!(
            d.calls >= 3,
            "retried with backoff until the deadline: {d:?}"
        );
        assert!(d.last_error.unwrap().contains("Slow down"));
    }
}
