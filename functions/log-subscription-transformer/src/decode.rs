//! CloudWatch Logs subscription payloads: base64 → gzip → JSON, bounded.
//!
//! Decision: our own decoder rather than `aws_lambda_events`' `AwsLogs` deserializer, which
//! decompresses eagerly with no size limit — a small gzip bomb would exhaust the function's
//! memory. Here decompression stops at [`MAX_DECOMPRESSED_BYTES`] and the payload is rejected
//! with a clear error. Unknown fields (`policyLevel`, future ones) are ignored.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use serde::Deserialize;

/// CloudWatch Logs delivers at most 1 MB compressed (a subscription batch is at most 1 MB of
/// events uncompressed, plus JSON overhead): anything inflating past 16 MiB is not a real batch.
pub const MAX_DECOMPRESSED_BYTES: u64 = 16 * 1024 * 1024;

/// One CloudWatch Logs batch, borrowing its text from the inflated JSON (a string is copied only
/// when it holds JSON escapes, such as a line's trailing `\n`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsData<'a> {
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    #[serde(borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(borrow)]
    pub log_stream: Cow<'a, str>,
    #[serde(default, borrow)]
    pub subscription_filters: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub log_events: Vec<LogEvent<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogEvent<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    pub timestamp: i64,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl LogsData<'_> {
    pub fn is_control(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("payload is not base64: {0}")]
    Base64(String),
    #[error("payload is not gzip: {0}")]
    Gzip(String),
    #[error("payload inflates past {limit} bytes (a gzip bomb or not a CloudWatch Logs batch)")]
    TooLarge { limit: u64 },
    #[error("payload is not a CloudWatch Logs batch: {0}")]
    Json(String),
}

/// One `awslogs.data` (or Firehose record `data`) value → the batch's JSON text: base64, then
/// gzip inflated to at most [`MAX_DECOMPRESSED_BYTES`]. Read it with [`parse`].
pub fn inflate(data: &str) -> Result<Vec<u8>, DecodeError> {
    inflate_with_limit(data, MAX_DECOMPRESSED_BYTES)
}

pub fn inflate_with_limit(data: &str, limit: u64) -> Result<Vec<u8>, DecodeError> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| DecodeError::Base64(e.to_string()))?;
    gunzip(&compressed, limit)
}

/// The batch in inflated JSON text, borrowing from it.
pub fn parse(json: &[u8]) -> Result<LogsData<'_>, DecodeError> {
    serde_json::from_slice(json).map_err(|e| DecodeError::Json(e.to_string()))
}

/// Inflates at most `limit` bytes.
pub fn gunzip(compressed: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity((compressed.len() * 8).min(limit as usize));
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// gzip + base64, for tests, benchmarks and the Firehose answer.
pub fn encode(raw: &[u8]) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(raw).expect("writing to memory");
    base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("writing to memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both steps; the event count.
    fn decode(data: &str) -> Result<usize, DecodeError> {
        Ok(parse(&inflate(data)?)?.log_events.len())
    }

    fn event_data(name: &str) -> String {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["awslogs"]["data"].as_str().unwrap().to_string()
    }

    #[test]
    fn decodes_the_sample_events_with_unknown_fields() {
        let json = inflate(&event_data("cloudwatch-logs-subscription.json")).unwrap();
        let d = parse(&json).unwrap();
        assert_eq!(d.log_group, "/aws/lambda/orders-ingest");
        assert_eq!(d.log_events.len(), 5);
        assert!(!d.is_control());
        assert!(
            matches!(d.log_group, Cow::Borrowed(_)),
            "text without escapes is not copied"
        );
        let json = inflate(&event_data("cloudwatch-logs-control-message.json")).unwrap();
        assert!(parse(&json).unwrap().is_control());
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(
            decode("not base64 !!"),
            Err(DecodeError::Base64(_))
        ));
        let not_gzip = base64::engine::general_purpose::STANDARD.encode(b"plain text");
        assert!(matches!(decode(&not_gzip), Err(DecodeError::Gzip(_))));
        let full = encode(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[]}"#);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&full)
            .unwrap();
        let truncated = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() / 2]);
        assert!(matches!(decode(&truncated), Err(DecodeError::Gzip(_))));
        assert!(matches!(
            decode(&encode(b"[1,2")),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode(&encode(&[0xff, 0xfe])),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn a_gzip_bomb_is_rejected_without_inflating_it() {
        // 64 MiB of zeros compresses to ~64 KiB.
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 64 * 1024 * 1024]).unwrap();
        let bomb = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        assert_eq!(
            decode(&bomb),
            Err(DecodeError::TooLarge {
                limit: MAX_DECOMPRESSED_BYTES
            })
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Whatever arrives — text, random bytes as base64, gzip of random bytes, a valid payload
        /// cut or flipped anywhere — decoding returns, it never panics.
        #[test]
        fn never_panics(text in ".{0,200}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000), cut in 0usize..400, flip in 0usize..400) {
            let _ = decode(&text);
            let b64 = base64::engine::general_purpose::STANDARD;
            let _ = decode(&b64.encode(&bytes));
            let _ = decode(&encode(&bytes));
            let valid = br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"m"}]}"#;
            let mut gz = b64.decode(encode(valid)).unwrap();
            let _ = decode(&b64.encode(&gz[..cut.min(gz.len())]));
            let i = flip % gz.len();
            gz[i] ^= 0x5a;
            let _ = decode(&b64.encode(&gz));
        }
    }
}
