//! Lambda entry point of log-subscription-transformer: wiring only (tracing, config, clients, runtime).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    log_subscription_transformer::keep_memory_between_batches();
    lakeops::error::init_tracing();
    let deps = match log_subscription_transformer::Deps::from_env().await {
        Ok(deps) => deps,
        Err(e) => {
            // One message naming every bad variable; Lambda reports it as an init error.
            tracing::error!(error = %e, "start-up failed");
            eprintln!("{e}");
            return Err(e.into());
        }
    };
    run(service_fn(
        |event: LambdaEvent<log_subscription_transformer::Trigger>| {
            log_subscription_transformer::handle(event, &deps)
        },
    ))
    .await
}
