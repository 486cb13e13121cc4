//! URLs that are credentials themselves: whoever has one can post as its owner. Each finder
//! returns only the secret part, so the host (and the kind of URL) stays readable:
//! - Slack incoming webhooks and Workflow Builder triggers, `https://hooks.slack.com/services/
//!   T…/B…/…`, `…/triggers/…`, `…/workflows/…` (Slack API docs, "Sending messages using incoming
//!   webhooks": "your webhook URL contains a secret");
//! - Microsoft Teams incoming webhooks, `https://<tenant>.webhook.office.com/webhookb2/…` and the
//!   older `https://outlook.office.com/webhook/…` (Teams developer docs, "Create Incoming
//!   Webhooks");
//! - shared access signatures in a query, `…&sig=…`: Azure Logic Apps / Power Automate HTTP
//!   trigger URLs (Logic Apps docs, "Create workflows that you can call, trigger, or nest using
//!   HTTPS endpoints"), Azure Storage SAS URLs.

use std::ops::Range;

/// Whether a byte can be part of a URL path as these services write it.
fn is_url_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'/' | b'@' | b'.' | b'~' | b'%' | b'+')
}

/// After each `literal` and one of `then` (skipped; when `then` is not empty, one of them must
/// follow), the rest of the URL path: the secret. Shorter than 8 bytes is no secret (a bare
/// `…/services/` in documentation); a sentence's closing `.` is not part of it.
fn url_tails(text: &str, literal: &str, then: &[&str]) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(b, literal) {
        let mut start = at + literal.len();
        if !then.is_empty() {
            let Some(segment) = then.iter().find(|s| b[start..].starts_with(s.as_bytes())) else {
                continue;
            };
            start += segment.len();
        }
        if out.last().is_some_and(|r: &Range<usize>| r.end > start) {
            continue;
        }
        let mut end = start + b[start..].iter().take_while(|c| is_url_byte(**c)).count();
        while end > start && b[end - 1] == b'.' {
            end -= 1;
        }
        if end - start >= 8 {
            out.push(start..end);
        }
    }
    out
}

/// Slack webhook and workflow-trigger URLs: the path after `services/`, `triggers/` or
/// `workflows/`.
pub fn slack_webhooks(text: &str) -> Vec<Range<usize>> {
    url_tails(
        text,
        "hooks.slack.com/",
        &["services/", "triggers/", "workflows/"],
    )
}

/// Teams incoming-webhook URLs: the path after `webhookb2/` (or the older `webhook/`).
pub fn teams_webhooks(text: &str) -> Vec<Range<usize>> {
    url_tails(text, "office.com/webhook", &["b2/", "/"])
}

/// The value of a `sig=` query parameter (after `?`, `&` or `;`): a URL's shared access
/// signature.
pub fn url_signatures(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(b, "sig=") {
        if at == 0 || !matches!(b[at - 1], b'?' | b'&' | b';') {
            continue;
        }
        let start = at + "sig=".len();
        let len = b[start..]
            .iter()
            .take_while(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, b'%' | b'-' | b'_' | b'~' | b'+' | b'/' | b'=')
            })
            .count();
        if len > 0 {
            out.push(start..start + len);
        }
    }
    out
}
