//! End-to-end tests: the real function binaries under `cargo lambda watch`, invoked with the
//! files in `events/`, talking over HTTP to a local moto server with the lakeops extension.
//! One test binary for all of them (build time); each test starts its own emulator.

mod attribution;
mod audit;
mod cost_watcher;
mod faults;
mod foundation;
mod index;
mod killer;
mod notifier;
mod reconciler;
mod simulation;
mod transformer;
