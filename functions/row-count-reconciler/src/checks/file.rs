//! The checks file as written: its YAML model (unknown fields refused) and the line each check
//! starts on.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileModel {
    pub(super) checks: Vec<CheckModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckModel {
    pub(super) name: String,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) severity: Option<String>,
    #[serde(default)]
    pub(super) tags: BTreeMap<String, String>,
    pub(super) source: SideModel,
    pub(super) target: SideModel,
    #[serde(default)]
    pub(super) tolerance: ToleranceModel,
    #[serde(default)]
    pub(super) lookback_days: u32,
    #[serde(default)]
    pub(super) bytes_cap: Option<u64>,
    #[serde(default)]
    pub(super) min_rows: Option<u64>,
    #[serde(default)]
    pub(super) volume_anomaly: Option<VolumeModel>,
    #[serde(default)]
    pub(super) group_by: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VolumeModel {
    #[serde(default)]
    pub(super) enabled: Option<bool>,
    #[serde(default)]
    pub(super) history_days: Option<u32>,
    #[serde(default)]
    pub(super) min_history: Option<usize>,
    #[serde(default)]
    pub(super) threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SideModel {
    #[serde(default)]
    pub(super) table: Option<String>,
    #[serde(default)]
    pub(super) sql: Option<String>,
    #[serde(default)]
    pub(super) partition: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) window: Option<WindowModel>,
    #[serde(default)]
    pub(super) filter: Option<String>,
    #[serde(default)]
    pub(super) expect_partition: Option<bool>,
    #[serde(default)]
    pub(super) freshness: Option<FreshnessModel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowModel {
    pub(super) column: String,
    pub(super) day: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FreshnessModel {
    pub(super) max_age_hours: f64,
    pub(super) measure: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ToleranceModel {
    #[serde(default)]
    pub(super) rows: Option<u64>,
    #[serde(default)]
    pub(super) percent: Option<f64>,
    #[serde(default)]
    pub(super) direction: Option<String>,
    #[serde(default)]
    pub(super) max_drop_percent: Option<f64>,
    #[serde(default)]
    pub(super) max_growth_percent: Option<f64>,
}
/// The 1-based line of `name: <name>` in the file, for messages.
pub(super) fn line_of(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
                == Some(name)
        })
        .map(|i| i + 1)
}
