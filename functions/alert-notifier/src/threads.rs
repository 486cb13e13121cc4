//! Threads and server-side deduplication, where the platform offers them by webhook (Google
//! Chat; Slack and Teams webhooks offer neither: threads there need a bot token).
//!
//! Google Chat's `spaces.messages.create`, which an incoming webhook URL is
//! (developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages/create):
//! - `requestId` (query): "specifying an existing request ID returns the message created with
//!   that ID instead of creating a new message". Ours is the post's delivered-ledger key
//!   ([`crate::delivered_key`]: channel, alert id and SNS's `MessageId`), so a post whose answer
//!   was lost (a timeout after Google created the message), or one delivered but not recorded in
//!   the ledger before the function died, is not shown twice. It holds SNS's `MessageId`, which
//!   no publisher chooses, for the reason the ledger key does: an alert id is predictable, and a
//!   forgery sent first with a real alert's id must not make Google drop the real one.
//! - `thread.threadKey` (body, up to 4,000 characters) with
//!   `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` (query): the alerts about one
//!   query (expensive, warned, stopped) or one reconciliation check go to one thread; Google
//!   starts a new one where it cannot reply (a space without threads).

use lakeops::alert::Alert;
use serde_json::Value;

use crate::channels::{Channel, Platform};

/// Google Chat's limit on a thread key.
const MAX_THREAD_KEY: usize = 4000;

/// The thread an alert belongs in: its query's, its check's, else its own.
pub fn thread_key(alert: &Alert) -> String {
    let of = |name: &str| alert.details.get(name).and_then(Value::as_str);
    let key = if let Some(q) = of("query_execution_id") {
        format!("athena-query-{q}")
    } else if let Some(check) = of("check") {
        format!("{}-{check}", alert.source)
    } else {
        alert.id.clone()
    };
    lakeops::alert::truncate(&key, MAX_THREAD_KEY)
}

/// The URL of one post of an alert to `channel`: for Google Chat, with the request id and the
/// reply option added to the webhook's own query (`key`, `token`); the webhook URL itself
/// otherwise.
pub fn post_url(channel: &Channel, request_id: &str) -> String {
    if channel.platform != Platform::GoogleChat {
        return channel.url().to_string();
    }
    match url::Url::parse(channel.url()) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("requestId", request_id)
                .append_pair("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
            url.into()
        }
        // Checked when the secret is read; posted as configured if it ever is not a URL.
        Err(_) => channel.url().to_string(),
    }
}

/// Puts a Google Chat body in the alert's thread (other platforms: unchanged).
pub fn in_thread(platform: Platform, alert: &Alert, mut body: Value) -> Value {
    if platform == Platform::GoogleChat {
        if let Some(obj) = body.as_object_mut() {
            obj.insert(
                "thread".into(),
                serde_json::json!({ "threadKey": thread_key(alert) }),
            );
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Channels;
    use chrono::Utc;
    use lakeops::alert::Severity;

    fn alert(id: &str) -> Alert {
        Alert::new(
            "QueryStopped",
            Severity::Critical,
            "long-query-killer",
            id,
            Utc::now(),
            "t",
            "s",
        )
    }

    #[test]
    fn one_thread_per_query_and_per_check() {
        let warn = alert("long-query-killer/warn/q1").detail("query_execution_id", "q1");
        let stop = alert("long-query-killer/stopped/q1").detail("query_execution_id", "q1");
        assert_eq!(thread_key(&warn), thread_key(&stop));
        assert_eq!(thread_key(&warn), "athena-query-q1");
        let mut check = alert("rc/orders/2026-12-03").detail("check", "orders");
        check.source = "row-count-reconciler".into();
        assert_eq!(thread_key(&check), "row-count-reconciler-orders");
        assert_eq!(thread_key(&alert("digest#2026-12-02")), "digest#2026-12-02");
        let long = alert(&"x".repeat(5000));
        assert!(thread_key(&long).chars().count() <= MAX_THREAD_KEY);
    }

    #[test]
    fn google_chat_posts_carry_the_request_id_and_reply_option_and_the_others_do_not() {
        let channels = Channels::parse(
            r#"{"dq": "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=K&token=T",
                "s": "https://hooks.slack.com/services/T0/B0/X"}"#,
        )
        .unwrap();
        let dq = channels.get("dq").unwrap();
        let url = url::Url::parse(&post_url(dq, "notified#dq#a/b#m-1")).unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("key".into(), "K".into()),
                ("token".into(), "T".into()),
                ("requestId".into(), "notified#dq#a/b#m-1".into()),
                (
                    "messageReplyOption".into(),
                    "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD".into()
                ),
            ]
        );
        let slack = channels.get("s").unwrap();
        assert_eq!(post_url(slack, "x"), slack.url());
        let a = alert("a").detail("query_execution_id", "q9");
        let body = in_thread(Platform::GoogleChat, &a, serde_json::json!({"text": "t"}));
        assert_eq!(body["thread"]["threadKey"], "athena-query-q9");
        let body = in_thread(Platform::Slack, &a, serde_json::json!({"text": "t"}));
        assert!(body.get("thread").is_none());
    }
}
