//! Lambda entry point of query-cost-feed: the query index's feed, triggered by the event
//! queue's mapping only (see `query_cost_watcher::feed`). Wiring only.
#![recursion_limit = "256"]
#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lakeops::error::init_tracing();
    let deps = match query_cost_watcher::Deps::from_env().await {
        Ok(deps) => deps,
        Err(e) => {
            // One message naming every bad variable; Lambda reports it as an init error.
            tracing::error!(error = %e, "start-up failed");
            eprintln!("{e}");
            return Err(e.into());
        }
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        query_cost_watcher::feed::handle_batch(event, &deps)
    }))
    .await
}
