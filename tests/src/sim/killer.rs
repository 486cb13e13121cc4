//! The long-query killer in the simulated day: its own run ([`long_query_killer::Sweep`], the
//! decisions and actions the deployed function makes) over the same memory adapters as the cost
//! watcher — the index the feed keeps, Athena's record, the ledger, the alert topic with its
//! outage — every [`KILLER_PERIOD`], as its schedule runs it. Stops take effect in
//! [`MemoryAthena`] at once; the world then ends the query (its CANCELLED event, no planned end).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use lakeops::outbox::MemoryOutbox;
use lakeops::ConfigReader;
use lakeops_core::memory::{MemoryAthena, MemoryIndex};
use long_query_killer::{KillerConfig, Sweep};

use super::world::{AlertTopic, SimLedger};

/// The killer's schedule (the template's `rate(2 minutes)`).
pub const KILLER_PERIOD: Duration = Duration::minutes(2);
/// The simulated account's limit for a DML query, from submission (`LIMIT_MINUTES`).
pub const LIMIT: Duration = Duration::minutes(60);

/// The killer as deployed (enforce mode), with its own outbox of kept stop alerts.
pub struct Killer {
    config: KillerConfig,
    outbox: MemoryOutbox,
    pub runs: u64,
    pub failed_runs: u64,
    pub slowest: std::time::Duration,
}

impl Killer {
    /// `dry_run`: a rule broken on purpose (the oracle must see that nothing was stopped).
    pub fn new(dry_run: bool) -> Self {
        let limit = LIMIT.num_minutes().to_string();
        let mode = if dry_run { "dry-run" } else { "enforce" };
        let mut r = ConfigReader::from_map([
            (
                "ALERT_TOPIC_ARN",
                "arn:aws:sns:us-east-1:123456789012:lakeops-sim",
            ),
            ("LEDGER_TABLE", "sim-ledger"),
            ("QUERY_INDEX_TABLE", "sim-index"),
            ("KILLER_MODE", mode),
            ("LIMIT_MINUTES", limit.as_str()),
        ]);
        let config = KillerConfig::read(&mut r);
        r.finish()
            .expect("the simulation's killer settings are valid");
        Self {
            config,
            outbox: MemoryOutbox::default(),
            runs: 0,
            failed_runs: 0,
            slowest: std::time::Duration::ZERO,
        }
    }

    /// One scheduled run at `now`; the ids of the queries it stopped (in the order it stopped
    /// them). A run that fails (an SNS outage, throttling) still stopped what it stopped.
    pub async fn run(
        &mut self,
        history: &MemoryAthena,
        index: &MemoryIndex,
        alerts: &AlertTopic,
        ledger: &SimLedger,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let took = Instant::now();
        let sweep = Sweep {
            history,
            index,
            alerts,
            ledger,
            outbox: &self.outbox,
            config: &self.config,
        };
        let mut metrics = lakeops::Metrics::new("Lakeops");
        let ok = matches!(
            sweep.run(self.config.mode, now, &mut metrics).await,
            Ok(summary) if summary.failures.is_empty()
        );
        self.runs += 1;
        self.failed_runs += u64::from(!ok);
        self.slowest = self.slowest.max(took.elapsed());
        history.take_stopped()
    }
}
