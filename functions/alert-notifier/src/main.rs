//! Lambda entry point of alert-notifier: wiring only (tracing, config, clients, runtime).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lakeops::error::init_tracing();
    let deps = match alert_notifier::Deps::from_env().await {
        Ok(deps) => deps,
        Err(e) => {
            // One message naming every problem (settings, channels secret, routes); Lambda
            // reports it as an init error and SQS keeps the messages.
            tracing::error!(error = %e, "start-up failed");
            eprintln!("{e}");
            return Err(e.into());
        }
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        alert_notifier::handle(event, &deps)
    }))
    .await
}
