//! A day in a busy account, simulated: the cost watcher's real decisions (`Deps::feed` for each
//! event-queue batch, `Deps::sweep` every 5 minutes, reconciliation included) and the long-query
//! killer's ([`killer`], every 2 minutes) over the memory adapters of `lakeops_core::memory`, on a
//! simulated clock, with the traffic of [`traffic::plan`], EventBridge and the event queue of
//! [`world`], a fault schedule, and the verdict of an independent [`oracle`]; each invocation's
//! memory and time against the template's limits ([`memory`]).
//!
//! What is simulated: the cost watcher's feed, reconciliation, pricing, day totals, spend
//! metrics and expensive-query alerts, budgets (per workgroup and person) and spikes against
//! seven previous days of history ([`spend`]), the digest after the day; the killer's warnings,
//! stops and stop alerts; the index's DynamoDB units; a message held for attribution back after
//! the attribution wait (`ChangeMessageVisibility`), not the queue's visibility timeout.

mod day;
pub mod killer;
pub mod memory;
mod observe;
pub mod oracle;
pub mod spend;
pub mod traffic;
pub mod world;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use traffic::Rng;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub per_day: u64,
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub hours: u32,
    /// The fault schedule: an alert-topic outage of 20 minutes, DynamoDB throttling and
    /// transaction conflicts, Athena throttling, a feed invocation dying mid-batch, poison input.
    pub faults: bool,
    /// One query in this many is a runaway ([`traffic::RUNAWAY_ODDS`] in a day; the test slice
    /// makes them ten times as common, so its three hours exercise the killer's rules).
    pub runaway_odds: u64,
    /// A rule broken on purpose, to show the oracle catches it.
    pub broken: Broken,
}

/// A rule the simulation can break on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Broken {
    #[default]
    Nothing,
    /// A ledger that forgets what was sent: alerts sent many times.
    ForgetfulLedger,
    /// A killer left in dry-run, which stops nothing.
    KillerDryRun,
    /// Spikes at 1.5x the baseline instead of the 3x the oracle holds the watcher to.
    SpikeRuleLoosened,
    /// The digest made as the traffic ends, before the drain settles the day.
    DigestBeforeTheDaySettles,
    /// Expensive queries alerted at once, never held for their CloudTrail record.
    NoAttributionWait,
}

/// The sweep that sent the digest: its time here, what it allocated, the index pages it read
/// (DynamoDB `Query` calls) and their read units.
#[derive(Debug, Clone, Copy)]
pub struct DigestRun {
    pub took: std::time::Duration,
    pub bytes: usize,
    pub index_reads: u64,
    pub read_units: f64,
}

/// What a run measured, and the oracle's verdict.
#[derive(Debug)]
pub struct Report {
    pub config: SimConfig,
    pub wall: std::time::Duration,
    pub queries: usize,
    pub messages: u64,
    pub batches: u64,
    /// Messages held for attribution (back after `ATTRIBUTION_WAIT_SECONDS`, not the queue's
    /// visibility timeout).
    pub held: u64,
    pub sweeps: u64,
    pub slowest_batch: std::time::Duration,
    pub slowest_sweep: std::time::Duration,
    pub list_calls: u64,
    pub batch_get_calls: u64,
    pub index_reads: u64,
    pub index_writes: u64,
    pub dead_letters: usize,
    pub alerts_refused: i64,
    /// The killer's runs, those that ended in an error (an SNS outage), its slowest, and the
    /// queries it stopped.
    pub killer_runs: u64,
    pub killer_failed_runs: u64,
    pub slowest_killer: std::time::Duration,
    pub stopped: usize,
    /// The most one invocation allocated above its start, per function (bytes; zero when the
    /// counting allocator is not installed: [`memory`]).
    pub peak_bytes: BTreeMap<String, usize>,
    /// Capacity units the index's calls would have been billed
    /// (`MemoryIndex::capacity_units`), write and read.
    pub index_units: (f64, f64),
    /// The sweep that sent the digest.
    pub digest: Option<DigestRun>,
    /// `QueryCostUSD` per workgroup, summed over every metric the runs emitted.
    pub cost_metric: BTreeMap<String, f64>,
    pub verdict: oracle::Verdict,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = &self.verdict;
        writeln!(
            f,
            "{} queries/day, {} h from {}, seed {}, faults {}: {} queries, {} messages in {} batches, {} sweeps in {:.1} s",
            self.config.per_day,
            self.config.hours,
            self.config.start.format("%Y-%m-%d %H:%M"),
            self.config.seed,
            if self.config.faults { "on" } else { "off" },
            self.queries,
            self.messages,
            self.batches,
            self.sweeps,
            self.wall.as_secs_f64()
        )?;
        writeln!(
            f,
            "calls: ListQueryExecutions {}, BatchGetQueryExecution {}, index reads {} / writes {}; slowest batch {} ms, slowest sweep {} ms; held for attribution {}; DLQ {}; publishes refused {}",
            self.list_calls,
            self.batch_get_calls,
            self.index_reads,
            self.index_writes,
            self.slowest_batch.as_millis(),
            self.slowest_sweep.as_millis(),
            self.held,
            self.dead_letters,
            self.alerts_refused
        )?;
        writeln!(
            f,
            "killer: {} runs ({} failed), slowest {} ms, {} queries stopped",
            self.killer_runs,
            self.killer_failed_runs,
            self.slowest_killer.as_millis(),
            self.stopped
        )?;
        writeln!(f, "{}", memory::summary(self))?;
        writeln!(f, "{}", self.dynamodb_line())?;
        if let Some(d) = self.digest {
            writeln!(
                f,
                "digest: sent by the sweep after the drain in {} ms, {:.1} MiB allocated, {} index pages read ({:.0} read units)",
                d.took.as_millis(),
                d.bytes as f64 / (1 << 20) as f64,
                d.index_reads,
                d.read_units
            )?;
        }
        if v.clean() {
            write!(
                f,
                "oracle: CLEAN — {} queries judged, {} expensive alerted once in time, {} runaways warned, stopped in time and reported once, every price and total exact; {} budgets and {} spike alerts justified and in time, the digest {} ({} per-query data limits advised and judged)",
                v.judged, v.expensive, v.runaways, v.budgets, v.spikes,
                if v.digest { "exact" } else { "not judged" },
                v.cutoffs
            )
        } else {
            writeln!(
                f,
                "oracle: {} DISCREPANCIES of {} queries judged:",
                v.discrepancies.len(),
                v.judged
            )?;
            for d in v.discrepancies.iter().take(20) {
                writeln!(f, "  {d}")?;
            }
            Ok(())
        }
    }
}

/// What the index keeps per query for 3 days (TTL): its item (~2 KB with the SQL excerpt and
/// tables) and its copy in `completed` (~600 B).
const STORED_BYTES_PER_QUERY: f64 = 2600.0;

impl Report {
    /// The index's DynamoDB bill at this volume: the units its calls were billed over the run,
    /// scaled to a day, and 3 days of items stored.
    fn dynamodb_line(&self) -> String {
        let per_day = 24.0 / f64::from(self.config.hours);
        let (w, r) = (self.index_units.0 * per_day, self.index_units.1 * per_day);
        let stored_gb = 3.0 * self.config.per_day as f64 * STORED_BYTES_PER_QUERY / 1e9;
        let usd = crate::dynamodb_price::usd_a_day(w, r, stored_gb);
        format!(
            "DynamoDB (the index, on-demand, us-east-1): {:.2} M write units + {:.2} M read units a day + {stored_gb:.2} GB stored = ${usd:.2} a day",
            w / 1e6,
            r / 1e6
        )
    }

    fn note_peak(&mut self, function: &str, bytes: usize) {
        let peak = self.peak_bytes.entry(function.to_string()).or_default();
        *peak = (*peak).max(bytes);
    }

    fn new(cfg: &SimConfig, queries: usize) -> Self {
        Self {
            config: cfg.clone(),
            wall: std::time::Duration::ZERO,
            queries,
            messages: 0,
            batches: 0,
            held: 0,
            sweeps: 0,
            slowest_batch: std::time::Duration::ZERO,
            slowest_sweep: std::time::Duration::ZERO,
            list_calls: 0,
            batch_get_calls: 0,
            index_reads: 0,
            index_writes: 0,
            dead_letters: 0,
            alerts_refused: 0,
            killer_runs: 0,
            killer_failed_runs: 0,
            slowest_killer: std::time::Duration::ZERO,
            stopped: 0,
            peak_bytes: BTreeMap::new(),
            index_units: (0.0, 0.0),
            digest: None,
            cost_metric: BTreeMap::new(),
            verdict: oracle::Verdict::default(),
        }
    }
}

/// Runs the simulation and judges it.
pub async fn run(cfg: SimConfig) -> Report {
    let wall = Instant::now();
    let mut rng = Rng::new(cfg.seed);
    let minutes = i64::from(cfg.hours) * 60;
    let mut queries = traffic::plan(cfg.per_day, cfg.start, minutes, cfg.runaway_odds, &mut rng);
    if cfg.faults && !queries.is_empty() {
        // A poison SQL: 256 KB of nonsense, still a query to price.
        let poison = queries.len() / 3;
        queries[poison].sql = format!("SELECT {}", "((( ;; ".repeat(256 * 1024 / 7));
    }
    let spend = spend::plan(&cfg, &mut queries);
    let mut report = day::Day::new(&cfg, &queries, spend, &mut rng).run().await;
    report.wall = wall.elapsed();
    report
}
