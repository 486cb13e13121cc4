//! The log blind-spot audit against the emulator: Lambda functions with their `LoggingConfig`,
//! log groups of each class, subscription filters and an account-level subscription policy, as
//! the Lambda and CloudWatch Logs APIs describe them (tests/emulator/logs_lambda.py). `make
//! audit`'s binary names every function whose failures lakeops cannot see, and why; the daily
//! digest carries the same section once the account policy covers most of them.

use aws_sdk_cloudwatchlogs::types::{LogGroupClass, PolicyType};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LogFormat, LoggingConfig, Runtime, SystemLogLevel};
use lakeops_e2e::{athena_watch_setup, Emulator, Functions, LEDGER_TABLE};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::123456789012:role/lambda-role";
const TRANSFORMER: &str = "lakeops-log-subscription-transformer";

/// The smallest zip archive (an empty one): the emulator stores code, never runs it.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Lambda refuses a role that does not exist: made with IAM's query API (the emulator checks no
/// signature; the credential scope names the service).
fn create_role(emu: &Emulator) {
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let body = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName=lambda-role&AssumeRolePolicyDocument={}",
        urlencode(policy)
    );
    ureq::post(&emu.endpoint())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send(&body)
        .expect("create the Lambda role");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn function(lambda: &aws_sdk_lambda::Client, name: &str, logging: Option<LoggingConfig>) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler("bootstrap")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        )
        .set_logging_config(logging)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create function {name}: {e:?}"));
}

async fn group(logs: &aws_sdk_cloudwatchlogs::Client, name: &str, class: LogGroupClass) {
    logs.create_log_group()
        .log_group_name(name)
        .log_group_class(class)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create log group {name}: {e:?}"));
}

async fn subscribe(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, destination: &str) {
    logs.put_subscription_filter()
        .log_group_name(group)
        .filter_name("lakeops")
        .filter_pattern("")
        .destination_arn(destination)
        .send()
        .await
        .unwrap_or_else(|e| panic!("subscribe {group}: {e:?}"));
}

/// The account: one function of each kind the audit must tell apart.
async fn seed_account(config: &aws_config::SdkConfig) -> String {
    let lambda = aws_sdk_lambda::Client::new(config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(config);
    let transformer = format!("arn:aws:lambda:us-east-1:123456789012:function:{TRANSFORMER}");
    function(&lambda, TRANSFORMER, None).await;
    let quiet = LoggingConfig::builder()
        .log_format(LogFormat::Json)
        .system_log_level(SystemLogLevel::Warn)
        .build();
    let cheap = LoggingConfig::builder().log_group("/custom/cheap").build();
    for (name, logging) in [
        ("watched", None),
        ("unsubscribed", None),
        ("left-out", None),
        ("quiet", Some(quiet)),
        ("cheap", Some(cheap)),
        ("never-ran", None),
    ] {
        function(&lambda, name, logging).await;
    }
    for name in ["watched", "unsubscribed", "left-out", "quiet"] {
        group(
            &logs,
            &format!("/aws/lambda/{name}"),
            LogGroupClass::Standard,
        )
        .await;
    }
    group(&logs, "/custom/cheap", LogGroupClass::InfrequentAccess).await;
    subscribe(&logs, "/aws/lambda/watched", &transformer).await;
    subscribe(&logs, "/aws/lambda/quiet", &transformer).await;
    transformer
}

#[tokio::test]
async fn make_audit_and_the_digest_name_every_function_whose_failures_go_unseen() {
    let emu = Emulator::start();
    let (config, tap) = athena_watch_setup(&emu, &["etl"]).await;
    create_role(&emu);
    let transformer = seed_account(&config).await;

    // `make audit`: the binary, with the emulator's endpoint and credentials.
    let out = std::process::Command::new(lakeops_e2e::repo_root().join("target/debug/log-audit"))
        .envs(emu.aws_env())
        .env("LOG_AUDIT_DESTINATIONS", &transformer)
        .output()
        .expect("run log-audit (make build first)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0], "5 of 6 Lambda functions checked fail unseen:",
        "{report}"
    );
    let named: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.trim_start_matches("- ").split(' ').next().unwrap())
        .collect();
    assert_eq!(
        named,
        ["cheap", "left-out", "never-ran", "quiet", "unsubscribed"],
        "{report}"
    );
    assert!(report.contains("class INFREQUENT_ACCESS"), "{report}");
    assert!(report.contains("SystemLogLevel WARN"), "{report}");

    // An account-level policy to the transformer now covers every group but one.
    aws_sdk_cloudwatchlogs::Client::new(&config)
        .put_account_policy()
        .policy_name("lakeops-log-subscription")
        .policy_type(PolicyType::SubscriptionFilterPolicy)
        .policy_document(json!({"DestinationArn": transformer, "FilterPattern": ""}).to_string())
        .selection_criteria(r#"LogGroupName NOT IN ["/aws/lambda/left-out"]"#)
        .send()
        .await
        .expect("put the account policy");

    // The digest's section, from the cost watcher as deployed.
    let functions = Functions::start(
        &emu,
        &[
            ("ALERT_TOPIC_ARN", tap.topic_arn.as_str()),
            ("LEDGER_TABLE", LEDGER_TABLE),
            ("LOG_AUDIT_DESTINATIONS", transformer.as_str()),
        ],
    );
    let mut event = lakeops_e2e::event("schedule-query-cost-watcher.json");
    event["detail"] = json!({"digest": true});
    let run = functions.invoke("query-cost-watcher", &event).unwrap();
    let digest: Vec<_> = tap
        .drain()
        .await
        .into_iter()
        .filter(|a| a.kind() == "DailyDigest")
        .collect();
    assert_eq!(digest.len(), 1, "{run}");
    let unseen = &digest[0].body["details"]["log_blind_spots"];
    assert_eq!(
        unseen,
        &json!(["cheap", "left-out", "never-ran", "quiet"]),
        "{run}"
    );
    let fields = digest[0].body["fields"].to_string();
    assert!(
        fields.contains("4 of 6 Lambda functions checked fail unseen"),
        "{fields}"
    );
}
