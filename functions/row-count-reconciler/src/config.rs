//! The function's settings, read from the environment once at start-up, and the S3 reads of
//! what they point to (the checks file).

use std::time::Duration as StdDuration;

use chrono_tz::Tz;
use lakeops::config::{AthenaWatchSettings, ConfigError, ConfigProblem};
use lakeops::{CommonConfig, ConfigReader, LakeopsError};

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub common: CommonConfig,
    /// `CHECKS_CONFIG` (required): `s3://bucket/key.yaml`, or a path to a file shipped with the
    /// function. Read on every run, so an edit applies to the next run.
    pub checks_config: String,
    /// `ATHENA_WORKGROUP` (default `primary`): where the count queries run.
    pub workgroup: String,
    /// `ATHENA_OUTPUT_LOCATION` (optional): query results location, unless the workgroup sets one.
    pub output_location: Option<String>,
    /// `TIMEZONE` (default `Asia/Seoul`): where the run date and day boundaries are.
    pub timezone: Tz,
    /// `MAX_CONCURRENT_QUERIES` (default 5): count queries running at once (1 to 50; Athena's
    /// active-query quota is per account).
    pub concurrency: usize,
    /// `DEADLINE_MARGIN_SECONDS` (default 15): stop waiting this long before the Lambda deadline
    /// (time to stop what is still running and report).
    pub deadline_margin: StdDuration,
    /// `RESULTS_S3_URI` (optional): `s3://bucket/prefix` for one JSON line per check result.
    pub results_uri: Option<(String, String)>,
    /// Price (USD_PER_TB), Athena pace and the alert ledger (LEDGER_TABLE).
    pub athena: AthenaWatchSettings,
}

/// `s3://bucket/key` → (bucket, key).
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

impl ReconcilerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let checks_config = r.required("CHECKS_CONFIG");
        if checks_config.starts_with("s3://")
            && parse_s3_uri(&checks_config).is_none_or(|(_, k)| k.is_empty())
        {
            r.problem("CHECKS_CONFIG", "an S3 location must be s3://bucket/key");
        }
        let concurrency: usize = r.parse_or("MAX_CONCURRENT_QUERIES", 5);
        if !(1..=50).contains(&concurrency) {
            r.problem("MAX_CONCURRENT_QUERIES", "must be between 1 and 50");
        }
        let results_uri = r.optional("RESULTS_S3_URI");
        let results = results_uri.as_deref().and_then(parse_s3_uri);
        if results_uri.is_some() && results.is_none() {
            r.problem("RESULTS_S3_URI", "must be s3://bucket/prefix");
        }
        Self {
            common,
            checks_config,
            workgroup: r.string_or("ATHENA_WORKGROUP", "primary"),
            output_location: r.optional("ATHENA_OUTPUT_LOCATION"),
            timezone: r.timezone("TIMEZONE", chrono_tz::Asia::Seoul),
            concurrency: concurrency.clamp(1, 50),
            deadline_margin: StdDuration::from_secs(r.parse_or("DEADLINE_MARGIN_SECONDS", 15)),
            results_uri: results,
            athena: AthenaWatchSettings::read(r),
        }
    }
}

/// The checks file's problems, as configuration problems of `CHECKS_CONFIG`.
pub fn checks_file_error(origin: &str, problems: Vec<String>) -> ConfigError {
    ConfigError {
        problems: problems
            .into_iter()
            .map(|p| ConfigProblem {
                variable: format!("CHECKS_CONFIG ({origin})"),
                problem: p,
            })
            .collect(),
    }
}

/// An S3 object's bytes: the one read the checks file and the results history go through
/// (Iceberg metadata files are read within a cap: [`crate::iceberg::fetch_layout`]).
pub async fn object_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, LakeopsError> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| LakeopsError::aws("s3:GetObject", e))?;
    Ok(out
        .body
        .collect()
        .await
        .map_err(|e| LakeopsError::aws("s3:GetObject", e))?
        .into_bytes()
        .to_vec())
}
