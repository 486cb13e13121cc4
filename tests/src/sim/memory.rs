//! Memory per invocation in the simulated day: a counting allocator (install it with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;` in the binary that runs the
//! simulation) and the peak each trigger's invocation allocated above what was allocated when it
//! began — what that invocation would add to a function's process. Without the allocator
//! installed nothing is counted and the figures read zero ("not measured").
//!
//! The simulation runs one invocation at a time (each is awaited before the next), so the peak
//! during a call is that call's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::Report;
use crate::template::function_limits;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting the bytes it holds and their peak.
pub struct CountingAlloc;

// SAFETY: every call is passed to the system allocator unchanged; the counters only observe.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(bytes: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// Measures the invocation `f` runs: its result and the most it held above its start, in bytes.
pub async fn measured<T>(f: impl std::future::Future<Output = T>) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f.await;
    let peak = PEAK.load(Ordering::Relaxed);
    (out, peak.saturating_sub(base))
}

/// Whether the counting allocator is installed (else every figure is zero).
pub fn counting() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

const MIB: f64 = (1u64 << 20) as f64;

/// Each simulated function's slowest invocation on this machine and its peak memory.
fn used(r: &Report) -> [(&'static str, std::time::Duration, usize); 3] {
    let peak = |f: &str| r.peak_bytes.get(f).copied().unwrap_or(0);
    [
        ("query-cost-feed", r.slowest_batch, peak("query-cost-feed")),
        (
            "query-cost-watcher",
            r.slowest_sweep,
            peak("query-cost-watcher"),
        ),
        (
            "long-query-killer",
            r.slowest_killer,
            peak("long-query-killer"),
        ),
    ]
}

/// One line: per function, the most an invocation allocated and its slowest, with the
/// template's limits.
pub fn summary(r: &Report) -> String {
    let limits = function_limits();
    let parts: Vec<String> = used(r)
        .iter()
        .map(|(f, slowest, bytes)| {
            let (mb, s) = limits
                .get(*f)
                .map_or((0, 0), |l| (l.memory_mb, l.timeout_seconds));
            let memory = if counting() {
                format!("{:.1} MiB", *bytes as f64 / MIB)
            } else {
                "not measured".to_string()
            };
            format!(
                "{f} {memory} / {} ms (of {mb} MB / {s} s)",
                slowest.as_millis()
            )
        })
        .collect();
    format!(
        "per invocation, peak allocated / slowest: {}",
        parts.join("; ")
    )
}

/// An invocation past its function's `MemorySize` or `Timeout` in the template.
pub fn over_limits(r: &Report) -> Vec<String> {
    let limits = function_limits();
    let mut out = Vec::new();
    for (f, slowest, bytes) in used(r) {
        let Some(l) = limits.get(f) else {
            out.push(format!("{f}: no limits in the template"));
            continue;
        };
        if counting() && bytes as f64 > l.memory_mb as f64 * MIB {
            out.push(format!(
                "{f}: an invocation allocated {:.0} MiB, its MemorySize is {} MB",
                bytes as f64 / MIB,
                l.memory_mb
            ));
        }
        if slowest.as_secs() >= l.timeout_seconds {
            out.push(format!(
                "{f}: an invocation took {} s, its Timeout is {} s",
                slowest.as_secs(),
                l.timeout_seconds
            ));
        }
    }
    out
}
