//! The functions under `cargo lambda watch` for the end-to-end tests and the demo: started with
//! the emulator's environment, invoked with `cargo lambda invoke`, and held to their template
//! `MemorySize` and `Timeout` (see [`crate::usage`]).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{
    clean_command, free_port, index, invoke_timeout_secs, repo_root, spawn_in_own_group, stop,
    template, usage, venv_bin, wait_for_port, Emulator,
};

/// The functions under `cargo lambda watch`, pointed at an emulator, each held to its
/// `MemorySize` and `Timeout` in infra/template.yaml: an invoke that takes longer than the
/// function's timeout, or a function process whose peak memory passes its memory size, fails
/// the test (at the invoke, and for every function process when this is dropped; see
/// [`usage`]).
pub struct Functions {
    child: Child,
    pub invoke_port: u16,
    usage: usage::Usage,
}

impl Functions {
    /// Starts `cargo lambda watch` with the emulator's environment plus `env`.
    pub fn start(emulator: &Emulator, env: &[(&str, &str)]) -> Self {
        // Read first: a template the limits cannot be read from fails before anything starts.
        let limits = template::function_limits();
        let invoke_port = free_port();
        let log_path = std::env::temp_dir().join(format!("lakeops-watch-{invoke_port}.log"));
        let log = std::fs::File::create(&log_path).expect("watch log file");
        let mut cmd = clean_command(venv_bin("cargo-lambda"));
        cmd.current_dir(repo_root())
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &invoke_port.to_string()]);
        let mut vars = emulator.aws_env();
        vars.push((
            "RUST_LOG".into(),
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        ));
        // Every function that reads the index finds it where the template puts it.
        vars.push(("QUERY_INDEX_TABLE".into(), index::INDEX_TABLE.into()));
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // An env file, not `--env-var`: cargo-lambda splits `--env-var` values at commas, which
        // would cut `etl=100,adhoc=20` settings in two.
        let env_path = std::env::temp_dir().join(format!("lakeops-watch-{invoke_port}.env"));
        let env_text: String = vars
            .iter()
            .map(|(k, v)| {
                let quoted = v.replace('\\', "\\\\").replace('"', "\\\"");
                format!("{k}=\"{quoted}\"\n")
            })
            .collect();
        std::fs::write(&env_path, env_text).expect("write the functions' env file");
        cmd.arg("--env-file").arg(&env_path);
        let mut child = spawn_in_own_group(cmd.stdout(log.try_clone().expect("log")).stderr(log))
            .expect("start cargo lambda watch (cargo-lambda in .venv: run `make setup`)");
        wait_for_port(
            invoke_port,
            "cargo lambda watch",
            &mut child,
            Duration::from_secs(120),
        );
        let usage = usage::Usage::start(child.id(), limits);
        Self {
            child,
            invoke_port,
            usage,
        }
    }

    /// What each function used so far: peak memory, invokes, the longest, and the limits.
    pub fn usage(&self) -> std::collections::BTreeMap<String, usage::FunctionUsage> {
        self.usage.summary()
    }

    /// `cargo lambda invoke <function> --data-file <file>`; Ok(response) or Err(error text).
    /// Panics if the invoke took longer than the function's `Timeout` in the template, or the
    /// function's process passed its `MemorySize`.
    pub fn invoke_file(&self, function: &str, file: &Path) -> Result<Value, String> {
        let started = Instant::now();
        // `timeout`: a function that fails to start leaves `cargo lambda invoke` waiting for ever.
        let out = clean_command("timeout")
            .arg(invoke_timeout_secs().to_string())
            .arg(venv_bin("cargo-lambda"))
            .current_dir(repo_root())
            .args([
                "lambda",
                "invoke",
                function,
                "--invoke-address",
                "127.0.0.1",
            ])
            .args([
                "--invoke-port",
                &self.invoke_port.to_string(),
                "--output-format",
                "json",
                "--data-file",
            ])
            .arg(file)
            .output()
            .expect("run cargo lambda invoke");
        self.usage
            .invoke_ended(function, started, out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            serde_json::from_str(&stdout)
                .map_err(|e| format!("response is not JSON ({e}): {stdout}"))
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Invokes with an inline event (written to a temporary file, as a person would).
    pub fn invoke(&self, function: &str, event: &Value) -> Result<Value, String> {
        let path = std::env::temp_dir().join(format!(
            "lakeops-event-{}-{}.json",
            self.invoke_port, function
        ));
        std::fs::write(&path, serde_json::to_vec_pretty(event).expect("event JSON"))
            .expect("write event");
        let result = self.invoke_file(function, &path);
        let _ = std::fs::remove_file(path);
        result
    }
}

impl Drop for Functions {
    fn drop(&mut self) {
        self.usage.finish();
        stop(&mut self.child);
        let summary = self.usage.summary();
        record_usage(self.invoke_port, &summary);
        if let Some(message) = self.usage.memory_over_limit(None) {
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// Appends what each function used under one watch to `target/e2e-function-usage.jsonl` (peak
/// memory against `MemorySize`, longest invoke against `Timeout`).
fn record_usage(
    invoke_port: u16,
    summary: &std::collections::BTreeMap<String, usage::FunctionUsage>,
) {
    use std::io::Write;
    if summary.is_empty() {
        return;
    }
    let line = json!({
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "test": std::thread::current().name().unwrap_or_default(),
        "invoke_port": invoke_port,
        "functions": summary,
    });
    let path = repo_root().join("target/e2e-function-usage.jsonl");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}
