//! The digest's advice on Athena's per-query data limit (a workgroup's
//! `BytesScannedCutoffPerQuery`): the smallest cutoff that would have stopped only the top 0.1 %
//! of the workgroup's queries that day, and what it would have saved.
//!
//! A query over the cutoff is cancelled when it reaches it and billed for what it scanned until
//! then, so each stopped query saves its price minus the cutoff's price. The day's scans are
//! counted into a fixed ladder of round sizes (10 MiB, 20, 50, 100 MiB … 1 PiB: the 1-2-5 series
//! in binary units), never kept one by one; the cutoff offered is a rung, so the count of queries
//! it stops and the saving are exact, and it reads as a setting a person would choose. Athena's
//! smallest cutoff is 10 MB, below the ladder's first rung.

use lakeops::pricing::PriceList;
use serde::Serialize;

/// The share of a day's queries a recommended cutoff may stop.
pub const TOP_SHARE: f64 = 0.001;

const MIB: u64 = 1 << 20;
/// The ladder's rungs: 10, 20, 50 … 500 MiB, then 1, 2, 5 … 500 GiB and TiB, then 1 PiB.
const RUNGS: usize = 25;
const SERIES: [u64; 9] = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/// Rung `i`'s size in bytes.
fn rung(i: usize) -> u64 {
    if i < 6 {
        return SERIES[i + 3] * MIB;
    }
    let (unit, step) = ((i - 6) / 9 + 1, (i - 6) % 9);
    SERIES[step] * (MIB << (10 * unit as u32))
}

/// A workgroup's billed scans of the day, by rung: how many scanned more than each rung (and up
/// to the next), and what they cost in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanLadder {
    /// `[i]`: scans in `(rung(i), rung(i + 1)]` (the last: above `rung(RUNGS - 1)`).
    above: Vec<(u64, f64)>,
}

impl ScanLadder {
    /// Counts one billed query that scanned `bytes` and cost `usd`.
    pub fn add(&mut self, bytes: u64, usd: f64) {
        if bytes <= rung(0) {
            return;
        }
        if self.above.is_empty() {
            self.above = vec![(0, 0.0); RUNGS];
        }
        let i = (0..RUNGS).rev().find(|&i| bytes > rung(i)).unwrap_or(0);
        let (n, sum) = &mut self.above[i];
        *n += 1;
        *sum += usd;
    }
}

/// A recommended per-query cutoff for one workgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoffAdvice {
    pub workgroup: String,
    pub cutoff_bytes: u64,
    /// Queries of the day it would have stopped, of `queries`.
    pub stopped: u64,
    pub queries: usize,
    pub saved_usd: f64,
}

/// The smallest rung that stops at most [`TOP_SHARE`] of `queries` (and at least one), with its
/// saving; `None` when no rung does (fewer than 1,000 queries, or nothing scanned above 10 MiB).
pub fn advise(
    workgroup: &str,
    queries: usize,
    ladder: &ScanLadder,
    price: &PriceList,
) -> Option<CutoffAdvice> {
    let allowed = (queries as f64 * TOP_SHARE).floor() as u64;
    if allowed == 0 || ladder.above.is_empty() {
        return None;
    }
    // From the top rung down, the scans above each rung; the lowest rung still within the share.
    let (mut stopped, mut usd) = (0u64, 0.0f64);
    let mut best = None;
    for i in (0..RUNGS).rev() {
        let (n, sum) = ladder.above[i];
        if stopped + n > allowed {
            break;
        }
        stopped += n;
        usd += sum;
        if stopped > 0 {
            best = Some((i, stopped, usd));
        }
    }
    let (i, stopped, usd) = best?;
    let cutoff = rung(i);
    Some(CutoffAdvice {
        workgroup: workgroup.to_string(),
        cutoff_bytes: cutoff,
        stopped,
        queries,
        saved_usd: (usd - stopped as f64 * price.usd_for_scan(cutoff)).max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakeops::pricing::TB;

    #[test]
    fn the_ladder_is_round_sizes_from_10_mib_to_1_pib() {
        assert_eq!(rung(0), 10 * MIB);
        assert_eq!(rung(5), 500 * MIB);
        assert_eq!(rung(6), 1 << 30);
        assert_eq!(rung(8), 5 << 30);
        assert_eq!(rung(14), 500 << 30);
        assert_eq!(rung(15), 1 << 40);
        assert_eq!(rung(RUNGS - 1), 1 << 50);
        assert!((1..RUNGS).all(|i| rung(i) > rung(i - 1)));
    }

    #[test]
    fn stops_only_the_top_tenth_of_a_percent_and_says_what_it_saves() {
        let price = PriceList::default();
        let mut ladder = ScanLadder::default();
        // 2,000 queries: 1,995 of 1 GiB, 3 of 3 TiB, 2 of 300 GiB (2 may be stopped).
        let gib = 1u64 << 30;
        for _ in 0..1995 {
            ladder.add(gib, price.usd_for_scan(gib));
        }
        for _ in 0..3 {
            ladder.add(3 * TB, price.usd_for_scan(3 * TB));
        }
        for _ in 0..2 {
            ladder.add(300 * gib, price.usd_for_scan(300 * gib));
        }
        // Stopping the three 3 TiB scans would be 0.15 %, and no rung stops two or fewer.
        assert_eq!(advise("etl", 2000, &ladder, &price), None);
        // At 3,000 queries three may be stopped: the smallest rung that stops only them is
        // 500 GiB (above the 300 GiB scans).
        let a = advise("etl", 3000, &ladder, &price).unwrap();
        assert_eq!((a.cutoff_bytes, a.stopped), (500 * gib, 3));
        let saved = 3.0 * (price.usd_for_scan(3 * TB) - price.usd_for_scan(500 * gib));
        assert!((a.saved_usd - saved).abs() < 1e-9, "{a:?}");
        // At 5,000 queries five may be stopped: the 300 GiB ones too, and nothing else scanned
        // more than 1 GiB (a query stopped is one that scans more than the cutoff).
        let a = advise("etl", 5000, &ladder, &price).unwrap();
        assert_eq!((a.cutoff_bytes, a.stopped), (gib, 5));
        // Few queries: no cutoff stops only 0.1 %.
        assert_eq!(advise("etl", 999, &ladder, &price), None);
        // Nothing above 10 MiB: nothing to advise.
        let mut small = ScanLadder::default();
        small.add(MIB, 0.0);
        assert_eq!(advise("etl", 5000, &small, &price), None);
    }

    /// The advice from the ladder equals the one found by sorting every scan, on random days.
    #[test]
    fn the_ladder_advises_what_sorting_every_scan_would() {
        let price = PriceList::default();
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for day in 0..40 {
            let queries = 1000 + (next() % 20_000) as usize;
            let scans: Vec<u64> = (0..queries)
                .map(|_| {
                    let magnitude = 20 + next() % 26; // 1 MiB .. 32 TiB
                    (1u64 << magnitude) + next() % (1u64 << magnitude)
                })
                .collect();
            let mut ladder = ScanLadder::default();
            for &b in &scans {
                ladder.add(b, price.usd_for_scan(b));
            }
            let allowed = queries / 1000;
            let brute = (0..RUNGS).find_map(|i| {
                let above: Vec<u64> = scans.iter().copied().filter(|&b| b > rung(i)).collect();
                let n = above.len() as u64;
                (n >= 1 && n <= allowed as u64).then(|| {
                    let saved: f64 = above
                        .iter()
                        .map(|&b| price.usd_for_scan(b) - price.usd_for_scan(rung(i)))
                        .sum();
                    (rung(i), n, saved)
                })
            });
            let got = advise("wg", queries, &ladder, &price)
                .map(|a| (a.cutoff_bytes, a.stopped, a.saved_usd));
            match (got, brute) {
                (Some(g), Some(b)) => {
                    assert_eq!((g.0, g.1), (b.0, b.1), "day {day}");
                    assert!(
                        (g.2 - b.2).abs() < 1e-6 * b.2.max(1.0),
                        "day {day}: {g:?} {b:?}"
                    );
                }
                (g, b) => assert_eq!(g.is_some(), b.is_some(), "day {day}: {g:?} {b:?}"),
            }
        }
    }
}
