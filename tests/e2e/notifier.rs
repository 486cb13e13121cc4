//! alert-notifier end to end: the emulator's SNS topic → SQS queue (with DLQ) → the event
//! source mapping (tests/src/notify.rs) → the real `alert-notifier` binary → a local webhook
//! receiver standing in for Teams, Google Chat and Slack.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lakeops::alert::{Alert, AlertSink, Severity, SnsAlertPublisher};
use lakeops_e2e::notify::{set_up_notifier, Reply, WebhookReceiver};
use lakeops_e2e::queue::MappedQueue;
use lakeops_e2e::*;
use serde_json::Value;

/// Everything one test needs: emulator, topic, notifier queue, secret, routes in S3, receiver,
/// functions.
struct Setup {
    _emu: Emulator,
    config: aws_config::SdkConfig,
    topic_arn: String,
    queue: MappedQueue,
    receiver: WebhookReceiver,
    functions: Functions,
}

async fn setup(routes: &str, channels: &[(&str, &str)], max_attempts: &str) -> Setup {
    let emu = Emulator::start();
    let config = emu.sdk_config().await;
    let tap = AlertTap::create(&config).await;
    create_ledger_table(&config).await;
    let receiver = WebhookReceiver::start();
    let (queue, mut env) =
        set_up_notifier(&config, &tap.topic_arn, routes, channels, &receiver).await;
    env.push(("ALERT_TOPIC_ARN".into(), tap.topic_arn.clone()));
    env.push(("LEDGER_TABLE".into(), LEDGER_TABLE.into()));
    env.push(("DELIVERY_MAX_ATTEMPTS".into(), max_attempts.into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let functions = Functions::start(&emu, &env);
    Setup {
        topic_arn: tap.topic_arn.clone(),
        _emu: emu,
        config,
        queue,
        receiver,
        functions,
    }
}

impl Setup {
    /// Publishes as the functions do (the real SNS publisher: MessageStructure=json).
    async fn publish(&self, alerts: &[Alert]) {
        let publisher = SnsAlertPublisher::new(
            aws_sdk_sns::Client::new(&self.config),
            &self.topic_arn,
            false,
        );
        publisher.publish_all(alerts).await.expect("publish alerts");
    }

    /// Publishes as CloudWatch does for an alarm (plain message, "ALARM: …" subject).
    async fn publish_alarm(&self) {
        aws_sdk_sns::Client::new(&self.config)
            .publish()
            .topic_arn(&self.topic_arn)
            .subject("ALARM: \"lakeops-long-query-killer-errors\" in US East (N. Virginia)")
            .message(alert_notifier::corpus::ALARM)
            .send()
            .await
            .expect("publish alarm");
    }

    /// Alert ids received per path (each id once per post).
    fn ids_by_path(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.receiver.received() {
            if (200..300).contains(&r.status) {
                out.entry(r.path.trim_start_matches('/').to_string())
                    .or_default()
                    .push(r.alert_id().expect("every post shows its alert id"));
            }
        }
        out.values_mut().for_each(|v| v.sort());
        out
    }
}

fn corpus() -> Vec<Alert> {
    alert_notifier::corpus::alerts()
        .into_iter()
        .map(|(_, body)| Alert::from_json_body(&body).expect("corpus body"))
        .collect()
}

/// The channels `routes.example.yaml` sends an alert to, written out from its rules.
fn expected_by_example(kind: &str, severity: Severity, source: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if severity == Severity::Critical || kind == "CloudWatchAlarm" {
        out.push("oncall");
    }
    if source == "row-count-reconciler" {
        out.push("data-quality");
    }
    if [
        "BudgetExceeded",
        "BudgetWarning",
        "SpendSpike",
        "DailyDigest",
    ]
    .contains(&kind)
    {
        out.push("finance");
    }
    if out.is_empty() {
        out.push("alerts");
    }
    out
}

#[tokio::test]
async fn every_alert_reaches_exactly_its_routed_channels_once_after_a_429() {
    let example =
        std::fs::read_to_string(repo_root().join("functions/alert-notifier/routes.example.yaml"))
            .unwrap();
    let s = setup(
        &example,
        &[
            ("oncall", "teams"),
            ("data-quality", "google_chat"),
            ("finance", "slack"),
            ("alerts", "slack"),
        ],
        "5",
    )
    .await;
    // On-call's first post is throttled: the notifier must wait the 2 s it is told.
    s.receiver.then("oncall", vec![Reply::too_many(2)]);

    let alerts = corpus();
    s.publish(&alerts).await;
    s.publish_alarm().await;
    let invocations = s.queue.run_mapping(&s.functions, "alert-notifier").await;
    assert!(invocations >= 2, "{invocations} batches");

    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in &alerts {
        for c in expected_by_example(&a.kind, a.severity, &a.source) {
            expected
                .entry(c.to_string())
                .or_default()
                .push(a.id.clone());
        }
    }
    expected.entry("oncall".into()).or_default().push(
        "CloudWatchAlarm/lakeops-long-query-killer-errors/2026-11-24T02:55:00.512+0000".into(),
    );
    expected.values_mut().for_each(|v| v.sort());
    assert_eq!(s.ids_by_path(), expected, "routing");
    assert!(expected.len() == 4, "every channel is used by the corpus");

    // The 429: the same card again, no sooner than Retry-After.
    let oncall = s.receiver.received_at("oncall");
    assert_eq!(oncall[0].status, 429);
    assert_eq!(
        oncall[1].body, oncall[0].body,
        "the throttled post is retried"
    );
    let waited = oncall[1].at.duration_since(oncall[0].at);
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    // Each platform got its own format.
    assert_eq!(
        oncall[1].body["attachments"][0]["content"]["type"],
        "AdaptiveCard"
    );
    let dq = s.receiver.received_at("data-quality");
    assert!(dq[0].body["cardsV2"][0]["card"]["header"]["title"].is_string());
    let finance = s.receiver.received_at("finance");
    assert_eq!(finance[0].body["blocks"][0]["type"], "header");

    // SNS delivers one publish twice (at-least-once; the same MessageId): posted once.
    let before = s.receiver.received().len();
    let envelope = serde_json::json!({
        "Type": "Notification",
        "MessageId": "0b7c1a52-sns-delivers-this-twice",
        "TopicArn": s.topic_arn,
        "Message": alerts[0].json_body().to_string(),
    })
    .to_string();
    s.queue.send(&[envelope.clone(), envelope]).await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;
    let again = s.receiver.received().len() - before;
    assert_eq!(
        again,
        expected_by_example(&alerts[0].kind, alerts[0].severity, &alerts[0].source).len(),
        "one publish is posted once per channel, however often SNS delivers it"
    );
    assert!(s.queue.dead_letters().await.is_empty());
}

/// Anyone allowed to publish could send a harmless message carrying the id a real alert will
/// have (a budget alert's id is its workgroup and day). The delivered-ledger key holds SNS's own
/// MessageId, which no publisher chooses: the forgery claims only itself.
#[tokio::test]
async fn a_forged_message_with_a_real_alerts_id_does_not_silence_it() {
    let s = setup("default: [alerts]\n", &[("alerts", "slack")], "5").await;
    let real = Alert::new(
        "BudgetExceeded",
        Severity::Critical,
        "query-cost-watcher",
        "budget#adhoc#2026-12-03#100",
        chrono::Utc::now(),
        "Workgroup adhoc is over its daily budget",
        "adhoc has spent $512.40 of its $500.00 budget today.",
    );
    let mut forged = real.clone();
    forged.severity = Severity::Info;
    forged.title = "Nothing to see".into();
    forged.summary = "All quiet.".into();
    s.publish(&[forged]).await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;
    s.publish(&[real]).await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;
    let posts = s.receiver.received_at("alerts");
    assert_eq!(posts.len(), 2, "the forgery and the real alert");
    assert!(
        posts[1].body.to_string().contains("over its daily budget"),
        "the real alert reached the channel: {}",
        posts[1].body
    );
}

#[tokio::test]
async fn a_500_storm_is_kept_by_sqs_and_the_dlq_and_a_400_is_dead_lettered_with_its_reason() {
    let routes = r#"
routes:
  - name: expensive to the broken and the good channel
    when: { kind: ExpensiveQuery }
    to: [broken, alerts]
  - name: log errors to a deleted channel
    when: { kind: LogErrors }
    to: [gone]
default: [alerts]
"#;
    let s = setup(
        routes,
        &[
            ("broken", "slack"),
            ("gone", "google_chat"),
            ("alerts", "slack"),
        ],
        "2",
    )
    .await;
    s.receiver
        .always("broken", Reply::status(500, "internal error"));
    s.receiver
        .always("gone", Reply::status(400, "invalid_payload"));

    let alerts: Vec<Alert> = corpus()
        .into_iter()
        .filter(|a| a.kind == "ExpensiveQuery" || a.kind == "LogErrors")
        .collect();
    assert_eq!(alerts.len(), 2);
    s.publish(&alerts).await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;

    let expensive = &alerts
        .iter()
        .find(|a| a.kind == "ExpensiveQuery")
        .unwrap()
        .id;
    let log_errors = &alerts.iter().find(|a| a.kind == "LogErrors").unwrap().id;
    // The good channel got the expensive query once, although SQS delivered it on each of the
    // template's receives.
    assert_eq!(s.ids_by_path()["alerts"], std::slice::from_ref(expensive));
    // The broken channel was tried 2 times in each receive.
    let receives = lakeops_e2e::notify::NOTIFIER_QUEUE_MAX_RECEIVE_COUNT as usize;
    assert_eq!(s.receiver.received_at("broken").len(), 2 * receives);
    assert_eq!(
        s.receiver.received_at("gone").len(),
        1,
        "a 400 is not retried"
    );

    let dead = s.queue.dead_letters().await;
    assert_eq!(dead.len(), 2, "{dead:#?}");
    let mut reasons = BTreeSet::new();
    for (body, attrs) in &dead {
        let message: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        let id = message["id"].as_str().unwrap().to_string();
        if &id == log_errors {
            let reason = &attrs["lakeops_reason"];
            assert!(
                reason.contains("channel gone (google_chat) answered HTTP 400: invalid_payload"),
                "{reason}"
            );
            assert!(
                !reason.contains("127.0.0.1"),
                "no webhook URL in the reason: {reason}"
            );
            reasons.insert("rejected");
        } else {
            assert_eq!(&id, expensive);
            reasons.insert("redriven after the receive limit");
        }
    }
    assert_eq!(reasons.len(), 2);
}

/// Google Chat by its webhook: a post whose answer is lost after Google made the message (the
/// connection drops) is retried with the same `requestId`, and the space shows it once (the
/// receiver keeps Google's contract: a known `requestId` makes no new message). A warning and
/// the stop of one query go to one thread. Without the `requestId` the retry made a second
/// message.
#[tokio::test]
async fn google_chat_shows_a_post_whose_answer_was_lost_once_and_threads_a_querys_alerts() {
    let s = setup("default: [dq]\n", &[("dq", "google_chat")], "5").await;
    s.receiver.then("dq", vec![Reply::hang_up()]);
    let about = |kind: &str, id: &str| {
        Alert::new(
            kind,
            Severity::Warning,
            "long-query-killer",
            id,
            chrono::Utc::now(),
            format!("{kind} q-77"),
            "Query q-77 ran long.",
        )
        .detail("query_execution_id", "q-77")
    };
    s.publish(&[about("LongQueryWarning", "long-query-killer/warn/q-77")])
        .await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;
    s.publish(&[about("QueryStopped", "long-query-killer/stopped/q-77")])
        .await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;

    let posts = s.receiver.received_at("dq");
    assert_eq!(posts.len(), 3, "the lost answer, its retry, the stop");
    assert_eq!(posts[0].status, 0);
    assert_eq!(posts[1].param("requestId"), posts[0].param("requestId"));
    let messages: Vec<_> = posts.iter().filter(|p| p.new_message).collect();
    assert_eq!(messages.len(), 2, "the warning once, the stop once");
    for p in &posts {
        assert_eq!(
            p.param("messageReplyOption").as_deref(),
            Some("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
        );
        assert_eq!(
            p.param("key").as_deref(),
            Some("KEY"),
            "the webhook's own query kept"
        );
        assert_eq!(p.body["thread"]["threadKey"], "athena-query-q-77");
    }
    assert!(s.queue.dead_letters().await.is_empty());
}

/// The person who ran a query is mentioned on each platform where the routes file's `people`
/// map names them — and not when the name came from a session name the caller chose.
#[tokio::test]
async fn the_person_who_ran_the_query_is_mentioned_where_the_people_map_names_them() {
    let routes = r#"
default: [team-slack, team-teams, team-chat]
people:
  jane.doe@example.com:
    slack: U024BE7LH
    teams: {id: jane.doe@example.com, name: Jane Doe}
    google_chat: users/112233445566778899
"#;
    let s = setup(
        routes,
        &[
            ("team-slack", "slack"),
            ("team-teams", "teams"),
            ("team-chat", "google_chat"),
        ],
        "5",
    )
    .await;
    let expensive = |id: &str, source: &str| {
        Alert::new(
            "ExpensiveQuery",
            Severity::Critical,
            "query-cost-watcher",
            format!("query-cost-watcher/expensive/{id}"),
            chrono::Utc::now(),
            format!("Athena query {id} cost $20.00"),
            "It read every partition.",
        )
        .attribute("run_by", "jane.doe@example.com")
        .attribute("person_source", source)
        .attribute("workgroup", "adhoc")
        .detail("query_execution_id", id)
    };
    s.publish(&[
        expensive("q-sso", "identity-center"),
        expensive("q-forged", "caller-chosen"),
    ])
    .await;
    s.queue.run_mapping(&s.functions, "alert-notifier").await;

    let about = |channel: &str, id: &str| {
        let posts = s.receiver.received_at(channel);
        let post = posts
            .iter()
            .find(|p| p.body.to_string().contains(id))
            .unwrap_or_else(|| panic!("{channel}: no post about {id}"));
        post.body.clone()
    };
    let slack = about("team-slack", "q-sso");
    assert!(
        slack["text"].as_str().unwrap().starts_with("<@U024BE7LH> "),
        "{slack}"
    );
    let teams = about("team-teams", "q-sso");
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["msteams"]["entities"][0]["text"], "<at>Jane Doe</at>");
    let chat = about("team-chat", "q-sso");
    assert!(
        chat["text"]
            .as_str()
            .unwrap()
            .starts_with("<users/112233445566778899> "),
        "{chat}"
    );
    for channel in ["team-slack", "team-teams", "team-chat"] {
        let forged = about(channel, "q-forged").to_string();
        assert!(
            !forged.contains("U024BE7LH")
                && !forged.contains("<at>")
                && !forged.contains("users/1122"),
            "{channel}: a caller-chosen name must not page anyone: {forged}"
        );
    }
    assert!(s.queue.dead_letters().await.is_empty());
}
