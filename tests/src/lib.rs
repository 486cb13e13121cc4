//! Harness for the end-to-end tests and the demo: starts the local AWS emulator (moto + the
//! lakeops Athena extension) and the functions under `cargo lambda watch`, invokes them with
//! `cargo lambda invoke`, and stops everything it started when dropped.
//!
//! Every [`Emulator`] is a fresh moto process on its own free port, so each test has its own
//! state; nothing is shared between tests and no reset is needed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod dynamodb_price;
pub mod functions;
pub mod index;
pub mod lake;
pub mod notify;
pub mod queue;
pub mod report;
pub mod sim;
pub mod template;
pub mod usage;

pub use functions::Functions;

use template::TableSpec;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
/// Template: `AlertTopic.Properties.TopicName`.
pub const ALERT_TOPIC: &str = "lakeops-alerts";
/// The tests' SQS subscriber of the alert topic (not in the template).
pub const ALERT_QUEUE: &str = "lakeops-alerts-tap";
/// Template: `AlertLedgerTable.Properties.TableName`.
pub const LEDGER_TABLE: &str = "lakeops-ledger";
/// Template: `AlertLedgerTable.Properties.BillingMode`.
pub const LEDGER_TABLE_BILLING_MODE: &str = "PAY_PER_REQUEST";
/// Template: `AlertLedgerTable.Properties.AttributeDefinitions`.
pub const LEDGER_TABLE_ATTRIBUTES: &[(&str, &str)] = &[("pk", "S")];
/// Template: `AlertLedgerTable.Properties.KeySchema`.
pub const LEDGER_TABLE_KEY_SCHEMA: &[(&str, &str)] = &[("pk", "HASH")];
/// The alert ledger's table, as the template makes it (scripts/check_harness.py compares each
/// constant naming a template value with it).
pub const LEDGER_TABLE_SPEC: TableSpec = TableSpec {
    name: LEDGER_TABLE,
    billing_mode: LEDGER_TABLE_BILLING_MODE,
    attributes: LEDGER_TABLE_ATTRIBUTES,
    key_schema: LEDGER_TABLE_KEY_SCHEMA,
    global_secondary_indexes: &[],
};
/// An invoke that takes longer has hung (e.g. the function failed its start-up).
/// Longest one `cargo lambda invoke` may take (override: `LAKEOPS_INVOKE_TIMEOUT_SECS`).
const INVOKE_TIMEOUT_SECS: u32 = 180;

pub(crate) fn invoke_timeout_secs() -> u32 {
    std::env::var("LAKEOPS_INVOKE_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(INVOKE_TIMEOUT_SECS)
}

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The project venv made by `make setup` (python with pinned moto, cargo-lambda).
pub(crate) fn venv_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("LAKEOPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"));
    dir.join("bin").join(name)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

pub(crate) fn wait_for_port(port: u16, what: &str, child: &mut Child, timeout: Duration) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it was ready ({status}); is `make setup` done?");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}");
}

/// Ends a child and its process group (cargo lambda watch starts the function binaries).
pub(crate) fn stop(child: &mut Child) {
    let pid = child.id() as i32;
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{pid}")])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
    let _ = child.wait();
}

pub(crate) fn spawn_in_own_group(cmd: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn()
}

/// The environment a person's shell would give cargo: without the `CARGO_*` / `RUST*` variables
/// that `cargo test` sets for test processes. Inherited, they change how the nested
/// `cargo run` of `cargo lambda watch` fingerprints the workspace and trigger full rebuilds.
pub(crate) fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for (k, v) in std::env::vars_os() {
        let name = k.to_string_lossy();
        let keep =
            !(name.starts_with("CARGO") || name.starts_with("RUST") || name.starts_with("__CARGO"))
                || name == "CARGO_HOME"
                || name == "RUSTUP_HOME"
                || name == "RUSTUP_TOOLCHAIN";
        if keep {
            cmd.env(k, v);
        }
    }
    cmd
}

/// A moto server with the lakeops extension, on 127.0.0.1 and a free port.
pub struct Emulator {
    child: Child,
    pub port: u16,
}

impl Emulator {
    pub fn start() -> Self {
        let port = free_port();
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("lakeops-moto-{port}.log")))
                .expect("emulator log file");
        let mut child = spawn_in_own_group(
            Command::new(venv_bin("python"))
                .arg(repo_root().join("tests/emulator/lakeops_moto.py"))
                .args(["--port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(log),
        )
        .expect("start the emulator (python in .venv: run `make setup`)");
        wait_for_port(port, "moto server", &mut child, Duration::from_secs(30));
        Self { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment that points the SDK (ours and the functions') at this emulator.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// SDK config for the emulator: the production path (`lakeops::aws::sdk_config`) with the
    /// endpoint from the same variables the functions read.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "lakeops-e2e",
            ))
            .load()
            .await
    }

    /// Calls one of the extension's Athena actions (`LakeopsSeedQueryExecutions`, ...).
    pub fn athena_extension(&self, action: &str, body: Value) -> Value {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/athena/aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut response = ureq::post(&self.endpoint())
            .header("X-Amz-Target", &format!("AmazonAthena.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("Authorization", &auth)
            .send_json(&body)
            .unwrap_or_else(|e| panic!("emulator {action}: {e}"));
        response
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("emulator {action} answer: {e}"))
    }

    /// Seeds query executions (see tests/emulator/lakeops_moto.py for the fields).
    pub fn seed_queries(&self, queries: Vec<Value>) -> Vec<String> {
        let out = self.athena_extension(
            "LakeopsSeedQueryExecutions",
            json!({ "QueryExecutions": queries }),
        );
        out["QueryExecutionIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// Adds result rules: a started query whose SQL matches gets that outcome and those rows.
    pub fn seed_results(&self, rules: Vec<Value>) {
        self.athena_extension("LakeopsSeedQueryResults", json!({ "Rules": rules }));
    }

    /// Makes the next `count` calls of `service`'s `action` (e.g. `"sns"`, `"Publish"`) fail:
    /// `kind` is `"throttle"` (400 ThrottlingException) or `"error"` (500 InternalFailure). The
    /// SDK retries each call up to 6 times, so 6 failures make one call fail for the function.
    pub fn inject_faults(&self, service: &str, action: &str, count: u32, kind: &str) {
        self.athena_extension(
            "LakeopsInjectFaults",
            json!({"Faults": [{"Service": service, "Action": action, "Count": count, "Kind": kind}]}),
        );
    }

    /// How many calls each injected fault has failed so far.
    pub fn injected_faults(&self) -> Value {
        self.athena_extension("LakeopsInjectedFaults", json!({}))["Faults"].clone()
    }

    /// Calls received per service and action so far (every service).
    pub fn call_counts(&self) -> Value {
        self.athena_extension("LakeopsAllCallCounts", json!({}))["Counts"].clone()
    }

    /// Calls received per Athena action so far.
    pub fn athena_call_counts(&self) -> Value {
        self.athena_extension("LakeopsApiCallCounts", json!({}))["Counts"].clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The alert topic with an SQS queue subscribed (the "tap" tests and the demo read alerts from).
pub struct AlertTap {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl AlertTap {
    pub async fn create(config: &aws_config::SdkConfig) -> Self {
        let sns = aws_sdk_sns::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        let topic_arn = sns
            .create_topic()
            .name(ALERT_TOPIC)
            .send()
            .await
            .expect("create topic")
            .topic_arn
            .expect("arn");
        let queue_url = sqs
            .create_queue()
            .queue_name(ALERT_QUEUE)
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("url");
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{ALERT_QUEUE}");
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe");
        Self {
            topic_arn,
            queue_url,
            sqs,
        }
    }

    /// Every alert delivered so far (SNS envelopes), removing them from the queue.
    pub async fn drain(&self) -> Vec<DeliveredAlert> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive from the alert tap");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let envelope: Value =
                    serde_json::from_str(m.body().unwrap_or("{}")).expect("SNS envelope is JSON");
                let alert = DeliveredAlert::from_envelope(envelope);
                capture(&alert);
                out.push(alert);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete message");
            }
        }
        out
    }
}

/// With `LAKEOPS_CAPTURE_ALERTS=<dir>`, keeps the fullest body of each alert kind the functions
/// sent as `<dir>/<kind>.json` (the alert-notifier's corpus of real alert bodies is made this way).
fn capture(alert: &DeliveredAlert) {
    let Some(dir) = std::env::var_os("LAKEOPS_CAPTURE_ALERTS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}.json", alert.kind()));
    // The fullest body of each kind (a function's real alert, not a test's minimal sample).
    let size = |body: &Value| {
        ["fields", "links", "next_steps"]
            .iter()
            .map(|m| body[m].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    let kept = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    if kept.is_some_and(|k| size(&k) >= size(&alert.body)) {
        return;
    }
    if let Ok(text) = serde_json::to_string_pretty(&alert.body) {
        let _ = std::fs::write(path, text + "\n");
    }
}

/// The DynamoDB table of the alert ledger (partition key `pk`), as the SAM template defines it
/// ([`LEDGER_TABLE_SPEC`]).
pub async fn create_ledger_table(config: &aws_config::SdkConfig) {
    template::create_table(config, &LEDGER_TABLE_SPEC).await;
}

/// A pay-per-request DynamoDB table with a string partition key.
pub async fn create_table_with_key(config: &aws_config::SdkConfig, table: &str, key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {table}: {e}"));
}

/// What every Athena-watching test needs: the workgroups, the alert tap, the ledger table and
/// the query index table.
pub async fn athena_watch_setup(
    emu: &Emulator,
    workgroups: &[&str],
) -> (aws_config::SdkConfig, AlertTap) {
    let config = emu.sdk_config().await;
    let athena = aws_sdk_athena::Client::new(&config);
    for wg in workgroups {
        athena
            .create_work_group()
            .name(*wg)
            .send()
            .await
            .expect("create workgroup");
    }
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    index::create_index_table(&config).await;
    (config, tap)
}

/// An S3 object's body as text (objects the functions wrote).
pub async fn s3_text(config: &aws_config::SdkConfig, bucket: &str, key: &str) -> String {
    let body = aws_sdk_s3::Client::new(config)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get s3://{bucket}/{key}: {e}"))
        .body
        .collect()
        .await
        .expect("object body")
        .into_bytes();
    String::from_utf8(body.to_vec()).expect("UTF-8 object")
}

/// One alert as an SQS subscriber receives it.
#[derive(Debug, Clone)]
pub struct DeliveredAlert {
    pub subject: String,
    /// The versioned JSON body (the `sqs` member of the message structure).
    pub body: Value,
    /// Message attributes: name -> value.
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl DeliveredAlert {
    fn from_envelope(envelope: Value) -> Self {
        let body = envelope["Message"]
            .as_str()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(Value::Null);
        let attributes = envelope["MessageAttributes"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v["Value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            subject: envelope["Subject"].as_str().unwrap_or_default().to_string(),
            body,
            attributes,
        }
    }

    pub fn kind(&self) -> &str {
        self.body["kind"].as_str().unwrap_or_default()
    }
}

/// `t` rounded down to a multiple of `minutes` since the epoch.
pub fn floor_to_minutes(
    t: chrono::DateTime<chrono::Utc>,
    minutes: i64,
) -> chrono::DateTime<chrono::Utc> {
    let step = minutes * 60;
    chrono::DateTime::from_timestamp(t.timestamp().div_euclid(step) * step, 0).unwrap_or(t)
}

/// A file in `events/`.
pub fn event_file(name: &str) -> PathBuf {
    repo_root().join("events").join(name)
}

/// A file in `events/`, parsed.
pub fn event(name: &str) -> Value {
    let path = event_file(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
