//! The shared crate of the lakeops functions: configuration, the AWS adapters (Athena history,
//! the query index, the ledger and outbox), alerts, metrics and attribution — each concept in one
//! module, used by all five function crates. Pricing and the query record are the core's
//! (`lakeops-core`), re-exported here.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod alert;
pub mod api_budget;
pub mod athena;
pub mod attribution;
pub mod aws;
pub mod backoff;
pub mod batch_get;
pub mod calendar;
pub mod config;
pub mod console;
pub mod deadline;
pub mod error;
pub mod ledger;
pub mod log_audit;
pub mod metrics;
pub mod outbox;
pub mod query_index;
pub mod schedule;
pub mod sql;
pub mod sql_shape;
pub mod stats;
pub mod tables_read;
pub mod wiring;

/// Pricing lives in the pure core; re-exported where the functions have always found it.
pub use lakeops_core::pricing;

pub use alert::{Alert, AlertSink, Severity, SnsAlertPublisher};
pub use config::{CommonConfig, ConfigError, ConfigReader};
pub use error::LakeopsError;
pub use metrics::{Metrics, Unit};
