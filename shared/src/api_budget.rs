//! One account-wide budget for the suite's Athena history calls (`ListQueryExecutions` and
//! `BatchGetQueryExecution`): a token bucket in DynamoDB, shared by every instance of every
//! function, so together they stay at `ATHENA_HISTORY_CALLS_PER_SECOND` (default 2) however many
//! run at once — and leave the account's quota (List: 5/s, BatchGet: 20/s, shared with the
//! console and BI tools) to its people.
//!
//! The bucket is one item (`budget#athena-history` in the query index table): tokens and the
//! time they were counted. Taking a token reads the item (strongly consistent), refills it for
//! the time passed (up to the burst), and writes it back on the condition that nobody else wrote
//! in between (optimistic concurrency); a lost race reads again. When DynamoDB itself fails the
//! budget does not stop the suite: that call is paced locally instead, and a warning is logged.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::LakeopsError;

/// The bucket's item in the query index table.
pub const BUDGET_KEY: &str = "budget#athena-history";
/// Calls the bucket can hold for a burst.
pub const BURST: f64 = 5.0;

#[derive(Debug)]
pub struct ApiBudget {
    client: aws_sdk_dynamodb::Client,
    table: String,
    per_second: f64,
    /// The local pace, when the shared bucket cannot be reached.
    fallback: Pacer,
}

/// What one attempt to take a token found.
#[derive(Debug, PartialEq)]
enum Take {
    Taken,
    /// Empty: wait this long.
    Wait(Duration),
    /// Someone wrote the bucket in between: read again.
    Raced,
}

/// The bucket after `elapsed_ms` at `per_second`, capped at the burst; and whether a token can be
/// taken now, or how long until one can.
fn refill(tokens: f64, elapsed_ms: i64, per_second: f64) -> (f64, Option<Duration>) {
    let now = (tokens + elapsed_ms.max(0) as f64 / 1000.0 * per_second).min(BURST);
    if now >= 1.0 {
        (now - 1.0, None)
    } else {
        (now, Some(Duration::from_secs_f64((1.0 - now) / per_second)))
    }
}

impl ApiBudget {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        per_second: f64,
    ) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        Self {
            client,
            table: table.into(),
            per_second,
            fallback: Pacer::new(per_second, BURST as u32),
        }
    }

    /// Waits until the suite may make one more Athena history call.
    pub async fn wait_for_athena_call_turn(&self) {
        loop {
            let now_ms = chrono::Utc::now().timestamp_millis();
            match self.try_take_athena_call_token(now_ms).await {
                Ok(Take::Taken) => return,
                Ok(Take::Wait(d)) => tokio::time::sleep(d).await,
                Ok(Take::Raced) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the shared Athena call budget is unreachable; pacing this call locally");
                    self.fallback.wait().await;
                    return;
                }
            }
        }
    }

    async fn try_take_athena_call_token(&self, now_ms: i64) -> Result<Take, LakeopsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(
                crate::query_index::KEY,
                AttributeValue::S(BUDGET_KEY.into()),
            )
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| LakeopsError::aws("dynamodb:GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let number = |name: &str, item: &HashMap<String, AttributeValue>| -> Option<String> {
            item.get(name).and_then(|v| v.as_n().ok()).cloned()
        };
        let counted_at = number("counted_at_ms", &item);
        let then_ms: Option<i64> = counted_at.as_deref().and_then(|t| t.parse().ok());
        let tokens: f64 = number("tokens", &item)
            .and_then(|t| t.parse().ok())
            .unwrap_or(BURST);
        let elapsed = then_ms.map_or(0, |t| now_ms - t);
        let (left, wait) = refill(tokens, elapsed, self.per_second);
        if let Some(d) = wait {
            return Ok(Take::Wait(d));
        }
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                crate::query_index::KEY,
                AttributeValue::S(BUDGET_KEY.into()),
            )
            .update_expression("SET tokens = :left, counted_at_ms = :now, taken = :next")
            .expression_attribute_values(":left", AttributeValue::N(format!("{left:.4}")))
            // Never back in time, whatever this instance's clock says.
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now_ms.max(then_ms.unwrap_or(now_ms)).to_string()),
            );
        // The condition is on a counter of takes, not on the time: two instances taking in the
        // same millisecond would both find `counted_at_ms` unchanged (the first wrote the same
        // value back) and both take the one token.
        let seen: Option<u64> = number("taken", &item).and_then(|t| t.parse().ok());
        update = update.expression_attribute_values(
            ":next",
            AttributeValue::N((seen.unwrap_or(0) + 1).to_string()),
        );
        update = match seen {
            Some(n) => update
                .condition_expression("taken = :seen")
                .expression_attribute_values(":seen", AttributeValue::N(n.to_string())),
            None => update.condition_expression("attribute_not_exists(taken)"),
        };
        match update.send().await {
            Ok(_) => Ok(Take::Taken),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Take::Raced)
            }
            Err(e) => Err(LakeopsError::aws("dynamodb:UpdateItem", e)),
        }
    }
}

/// Spaces out calls to stay under an account-wide request rate (a token bucket). AWS throttles
/// `ListQueryExecutions` at 5 calls/s (burst 10) per account, shared with every other client.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    burst: u32,
    state: Mutex<(f64, Instant)>,
}

impl Pacer {
    pub fn new(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            1.0
        };
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            burst: burst.max(1),
            state: Mutex::new((burst.max(1) as f64, Instant::now())),
        }
    }

    /// Waits until a call may be made.
    pub async fn wait(&self) {
        let mut state = self.state.lock().await;
        let (ref mut tokens, ref mut last) = *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() / self.interval.as_secs_f64())
            .min(self.burst as f64);
        *last = now;
        if *tokens < 1.0 {
            let wait = self.interval.mul_f64(1.0 - *tokens);
            tokio::time::sleep(wait).await;
            *tokens = 0.0;
            *last = Instant::now();
        } else {
            *tokens -= 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate_up_to_the_burst() {
        // Full: take one.
        assert_eq!(refill(BURST, 0, 2.0), (BURST - 1.0, None));
        // Empty: 0.5 s at 2/s refills one token exactly.
        assert_eq!(refill(0.0, 500, 2.0), (0.0, None));
        // Empty, 100 ms later: 0.2 tokens, wait 0.4 s for the rest.
        let (left, wait) = refill(0.0, 100, 2.0);
        assert!((left - 0.2).abs() < 1e-9);
        assert_eq!(wait, Some(Duration::from_millis(400)));
        // Hours idle: still only a burst.
        assert_eq!(refill(0.0, 3_600_000, 2.0), (BURST - 1.0, None));
        // A clock behind the last writer's counts as no time passed.
        assert_eq!(refill(1.5, -2_000, 2.0).1, None);
    }
}
