//! The blind-spot audit: every Lambda function in the account whose failures the suite cannot
//! see in its logs, and why.
//!
//! The log-subscription-transformer sees a function's failures only if its log group's events
//! reach it. They do not when:
//! - no subscription filter on the group sends them to the suite, and no account-level
//!   subscription filter policy covers the group ([`BlindSpot::NotSubscribed`]);
//! - the function's `LoggingConfig` sets the system log level above INFO (`WARN`): Lambda then
//!   writes no `platform.report` / REPORT lines, so no timeout, out-of-memory or duration is seen
//!   ([`BlindSpot::NoReportLines`]; Lambda Developer Guide, "Configuring advanced logging
//!   controls");
//! - the log group is of class `DELIVERY`: the function's logs go straight to S3 or Firehose,
//!   where no subscription can read them ([`BlindSpot::DeliveredOutsideCloudWatch`]);
//! - the log group is of class `INFREQUENT_ACCESS`, which does not support subscription filters
//!   ([`BlindSpot::InfrequentAccess`]; CloudWatch Logs User Guide, "Log classes").
//!
//! The decisions here are pure ([`audit`]); [`read`] gathers what they need through the Lambda
//! and CloudWatch Logs APIs (read-only, paged, paced).

pub mod read;

use std::collections::BTreeMap;

/// How one function logs (its `LoggingConfig`, with Lambda's defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLogging {
    pub function: String,
    /// `LoggingConfig.LogGroup`, default `/aws/lambda/<function>`.
    pub log_group: String,
    /// `Text` or `JSON`.
    pub log_format: String,
    /// `LoggingConfig.SystemLogLevel` (JSON format only): `DEBUG`, `INFO` or `WARN`.
    pub system_log_level: Option<String>,
}

impl FunctionLogging {
    /// A function's logging with Lambda's defaults for what its configuration leaves out.
    pub fn new(
        function: &str,
        log_group: Option<&str>,
        log_format: Option<&str>,
        system_log_level: Option<&str>,
    ) -> Self {
        Self {
            function: function.to_string(),
            log_group: log_group
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("/aws/lambda/{function}")),
            log_format: log_format.unwrap_or("Text").to_string(),
            system_log_level: system_log_level.map(str::to_string),
        }
    }
}

/// A log group's class (`DescribeLogGroups`' `logGroupClass`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogGroupClass {
    Standard,
    InfrequentAccess,
    /// Vended-log delivery to S3 or Firehose: no CloudWatch Logs features at all.
    Delivery,
    Other(String),
}

impl LogGroupClass {
    pub fn parse(class: Option<&str>) -> Self {
        match class.unwrap_or("STANDARD") {
            "STANDARD" => Self::Standard,
            "INFREQUENT_ACCESS" => Self::InfrequentAccess,
            "DELIVERY" => Self::Delivery,
            other => Self::Other(other.to_string()),
        }
    }
}

/// One log group as the audit needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupView {
    pub class: LogGroupClass,
    /// The destination ARNs of its subscription filters (at most two per group in AWS).
    pub subscriptions: Vec<String>,
}

/// Why the audit cannot say what an account policy covers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogAuditError {
    /// Its selection criteria are not the one form AWS supports (`LogGroupName NOT IN [...]`).
    #[error("account policy {policy}: selection criteria not understood: {criteria}")]
    CriteriaNotUnderstood { policy: String, criteria: String },
}

/// An account-level subscription filter policy (`DescribeAccountPolicies`,
/// `SUBSCRIPTION_FILTER_POLICY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSubscription {
    pub name: String,
    /// `DestinationArn` of its policy document (empty if unreadable).
    pub destination: String,
    /// Log groups its selection criteria leave out (`LogGroupName NOT IN [...]`).
    pub excluded: Vec<String>,
}

impl AccountSubscription {
    /// Reads a policy from its name, document (JSON text) and selection criteria. A criteria
    /// string that is not the one form AWS supports for these policies (`LogGroupName NOT IN
    /// [...]`) is an error: the audit then cannot say what the policy covers.
    pub fn parse(
        name: &str,
        document: Option<&str>,
        criteria: Option<&str>,
    ) -> Result<Self, LogAuditError> {
        let destination = document
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .and_then(|d| d["DestinationArn"].as_str().map(str::to_string))
            .unwrap_or_default();
        let excluded = match criteria.map(str::trim).filter(|c| !c.is_empty()) {
            None => Vec::new(),
            Some(c) => parse_not_in(c).ok_or_else(|| LogAuditError::CriteriaNotUnderstood {
                policy: name.to_string(),
                criteria: c.to_string(),
            })?,
        };
        Ok(Self {
            name: name.to_string(),
            destination,
            excluded,
        })
    }
}

/// `LogGroupName NOT IN ["a", "b"]` → `["a", "b"]`.
fn parse_not_in(criteria: &str) -> Option<Vec<String>> {
    let rest = criteria.strip_prefix("LogGroupName")?.trim_start();
    let rest = rest.strip_prefix("NOT")?.trim_start();
    let rest = rest.strip_prefix("IN")?.trim_start();
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// Why the suite cannot see a function's failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlindSpot {
    /// No subscription filter to the suite on its group, and no account policy covering it.
    NotSubscribed,
    /// System log level above INFO: no REPORT lines.
    NoReportLines { level: String },
    /// A `DELIVERY` group: logs go straight to S3 or Firehose.
    DeliveredOutsideCloudWatch,
    /// An `INFREQUENT_ACCESS` group: subscriptions are not available.
    InfrequentAccess,
    /// Its log group does not exist (yet): nothing is logged, or it logs elsewhere.
    NoLogGroup,
}

impl BlindSpot {
    /// What to do about it, in one line.
    pub fn explain(&self) -> String {
        match self {
            Self::NotSubscribed => "no subscription filter to lakeops on its log group and no account-level subscription policy covering it (add one, or turn on the template's AccountSubscriptionPolicy)".into(),
            Self::NoReportLines { level } => format!("LoggingConfig SystemLogLevel {level}: Lambda writes no REPORT lines, so timeouts and out-of-memory go unseen (set it to INFO)"),
            Self::DeliveredOutsideCloudWatch => "its log group is of class DELIVERY: logs go straight to S3 or Firehose, where no subscription reads them".into(),
            Self::InfrequentAccess => "its log group is of class INFREQUENT_ACCESS, which has no subscription filters (use STANDARD)".into(),
            Self::NoLogGroup => "its log group does not exist: it has not logged yet, or its logs go elsewhere".into(),
        }
    }
}

/// A function the suite cannot watch, with every reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub function: String,
    pub log_group: String,
    pub reasons: Vec<BlindSpot>,
}

/// What the audit knows about the account.
#[derive(Debug, Default, Clone)]
pub struct Account {
    pub functions: Vec<FunctionLogging>,
    /// By log group name; a group missing here does not exist.
    pub groups: BTreeMap<String, LogGroupView>,
    pub policies: Vec<AccountSubscription>,
}

/// Which subscriptions count as reaching the suite: destinations whose ARN is one of these (the
/// transformer's function, the delivery stream). Empty: any subscription counts.
#[derive(Debug, Default, Clone)]
pub struct SuiteDestinations(pub Vec<String>);

impl SuiteDestinations {
    fn reach(&self, destination: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|d| d == destination)
    }
}

/// Every function whose failures the suite cannot see, by name; functions whose name starts with
/// one of `skip_prefixes` (the suite's own, watched by CloudWatch alarms instead) are left out.
pub fn audit(
    account: &Account,
    suite: &SuiteDestinations,
    skip_prefixes: &[String],
) -> Vec<Finding> {
    let mut out: Vec<Finding> = account
        .functions
        .iter()
        .filter(|f| {
            !skip_prefixes
                .iter()
                .any(|p| f.function.starts_with(p.as_str()))
        })
        .filter_map(|f| {
            let reasons = reasons(f, account, suite);
            (!reasons.is_empty()).then(|| Finding {
                function: f.function.clone(),
                log_group: f.log_group.clone(),
                reasons,
            })
        })
        .collect();
    out.sort_by(|a, b| a.function.cmp(&b.function));
    out
}

fn reasons(f: &FunctionLogging, account: &Account, suite: &SuiteDestinations) -> Vec<BlindSpot> {
    let mut out = Vec::new();
    if let Some(level) = &f.system_log_level {
        if f.log_format.eq_ignore_ascii_case("JSON") && level.eq_ignore_ascii_case("WARN") {
            out.push(BlindSpot::NoReportLines {
                level: level.clone(),
            });
        }
    }
    let Some(group) = account.groups.get(&f.log_group) else {
        out.push(BlindSpot::NoLogGroup);
        return out;
    };
    match group.class {
        LogGroupClass::Delivery => out.push(BlindSpot::DeliveredOutsideCloudWatch),
        LogGroupClass::InfrequentAccess => out.push(BlindSpot::InfrequentAccess),
        LogGroupClass::Standard | LogGroupClass::Other(_) => {
            let filtered = group.subscriptions.iter().any(|d| suite.reach(d));
            let by_policy = account
                .policies
                .iter()
                .any(|p| suite.reach(&p.destination) && !p.excluded.contains(&f.log_group));
            if !filtered && !by_policy {
                out.push(BlindSpot::NotSubscribed);
            }
        }
    }
    out
}

/// The audit's settings (the cost watcher's digest section and `make audit` read the same).
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// `LOG_AUDIT_IN_DIGEST` (default true): the daily digest carries a "Log blind spots"
    /// section.
    pub in_digest: bool,
    /// `LOG_AUDIT_DESTINATIONS`: ARNs a subscription must send to, to count (the transformer,
    /// the delivery stream); empty: any subscription counts.
    pub destinations: SuiteDestinations,
    /// `LOG_AUDIT_SKIP_PREFIXES` (default `lakeops-`): functions left out (the suite's own,
    /// watched by CloudWatch alarms, and deliberately not subscribed: no log loop).
    pub skip_prefixes: Vec<String>,
    /// `LOG_AUDIT_CALLS_PER_SECOND` (default 4): the pace of its Lambda and CloudWatch Logs calls
    /// (0.1 to 50).
    pub calls_per_second: f64,
    /// `LOG_AUDIT_SECONDS` (default 60): the longest it may take in the digest's run (1 to 300);
    /// functions not reached are counted.
    pub seconds: u32,
}

impl AuditSettings {
    pub fn read(r: &mut crate::ConfigReader) -> Self {
        let calls_per_second: f64 = r.parse_or("LOG_AUDIT_CALLS_PER_SECOND", 4.0);
        if !(0.1..=50.0).contains(&calls_per_second) {
            r.problem("LOG_AUDIT_CALLS_PER_SECOND", "must be between 0.1 and 50");
        }
        let seconds: u32 = r.parse_or("LOG_AUDIT_SECONDS", 60);
        if !(1..=300).contains(&seconds) {
            r.problem("LOG_AUDIT_SECONDS", "must be between 1 and 300");
        }
        let skip = r.optional("LOG_AUDIT_SKIP_PREFIXES");
        Self {
            in_digest: r.bool_or("LOG_AUDIT_IN_DIGEST", true),
            destinations: SuiteDestinations(r.list("LOG_AUDIT_DESTINATIONS")),
            skip_prefixes: match skip {
                None => vec!["lakeops-".to_string()],
                Some(v) => v
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            calls_per_second,
            seconds,
        }
    }
}

/// Reads the account and audits it within the settings' time: the report's lines, and the
/// findings.
pub async fn audit_account(
    reader: &read::AuditReader,
    settings: &AuditSettings,
) -> Result<(Vec<String>, Vec<Finding>), crate::LakeopsError> {
    let until =
        tokio::time::Instant::now() + std::time::Duration::from_secs(settings.seconds.into());
    let gathered = reader.gather(until).await?;
    let findings = audit(
        &gathered.account,
        &settings.destinations,
        &settings.skip_prefixes,
    );
    let checked = gathered
        .account
        .functions
        .iter()
        .filter(|f| {
            !settings
                .skip_prefixes
                .iter()
                .any(|p| f.function.starts_with(p.as_str()))
        })
        .count();
    let mut lines = report_lines(&findings, checked);
    let reached = gathered.account.functions.len();
    if reached < gathered.functions_total {
        lines.push(format!(
            "{} of {} functions not reached in {} s ({} API calls): see `make audit`.",
            gathered.functions_total - reached,
            gathered.functions_total,
            settings.seconds,
            gathered.calls
        ));
    }
    lines.extend(gathered.problems.iter().map(|p| format!("Note: {p}")));
    Ok((lines, findings))
}

/// The findings as text lines (the digest's section, `make audit`'s output).
pub fn report_lines(findings: &[Finding], checked: usize) -> Vec<String> {
    if findings.is_empty() {
        return vec![format!(
            "All {checked} Lambda functions checked send their failures to lakeops."
        )];
    }
    let mut out = vec![format!(
        "{} of {checked} Lambda functions checked fail unseen:",
        findings.len()
    )];
    for f in findings {
        let why: Vec<String> = f.reasons.iter().map(BlindSpot::explain).collect();
        out.push(format!(
            "- {} ({}): {}",
            f.function,
            f.log_group,
            why.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod tests;
