//! Telling the person: an alert about one person's query — expensive, warned, stopped, their
//! budget — mentions that person in the channel, where the routes file's `people` map gives
//! their chat identity. A webhook can mention but not look anyone up or write to them directly:
//!
//! - **Slack**: `<@U…>` in the message (an incoming webhook notifies the member). Looking a
//!   member up by e-mail (`users.lookupByEmail`) or a direct message needs a bot token: not
//!   built; the map names the member id.
//! - **Microsoft Teams**: an Adaptive Card mention (`<at>Name</at>` with an `msteams.entities`
//!   mention by the person's Entra user principal name or object id), which incoming webhooks
//!   and Workflows' "post card" accept for members of the team.
//! - **Google Chat**: `<users/ID>` in the message text (a webhook's message can mention; the
//!   card under it cannot). The id is the Chat user id or `users/<e-mail>`.
//!
//! Who counts: the alert's `run_by` person, and only when it came from an identity the caller
//! cannot choose (never `caller-chosen`, `other`, `unrecorded`, a cross-account or AWS service
//! principal, or root): a session name is chosen by whoever assumes the role, so mentioning it
//! would let anyone page anyone. Without an identity in the map the person is named, not
//! mentioned (the alert's "Run by" field). A person can opt out (`opt_out: true`), and
//! `quiet_workgroups` turns mentions off for workgroups (their service accounts, say).

use std::collections::BTreeMap;

use lakeops::alert::{truncate, Alert};
use serde_json::{json, Value};

use crate::channels::Platform;

/// Where a person's `run_by` came from, when it is theirs for certain.
const TRUSTED_SOURCES: [&str; 7] = [
    "identity-center",
    "source-identity",
    "on-behalf-of",
    "iam-user",
    "saml",
    "web-identity",
    "federated",
];

/// One person's chat identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Slack member id (`U024BE7LH`).
    pub slack: Option<String>,
    /// Teams: the Entra user principal name or object id, and the name shown.
    pub teams: Option<(String, String)>,
    /// Google Chat: `users/<id>` or `users/<e-mail>`.
    pub google_chat: Option<String>,
    pub opt_out: bool,
}

/// The routes file's `people` map (keys: the `run_by` person, compared without case) and its
/// `quiet_workgroups`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    people: BTreeMap<String, Person>,
    quiet_workgroups: Vec<String>,
}

impl People {
    /// Reads `people` and `quiet_workgroups` from the routes document; problems are listed.
    pub fn read(people: Option<&Value>, quiet: Option<&Value>) -> Result<People, Vec<String>> {
        let mut problems = Vec::new();
        let mut out = People::default();
        match people {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (who, v) in map {
                    match read_person(v) {
                        Ok(p) => {
                            out.people.insert(who.to_lowercase(), p);
                        }
                        Err(e) => problems.push(format!("people.{who}: {e}")),
                    }
                }
            }
            Some(_) => problems.push("`people` must be a map of person → identities".into()),
        }
        match quiet {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                out.quiet_workgroups = items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
            }
            Some(_) => problems.push("`quiet_workgroups` must be a list of workgroup names".into()),
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// The person to mention for `alert`, if any (see the module docs for who counts).
    pub fn to_mention(&self, alert: &Alert) -> Option<&Person> {
        let person = alert.attributes.get("run_by")?;
        let source = alert.attributes.get("person_source").map(String::as_str);
        if !source.is_some_and(|s| TRUSTED_SOURCES.contains(&s)) {
            return None;
        }
        if let Some(wg) = alert.attributes.get("workgroup") {
            if self.quiet_workgroups.iter().any(|q| q == wg) {
                return None;
            }
        }
        self.people
            .get(&person.to_lowercase())
            .filter(|p| !p.opt_out)
    }
}

fn read_person(v: &Value) -> Result<Person, String> {
    let Some(map) = v.as_object() else {
        return Err("must be a map of slack / teams / google_chat / opt_out".into());
    };
    let mut p = Person::default();
    for (key, value) in map {
        match (key.as_str(), value) {
            ("slack", Value::String(id)) if is_slack_member(id) => p.slack = Some(id.clone()),
            ("slack", _) => return Err("slack: a member id such as U024BE7LH".into()),
            ("teams", Value::Object(t)) => {
                let id = t
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| is_plain(s, 200));
                let name = t
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|s| is_plain(s, 100));
                match (id, name) {
                    (Some(id), Some(name)) => p.teams = Some((id.into(), name.into())),
                    _ => {
                        return Err(
                            "teams: {id: <user principal name or object id>, name: <shown name>}"
                                .into(),
                        )
                    }
                }
            }
            ("teams", _) => return Err("teams: {id: …, name: …}".into()),
            ("google_chat", Value::String(id)) if is_chat_user(id) => {
                p.google_chat = Some(id.clone())
            }
            ("google_chat", _) => return Err("google_chat: users/<id> or users/<e-mail>".into()),
            ("opt_out", Value::Bool(b)) => p.opt_out = *b,
            (other, _) => {
                return Err(format!(
                    "unknown key `{other}` (allowed: slack, teams, google_chat, opt_out)"
                ))
            }
        }
    }
    Ok(p)
}

/// A Slack member id: `U` or `W` and upper-case letters and digits (so nothing like
/// `<!channel>` can be slipped in).
fn is_slack_member(id: &str) -> bool {
    id.len() <= 20
        && id.starts_with(['U', 'W'])
        && id.len() > 2
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `users/` and an id or e-mail of plain characters.
fn is_chat_user(id: &str) -> bool {
    id.strip_prefix("users/").is_some_and(|rest| {
        !rest.is_empty()
            && rest != "all"
            && rest.len() <= 200
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._+-".contains(&b))
    })
}

/// Text with no markup characters, up to `max` bytes.
fn is_plain(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.len() <= max && !s.contains(['<', '>', '&', '\n', '"'])
}

/// The rendered `body` with `person` mentioned on `platform` (unchanged where the map gives no
/// identity for that platform).
pub fn mention(platform: Platform, mut body: Value, person: &Person) -> Value {
    match platform {
        Platform::Slack => {
            if let Some(id) = &person.slack {
                let tag = format!("<@{id}>");
                prefix_text(&mut body, &tag, crate::format::SLACK_MAX_TEXT);
                if let Some(blocks) = body["blocks"].as_array_mut() {
                    if blocks.len() < crate::format::SLACK_MAX_BLOCKS {
                        let at = blocks.len().min(1);
                        let text = format!("For {tag}");
                        blocks.insert(
                            at,
                            json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
                        );
                    }
                }
            }
        }
        Platform::Teams => {
            if let Some((id, name)) = &person.teams {
                let tag = format!("<at>{name}</at>");
                let card = &mut body["attachments"][0]["content"];
                if let Some(items) = card["body"].as_array_mut() {
                    let at = items.len().min(2);
                    items.insert(
                        at,
                        json!({"type": "TextBlock", "text": format!("For {tag}"), "wrap": true}),
                    );
                }
                card["msteams"]["entities"] = json!([{
                    "type": "mention",
                    "text": tag,
                    "mentioned": {"id": id, "name": name},
                }]);
            }
        }
        Platform::GoogleChat => {
            if let Some(id) = &person.google_chat {
                prefix_text(
                    &mut body,
                    &format!("<{id}>"),
                    crate::format::GOOGLE_CHAT_MAX_TEXT,
                );
            }
        }
    }
    body
}

/// The message text with `tag` in front, still within the platform's limit (characters).
fn prefix_text(body: &mut Value, tag: &str, max: usize) {
    let text = body["text"].as_str().unwrap_or_default();
    body["text"] = Value::String(truncate(&format!("{tag} {text}"), max));
}

#[cfg(test)]
mod tests;
