//! One alert as each platform's webhook message: Microsoft Teams (Adaptive Card in a Workflows
//! envelope), Google Chat (`cardsV2` with a text fallback) and Slack (Block Kit with a text
//! fallback). Each shows the severity, title, summary, the labelled fields, the console links as
//! buttons, the next steps, and a footer with the source, kind and alert id.
//!
//! Every platform's documented limits are kept, never failed: long text is cut with a marker
//! (`…[truncated]`), surplus items are dropped with a note, and a message still too large is
//! rendered again with shorter field values until it fits.

use lakeops::alert::{truncate, Alert, Severity};
use serde_json::{json, Value};

use crate::channels::Platform;

/// Microsoft Teams: a message (card included) is at most 28 KB; kept a little under.
pub const TEAMS_MAX_BYTES: usize = 27 * 1024;
/// Teams shows at most 6 card actions.
pub const TEAMS_MAX_ACTIONS: usize = 6;
/// Lines of one multi-line value (SQL) shown on a card.
const TEAMS_MAX_LINES: usize = 40;
/// A button's label: longer ones do not fit a chat card's width on any platform.
const MAX_BUTTON_LABEL: usize = 40;
/// Google Chat: a message, text and cards, is at most 32,000 bytes.
pub const GOOGLE_CHAT_MAX_BYTES: usize = 32_000;
/// Google Chat: the text of a message is at most 4,096 characters.
pub const GOOGLE_CHAT_MAX_TEXT: usize = 4096;
/// Slack Block Kit: 50 blocks per message, header text 150, section text 3,000, 10 fields of
/// 2,000, actions 25 elements, button text 75 and URL 3,000, context 10 elements.
pub const SLACK_MAX_BLOCKS: usize = 50;
pub const SLACK_MAX_HEADER: usize = 150;
pub const SLACK_MAX_SECTION_TEXT: usize = 3000;
pub const SLACK_MAX_FIELDS: usize = 10;
pub const SLACK_MAX_FIELD_TEXT: usize = 2000;
pub const SLACK_MAX_ACTIONS: usize = 25;
pub const SLACK_MAX_BUTTON_TEXT: usize = 75;
pub const SLACK_MAX_URL: usize = 3000;
/// Slack truncates a message's top-level text beyond 40,000 characters; the fallback is short.
pub const SLACK_MAX_TEXT: usize = 3000;
/// Not a Slack limit but a sane size for one webhook post.
pub const SLACK_MAX_BYTES: usize = 40_000;

/// Field values are cut to these lengths in turn until the message fits its platform.
const FIELD_LENGTHS: [usize; 4] = [2000, 600, 200, 60];

/// The webhook body for `platform`.
pub fn render(platform: Platform, alert: &Alert) -> Value {
    // Link buttons to AWS console hosts only, whatever the alert carries (crate::safe).
    let alert = &crate::safe::for_chat(alert);
    let (max_bytes, render): (usize, fn(&Alert, usize) -> Value) = match platform {
        Platform::Teams => (TEAMS_MAX_BYTES, teams),
        Platform::GoogleChat => (GOOGLE_CHAT_MAX_BYTES, google_chat),
        Platform::Slack => (SLACK_MAX_BYTES, slack),
    };
    for max_field in FIELD_LENGTHS {
        let body = render(alert, max_field);
        if body.to_string().len() <= max_bytes {
            return body;
        }
    }
    // Still too large (a huge title or summary, hundreds of fields): the essentials only.
    let mut essentials = alert.clone();
    essentials.title = truncate(&alert.title, 140);
    essentials.summary = truncate(&alert.summary, 1000);
    essentials.fields = vec![(
        "Note".into(),
        format!(
            "{} fields left out to fit the {platform} size limit; the full alert is in the alert topic's other subscribers (alert id below).",
            alert.fields.len()
        ),
    )];
    essentials.next_steps.truncate(3);
    render(&essentials, 200)
}

/// A button label cut to [`MAX_BUTTON_LABEL`] characters with `…`.
fn label(s: &str) -> String {
    if s.chars().count() <= MAX_BUTTON_LABEL {
        s.to_string()
    } else {
        let kept: String = s.chars().take(MAX_BUTTON_LABEL - 1).collect();
        format!("{}…", kept.trim_end())
    }
}

fn icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Warning => "🟠",
        Severity::Info => "🔵",
    }
}

/// `CRITICAL · ExpensiveQuery · query-cost-watcher`
fn tagline(alert: &Alert) -> String {
    format!(
        "{} · {} · {}",
        alert.severity.to_string().to_uppercase(),
        alert.kind,
        alert.source
    )
}

/// `alert id … · 2026-11-24T02:17:37Z`
fn footer(alert: &Alert) -> String {
    format!(
        "alert id {} · {}",
        alert.id,
        alert
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// The plain-text fallback (notifications, clients without cards).
fn fallback(alert: &Alert, max: usize) -> String {
    truncate(
        &format!(
            "{} {}: {}\n{}",
            icon(alert.severity),
            alert.severity.to_string().to_uppercase(),
            alert.title,
            alert.summary
        ),
        max,
    )
}

// ---------------------------------------------------------------- Microsoft Teams

/// Card text as typed: Teams renders TextBlock text as markdown ([`crate::safe::teams_text`]).
fn md(s: &str) -> String {
    crate::safe::teams_text(s)
}

/// An Adaptive Card (schema 1.4, what Teams renders on desktop, web and mobile) in the message
/// envelope a Teams Workflows webhook expects.
fn teams(alert: &Alert, max_field: usize) -> Value {
    let (style, color) = match alert.severity {
        Severity::Critical => ("attention", "Attention"),
        Severity::Warning => ("warning", "Warning"),
        Severity::Info => ("accent", "Accent"),
    };
    let mut body = vec![
        json!({
            "type": "Container",
            "style": style,
            "bleed": true,
            "items": [
                {"type": "TextBlock", "text": md(&tagline(alert)), "size": "Small", "weight": "Bolder", "color": color, "wrap": true},
                {"type": "TextBlock", "text": md(&truncate(&alert.title, 500)), "size": "Large", "weight": "Bolder", "wrap": true},
            ]
        }),
        json!({"type": "TextBlock", "text": md(&truncate(&alert.summary, 3000)), "wrap": true}),
    ];
    let (short, long): (Vec<_>, Vec<_>) = alert
        .fields
        .iter()
        .partition(|(_, v)| !v.contains('\n') && v.chars().count() <= 120);
    if !short.is_empty() {
        body.push(json!({
            "type": "FactSet",
            "facts": short.iter().map(|(l, v)| json!({"title": md(l), "value": md(&truncate(v, max_field))})).collect::<Vec<_>>(),
        }));
    }
    for (label, value) in long {
        body.push(json!({"type": "TextBlock", "text": md(label), "weight": "Bolder", "spacing": "Medium", "wrap": true}));
        // One block per line: a card's markdown would join the lines of SQL into one paragraph.
        let value = truncate(value, max_field);
        let lines: Vec<&str> = value.lines().collect();
        for line in lines.iter().take(TEAMS_MAX_LINES) {
            body.push(json!({"type": "TextBlock", "text": if line.is_empty() { " ".to_string() } else { md(line) }, "fontType": "Monospace", "wrap": true, "spacing": "None"}));
        }
        if lines.len() > TEAMS_MAX_LINES {
            body.push(json!({"type": "TextBlock", "text": format!("…[{} more lines]", lines.len() - TEAMS_MAX_LINES), "isSubtle": true, "spacing": "None"}));
        }
    }
    if !alert.next_steps.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "Next steps", "weight": "Bolder", "spacing": "Medium", "wrap": true}));
        for step in &alert.next_steps {
            body.push(json!({"type": "TextBlock", "text": format!("• {}", md(&truncate(step, max_field))), "wrap": true, "spacing": "Small"}));
        }
    }
    body.push(json!({
        "type": "TextBlock",
        "text": md(&format!("{} · {}", alert.source, footer(alert))),
        "size": "Small",
        "isSubtle": true,
        "wrap": true,
        "spacing": "Medium",
    }));
    let actions: Vec<Value> = alert
        .links
        .iter()
        .take(TEAMS_MAX_ACTIONS)
        .map(|l| json!({"type": "Action.OpenUrl", "title": label(&l.label), "url": l.url}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "fallbackText": fallback(alert, 500),
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

// ---------------------------------------------------------------- Google Chat

/// Google Chat card text is a small HTML subset: escape what would be read as markup.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br>")
}

fn google_chat(alert: &Alert, max_field: usize) -> Value {
    let mut sections = vec![json!({
        "widgets": [{"textParagraph": {"text": html(&truncate(&alert.summary, 3000))}}]
    })];
    if !alert.fields.is_empty() {
        let widgets: Vec<Value> = alert
            .fields
            .iter()
            .map(|(l, v)| {
                json!({"decoratedText": {
                    "topLabel": truncate(l, 100),
                    "text": html(&truncate(v, max_field)),
                    "wrapText": true,
                }})
            })
            .collect();
        sections.push(json!({"header": "Details", "widgets": widgets}));
    }
    if !alert.next_steps.is_empty() {
        let steps: Vec<String> = alert
            .next_steps
            .iter()
            .map(|s| format!("• {}", html(&truncate(s, max_field))))
            .collect();
        sections.push(json!({
            "header": "Next steps",
            "widgets": [{"textParagraph": {"text": steps.join("<br>")}}]
        }));
    }
    let mut last = vec![];
    if !alert.links.is_empty() {
        let buttons: Vec<Value> = alert
            .links
            .iter()
            .map(|l| json!({"text": label(&l.label), "onClick": {"openLink": {"url": l.url}}}))
            .collect();
        last.push(json!({"buttonList": {"buttons": buttons}}));
    }
    last.push(json!({"textParagraph": {"text": format!("<font color=\"#6b6b6b\">{}</font>", html(&footer(alert)))}}));
    sections.push(json!({"widgets": last}));
    json!({
        "text": fallback(alert, GOOGLE_CHAT_MAX_TEXT.min(1000)),
        "cardsV2": [{
            "cardId": "lakeops-alert",
            "card": {
                "header": {
                    "title": truncate(&format!("{} {}", icon(alert.severity), alert.title), 200),
                    "subtitle": tagline(alert),
                },
                "sections": sections,
            }
        }]
    })
}

// ---------------------------------------------------------------- Slack

/// Slack mrkdwn: `&`, `<` and `>` are control characters.
fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, SLACK_MAX_SECTION_TEXT)}})
}

fn slack(alert: &Alert, max_field: usize) -> Value {
    // Room for the header, summary, next steps, actions and context around the fields.
    const FIXED_BLOCKS: usize = 5;
    let mut blocks = vec![
        json!({"type": "header", "text": {
            "type": "plain_text",
            "text": truncate(&format!("{} {}", icon(alert.severity), alert.title), SLACK_MAX_HEADER),
            "emoji": true,
        }}),
        section(format!(
            "*{}*\n{}",
            mrkdwn(&tagline(alert)),
            mrkdwn(&alert.summary)
        )),
    ];
    let max_field = max_field.min(SLACK_MAX_FIELD_TEXT - 200);
    let mut field_blocks = Vec::new();
    let mut short = Vec::new();
    for (label, value) in &alert.fields {
        let value = truncate(value, max_field);
        if value.contains('\n') || value.chars().count() > 200 {
            field_blocks.push(section(format!(
                "*{}*\n```{}```",
                mrkdwn(label),
                mrkdwn(&value)
            )));
        } else {
            short.push(json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", mrkdwn(label), mrkdwn(&value)), SLACK_MAX_FIELD_TEXT)}));
        }
    }
    let mut grouped: Vec<Value> = short
        .chunks(SLACK_MAX_FIELDS)
        .map(|c| json!({"type": "section", "fields": c}))
        .collect();
    grouped.extend(field_blocks);
    let room = SLACK_MAX_BLOCKS - FIXED_BLOCKS - 1;
    if grouped.len() > room {
        let left_out = grouped.len() - room;
        grouped.truncate(room);
        grouped.push(section(format!(
            "_{left_out} more field blocks left out (Slack allows {SLACK_MAX_BLOCKS} blocks)_"
        )));
    }
    blocks.extend(grouped);
    if !alert.next_steps.is_empty() {
        let steps: Vec<String> = alert
            .next_steps
            .iter()
            .map(|s| format!("• {}", mrkdwn(&truncate(s, max_field))))
            .collect();
        blocks.push(section(format!("*Next steps*\n{}", steps.join("\n"))));
    }
    let buttons: Vec<Value> = alert
        .links
        .iter()
        .filter(|l| l.url.len() <= SLACK_MAX_URL)
        .take(SLACK_MAX_ACTIONS)
        .map(|l| {
            json!({"type": "button", "text": {"type": "plain_text", "text": label(&l.label), "emoji": true}, "url": l.url})
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": truncate(&mrkdwn(&format!("{} · {}", alert.source, footer(alert))), SLACK_MAX_SECTION_TEXT)}
    ]}));
    json!({
        "text": truncate(&mrkdwn(&fallback(alert, SLACK_MAX_TEXT)), SLACK_MAX_TEXT),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn corpus() -> Vec<Alert> {
        let mut all: Vec<Alert> = crate::corpus::alerts()
            .into_iter()
            .map(|(_, b)| Alert::from_json_body(&b).unwrap())
            .collect();
        all.push(crate::message::read(crate::corpus::ALARM, "m", Utc::now()).alert);
        all
    }

    /// An alert past every limit: long title and summary, 300 fields, long SQL, 40 links.
    fn monster() -> Alert {
        let mut a = Alert::new(
            "ExpensiveQuery",
            Severity::Critical,
            "query-cost-watcher",
            "ExpensiveQuery/q-huge",
            Utc::now(),
            "T".repeat(400),
            "S <&> ".repeat(2000),
        );
        for i in 0..300 {
            a = a.field(&format!("Field {i}"), "v".repeat(300));
        }
        a = a.field("SQL", format!("SELECT *\n{}", "x".repeat(50_000)));
        for i in 0..40 {
            a = a.link(
                &format!("Link {i} {}", "L".repeat(100)),
                format!("https://console.aws.amazon.com/{i}"),
            );
        }
        for i in 0..20 {
            a = a.next_step(format!("Step {i} {}", "n".repeat(500)));
        }
        a
    }

    fn chars(v: &Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    fn check_slack(body: &Value) {
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= SLACK_MAX_BLOCKS, "{} blocks", blocks.len());
        assert!(chars(&body["text"]) <= SLACK_MAX_TEXT);
        assert!(body.to_string().len() <= SLACK_MAX_BYTES);
        for b in blocks {
            match b["type"].as_str().unwrap() {
                "header" => assert!(chars(&b["text"]["text"]) <= SLACK_MAX_HEADER),
                "section" => {
                    assert!(chars(&b["text"]["text"]) <= SLACK_MAX_SECTION_TEXT);
                    let fields = b["fields"].as_array().map_or(0, Vec::len);
                    assert!(fields <= SLACK_MAX_FIELDS);
                    for f in b["fields"].as_array().into_iter().flatten() {
                        assert!(chars(&f["text"]) <= SLACK_MAX_FIELD_TEXT);
                    }
                    assert!(b["text"].is_object() || fields > 0, "empty section {b}");
                }
                "actions" => {
                    let e = b["elements"].as_array().unwrap();
                    assert!(!e.is_empty() && e.len() <= SLACK_MAX_ACTIONS);
                    for button in e {
                        assert!(chars(&button["text"]["text"]) <= SLACK_MAX_BUTTON_TEXT);
                        assert!(chars(&button["url"]) <= SLACK_MAX_URL);
                    }
                }
                "context" => assert!(b["elements"].as_array().unwrap().len() <= 10),
                other => panic!("unexpected block {other}"),
            }
        }
    }

    fn check_google_chat(body: &Value) {
        assert!(body.to_string().len() <= GOOGLE_CHAT_MAX_BYTES);
        assert!(chars(&body["text"]) <= GOOGLE_CHAT_MAX_TEXT);
        let card = &body["cardsV2"][0]["card"];
        assert!(card["header"]["title"].is_string());
        assert!(!card["sections"].as_array().unwrap().is_empty());
    }

    fn check_teams(body: &Value) {
        assert!(body.to_string().len() <= TEAMS_MAX_BYTES);
        assert_eq!(body["type"], "message");
        let card = &body["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert!(card["actions"].as_array().map_or(0, Vec::len) <= TEAMS_MAX_ACTIONS);
    }

    #[test]
    fn every_kind_fits_every_platform_and_keeps_its_content() {
        for a in corpus() {
            let s = render(Platform::Slack, &a);
            check_slack(&s);
            let g = render(Platform::GoogleChat, &a);
            check_google_chat(&g);
            let t = render(Platform::Teams, &a);
            check_teams(&t);
            for (name, body) in [("slack", &s), ("google chat", &g), ("teams", &t)] {
                let text = body.to_string();
                // Teams text is shown as typed: its markdown characters come escaped.
                let shown = |s: &str| match name {
                    "teams" => {
                        let json = Value::String(crate::safe::teams_text(s)).to_string();
                        json.trim_matches('"').to_string()
                    }
                    _ => s.to_string(),
                };
                assert!(
                    text.contains(&shown(&format!("alert id {}", a.id))),
                    "{name} {}",
                    a.kind
                );
                for (label, _) in &a.fields {
                    assert!(
                        text.contains(&shown(label)),
                        "{name} {} lost field {label}",
                        a.kind
                    );
                }
                for l in &a.links {
                    assert!(
                        text.contains(&l.url),
                        "{name} {} lost link {}",
                        a.kind,
                        l.label
                    );
                }
            }
        }
    }

    #[test]
    fn an_alert_past_every_limit_is_cut_never_failed() {
        let a = monster();
        for p in [Platform::Slack, Platform::GoogleChat, Platform::Teams] {
            let body = render(p, &a);
            let text = body.to_string();
            assert!(text.contains("[truncated]"), "{p}");
            assert!(text.contains("alert id ExpensiveQuery/q-huge"), "{p}");
            match p {
                Platform::Slack => check_slack(&body),
                Platform::GoogleChat => check_google_chat(&body),
                Platform::Teams => check_teams(&body),
            }
        }
    }

    #[test]
    fn markup_in_values_is_escaped_where_the_platform_reads_markup() {
        let a = Alert::new(
            "K",
            Severity::Warning,
            "s",
            "i",
            Utc::now(),
            "t",
            "a <b> & c",
        )
        .field("SQL", "x < 5 AND y > 2 & z");
        let s = render(Platform::Slack, &a).to_string();
        assert!(
            s.contains("a &lt;b&gt; &amp; c") && !s.contains("a <b>"),
            "{s}"
        );
        let g = render(Platform::GoogleChat, &a).to_string();
        assert!(g.contains("x &lt; 5 AND y &gt; 2 &amp; z"), "{g}");
    }
}
