//! What the alert-notifier's end-to-end tests need besides the emulator: a local webhook
//! receiver standing in for Teams, Google Chat and Slack, and the notifier's queue
//! ([`MappedQueue`]).
//!
//! The receiver is a plain HTTP/1.1 server on 127.0.0.1: it records every request (path, query,
//! JSON body, time) and answers each path from a script (`429` with `Retry-After`, `500`, `400`,
//! a hang-up after the message was made, …), then `200`. It keeps Google Chat's `requestId`
//! contract for every path: a request whose `requestId` already made a message there makes none
//! ([`Received::new_message`]).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use crate::queue::{MappedQueue, QueueSpec, MAPPING_FUNCTION_RESPONSE_TYPES};

/// One answer of the receiver.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn ok() -> Self {
        Self::status(200, "ok")
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// The message is made, then the connection closes with no answer (a timeout or a reset
    /// after the platform acted): the sender cannot tell it was delivered.
    pub fn hang_up() -> Self {
        Self::status(0, "")
    }

    pub fn too_many(retry_after_secs: u32) -> Self {
        Self {
            status: 429,
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
            body: "rate limited".into(),
        }
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// The query string (without `?`).
    pub query: String,
    pub body: Value,
    pub at: Instant,
    /// What the receiver answered (0: it hung up).
    pub status: u16,
    /// Whether this request made a message: it was answered 2xx (or hung up on after), and no
    /// earlier request to the path with its `requestId` had made one.
    pub new_message: bool,
}

impl Received {
    /// A query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The alert id the message shows in its footer (`alert id <id> · <time>`), as a person
    /// reads it: a Teams card escapes markdown characters (`empty\_day` shows as `empty_day`).
    pub fn alert_id(&self) -> Option<String> {
        let text = self.body.to_string();
        let start = text.find("alert id ")? + "alert id ".len();
        let rest = &text[start..];
        let raw: String =
            serde_json::from_str(&format!("\"{}\"", &rest[..rest.find(" · ")?])).ok()?;
        let mut shown = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => shown.extend(chars.next()),
                c => shown.push(c),
            }
        }
        Some(shown)
    }
}

#[derive(Default)]
struct Script {
    /// Answers to give next, per path.
    next: HashMap<String, VecDeque<Reply>>,
    /// The answer once the queue is empty, per path (default 200).
    always: HashMap<String, Reply>,
    received: Vec<Received>,
}

/// The local webhook receiver.
pub struct WebhookReceiver {
    pub port: u16,
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        let port = listener.local_addr().expect("address").port();
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (script.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let s = s.clone();
                    std::thread::spawn(move || serve(conn, &s));
                }
            }
        });
        Self { port, script, stop }
    }

    /// `http://127.0.0.1:<port>/<path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Answers the next requests to `/path` with `replies`, in order.
    pub fn then(&self, path: &str, replies: Vec<Reply>) {
        let mut s = self.script.lock().unwrap();
        s.next
            .entry(format!("/{path}"))
            .or_default()
            .extend(replies);
    }

    /// Answers every request to `/path` with `reply` (after any queued ones).
    pub fn always(&self, path: &str, reply: Reply) {
        self.script
            .lock()
            .unwrap()
            .always
            .insert(format!("/{path}"), reply);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Requests to `/path` so far.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        let path = format!("/{path}");
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, script: &Mutex<Script>) {
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = {
        let mut s = script.lock().unwrap();
        let reply = s
            .next
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .or_else(|| s.always.get(&path).cloned())
            .unwrap_or_else(Reply::ok);
        let mut received = Received {
            path,
            query,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
            status: reply.status,
            new_message: false,
        };
        let made = reply.status == 0 || (200..300).contains(&reply.status);
        let request_id = received.param("requestId");
        let seen = request_id.is_some()
            && s.received.iter().any(|r| {
                r.new_message && r.path == received.path && r.param("requestId") == request_id
            });
        received.new_message = made && !seen;
        s.received.push(received);
        reply
    };
    if reply.status == 0 {
        return;
    }
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    let mut w = write_half;
    let _ = w.write_all(out.as_bytes());
    let _ = w.flush();
}

/// The channels secret in the emulator's Secrets Manager.
pub async fn create_channels_secret(config: &aws_config::SdkConfig, name: &str, channels: &Value) {
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(name)
        .secret_string(channels.to_string())
        .send()
        .await
        .expect("create the channels secret");
}

/// The secret, the routes document in S3 and the env the notifier reads them from.
pub const CHANNELS_SECRET: &str = "lakeops/chat-channels";
pub const CONFIG_BUCKET: &str = "lakeops-config";

// The notifier's queue and its event source mapping, as the template makes them
// (scripts/check_harness.py compares each constant naming a template value with it).

/// Template: `AlertNotifierQueue.Properties.QueueName`,
/// `AlertNotifierFunction.Properties.Events.Alerts.Properties.Queue`.
pub const NOTIFIER_QUEUE: &str = "lakeops-alert-notifier";
/// Template: `AlertNotifierQueue.Properties.RedrivePolicy.deadLetterTargetArn` (its queue's name).
pub const NOTIFIER_DEAD_LETTER_QUEUE: &str = "lakeops-alert-notifier-dlq";
/// Template: `AlertNotifierQueue.Properties.VisibilityTimeout`.
pub const NOTIFIER_QUEUE_VISIBILITY_TIMEOUT_SECONDS: i32 = 360;
/// Receives of a message before it goes to the DLQ. Template:
/// `AlertNotifierQueue.Properties.RedrivePolicy.maxReceiveCount`.
pub const NOTIFIER_QUEUE_MAX_RECEIVE_COUNT: u32 = 10;
/// Template: `AlertNotifierFunction.Properties.Events.Alerts.Properties.BatchSize`.
pub const NOTIFIER_QUEUE_BATCH_SIZE: usize = 10;
/// The function the notifier queue's mapping invokes. Template:
/// `AlertNotifierFunction.Metadata.BuildProperties.Binary`.
pub const NOTIFIER_FUNCTION: &str = "alert-notifier";

pub const NOTIFIER_QUEUE_SPEC: QueueSpec = QueueSpec {
    name: NOTIFIER_QUEUE,
    dead_letter_queue: NOTIFIER_DEAD_LETTER_QUEUE,
    visibility_timeout_seconds: NOTIFIER_QUEUE_VISIBILITY_TIMEOUT_SECONDS,
    max_receive_count: NOTIFIER_QUEUE_MAX_RECEIVE_COUNT,
    batch_size: NOTIFIER_QUEUE_BATCH_SIZE,
    function_response_types: MAPPING_FUNCTION_RESPONSE_TYPES,
};

/// Everything the notifier needs besides the ledger table: its queue (and DLQ) on `topic_arn`,
/// the channels secret pointing each `(name, platform)` at `receiver`'s `/name`, and `routes` in
/// S3. Returns the queue and the function's environment.
pub async fn set_up_notifier(
    config: &aws_config::SdkConfig,
    topic_arn: &str,
    routes: &str,
    channels: &[(&str, &str)],
    receiver: &WebhookReceiver,
) -> (MappedQueue, Vec<(String, String)>) {
    let queue = MappedQueue::create(config, &NOTIFIER_QUEUE_SPEC).await;
    queue.subscribe_to(config, topic_arn).await;
    let secret: serde_json::Map<String, Value> = channels
        .iter()
        .map(|(name, platform)| {
            // A Google Chat webhook carries its key and token in its query.
            let url = match *platform {
                "google_chat" => receiver.url(&format!("{name}?key=KEY&token=TOKEN")),
                _ => receiver.url(name),
            };
            (name.to_string(), json!({"platform": platform, "url": url}))
        })
        .collect();
    create_channels_secret(config, CHANNELS_SECRET, &Value::Object(secret)).await;
    let s3 = aws_sdk_s3::Client::new(config);
    // The demo's lake already made this bucket; a second create is harmless either way.
    let _ = s3.create_bucket().bucket(CONFIG_BUCKET).send().await;
    s3.put_object()
        .bucket(CONFIG_BUCKET)
        .key("routes.yaml")
        .body(routes.as_bytes().to_vec().into())
        .send()
        .await
        .expect("put routes");
    let env = vec![
        (
            "CHANNELS_SECRET_ID".to_string(),
            CHANNELS_SECRET.to_string(),
        ),
        (
            "ROUTES_S3_URI".to_string(),
            format!("s3://{CONFIG_BUCKET}/routes.yaml"),
        ),
        ("DEAD_LETTER_QUEUE_URL".to_string(), queue.dlq_url.clone()),
        // One instance here: it may use the platforms' whole rate (1 post/s per channel).
        ("NOTIFIER_CONCURRENCY".to_string(), "1".to_string()),
    ];
    (queue, env)
}

/// The example chat set-up of `make demo` and the cold-start benchmark: four channels (one per
/// purpose, each platform) on `receiver`, routed by `routes.example.yaml`.
pub const EXAMPLE_CHANNELS: [(&str, &str); 4] = [
    ("oncall", "teams"),
    ("data-quality", "google_chat"),
    ("finance", "slack"),
    ("alerts", "slack"),
];

/// [`set_up_notifier`] with [`EXAMPLE_CHANNELS`] and the shipped `routes.example.yaml`.
pub async fn set_up_example_notifier(
    config: &aws_config::SdkConfig,
    topic_arn: &str,
    receiver: &WebhookReceiver,
) -> (MappedQueue, Vec<(String, String)>) {
    let routes = std::fs::read_to_string(
        crate::repo_root().join("functions/alert-notifier/routes.example.yaml"),
    )
    .expect("functions/alert-notifier/routes.example.yaml");
    set_up_notifier(config, topic_arn, &routes, &EXAMPLE_CHANNELS, receiver).await
}
