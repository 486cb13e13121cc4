//! Newline-delimited JSON to Firehose `PutRecordBatch`: whole lines packed into records of at
//! most 1,000 KiB ([`crate::ndjson`]), at most 500 records and 4 MiB a call; only the records
//! Firehose reports failed are sent again, with backoff, until the deadline. What still failed is
//! returned so the invocation can fail and Lambda keep the event.

use std::time::Duration;

use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use lakeops::LakeopsError;
use tokio::time::Instant;

use crate::ndjson::Lines;

pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 4 * 1024 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Counts are of log lines (records in the output schema), not of Firehose records.
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

/// One Firehose record: whole JSON lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub data: Blob,
    pub lines: usize,
}

impl Packed {
    /// The Firehose records of a batch's lines.
    pub fn all(lines: &Lines) -> Vec<Packed> {
        lines
            .records
            .iter()
            .map(|r| Packed {
                data: Blob::new(&lines.text[r.bytes.clone()]),
                lines: r.lines,
            })
            .collect()
    }
}

/// Splits into calls of at most 500 records and 4 MiB.
pub fn batches(records: Vec<Packed>) -> Vec<Vec<Packed>> {
    let mut out: Vec<Vec<Packed>> = Vec::new();
    let mut bytes = 0;
    for r in records {
        let len = r.data.as_ref().len();
        let start_new = out
            .last()
            .is_none_or(|b| b.len() >= MAX_RECORDS_PER_CALL || bytes + len > MAX_BYTES_PER_CALL);
        if start_new {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += len;
        out.last_mut().expect("just pushed").push(r);
    }
    out
}

impl FirehoseSink {
    /// Sends every line.
    pub async fn send(&self, lines: &Lines, deadline: Instant) -> Delivery {
        let mut delivery = Delivery::default();
        for batch in batches(Packed::all(lines)) {
            let mut pending = batch;
            let mut backoff = FIRST_BACKOFF;
            loop {
                delivery.calls += 1;
                let entries: Vec<Record> = pending
                    .iter()
                    .map(|r| {
                        Record::builder()
                            .data(r.data.clone())
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
                let retry: Vec<Packed> = match result {
                    Ok(out) if out.failed_put_count() == 0 => {
                        delivery.delivered += pending.iter().map(|r| r.lines).sum::<usize>();
                        Vec::new()
                    }
                    Ok(out) => {
                        let responses = out.request_responses();
                        let mut retry = Vec::new();
                        for (record, response) in pending.into_iter().zip(responses) {
                            match response.error_code() {
                                None => delivery.delivered += record.lines,
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
                    delivery.failed += retry.iter().map(|r| r.lines).sum::<usize>();
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

    fn packed(data: &[u8]) -> Packed {
        Packed {
            data: Blob::new(data),
            lines: 1,
        }
    }

    /// One Firehose record per line (tiny packing limit stand-in).
    fn lines(items: &[&str]) -> Lines {
        let mut l = Lines::default();
        for item in items {
            let start = l.text.len();
            l.text.extend_from_slice(item.as_bytes());
            l.count += 1;
            l.records.push(crate::ndjson::PackedRange {
                bytes: start..l.text.len(),
                lines: 1,
            });
        }
        l
    }

    #[test]
    fn batches_respect_both_limits() {
        let small: Vec<Packed> = (0..1201).map(|_| packed(&[b'x'; 10])).collect();
        assert_eq!(
            batches(small).iter().map(Vec::len).collect::<Vec<_>>(),
            [500, 500, 201]
        );
        let big: Vec<Packed> = (0..9).map(|_| packed(&vec![b'x'; 1000 * 1024])).collect();
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
        let records = lines(&["a\n", "b\n", "c\n"]);
        let d = sink
            .send(&records, Instant::now() + Duration::from_secs(60))
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
                &lines(&["a\n", "b\n"]),
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
