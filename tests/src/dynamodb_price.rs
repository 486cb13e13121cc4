//! DynamoDB on-demand list prices, us-east-1 (since November 2024; the DynamoDB pricing page):
//! what the scale benchmark and the simulated day turn capacity units and storage into dollars.

/// Per million write request units.
pub const WRU_USD: f64 = 0.625;
/// Per million read request units.
pub const RRU_USD: f64 = 0.125;
/// Per GB-month stored.
pub const GB_MONTH_USD: f64 = 0.25;

/// Dollars a day for `write_units` and `read_units` a day and `stored_gb` kept.
pub fn usd_a_day(write_units: f64, read_units: f64, stored_gb: f64) -> f64 {
    write_units / 1e6 * WRU_USD + read_units / 1e6 * RRU_USD + stored_gb * GB_MONTH_USD / 30.0
}
