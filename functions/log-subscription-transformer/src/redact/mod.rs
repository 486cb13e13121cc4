//! What is taken out of log lines before they are stored: AWS access key ids and a secret key
//! printed next to its id, secrets known by their key (`password=…`, `"token":"…"`,
//! `Authorization: Bearer …` — also inside escaped JSON and URL-encoded text), URL passwords,
//! webhook URLs and URL signatures, GitHub tokens, PEM private key bodies, JWTs, payment card
//! numbers, e-mail addresses, IP addresses, and a custom pattern. One file per family.
//!
//! Redaction must not damage data: an IPv4 is taken only where it is an address — not inside a
//! longer dotted number (`1.3.6.1.4.1`) or after a version key (`Version=4.0.0.0`,
//! `Corretto-17.0.10.7`) — and sources whose IPs are the data (VPC flow logs, access logs, WAF,
//! CloudTrail) keep them unless a log-group override asks otherwise.

use std::ops::Range;

use regex::Regex;
use serde::Deserialize;

mod cards;
mod credentials;
mod emails;
mod keyed;
mod network;
#[cfg(test)]
mod tests;
mod webhooks;

pub use cards::card_numbers;
pub use credentials::{
    access_key_ids, github_tokens, private_key_bodies, secret_keys_after_key_ids, url_passwords,
};
use credentials::{GITHUB_PREFIX_LITERALS, KEY_ID_PREFIX_LITERALS};
pub use emails::email_addresses;
pub use keyed::keyed_secret_matches;
use keyed::SECRET_KEY_STEM_LITERALS;
pub use network::{dotted_quads, ipv4_addresses, ipv6_addresses};
pub use webhooks::{slack_webhooks, teams_webhooks, url_signatures};

/// Which switch turns a redaction on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    AwsKeys,
    Secrets,
    Emails,
    Ips,
    Custom,
}

/// The redactions switched on for one log group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switches {
    #[serde(default = "yes")]
    pub aws_keys: bool,
    #[serde(default = "yes")]
    pub secrets: bool,
    #[serde(default = "yes")]
    pub emails: bool,
    #[serde(default = "yes")]
    pub ips: bool,
}

fn yes() -> bool {
    true
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            aws_keys: true,
            secrets: true,
            emails: true,
            ips: true,
        }
    }
}

impl Class {
    /// This class's bit in [`Switches::allowed`].
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl Switches {
    /// The classes switched on, one bit each ([`Class::bit`]): worked out once per line, where a
    /// `match` on every redaction's class was a jump per redaction per line (measured: a third
    /// of the redaction loop's own time).
    fn allowed(&self) -> u8 {
        [
            (Class::AwsKeys, self.aws_keys),
            (Class::Secrets, self.secrets),
            (Class::Emails, self.emails),
            (Class::Ips, self.ips),
            (Class::Custom, true),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .fold(0, |bits, (class, _)| bits | class.bit())
    }
}

/// Source types whose IP addresses are what the logs are for: no IP redaction unless a log-group
/// override switches it on.
pub const IP_DATA_SOURCES: [&str; 4] = ["vpcflow", "accesslog", "waf", "cloudtrail"];

/// One entry of `REDACT_BY_LOG_GROUP`: a log-group glob (`*` any run, `?` one character) and the
/// switches it changes; switches it does not name keep the function's setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub log_group: String,
    pub aws_keys: Option<bool>,
    pub secrets: Option<bool>,
    pub emails: Option<bool>,
    pub ips: Option<bool>,
}

impl Override {
    fn apply(&self, s: &mut Switches) {
        for (to, from) in [
            (&mut s.aws_keys, self.aws_keys),
            (&mut s.secrets, self.secrets),
            (&mut s.emails, self.emails),
            (&mut s.ips, self.ips),
        ] {
            if let Some(v) = from {
                *to = v;
            }
        }
    }
}

/// `REDACT_BY_LOG_GROUP`: a JSON array of [`Override`]s, first match wins. Every problem is
/// reported, not just the first.
pub fn parse_overrides(text: &str) -> Result<Vec<Override>, String> {
    let list: Vec<Override> = serde_json::from_str(text).map_err(|e| {
        format!("not a JSON array of {{\"log_group\": \"<glob>\", \"ips\"|\"emails\"|\"secrets\"|\"aws_keys\": true|false}}: {e}")
    })?;
    let empty: Vec<String> = list
        .iter()
        .enumerate()
        .filter(|(_, o)| o.log_group.trim().is_empty())
        .map(|(i, _)| format!("entry {} has an empty log_group", i + 1))
        .collect();
    if empty.is_empty() {
        Ok(list)
    } else {
        Err(empty.join("; "))
    }
}

/// `*` matches any run (also empty), `?` one character; everything else itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Byte ranges of every match in a text, leftmost first, not overlapping.
pub type Finder = fn(&str) -> Vec<Range<usize>>;

/// How a redaction finds what to take out.
#[derive(Debug, Clone)]
pub enum Find {
    Regex(Regex),
    Finder(Finder),
}

/// One redaction: which switch it belongs to, how it finds, what it puts instead.
#[derive(Debug, Clone)]
pub struct Redaction {
    pub class: Class,
    pub find: Find,
    pub replacement: &'static str,
    /// A literal every match contains, looked for first: most lines lack it, and then the
    /// pattern is not run at all (a regex call costs about as much per line as the search, even
    /// with the engine's own literal prefilter: measured, `AKIA|ASIA` behind `IA`). Its searcher is built once (a one-off `memmem::find` builds
    /// one per line, which measured as costly as the search). On an untouched line the
    /// redactor's one pass over all `implied` literals usually decides first (`@`, which a third
    /// of lines hold, is not among them: an e-mail is found from a `memchr`).
    pub needs: Option<memchr::memmem::Finder<'static>>,
    /// Literals one of which every match contains (empty: none known). While a line is still
    /// untouched, one pass over all redactions' literals ([`Redactor::redact`]) rules out at once
    /// every redaction whose literals the line lacks.
    implied: Vec<&'static str>,
}

impl Redaction {
    /// The text with every match replaced, and how many there were; `None` when nothing matched
    /// (one search, no copy). Replacements are spliced in from plain match positions: asking the
    /// regex engine for capture groups makes it use its slower matchers (measured).
    fn apply(&self, text: &str) -> Option<(String, usize)> {
        if let Some(literal) = &self.needs {
            literal.find(text.as_bytes())?;
        }
        let matches: Vec<Range<usize>> = match &self.find {
            Find::Finder(find) => find(text),
            Find::Regex(re) => re.find_iter(text).map(|m| m.range()).collect(),
        };
        if matches.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut count = 0;
        for m in &matches {
            // A finder's overlapping or off-boundary range is skipped, never a panic.
            let fits = last <= m.start
                && m.start <= m.end
                && text.is_char_boundary(m.start)
                && text.is_char_boundary(m.end);
            if !fits {
                continue;
            }
            out.push_str(&text[last..m.start]);
            out.push_str(self.replacement);
            last = m.end;
            count += 1;
        }
        if count == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        Some((out, count))
    }
}

/// The redactions, the function's switches, and the per-source / per-log-group choices.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Applied in order.
    pub redactions: Vec<Redaction>,
    pub switches: Switches,
    pub overrides: Vec<Override>,
    /// Every redaction's `implied` literals, searched in one SIMD (Teddy) pass.
    implied_literals: aho_corasick::AhoCorasick,
}

impl Redaction {
    /// A built-in redaction by a pattern, behind an optional literal pre-test.
    fn regex(
        class: Class,
        pattern: &str,
        replacement: &'static str,
        needs: Option<&'static str>,
    ) -> Self {
        Self {
            class,
            find: Find::Regex(Regex::new(pattern).expect("built-in pattern")),
            replacement,
            needs: needs.map(|n| memchr::memmem::Finder::new(n).into_owned()),
            implied: needs.into_iter().collect(),
        }
    }

    /// A built-in redaction by a hand-written finder, behind an optional literal pre-test.
    fn finder(
        class: Class,
        find: Finder,
        replacement: &'static str,
        needs: Option<&'static str>,
    ) -> Self {
        Self {
            class,
            find: Find::Finder(find),
            replacement,
            needs: needs.map(|n| memchr::memmem::Finder::new(n).into_owned()),
            implied: needs.into_iter().collect(),
        }
    }

    /// Every match contains one of these literals (instead of the `needs` literal).
    fn implied_by(self, literals: &[&'static str]) -> Self {
        Self {
            implied: literals.to_vec(),
            ..self
        }
    }
}

impl Redactor {
    /// The built-in redactions, in the order they run.
    fn built_in() -> Vec<Redaction> {
        use Class::{AwsKeys, Emails, Ips, Secrets};
        // ASCII word boundaries and classes (`(?-u:\b)`, `[0-9]`): Unicode ones make the engine
        // fall back to a slower automaton on non-ASCII text, and these tokens are ASCII anyway.
        vec![
            // `IA` is the shortest literal for its own test; the one pass takes the longer ones.
            Redaction::finder(
                AwsKeys,
                secret_keys_after_key_ids,
                "[REDACTED:aws-secret-key]",
                Some("IA"),
            )
            .implied_by(&KEY_ID_PREFIX_LITERALS[..2]),
            Redaction::finder(AwsKeys, access_key_ids, "[REDACTED:aws-key-id]", None)
                .implied_by(&KEY_ID_PREFIX_LITERALS),
            Redaction::finder(
                Secrets,
                private_key_bodies,
                "[REDACTED:private-key]",
                Some("-----BEGIN "),
            ),
            Redaction::finder(Secrets, url_passwords, "[REDACTED:secret]", Some("://")),
            Redaction::finder(
                Secrets,
                slack_webhooks,
                "[REDACTED:webhook]",
                Some("hooks.slack.com/"),
            ),
            Redaction::finder(
                Secrets,
                teams_webhooks,
                "[REDACTED:webhook]",
                Some("office.com/webhook"),
            ),
            Redaction::finder(
                Secrets,
                url_signatures,
                "[REDACTED:signature]",
                Some("sig="),
            ),
            Redaction::finder(Secrets, github_tokens, "[REDACTED:github-token]", None)
                .implied_by(&GITHUB_PREFIX_LITERALS),
            Redaction::finder(Secrets, keyed_secret_matches, "[REDACTED:secret]", None)
                .implied_by(&SECRET_KEY_STEM_LITERALS),
            Redaction::regex(
                Secrets,
                r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+",
                "[REDACTED:jwt]",
                Some("eyJ"),
            ),
            Redaction::finder(Secrets, card_numbers, "[REDACTED:card]", None),
            // `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`, found by hand.
            Redaction::finder(Emails, email_addresses, "[REDACTED:email]", None),
            // URL-encoded (`ann%40example.com`): its own pattern behind a `%40` test, so the
            // common `@` finder stays a `memchr` for `@`.
            Redaction::regex(
                Emails,
                r"[A-Za-z0-9._+-]+%40[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
                "[REDACTED:email]",
                Some("%40"),
            ),
            Redaction::finder(Ips, ipv4_addresses, "[REDACTED:ip]", None),
            Redaction::finder(Ips, ipv6_addresses, "[REDACTED:ip]", None),
        ]
    }

    /// All built-in redactions (the switches choose per log group), then the custom pattern.
    /// Order matters: the shapes whose whole value is known (a secret key after its id, a PEM
    /// body, a URL's password, webhooks, tokens) go before the secrets known by their key, which
    /// leave an already-redacted value alone; everything before e-mails, so that a URL's
    /// `user:password@host` is not taken for an address. Webhooks, tokens, private keys and card
    /// numbers are under the `secrets` switch.
    pub fn new(switches: Switches, overrides: Vec<Override>, custom: Option<Regex>) -> Self {
        let mut redactions = Self::built_in();
        if let Some(re) = custom {
            redactions.push(Redaction {
                class: Class::Custom,
                find: Find::Regex(re),
                replacement: "[REDACTED]",
                needs: None,
                implied: Vec::new(),
            });
        }
        let mut literals: Vec<&str> = redactions
            .iter()
            .flat_map(|r| r.implied.iter().copied())
            .collect();
        literals.sort_unstable();
        literals.dedup();
        let implied_literals = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(literals)
            .expect("built-in literals");
        Self {
            redactions,
            switches,
            overrides,
            implied_literals,
        }
    }

    /// What is redacted in one log group: the function's switches, IPs kept for sources whose
    /// IPs are the data, then the first matching override.
    pub fn switches_for(&self, log_group: &str, source_type: &str) -> Switches {
        let mut s = self.switches;
        if IP_DATA_SOURCES.contains(&source_type) {
            s.ips = false;
        }
        if let Some(o) = self
            .overrides
            .iter()
            .find(|o| glob_matches(&o.log_group, log_group))
        {
            o.apply(&mut s);
        }
        s
    }

    /// The message with every match replaced, and how many were. Each pattern searches on its
    /// own (measured faster than one `RegexSet` or alternation over all of them), after one
    /// Teddy pass over the literals of those that have one (`AKIA…`, `://`, `eyJ`, `token`, …)
    /// has ruled them out for most lines; a line with nothing to redact is never copied.
    pub fn redact<'a>(
        &self,
        message: &'a str,
        switches: Switches,
    ) -> (std::borrow::Cow<'a, str>, usize) {
        let mut text = std::borrow::Cow::Borrowed(message);
        let mut count = 0;
        // Whether the untouched message holds any redaction's implied literal: one pass instead
        // of one search per redaction (most lines hold none). Exact: while the text is the
        // message, a redaction whose literals it lacks cannot match; once a replacement changed
        // the text (a replacement can bring literals, `[REDACTED:aws-secret-key]`), each
        // redaction's own test decides again.
        let mut any_literal: Option<bool> = None;
        let allowed = switches.allowed();
        for r in self
            .redactions
            .iter()
            .filter(|r| allowed & r.class.bit() != 0)
        {
            if !r.implied.is_empty() && matches!(text, std::borrow::Cow::Borrowed(_)) {
                let found =
                    *any_literal.get_or_insert_with(|| self.implied_literals.is_match(message));
                if !found {
                    continue;
                }
            }
            let Some((replaced, n)) = r.apply(&text) else {
                continue;
            };
            count += n;
            text = std::borrow::Cow::Owned(replaced);
        }
        (text, count)
    }
}

/// A byte of a word (`\w` in ASCII): letters, digits, `_`.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
