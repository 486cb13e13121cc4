//! The deciding half of lakeops, with no AWS SDK and no async runtime: what an Athena query is
//! ([`query`]), who ran it ([`caller`]), what it costs ([`pricing`]), the query record the index
//! keeps, with its stages and the transitions between them in one place ([`record`]), the ports
//! the Athena watchers reach the world through — the index ([`index`]) and Athena's query history
//! ([`history`]) — with their memory adapters ([`memory`]), and the contract suite every index
//! adapter passes ([`index_contract`]).
//!
//! The functions reach AWS through adapters in the shared crate (`lakeops`); the same decisions
//! run against the memory adapters here in unit tests and simulations.

#![warn(clippy::too_many_lines)] // the house limit: no function over 80 lines (clippy.toml)
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod caller;
pub mod cost_hints;
pub mod history;
pub mod index;
pub mod index_contract;
pub mod memory;
pub mod pricing;
pub mod query;
pub mod record;
