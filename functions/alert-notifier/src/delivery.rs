//! Posting to a webhook: per-channel pacing, `429 Retry-After`, retries with backoff within the
//! invocation's deadline, and a clear verdict for each post.
//!
//! - **Pacing.** Each channel gets at most its platform's documented rate
//!   ([`Platform::messages_per_second`]) divided by the number of notifier instances that may run
//!   at once (`concurrency`, the event source mapping's maximum concurrency): together they stay
//!   inside the platform's rate without sharing state.
//! - **429.** The channel's next post waits the `Retry-After` the platform asked for (seconds or
//!   an HTTP date; 5 s when absent), then the post is tried again.
//! - **5xx, 408, timeouts, connection failures.** Retried with exponential backoff and jitter
//!   (1 s, 2 s, 4 s … capped at 16 s) up to `max_attempts`.
//! - **Any other 4xx.** The platform refuses this message for good (bad payload, deleted
//!   channel, revoked webhook): [`Verdict::Rejected`] with the status and the platform's reason.
//! - **Out of time.** No wait runs past the deadline: [`Verdict::Retry`], and SQS redelivers the
//!   message later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lakeops::LakeopsError;
use serde_json::Value;
use tokio::time::Instant;

use crate::channels::{Channel, Channels};

/// What became of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The platform accepted it (2xx) after `attempts` tries.
    Delivered { attempts: u32 },
    /// The platform refused it for good (4xx other than 408 / 429).
    Rejected { status: u16, reason: String },
    /// Not delivered now; worth trying again later (5xx storm, throttled past the deadline).
    Retry { reason: String },
}

/// What one post came to.
enum Attempt {
    Delivered,
    /// Refused for good (4xx other than 408 / 429).
    Rejected {
        status: u16,
        reason: String,
    },
    /// 429: the platform said when to come back; it does not use up an attempt.
    Throttled {
        wait: Duration,
        reason: String,
    },
    /// Worth another try after `retry_in` (408, 5xx, no answer).
    Failed {
        retry_in: Duration,
        reason: String,
    },
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The wait after a 429 without a usable `Retry-After`.
    pub default_retry_after: Duration,
    /// Notifier instances that may post at once (each paces at its share of the rate).
    pub concurrency: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(16),
            default_retry_after: Duration::from_secs(5),
            concurrency: 2,
        }
    }
}

/// Why the webhook poster could not be set up. The function cannot start without it: its
/// handler reports it as `InvalidInput`, as it always has.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

impl From<DeliveryError> for LakeopsError {
    fn from(e: DeliveryError) -> Self {
        LakeopsError::InvalidInput(e.to_string())
    }
}

/// The webhook poster of one Lambda instance: an HTTP client and each channel's next free time.
pub struct Poster {
    http: reqwest::Client,
    policy: RetryPolicy,
    /// The longest one post may take (`WEBHOOK_TIMEOUT_SECONDS`): a post starts only if it can
    /// end before the deadline, so the invocation never times out mid-post (and Lambda never
    /// kills it after a webhook took the message but before SQS heard it was delivered).
    timeout: Duration,
    next_free: Mutex<HashMap<String, Instant>>,
}

impl Poster {
    pub fn new(policy: RetryPolicy, timeout: Duration) -> Result<Self, DeliveryError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!(
                "lakeops-alert-notifier/",
                env!("CARGO_PKG_VERSION")
            ))
            // A webhook that redirects is not followed: the body would go where the URL's owner
            // did not say.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(DeliveryError::HttpClient)?;
        Ok(Self {
            http,
            policy,
            timeout,
            next_free: Mutex::new(HashMap::new()),
        })
    }

    /// Time between two posts to one channel from this instance.
    fn interval(&self, channel: &Channel) -> Duration {
        Duration::from_secs_f64(
            f64::from(self.policy.concurrency.max(1)) / channel.platform.messages_per_second(),
        )
    }

    /// Reserves the channel's next slot (at `earliest` or later); returns when it is.
    fn reserve(&self, channel: &Channel, earliest: Instant) -> Instant {
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let slot = next
            .get(&channel.name)
            .copied()
            .map_or(earliest, |n| n.max(earliest));
        next.insert(channel.name.clone(), slot + self.interval(channel));
        slot
    }

    /// Pushes the channel's next slot back to `at` (a 429 said so).
    fn hold_until(&self, channel: &Channel, at: Instant) {
        let mut next = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let entry = next.entry(channel.name.clone()).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// Posts `body` to `channel` at `url` (its webhook, with [`crate::threads::post_url`]'s
    /// additions), paced and retried, giving up at `deadline`. `channels` redacts any URL out of
    /// the reasons it returns.
    pub async fn post(
        &self,
        channel: &Channel,
        url: &str,
        body: &Value,
        deadline: Instant,
        channels: &Channels,
    ) -> Verdict {
        let payload = body.to_string();
        // `attempt` counts every post; `failures` only those a 429 did not explain (the platform
        // told us when to come back, so a throttled post does not use up an attempt).
        let mut attempt = 0u32;
        let mut failures = 0u32;
        let mut earliest = Instant::now();
        loop {
            attempt += 1;
            let slot = self.reserve(channel, earliest);
            if slot + self.timeout > deadline {
                return Verdict::Retry {
                    reason: format!(
                        "channel {} is paced or throttled past this invocation's deadline (attempt {attempt})",
                        channel.name
                    ),
                };
            }
            tokio::time::sleep_until(slot).await;
            let (retry_in, reason) = match self
                .attempt(channel, url, &payload, channels, failures)
                .await
            {
                Attempt::Delivered => return Verdict::Delivered { attempts: attempt },
                Attempt::Rejected { status, reason } => {
                    return Verdict::Rejected { status, reason }
                }
                Attempt::Throttled { wait, reason } => (wait, reason),
                Attempt::Failed { retry_in, reason } => {
                    failures += 1;
                    if failures >= self.policy.max_attempts {
                        return Verdict::Retry {
                            reason: format!(
                                "channel {}: {reason} after {failures} attempts",
                                channel.name
                            ),
                        };
                    }
                    (retry_in, reason)
                }
            };
            earliest = Instant::now() + retry_in;
            if earliest + self.timeout > deadline {
                return Verdict::Retry {
                    reason: format!(
                        "channel {}: {reason}; the next try would be past this invocation's deadline",
                        channel.name
                    ),
                };
            }
            tracing::info!(channel = %channel.name, %reason, retry_in_ms = retry_in.as_millis() as u64, "post failed; trying again");
        }
    }

    /// One post of `payload`; `failures` so far set the backoff of a failed one.
    async fn attempt(
        &self,
        channel: &Channel,
        url: &str,
        payload: &str,
        channels: &Channels,
        failures: u32,
    ) -> Attempt {
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            // `without_url`: reqwest puts the request URL in its errors.
            Err(e) => {
                return Attempt::Failed {
                    retry_in: self.backoff(failures + 1),
                    reason: channels.redact(&lakeops::error::error_chain(&e.without_url())),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response.text().await.unwrap_or_default();
        let said = channels.redact(&lakeops::alert::truncate(text.trim(), 300));
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        match status {
            200..=299 => Attempt::Delivered,
            429 => {
                let wait = retry_after.unwrap_or(self.policy.default_retry_after);
                self.hold_until(channel, Instant::now() + wait);
                tracing::warn!(channel = %channel.name, wait_s = wait.as_secs_f64(), "throttled (429); waiting as asked");
                Attempt::Throttled {
                    wait,
                    reason: format!(
                        "429 Too Many Requests (retry after {:.0} s)",
                        wait.as_secs_f64()
                    ),
                }
            }
            408 | 500..=599 => Attempt::Failed {
                retry_in: self.backoff(failures + 1),
                reason: format!("HTTP {status}{said}"),
            },
            _ => Attempt::Rejected {
                status,
                reason: format!(
                    "channel {} ({}) answered HTTP {status}{said}",
                    channel.name, channel.platform
                ),
            },
        }
    }

    /// `first_backoff · 2^(attempt-1)`, capped, with jitter (50–100 %).
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .policy
            .first_backoff
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
            .min(self.policy.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        base.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3); capped at 15 minutes.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return None,
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(Duration::from_secs(900)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("99999"), Some(Duration::from_secs(900)));
        let in_a_minute =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(61));
        let d = parse_retry_after(&in_a_minute).unwrap();
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(61),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = Poster::new(RetryPolicy::default(), Duration::from_secs(1)).unwrap();
        for attempt in 1..=8 {
            let b = p.backoff(attempt);
            let base = Duration::from_secs(1 << (attempt - 1).min(4));
            assert!(b >= base / 2 && b <= base, "attempt {attempt}: {b:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_is_paced_at_its_share_of_the_platform_rate() {
        let channels = Channels::parse(
            r#"{"a": "https://hooks.slack.com/services/a", "b": "https://hooks.slack.com/services/b"}"#,
        )
        .unwrap();
        let p = Poster::new(RetryPolicy::default(), Duration::from_secs(1)).unwrap();
        let a = channels.get("a").unwrap();
        let b = channels.get("b").unwrap();
        let t0 = Instant::now();
        // two instances share Slack's 1/s: this one posts every 2 s to a channel
        assert_eq!(p.reserve(a, t0), t0);
        assert_eq!(p.reserve(a, t0), t0 + Duration::from_secs(2));
        assert_eq!(p.reserve(a, t0), t0 + Duration::from_secs(4));
        // another channel is not held up
        assert_eq!(p.reserve(b, t0), t0);
        // a 429 pushes the channel back
        p.hold_until(b, t0 + Duration::from_secs(30));
        assert_eq!(p.reserve(b, t0), t0 + Duration::from_secs(30));
    }

    /// A post that could still be running when the invocation ends is not started: with 10 s
    /// of webhook timeout and 5 s left, the message goes back to SQS untouched.
    #[tokio::test(start_paused = true)]
    async fn no_post_starts_that_its_timeout_could_carry_past_the_deadline() {
        let channels = Channels::parse(r#"{"a": "https://hooks.slack.com/services/a"}"#).unwrap();
        let p = Poster::new(RetryPolicy::default(), Duration::from_secs(10)).unwrap();
        let a = channels.get("a").unwrap();
        let verdict = p
            .post(
                a,
                a.url(),
                &serde_json::json!({"text": "x"}),
                Instant::now() + Duration::from_secs(5),
                &channels,
            )
            .await;
        assert!(
            matches!(&verdict, Verdict::Retry { reason } if reason.contains("deadline")),
            "{verdict:?}"
        );
    }
}
