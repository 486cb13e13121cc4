//! The named chat channels and their webhook URLs, from one AWS Secrets Manager secret.
//!
//! The secret's text is a JSON object, one member per channel:
//!
//! ```json
//! {
//!   "oncall":       { "platform": "teams", "url": "https://prod-12.westeurope.logic.azure.com/workflows/…" },
//!   "data-quality": "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=…&token=…",
//!   "finance":      "https://hooks.slack.com/services/T000/B000/XXXX"
//! }
//! ```
//!
//! A bare URL names its platform by its host (`hooks.slack.com`, `chat.googleapis.com`, a Power
//! Automate / Logic Apps host for Teams Workflows); any other host needs `"platform"`. A webhook
//! URL is a credential — whoever has it can post — so it is never logged, never put in an error
//! and never shown by `Debug`: [`Channels::redact`] removes it from any text that is shown.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// A chat platform and its webhook format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    /// A Microsoft Teams Workflows webhook ("When a Teams webhook request is received"): an
    /// Adaptive Card in a message envelope.
    Teams,
    /// A Google Chat space's incoming webhook: `cardsV2` with a text fallback.
    GoogleChat,
    /// A Slack incoming webhook: Block Kit with a text fallback.
    Slack,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Teams => "teams",
            Platform::GoogleChat => "google_chat",
            Platform::Slack => "slack",
        }
    }

    fn parse(s: &str) -> Option<Platform> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "teams" | "microsoft_teams" | "msteams" => Some(Platform::Teams),
            "google_chat" | "googlechat" | "gchat" => Some(Platform::GoogleChat),
            "slack" => Some(Platform::Slack),
            _ => None,
        }
    }

    /// The platform a webhook host belongs to, where the host says it.
    fn of_host(host: &str) -> Option<Platform> {
        let host = host.to_ascii_lowercase();
        if host == "hooks.slack.com" {
            Some(Platform::Slack)
        } else if host == "chat.googleapis.com" {
            Some(Platform::GoogleChat)
        } else if host.ends_with(".logic.azure.com")
            || host.ends_with(".powerplatform.com")
            || host.ends_with(".powerautomate.com")
            || host.ends_with(".webhook.office.com")
        {
            Some(Platform::Teams)
        } else {
            None
        }
    }

    /// Documented sustained rate of one channel: Slack allows about one message per second per
    /// channel; Google Chat 60 messages per minute per space (1/s); Teams webhooks are throttled
    /// above 4 requests per second, and a Workflows flow run per message — one per second keeps
    /// a channel readable and well inside it.
    pub fn messages_per_second(self) -> f64 {
        match self {
            Platform::Teams | Platform::GoogleChat | Platform::Slack => 1.0,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One named channel.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub platform: Platform,
    url: String,
}

impl Channel {
    /// The webhook URL: for the HTTP request only.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("platform", &self.platform)
            .field("url", &"<redacted>")
            .finish()
    }
}

/// Every channel of the secret, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channels {
    by_name: BTreeMap<String, Channel>,
}

impl Channels {
    /// Reads the secret's text; every problem is listed (naming the channel, never its URL).
    pub fn parse(text: &str) -> Result<Channels, Vec<String>> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message quotes no input, only line and column.
            vec![format!("the secret is not a JSON object of channels ({e})")]
        })?;
        let Some(members) = doc.as_object() else {
            return Err(vec!["the secret is not a JSON object of channels".into()]);
        };
        let mut problems = Vec::new();
        let mut by_name = BTreeMap::new();
        if members.is_empty() {
            problems.push("the secret names no channel".to_string());
        }
        for (name, spec) in members {
            if let Some(channel) = read_channel(name, spec, &mut problems) {
                by_name.insert(name.clone(), channel);
            }
        }
        if problems.is_empty() {
            Ok(Channels { by_name })
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// `text` with every webhook URL (and its path, which holds the token) replaced by
    /// `<webhook of CHANNEL>`: for anything that is logged or reported.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for c in self.by_name.values() {
            let replacement = format!("<webhook of {}>", c.name);
            out = out.replace(&c.url, &replacement);
            if let Ok(u) = url::Url::parse(&c.url) {
                let path = u.path();
                if path.len() > 1 {
                    out = out.replace(path, &replacement);
                }
                if let Some(q) = u.query() {
                    out = out.replace(q, &replacement);
                }
            }
        }
        out
    }
}

/// One member of the secret as a channel; its problems (naming it, never its URL) are added to
/// `problems`.
fn read_channel(name: &str, spec: &Value, problems: &mut Vec<String>) -> Option<Channel> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        problems.push(format!(
            "channel name {name:?}: use letters, digits, '-', '_' or '.'"
        ));
        return None;
    }
    let (url, platform) = match spec {
        Value::String(url) => (url.as_str(), None),
        Value::Object(o) => {
            if let Some(other) = o.keys().find(|k| *k != "url" && *k != "platform") {
                problems.push(format!(
                    "channel {name}: unknown member {other:?} (allowed: url, platform)"
                ));
            }
            let platform = match o.get("platform") {
                None => None,
                Some(Value::String(p)) => match Platform::parse(p) {
                    Some(p) => Some(p),
                    None => {
                        problems.push(format!(
                            "channel {name}: platform {p:?} is not one of teams, google_chat, slack"
                        ));
                        return None;
                    }
                },
                Some(_) => {
                    problems.push(format!("channel {name}: platform must be a string"));
                    return None;
                }
            };
            let Some(url) = o.get("url").and_then(Value::as_str) else {
                problems.push(format!("channel {name}: no \"url\""));
                return None;
            };
            (url, platform)
        }
        _ => {
            problems.push(format!(
                "channel {name}: give the webhook URL, or {{\"platform\": …, \"url\": …}}"
            ));
            return None;
        }
    };
    let host = match check_url(name, url) {
        Ok(host) => host,
        Err(problem) => {
            problems.push(problem.to_string());
            return None;
        }
    };
    let Some(platform) = platform.or_else(|| Platform::of_host(&host)) else {
        problems.push(format!(
            "channel {name}: the host {host} does not say which platform it is; add \"platform\": \"teams\" | \"google_chat\" | \"slack\""
        ));
        return None;
    };
    Some(Channel {
        name: name.to_string(),
        platform,
        url: url.to_string(),
    })
}

/// Whether a channel may be plain `http://` to this machine: in debug builds (the local test
/// receiver of `make demo` and the end-to-end tests), or where `LAKEOPS_ALLOW_LOOPBACK_HTTP=true`
/// (the cold-start benchmark's release binaries). A deployed build is a release build whose
/// template never sets the variable: in Lambda `127.0.0.1` is where the runtime API and
/// extensions listen, and a channel pointing there could post alert text into the function's
/// own invocation protocol. Whoever can write the channels secret cannot set the variable.
/// `LAKEOPS_ALLOW_LOOPBACK_HTTP` (default false): `true` lets a release build post to plain
/// `http://` on 127.0.0.1 (the cold-start benchmark); the template never sets it.
pub fn loopback_http_allowed() -> bool {
    cfg!(debug_assertions)
        || std::env::var("LAKEOPS_ALLOW_LOOPBACK_HTTP").is_ok_and(|v| v == "true")
}

/// Why a channel's webhook URL is refused. It names the channel, never the URL (whose path or
/// query holds the webhook's token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("channel {channel}: the URL does not parse ({source})")]
    UrlDoesNotParse {
        channel: String,
        source: url::ParseError,
    },
    #[error(
        "channel {channel}: the URL must be https (it is {scheme}{})",
        if *loopback_http { "; plain http is allowed only to 127.0.0.1 in debug builds" } else { "" }
    )]
    NotHttps {
        channel: String,
        scheme: String,
        /// Whether plain `http://` to this machine would have been allowed.
        loopback_http: bool,
    },
}

/// A webhook must be HTTPS (plain HTTP to this machine only where
/// [`loopback_http_allowed`]). Returns the host.
fn check_url(channel: &str, raw: &str) -> Result<String, ChannelError> {
    check_url_in(channel, raw, loopback_http_allowed())
}

fn check_url_in(channel: &str, raw: &str, loopback_http: bool) -> Result<String, ChannelError> {
    let url = url::Url::parse(raw).map_err(|source| ChannelError::UrlDoesNotParse {
        channel: channel.to_string(),
        source,
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    match url.scheme() {
        "https" => Ok(host),
        "http" if loopback && loopback_http => Ok(host),
        other => Err(ChannelError::NotHttps {
            channel: channel.to_string(),
            scheme: other.to_string(),
            loopback_http,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = r#"{
        "oncall": {"platform": "teams", "url": "https://prod-12.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRETSIG"},
        "dq": "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=KEY&token=TOKEN",
        "finance": "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
        "local": {"platform": "slack", "url": "http://127.0.0.1:8080/finance"}
    }"#;

    #[test]
    fn channels_name_their_platform_by_host_or_member() {
        let c = Channels::parse(SECRET).unwrap();
        assert_eq!(c.get("oncall").unwrap().platform, Platform::Teams);
        assert_eq!(c.get("dq").unwrap().platform, Platform::GoogleChat);
        assert_eq!(c.get("finance").unwrap().platform, Platform::Slack);
        assert_eq!(c.get("local").unwrap().platform, Platform::Slack);
        assert_eq!(c.names().count(), 4);
    }

    #[test]
    fn every_problem_is_listed_and_no_url_is_shown() {
        let problems = Channels::parse(
            r#"{
            "a": "http://hooks.slack.com/services/T/B/SECRET1",
            "b": {"url": "https://example.com/hook/SECRET2"},
            "c": {"platform": "irc", "url": "https://hooks.slack.com/x"},
            "d": 7,
            "e e": "https://hooks.slack.com/services/T/B/SECRET3",
            "f": {"platform": "slack"},
            "g": {"platform": "slack", "url": "https://hooks.slack.com/x", "token": "t"}
        }"#,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 7, "{problems:#?}");
        let all = problems.join("\n");
        for secret in ["SECRET1", "SECRET2", "SECRET3"] {
            assert!(!all.contains(secret), "{all}");
        }
        assert!(all.contains("channel a: the URL must be https"), "{all}");
        assert!(
            all.contains("channel b: the host example.com does not say"),
            "{all}"
        );
        assert!(all.contains("platform \"irc\""), "{all}");
        assert!(all.contains("unknown member \"token\""), "{all}");
        assert_eq!(
            Channels::parse("{}").unwrap_err(),
            ["the secret names no channel"]
        );
        assert!(Channels::parse("not json").unwrap_err()[0].contains("not a JSON object"));
    }

    #[test]
    fn urls_are_redacted_from_debug_and_from_any_text() {
        let c = Channels::parse(SECRET).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("SECRETSIG") && !debug.contains("XXXXSECRET"),
            "{debug}"
        );
        let echoed = "error posting to https://hooks.slack.com/services/T000/B000/XXXXSECRET: \
                      path /services/T000/B000/XXXXSECRET, query key=KEY&token=TOKEN";
        let r = c.redact(echoed);
        assert!(!r.contains("XXXXSECRET") && !r.contains("TOKEN"), "{r}");
        assert!(
            r.contains("<webhook of finance>") && r.contains("<webhook of dq>"),
            "{r}"
        );
    }

    #[test]
    fn plain_http_to_loopback_only_in_debug_builds() {
        let runtime_api = "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next";
        assert!(
            check_url_in("local", runtime_api, true).is_ok(),
            "the local receiver, debug build"
        );
        let refused = check_url_in("local", runtime_api, false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "channel local: the URL must be https (it is http)"
        );
        assert!(check_url_in("a", "http://hooks.slack.com/services/T/B/X", true).is_err());
        assert!(check_url_in("a", "https://hooks.slack.com/services/T/B/X", false).is_ok());
    }

    #[test]
    fn a_refused_url_names_its_channel_and_never_its_token() {
        let refused =
            check_url_in("oncall", "http://hooks.slack.com/services/T/B/SECRET", true).unwrap_err();
        assert_eq!(
            refused,
            ChannelError::NotHttps {
                channel: "oncall".into(),
                scheme: "http".into(),
                loopback_http: true
            }
        );
        assert_eq!(
            refused.to_string(),
            "channel oncall: the URL must be https (it is http; plain http is allowed only to 127.0.0.1 in debug builds)"
        );
        let unparsable = check_url_in("dq", "hooks.slack.com/SECRET", false).unwrap_err();
        assert!(
            unparsable
                .to_string()
                .starts_with("channel dq: the URL does not parse ("),
            "{unparsable}"
        );
        assert!(!unparsable.to_string().contains("SECRET"), "{unparsable}");
    }
}
