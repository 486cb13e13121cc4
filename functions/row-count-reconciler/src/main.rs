//! Lambda entry point of row-count-reconciler: wiring only (tracing, config, clients, runtime).

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lakeops::error::init_tracing();
    let deps = match row_count_reconciler::Deps::from_env().await {
        Ok(deps) => deps,
        Err(e) => {
            // One message naming every bad variable; Lambda reports it as an init error.
            tracing::error!(error = %e, "start-up failed");
            eprintln!("{e}");
            return Err(e.into());
        }
    };
    run(service_fn(
        |event: LambdaEvent<row_count_reconciler::Trigger>| {
            row_count_reconciler::handle(event, &deps)
        },
    ))
    .await
}
