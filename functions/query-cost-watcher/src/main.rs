//! Lambda entry point of query-cost-watcher: wiring only (tracing, config, clients, runtime).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]
// The handler's future nests the sweep's, reconciliation's and the index port's futures: laying
// out the runtime's future from scratch takes more than rustc's default 128 query levels (a cold
// build fails with "queries overflow the depth limit"; an incremental one may not).
#![recursion_limit = "256"]

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
    run(service_fn(
        |event: LambdaEvent<query_cost_watcher::Trigger>| query_cost_watcher::handle(event, &deps),
    ))
    .await
}
