//! AWS SDK configuration: the one path every client is built from.
//!
//! `aws_config` reads the standard variables, so `AWS_ENDPOINT_URL` (all services) and
//! `AWS_ENDPOINT_URL_<SERVICE>` (one service, e.g. `AWS_ENDPOINT_URL_ATHENA`) point the very same
//! binaries at the local emulator; there is no test-only branch here.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Attempts per call (first try included). The SDK's standard mode retries throttling
/// (`ThrottlingException`, 429) and transient 5xx with exponential backoff and jitter; Athena's
/// List/BatchGet quotas (5/s and 20/s per account) are easy to hit from several functions at once.
pub const MAX_ATTEMPTS: u32 = 6;

/// Loads the shared SDK config: region, credentials and endpoint from the environment, standard
/// retries with [`MAX_ATTEMPTS`].
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}
