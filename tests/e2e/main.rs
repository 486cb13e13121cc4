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
mod report;
mod simulation;
mod transformer;

/// Counts what the simulated day's invocations allocate (`lakeops_e2e::sim::memory`; the
/// functions of the other tests run in their own processes).
#[global_allocator]
static ALLOC: lakeops_e2e::sim::memory::CountingAlloc = lakeops_e2e::sim::memory::CountingAlloc;
