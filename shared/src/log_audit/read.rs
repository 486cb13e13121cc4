//! What the audit reads, through the Lambda and CloudWatch Logs APIs, read-only: `ListFunctions`
//! (50 a page, `Marker`), `DescribeAccountPolicies` (`SUBSCRIPTION_FILTER_POLICY`, `nextToken`),
//! `DescribeLogGroups` (50 a page by name prefix: one listing of `/aws/lambda/` and one lookup
//! per custom group) and `DescribeSubscriptionFilters` (one call per standard group a function
//! logs to). Every call after the first waits its turn (`pace`), well under CloudWatch Logs'
//! per-account Describe quotas, and none starts after `until`: a run out of time audits the
//! functions it reached and says how many it did not.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::PolicyType;
use tokio::time::Instant;

use super::{Account, AccountSubscription, FunctionLogging, LogGroupClass, LogGroupView};
use crate::error::LakeopsError;

/// The prefix of Lambda's default log groups.
const LAMBDA_GROUPS: &str = "/aws/lambda/";

/// Reads the account for the audit.
#[derive(Debug, Clone)]
pub struct AuditReader {
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Time between two calls.
    pub pace: Duration,
}

/// What was read.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Functions whose logging was read to the end (all of them unless time ran out).
    pub account: Account,
    /// Functions in the account (also those not reached).
    pub functions_total: usize,
    pub calls: usize,
    /// What could not be read (an account policy not understood, a call refused).
    pub problems: Vec<String>,
}

struct Paced {
    pace: Duration,
    until: Instant,
    last: Option<Instant>,
    calls: usize,
}

impl Paced {
    /// Waits for the next call's turn; `false` if the deadline came first.
    async fn turn(&mut self) -> bool {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + self.pace).await;
        }
        let now = Instant::now();
        if now >= self.until {
            return false;
        }
        self.last = Some(now);
        self.calls += 1;
        true
    }
}

impl AuditReader {
    pub fn new(config: &aws_config::SdkConfig, calls_per_second: f64) -> Self {
        Self {
            lambda: aws_sdk_lambda::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            pace: Duration::from_secs_f64(1.0 / calls_per_second.clamp(0.1, 50.0)),
        }
    }

    /// Reads the functions, the account policies and the log groups the functions use.
    pub async fn gather(&self, until: Instant) -> Result<Gathered, LakeopsError> {
        let mut paced = Paced {
            pace: self.pace,
            until,
            last: None,
            calls: 0,
        };
        let mut out = Gathered::default();
        let functions = self.list_functions(&mut paced).await?;
        out.functions_total = functions.len();
        match self.subscription_policies(&mut paced).await {
            Ok((policies, problems)) => {
                out.account.policies = policies;
                out.problems.extend(problems);
            }
            Err(e) => out.problems.push(format!(
                "account subscription policies not read ({e}): groups they cover are reported as not subscribed"
            )),
        }
        let names: BTreeSet<&str> = functions.iter().map(|f| f.log_group.as_str()).collect();
        let Some(classes) = self.group_classes(&mut paced, &names).await? else {
            out.problems
                .push("out of time listing log groups: no function audited".into());
            out.calls = paced.calls;
            return Ok(out);
        };
        let mut reached: BTreeSet<String> = BTreeSet::new();
        for name in names {
            let Some(class) = classes.get(name) else {
                reached.insert(name.to_string());
                continue;
            };
            let subscriptions = if *class == LogGroupClass::Standard {
                if !paced.turn().await {
                    break;
                }
                self.subscription_destinations(name).await?
            } else {
                Vec::new()
            };
            out.account.groups.insert(
                name.to_string(),
                LogGroupView {
                    class: class.clone(),
                    subscriptions,
                },
            );
            reached.insert(name.to_string());
        }
        out.account.functions = functions
            .into_iter()
            .filter(|f| reached.contains(&f.log_group))
            .collect();
        out.calls = paced.calls;
        Ok(out)
    }

    async fn list_functions(
        &self,
        paced: &mut Paced,
    ) -> Result<Vec<FunctionLogging>, LakeopsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            if !paced.turn().await {
                return Err(LakeopsError::InvalidInput(
                    "out of time before the functions were listed".into(),
                ));
            }
            let page = self
                .lambda
                .list_functions()
                .max_items(50)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| LakeopsError::aws("lambda:ListFunctions", e))?;
            for f in page.functions() {
                let Some(name) = f.function_name() else {
                    continue;
                };
                let logging = f.logging_config();
                out.push(FunctionLogging::new(
                    name,
                    logging.and_then(|l| l.log_group()),
                    logging.and_then(|l| l.log_format()).map(|v| v.as_str()),
                    logging
                        .and_then(|l| l.system_log_level())
                        .map(|v| v.as_str()),
                ));
            }
            match page.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// The account's subscription filter policies, and the ones not understood.
    async fn subscription_policies(
        &self,
        paced: &mut Paced,
    ) -> Result<(Vec<AccountSubscription>, Vec<String>), LakeopsError> {
        let (mut out, mut problems) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            if !paced.turn().await {
                problems.push("out of time reading account policies".into());
                return Ok((out, problems));
            }
            let page = self
                .logs
                .describe_account_policies()
                .policy_type(PolicyType::SubscriptionFilterPolicy)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| LakeopsError::aws("logs:DescribeAccountPolicies", e))?;
            for p in page.account_policies() {
                let name = p.policy_name().unwrap_or_default();
                match AccountSubscription::parse(name, p.policy_document(), p.selection_criteria())
                {
                    Ok(policy) => out.push(policy),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok((out, problems)),
            }
        }
    }

    /// The class of each of `names` that exists (a missing name does not); `None` if time ran
    /// out before every group was listed.
    async fn group_classes(
        &self,
        paced: &mut Paced,
        names: &BTreeSet<&str>,
    ) -> Result<Option<BTreeMap<String, LogGroupClass>>, LakeopsError> {
        let mut prefixes: BTreeSet<&str> = BTreeSet::new();
        for name in names {
            prefixes.insert(if name.starts_with(LAMBDA_GROUPS) {
                LAMBDA_GROUPS
            } else {
                name
            });
        }
        let mut out = BTreeMap::new();
        for prefix in prefixes {
            let mut token: Option<String> = None;
            loop {
                if !paced.turn().await {
                    return Ok(None);
                }
                let page = self
                    .logs
                    .describe_log_groups()
                    .log_group_name_prefix(prefix)
                    .limit(50)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| LakeopsError::aws("logs:DescribeLogGroups", e))?;
                for g in page.log_groups() {
                    let Some(name) = g.log_group_name() else {
                        continue;
                    };
                    if names.contains(name) {
                        let class = LogGroupClass::parse(g.log_group_class().map(|c| c.as_str()));
                        out.insert(name.to_string(), class);
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => break,
                }
            }
        }
        Ok(Some(out))
    }

    /// The destinations of a group's subscription filters (AWS allows two per group: one page).
    async fn subscription_destinations(&self, group: &str) -> Result<Vec<String>, LakeopsError> {
        let out = self
            .logs
            .describe_subscription_filters()
            .log_group_name(group)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("logs:DescribeSubscriptionFilters", e))?;
        Ok(out
            .subscription_filters()
            .iter()
            .filter_map(|f| f.destination_arn().map(str::to_string))
            .collect())
    }
}
