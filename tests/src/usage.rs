//! Each function's peak memory and each invoke's wall time under `cargo lambda watch`, held to
//! the function's `MemorySize` and `Timeout` in infra/template.yaml
//! ([`crate::template::function_limits`]).
//!
//! `cargo lambda watch` starts each function binary (`target/debug/<function>`) as a descendant
//! process the first time the function is invoked, and keeps it for the next invokes. A sampler
//! thread walks `/proc` every [`SAMPLE_EVERY`] for the watch's descendants whose executable is a
//! function binary and keeps each one's `VmHWM` (peak resident set: what Lambda's "Max Memory
//! Used" counts); every invoke samples again when it ends, and [`crate::Functions`] once more
//! before it stops the watch.
//!
//! An invoke's wall time is measured around `cargo lambda invoke`, from its start or, if the
//! function's process was not running yet, from the first sample that saw the process (so
//! compiling the binary on a first invoke is not counted; its start-up is, which makes the check
//! a little stricter than Lambda's, whose `Timeout` leaves out the init phase).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::template::FunctionLimits;

/// How often the sampler looks at the function processes.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// One function process the watch started.
#[derive(Debug, Clone)]
struct Process {
    function: String,
    /// Highest `VmHWM` sampled, in KiB.
    peak_kib: u64,
    /// No later than this the process became the function (the scan before the one that first
    /// saw it).
    since: Instant,
    alive: bool,
}

/// What one function used in this watch.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FunctionUsage {
    /// Highest `VmHWM` of its processes, in MiB.
    pub peak_memory_mib: f64,
    pub memory_limit_mb: u64,
    pub invokes: u32,
    pub longest_invoke_seconds: f64,
    pub timeout_seconds: u64,
    pub processes: usize,
}

struct State {
    last_scan: Instant,
    processes: HashMap<u32, Process>,
    invokes: HashMap<String, (u32, Duration)>,
}

/// Watches the function processes under one `cargo lambda watch`.
pub struct Usage {
    root: u32,
    limits: &'static HashMap<String, FunctionLimits>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

impl Usage {
    /// Starts sampling the descendants of `root` (the watch's pid).
    pub fn start(root: u32, limits: &'static HashMap<String, FunctionLimits>) -> Self {
        let state = Arc::new(Mutex::new(State {
            last_scan: Instant::now(),
            processes: HashMap::new(),
            invokes: HashMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::Builder::new()
                .name("function-usage".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        scan(root, limits, &state);
                        std::thread::sleep(SAMPLE_EVERY);
                    }
                })
                .expect("start the usage sampler")
        };
        Self {
            root,
            limits,
            state,
            stop,
            sampler: Some(sampler),
        }
    }

    /// After an invoke of `function` that started at `started` (`answered`: the function
    /// answered it): its wall time, and the memory of the function's processes. Panics when
    /// either passes the template's limit, or when a function answered from no process found.
    pub fn invoke_ended(&self, function: &str, started: Instant, answered: bool) {
        let ended = Instant::now();
        scan(self.root, self.limits, &self.state);
        let Some(limits) = self.limits.get(function) else {
            return;
        };
        let took = {
            let mut state = self.state.lock().unwrap();
            let serving = state
                .processes
                .values()
                .filter(|p| p.function == function && p.alive)
                .map(|p| p.since)
                .min();
            // No process: the function never started (its start-up failed); nothing ran. One
            // that answered ran somewhere: the limits would not be checked.
            let Some(since) = serving else {
                assert!(
                    !answered,
                    "{function} answered, but no process of it was found under cargo lambda watch \
                     (pid {}): its MemorySize and Timeout cannot be checked",
                    self.root
                );
                return;
            };
            let took = ended.saturating_duration_since(since.max(started));
            let entry = state.invokes.entry(function.to_string()).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(took);
            took
        };
        assert!(
            took <= Duration::from_secs(limits.timeout_seconds),
            "{function} took {:.1} s on one invoke: over its Timeout of {} s ({} in infra/template.yaml)",
            took.as_secs_f64(),
            limits.timeout_seconds,
            limits.resource
        );
        self.check_memory(Some(function));
    }

    /// Samples once more and stops sampling (the processes are still running).
    pub fn finish(&mut self) {
        scan(self.root, self.limits, &self.state);
        self.stop.store(true, Ordering::SeqCst);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
    }

    /// What each function used so far.
    pub fn summary(&self) -> BTreeMap<String, FunctionUsage> {
        let state = self.state.lock().unwrap();
        let mut out: BTreeMap<String, FunctionUsage> = BTreeMap::new();
        for p in state.processes.values() {
            let Some(limits) = self.limits.get(&p.function) else {
                continue;
            };
            let u = out.entry(p.function.clone()).or_default();
            u.peak_memory_mib = u.peak_memory_mib.max(p.peak_kib as f64 / 1024.0);
            u.memory_limit_mb = limits.memory_mb;
            u.timeout_seconds = limits.timeout_seconds;
            u.processes += 1;
        }
        for (function, (count, longest)) in &state.invokes {
            if let Some(u) = out.get_mut(function) {
                u.invokes = *count;
                u.longest_invoke_seconds = longest.as_secs_f64();
            }
        }
        out
    }

    /// Every function process seen (or those of `only`) within its `MemorySize`: the first one
    /// over it, if any, as a panic message.
    pub fn memory_over_limit(&self, only: Option<&str>) -> Option<String> {
        let state = self.state.lock().unwrap();
        let mut over: Vec<(&u32, &Process)> = state
            .processes
            .iter()
            .filter(|(_, p)| only.is_none_or(|f| f == p.function))
            .filter(|(_, p)| {
                self.limits
                    .get(&p.function)
                    .is_some_and(|l| p.peak_kib > l.memory_mb * 1024)
            })
            .collect();
        over.sort_by_key(|(pid, _)| **pid);
        over.first().map(|(pid, p)| {
            let limits = &self.limits[&p.function];
            format!(
                "{} (pid {pid}) peaked at {:.1} MiB of memory (VmHWM): over its MemorySize of {} MB ({} in infra/template.yaml)",
                p.function,
                p.peak_kib as f64 / 1024.0,
                limits.memory_mb,
                limits.resource
            )
        })
    }

    fn check_memory(&self, only: Option<&str>) {
        if let Some(message) = self.memory_over_limit(only) {
            panic!("{message}");
        }
    }
}

impl Drop for Usage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
    }
}

/// One look at the descendants of `root` that run a function binary.
fn scan(root: u32, limits: &HashMap<String, FunctionLimits>, state: &Mutex<State>) {
    let mut state = state.lock().unwrap();
    let began = Instant::now();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut seen = Vec::new();
    let mut todo = children.get(&root).cloned().unwrap_or_default();
    while let Some(pid) = todo.pop() {
        todo.extend(children.get(&pid).into_iter().flatten());
        let Some(function) = executable_name(pid).filter(|n| limits.contains_key(n)) else {
            continue;
        };
        let Some(hwm) = peak_kib(pid) else {
            continue;
        };
        let since = state.last_scan;
        let p = state.processes.entry(pid).or_insert_with(|| Process {
            function: function.clone(),
            peak_kib: 0,
            since,
            alive: true,
        });
        if p.function != function {
            // The pid was reused by another function's process.
            *p = Process {
                function,
                peak_kib: 0,
                since,
                alive: true,
            };
        }
        p.peak_kib = p.peak_kib.max(hwm);
        seen.push(pid);
    }
    for (pid, p) in state.processes.iter_mut() {
        p.alive = seen.contains(pid);
    }
    state.last_scan = began;
}

/// The parent pid from `/proc/<pid>/stat` (the command name in parentheses may hold anything).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The file name of the process's executable (`query-cost-watcher`), also after a rebuild
/// replaced it on disk.
fn executable_name(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_str()?;
    Some(name.trim_end_matches(" (deleted)").to_string())
}

/// `VmHWM` from `/proc/<pid>/status`, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
