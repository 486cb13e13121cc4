//! The transformer's settings, read once at start-up: every problem named with its variable.

use chrono::Duration;
use lakeops::{CommonConfig, ConfigReader};
use regex::Regex;

use crate::ndjson::Layout;
use crate::redact::{self, Redactor, Switches};
use crate::transform::Rules;

#[derive(Debug, Clone)]
pub struct TransformerConfig {
    pub common: CommonConfig,
    /// `FIREHOSE_STREAM` (optional; required for subscription mode): the delivery stream
    /// subscription-mode records go to (not needed in Firehose mode).
    pub firehose_stream: Option<String>,
    /// Filters, redaction and the record layout:
    /// `INCLUDE_PATTERN` (optional): keep only lines whose raw message matches this regex (`a|b`
    /// for several).
    /// `EXCLUDE_PATTERN` (optional): drop lines whose raw message matches this regex.
    /// `REDACT_AWS_KEYS` (default true): redact AWS access key ids.
    /// `REDACT_SECRETS` (default true): redact secrets by their key (`password`, `token`,
    /// `api_key`, `Authorization: Bearer`, ...) and JWTs.
    /// `REDACT_EMAILS` (default true): redact e-mail addresses.
    /// `REDACT_IPS` (default true): redact IPv4 and IPv6 addresses (off for `vpcflow`,
    /// `accesslog`, `waf` and `cloudtrail` sources unless an override turns it on).
    /// `REDACT_BY_LOG_GROUP` (optional): per-log-group overrides of the four switches above, a
    /// JSON array, first match wins:
    /// `[{"log_group":"/aws/vpc/flow-prod*","ips":true},{"log_group":"/aws/lambda/public-*","emails":false}]`
    /// (`*` any run, `?` one character; keys `aws_keys`, `secrets`, `emails`, `ips`).
    /// `REDACT_PATTERN` (optional): a custom regex, redacted as `[REDACTED]`.
    /// `LOG_RECORD_LAYOUT` (default `parquet`): `parquet` writes `fields` as JSON text (the Glue
    /// column Firehose converts against is a string, so no application's keys can break the
    /// conversion); `json` writes `fields` as an object, keys made unique ignoring case (`Level`
    /// after `level` becomes `Level_2`).
    pub rules: Rules,
    /// `ALERT_MIN_INTERVAL_MINUTES` (default 15; 0 = every invocation): per log group.
    pub alert_interval: Duration,
    /// `LEDGER_TABLE`: the alert ledger (rate limit, no duplicates on retries).
    pub ledger_table: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME` (set by Lambda): the function's own log group, never processed.
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): without the log group's name, the own log group
    /// is taken to be `/aws/lambda/<function name>`.
    pub own_log_group: Option<String>,
}

fn regex(r: &mut ConfigReader, name: &str) -> Option<Regex> {
    let raw = r.optional(name)?;
    match Regex::new(&raw) {
        Ok(re) => Some(re),
        Err(e) => {
            r.problem(name, format!("not a valid regex: {e}"));
            None
        }
    }
}

impl TransformerConfig {
    pub fn read(r: &mut ConfigReader) -> Self {
        let common = CommonConfig::read(r);
        let include = regex(r, "INCLUDE_PATTERN");
        let exclude = regex(r, "EXCLUDE_PATTERN");
        let custom = regex(r, "REDACT_PATTERN");
        let switches = Switches {
            aws_keys: r.bool_or("REDACT_AWS_KEYS", true),
            secrets: r.bool_or("REDACT_SECRETS", true),
            emails: r.bool_or("REDACT_EMAILS", true),
            ips: r.bool_or("REDACT_IPS", true),
        };
        let overrides = match r.optional("REDACT_BY_LOG_GROUP") {
            None => Vec::new(),
            Some(text) => redact::parse_overrides(&text).unwrap_or_else(|problem| {
                r.problem("REDACT_BY_LOG_GROUP", problem);
                Vec::new()
            }),
        };
        let layout = match r.string_or("LOG_RECORD_LAYOUT", "parquet").as_str() {
            "parquet" => Layout::Parquet,
            "json" => Layout::Json,
            other => {
                r.problem(
                    "LOG_RECORD_LAYOUT",
                    format!("must be parquet or json, not {other:?}"),
                );
                Layout::Parquet
            }
        };
        let interval: u32 = r.parse_or("ALERT_MIN_INTERVAL_MINUTES", 15);
        let own = r.optional("AWS_LAMBDA_LOG_GROUP_NAME").or_else(|| {
            r.optional("AWS_LAMBDA_FUNCTION_NAME")
                .map(|f| format!("/aws/lambda/{f}"))
        });
        Self {
            common,
            firehose_stream: r.optional("FIREHOSE_STREAM"),
            rules: Rules {
                include,
                exclude,
                redactor: Redactor::new(switches, overrides, custom),
                layout,
            },
            alert_interval: Duration::minutes(interval as i64),
            ledger_table: r.required("LEDGER_TABLE"),
            own_log_group: own,
        }
    }
}
