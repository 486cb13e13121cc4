//! The alert corpus (`tests/alerts/`): one real body of every alert kind, for the tests and the
//! card renderer (`make cards`). Read from the source tree; not used by the deployed function.

use std::path::PathBuf;

use serde_json::Value;

/// The CloudWatch alarm notification of the corpus (`CloudWatchAlarm.sns.json`).
pub const ALARM: &str = include_str!("../tests/alerts/CloudWatchAlarm.sns.json");

/// The corpus directory.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/alerts")
}

/// `(kind, lakeops.alert.v1 body)` for every captured alert kind, sorted by kind.
pub fn alerts() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter(|p| !p.to_string_lossy().ends_with(".sns.json"))
                .filter_map(|p| {
                    let text = std::fs::read_to_string(&p).ok()?;
                    let kind = p.file_stem()?.to_string_lossy().to_string();
                    Some((kind, serde_json::from_str(&text).ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
