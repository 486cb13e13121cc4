//! Lambda's platform lines: the text format's `Key: value` pairs (REPORT, INIT_REPORT,
//! RESTORE_REPORT, EXTENSION) and the JSON format's `record` (the Telemetry API schema).

use std::borrow::Cow;

use serde::Deserialize;

use super::{kind, plain, Parsed};

/// The `Key: value` pairs of a text platform line (REPORT, INIT_REPORT, RESTORE_REPORT,
/// EXTENSION), read in one pass over its colons: a colon's key is the longest known key that
/// the text before it ends with, at the line's start or after whitespace (so `Billed Duration`
/// is not `Duration`); its value is the next word. Lambda separates the pairs with tabs; spaces
/// read the same. The first of a key counts.
#[derive(Default)]
pub(super) struct PlatformValues<'a> {
    pub(super) status: Option<&'a str>,
    pub(super) error_type: Option<&'a str>,
    pub(super) duration: Option<&'a str>,
    pub(super) billed_duration: Option<&'a str>,
    pub(super) memory_size: Option<&'a str>,
    pub(super) max_memory_used: Option<&'a str>,
    pub(super) init_duration: Option<&'a str>,
}

impl<'a> PlatformValues<'a> {
    pub(super) fn read(message: &'a str) -> Self {
        // Longest first; SnapStart's restore durations are known only so that they are not
        // taken for `Duration`.
        const KEYS: [&str; 9] = [
            "Billed Restore Duration",
            "Billed Duration",
            "Restore Duration",
            "Max Memory Used",
            "Init Duration",
            "Memory Size",
            "Error Type",
            "Duration",
            "Status",
        ];
        let mut values = Self::default();
        for colon in memchr::memchr_iter(b':', message.as_bytes()) {
            let before = &message[..colon];
            let Some(key) = KEYS.iter().find(|k| {
                before
                    .strip_suffix(**k)
                    .is_some_and(|head| head.chars().next_back().is_none_or(char::is_whitespace))
            }) else {
                continue;
            };
            let slot = match *key {
                "Status" => &mut values.status,
                "Error Type" => &mut values.error_type,
                "Duration" => &mut values.duration,
                "Billed Duration" => &mut values.billed_duration,
                "Memory Size" => &mut values.memory_size,
                "Max Memory Used" => &mut values.max_memory_used,
                "Init Duration" => &mut values.init_duration,
                _ => continue,
            };
            if slot.is_none() {
                let rest = message[colon + 1..].trim_start();
                *slot = rest.split(['\t', '\r', '\n', ' ']).next();
            }
        }
        values
    }
}

pub(super) fn number(value: Option<&str>) -> Option<f64> {
    value?.parse().ok()
}

pub(super) fn first_word(s: &str) -> Option<Cow<'_, str>> {
    s.split_whitespace().next().map(Cow::Borrowed)
}

/// A text platform line (REPORT, INIT_REPORT, RESTORE_REPORT, EXTENSION) with its `Status:`
/// (`timeout`, `error`, `failure`) and `Error Type:` read as a failure.
pub(super) fn platform_line<'a>(
    kind: &'static str,
    message: &'a str,
    values: &PlatformValues<'a>,
) -> Parsed<'a> {
    let p = plain(kind, message);
    let error_type = values.error_type.map(Cow::Borrowed);
    match values.status {
        Some("timeout") => p.failed(kind::TIMEOUT, error_type),
        Some("error") => p.failed(kind::CRASH, error_type),
        Some("failure") => p.failed(kind::UNHANDLED, error_type),
        _ => p,
    }
}

/// The `record` of a Lambda JSON-format platform line (the Telemetry API schema).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlatformRecord<'a> {
    #[serde(borrow, default)]
    pub(super) request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) error_type: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(super) metrics: Option<PlatformMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlatformMetrics {
    pub(super) duration_ms: Option<f64>,
    pub(super) billed_duration_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    pub(super) memory_size_mb: Option<f64>,
    #[serde(rename = "maxMemoryUsedMB")]
    pub(super) max_memory_used_mb: Option<f64>,
    pub(super) init_duration_ms: Option<f64>,
}
