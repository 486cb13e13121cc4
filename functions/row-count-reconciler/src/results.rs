//! The results files in S3 (`RESULTS_S3_URI`): one JSON line per check day, written by each run
//! under `run_date=<day>/`, and read back as the volume history of later runs.

use lakeops::LakeopsError;

use crate::checks::Check;
use crate::config::object_bytes;
use crate::history;
use crate::report::RunSummary;
use crate::template::RunDate;
use crate::verdict::CheckResult;

/// The results files' key prefix: `RESULTS_S3_URI`'s path with a trailing `/` (or nothing).
fn results_prefix(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    }
}

/// The results files under one `s3://bucket/prefix`.
pub struct ResultsFiles<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub prefix: &'a str,
}

impl ResultsFiles<'_> {
    /// The volume history of the checks that use it, from the results files of the run dates
    /// before this one. A read error costs the anomaly test for this run, not the run: it is
    /// listed in the summary's failures (the run then fails and is retried).
    pub async fn history(
        &self,
        selected: &[Check],
        base: &RunDate,
        summary: &mut RunSummary,
    ) -> history::History {
        let mut history = history::History::default();
        let Some(days) = selected
            .iter()
            .filter_map(|c| c.volume)
            .map(|v| v.history_days)
            .max()
        else {
            return history;
        };
        let keys = match self.earlier_keys(base, days).await {
            Ok(keys) => keys,
            Err(e) => {
                summary.failures.push(e.to_string());
                return history;
            }
        };
        for key in keys {
            let text = match object_bytes(self.s3, self.bucket, &key).await {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    summary.failures.push(e.to_string());
                    continue;
                }
            };
            let unreadable = history.add_file(&text);
            if unreadable > 0 {
                tracing::warn!(
                    key,
                    unreadable,
                    "results lines that are not results were skipped"
                );
            }
        }
        history
    }

    /// The keys of the results files of the `days` run dates before this one, oldest first (so
    /// a later re-run of a date overwrites an earlier one).
    async fn earlier_keys(&self, base: &RunDate, days: u32) -> Result<Vec<String>, LakeopsError> {
        let first = base.days_before(i64::from(days)).day;
        let dates = format!("{}run_date=", results_prefix(self.prefix));
        let mut keys: Vec<(aws_smithy_types::DateTime, String)> = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(self.bucket)
                .prefix(&dates)
                .start_after(format!("{dates}{first}"))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| LakeopsError::aws("s3:ListObjectsV2", e))?;
            for o in page.contents() {
                let key = o.key().unwrap_or_default();
                // This run's own date (a re-run) is not its own history.
                if key.starts_with(&format!("{dates}{}", base.day)) {
                    continue;
                }
                if let Some(t) = o.last_modified() {
                    keys.push((*t, key.to_string()));
                }
            }
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        Ok(keys.into_iter().map(|(_, key)| key).collect())
    }

    /// Writes this run's results file; its location goes to the summary, a failure to its
    /// failures.
    pub async fn write(
        &self,
        results: &[CheckResult],
        base: &RunDate,
        run_id: &str,
        summary: &mut RunSummary,
    ) {
        let key = format!(
            "{}run_date={}/{}.json",
            results_prefix(self.prefix),
            base.day,
            run_id.replace([':', '/'], "-")
        );
        let body: String = results
            .iter()
            .map(|r| format!("{}\n", serde_json::json!(r)))
            .collect();
        match self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(body.into_bytes().into())
            .send()
            .await
        {
            Ok(_) => summary.results_object = Some(format!("s3://{}/{key}", self.bucket)),
            Err(e) => summary
                .failures
                .push(LakeopsError::aws("s3:PutObject", e).to_string()),
        }
    }
}
