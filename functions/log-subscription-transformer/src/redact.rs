//! What is taken out of log lines before they are stored: AWS access key ids, secrets known by
//! their key (`password=…`, `"token":"…"`, `Authorization: Bearer …` — also inside escaped JSON
//! and URL-encoded text), JWTs, e-mail addresses, IP addresses, and a custom pattern.
//!
//! Redaction must not damage data: an IPv4 is taken only where it is an address — not inside a
//! longer dotted number (`1.3.6.1.4.1`) or after a version key (`Version=4.0.0.0`,
//! `Corretto-17.0.10.7`) — and sources whose IPs are the data (VPC flow logs, access logs, WAF,
//! CloudTrail) keep them unless a log-group override asks otherwise.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

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

impl Switches {
    fn allows(&self, class: Class) -> bool {
        match class {
            Class::AwsKeys => self.aws_keys,
            Class::Secrets => self.secrets,
            Class::Emails => self.emails,
            Class::Ips => self.ips,
            Class::Custom => true,
        }
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
    /// pattern is not run at all. Its searcher is built once (a one-off `memmem::find` builds
    /// one per line, which measured as costly as the search). (One Aho-Corasick pass for all
    /// redactions' literals, `@` and `AKIA…` included, measured slower than the regex engine's
    /// own literal prefilters: `@` alone is a `memchr`.)
    pub needs: Option<memchr::memmem::Finder<'static>>,
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
        for m in &matches {
            out.push_str(&text[last..m.start]);
            out.push_str(self.replacement);
            last = m.end;
        }
        out.push_str(&text[last..]);
        Some((out, matches.len()))
    }
}

/// The redactions, the function's switches, and the per-source / per-log-group choices.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Applied in order.
    pub redactions: Vec<Redaction>,
    pub switches: Switches,
    pub overrides: Vec<Override>,
}

impl Redactor {
    /// All built-in redactions (the switches choose per log group), then the custom pattern.
    pub fn new(switches: Switches, overrides: Vec<Override>, custom: Option<Regex>) -> Self {
        let regex = |p: &str| Find::Regex(Regex::new(p).expect("built-in pattern"));
        // ASCII word boundaries and classes (`(?-u:\b)`, `[0-9]`): Unicode ones make the engine
        // fall back to a slower automaton on non-ASCII text, and these tokens are ASCII anyway.
        let mut redactions = vec![
            Redaction {
                class: Class::AwsKeys,
                find: regex(r"(?-u:\b)(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?-u:\b)"),
                replacement: "[REDACTED:aws-key-id]",
                needs: None,
            },
            Redaction {
                class: Class::Secrets,
                find: Find::Finder(keyed_secret_matches),
                replacement: "[REDACTED:secret]",
                needs: None,
            },
            Redaction {
                class: Class::Secrets,
                find: regex(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+"),
                replacement: "[REDACTED:jwt]",
                needs: Some(memchr::memmem::Finder::new("eyJ")),
            },
            Redaction {
                class: Class::Emails,
                find: regex(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
                replacement: "[REDACTED:email]",
                needs: None,
            },
            // URL-encoded (`ann%40example.com`): its own pattern behind a `%40` test, so the
            // common `@` pattern keeps the regex engine's fast literal search.
            Redaction {
                class: Class::Emails,
                find: regex(r"[A-Za-z0-9._+-]+%40[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
                replacement: "[REDACTED:email]",
                needs: Some(memchr::memmem::Finder::new("%40")),
            },
            Redaction {
                class: Class::Ips,
                find: Find::Finder(ipv4_addresses),
                replacement: "[REDACTED:ip]",
                needs: None,
            },
            Redaction {
                class: Class::Ips,
                find: Find::Finder(ipv6_addresses),
                replacement: "[REDACTED:ip]",
                needs: None,
            },
        ];
        if let Some(re) = custom {
            redactions.push(Redaction {
                class: Class::Custom,
                find: Find::Regex(re),
                replacement: "[REDACTED]",
                needs: None,
            });
        }
        Self {
            redactions,
            switches,
            overrides,
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
    /// own: the regex engine then uses each one's literal prefilter (`AKIA…`, `@`, `eyJ`), which
    /// measured faster than one `RegexSet` or alternation over all of them, and a line with
    /// nothing to redact is never copied.
    pub fn redact<'a>(
        &self,
        message: &'a str,
        switches: Switches,
    ) -> (std::borrow::Cow<'a, str>, usize) {
        let mut text = std::borrow::Cow::Borrowed(message);
        let mut count = 0;
        for r in self.redactions.iter().filter(|r| switches.allows(r.class)) {
            let Some((replaced, n)) = r.apply(&text) else {
                continue;
            };
            count += n;
            text = std::borrow::Cow::Owned(replaced);
        }
        (text, count)
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// An IPv4 octet as the pattern `25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9]` takes it whole.
fn is_octet(d: &[u8]) -> bool {
    match d {
        [_] | [_, _] => true,
        [b'2', b'5', c] => *c <= b'5',
        [b'2', b, _] => *b <= b'4',
        [b'1', _, _] => true,
        _ => false,
    }
}

/// Every dotted quad as the pattern `\b(octet\.){3}octet\b` finds it (ASCII word boundaries),
/// leftmost first, without running an automaton over the line: only runs of digits ending at a
/// `.` are looked at. Property-tested against that regex.
pub fn dotted_quads(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    for dot in memchr::memchr_iter(b'.', b) {
        if dot < from {
            continue;
        }
        // The digit run ending at this dot; a match can only start at its first digit, and
        // only after a non-word character.
        let mut start = dot;
        while start > from && b[start - 1].is_ascii_digit() {
            start -= 1;
        }
        if start == dot || (start > 0 && is_word(b[start - 1])) {
            continue;
        }
        let mut at = start;
        let mut octets = 0;
        let end = loop {
            let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !is_octet(&b[at..at + digits]) {
                break None;
            }
            at += digits;
            octets += 1;
            if octets == 4 {
                break (b.get(at).is_none_or(|c| !is_word(*c))).then_some(at);
            }
            if b.get(at) != Some(&b'.') {
                break None;
            }
            at += 1;
        };
        if let Some(end) = end {
            out.push(start..end);
            from = end;
        }
    }
    out
}

/// Whether a dotted quad at `r` is an address rather than part of a longer dotted number
/// (an OID `1.3.6.1.4.1`, a version `17.0.10.7.1`) or a version (`Version=4.0.0.0`,
/// `"runtime_version": "17.0.10.7"`, `Corretto-17.0.10.7`, `Python/3.11.7.1`).
fn is_address(text: &str, r: &Range<usize>) -> bool {
    let b = text.as_bytes();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if r.start >= 2 && b[r.start - 1] == b'.' && digit_at(r.start - 2) {
        return false;
    }
    if b.get(r.end) == Some(&b'.') && digit_at(r.end + 1) {
        return false;
    }
    if r.start >= 2 && matches!(b[r.start - 1], b'-' | b'/') && b[r.start - 2].is_ascii_alphabetic()
    {
        return false;
    }
    // The word before, separators (`=`, `:`, quotes, spaces, escapes) skipped.
    let before = text[..r.start].trim_end_matches(['=', ':', '"', '\'', '\\', ' ', '\t']);
    let word_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .map_or(0, |i| i + 1);
    let word = &before.as_bytes()[word_start..];
    let ends_with = |suffix: &[u8]| {
        word.len() >= suffix.len() && word[word.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    !(ends_with(b"version")
        || word.eq_ignore_ascii_case(b"ver")
        || ends_with(b"_ver")
        || word.eq_ignore_ascii_case(b"build"))
}

/// IPv4 addresses: the dotted quads that are addresses.
pub fn ipv4_addresses(text: &str) -> Vec<Range<usize>> {
    let mut quads = dotted_quads(text);
    quads.retain(|r| is_address(text, r));
    quads
}

/// IPv6 addresses, full (`fe80:0:0:0:202:b3ff:fe1e:8329`) or compressed (`2001:db8::1`, `::1`,
/// `fe80::1`): a run of hex groups and colons, not touching a word character, with either eight
/// groups or one `::` and at most seven. A `::` with a single group is taken only as `::1`, so
/// `arr[::2]` or `Foo::Bar`-like text is left alone.
pub fn ipv6_addresses(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    // An address has a `::`, or seven colons between hex digits; a timestamp's two colons or a
    // JSON line's `"key":` colons are neither, and most lines are then never scanned.
    let mut hex_colons = 0;
    let worth_a_look = memchr::memchr_iter(b':', b).any(|i| {
        let next = b.get(i + 1).copied();
        if next == Some(b':') {
            return true;
        }
        if i > 0 && b[i - 1].is_ascii_hexdigit() && next.is_some_and(|c| c.is_ascii_hexdigit()) {
            hex_colons += 1;
        }
        hex_colons == 7
    });
    if !worth_a_look {
        return out;
    }
    let mut i = 0;
    while let Some(off) = memchr::memchr(b':', &b[i..]) {
        let colon = i + off;
        // Extend to the whole run of hex digits and colons around this colon.
        let mut start = colon;
        while start > 0 && (b[start - 1].is_ascii_hexdigit() || b[start - 1] == b':') {
            start -= 1;
        }
        let mut end = colon;
        while end < b.len() && (b[end].is_ascii_hexdigit() || b[end] == b':') {
            end += 1;
        }
        i = end.max(colon + 1);
        if (start > 0 && is_word(b[start - 1])) || (end < b.len() && is_word(b[end])) {
            continue;
        }
        // A run ending in `:` followed by text is a key (`a:b: value`), not an address.
        let run = &text[start..end];
        if is_ipv6(run) {
            out.push(start..end);
        }
    }
    out
}

fn is_ipv6(run: &str) -> bool {
    let compressed = run.matches("::").count();
    if compressed > 1 || run.contains(":::") {
        return false;
    }
    let groups: Vec<&str> = run.split(':').collect();
    if groups.iter().any(|g| g.len() > 4) {
        return false;
    }
    let filled = groups.iter().filter(|g| !g.is_empty()).count();
    if compressed == 0 {
        return groups.len() == 8 && filled == 8;
    }
    // Empty groups only where the `::` is (one at a start or end, two for a bare `::x`).
    let inner_empty = groups[1..groups.len().saturating_sub(1)]
        .iter()
        .filter(|g| g.is_empty())
        .count();
    if inner_empty > 1
        || (groups.first() == Some(&"") && !run.starts_with("::"))
        || (groups.last() == Some(&"") && !run.ends_with("::"))
    {
        return false;
    }
    filled <= 7 && (filled >= 2 || run == "::1")
}

/// Keys whose values are secrets. Matched anywhere in a key (`db_password`, `dbPassword`,
/// `x-amz-security-token`), ignoring case; the key must be followed by its separator, so
/// `token_count` or `password_policy` are not secrets.
static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u)(?:password|passwd|pwd|passphrase|secret[_-]?access[_-]?key|secret[_-]?key|",
        r"client[_-]?secret|secret|token|api[_-]?key|private[_-]?key|authorization)",
        // closing quote (possibly escaped: `\"`, `\\\"`), separator (also URL-encoded), opening quote
        r#"(?:\\*["']|%22|%27)?[ \t]*(?:[:=]|%3[ad])[ \t]*(?:\\*["']|%22|%27)?[ \t]*"#,
        r"(?:(?:bearer|basic|token)[ \t]+)?",
    ))
    .expect("built-in pattern")
});

/// A literal every secret key holds, as keys are written — lower case, Capitalized (`dbPassword`,
/// `SessionToken`) or UPPER (`AWS_SESSION_TOKEN`): one SIMD (Teddy) pass rules out most lines
/// before the case-insensitive key pattern (which has no literal prefix to search for) runs.
/// Case-insensitive matching here cannot use that search (measured: a tenth of all the time), so
/// a key in another mixed case (`pAssword`) is not redacted.
static SECRET_KEY_STEMS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    let stems = ["pass", "pwd", "secret", "token", "key", "authorization"];
    let capitalized = |s: &str| s[..1].to_ascii_uppercase() + &s[1..];
    let patterns: Vec<String> = stems
        .iter()
        .flat_map(|s| [s.to_string(), capitalized(s), s.to_ascii_uppercase()])
        .collect();
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("built-in patterns")
});

/// Keys ending in `token` that are not secrets: pagination tokens (`NextToken`,
/// `ContinuationToken`, `pageToken`) and .NET's `PublicKeyToken` in assembly names.
fn is_public_token(before_key: &str) -> bool {
    let tail = before_key
        .get(before_key.len().saturating_sub(16)..)
        .unwrap_or_default()
        .trim_end_matches(['_', '-'])
        .to_ascii_lowercase();
    ["publickey", "next", "continuation", "page", "pagination"]
        .iter()
        .any(|w| tail.ends_with(w))
}

/// The values of secrets known by their key, in plain text (`password=…`), JSON (`"token":
/// "…"`), JSON escaped inside a string (`{\"secretAccessKey\":\"…\"}`), URL-encoded text
/// (`password%3D…`) and headers (`Authorization: Bearer …`). A quoted value runs to its closing
/// quote; an unquoted one to whitespace or a delimiter (also URL-encoded ones).
pub fn keyed_secret_matches(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let code_at = |i: usize, codes: &[&[u8]]| {
        b.get(i..i + 3)
            .is_some_and(|c| codes.iter().any(|x| c.eq_ignore_ascii_case(x)))
    };
    let mut out = Vec::new();
    if !SECRET_KEY_STEMS.is_match(text) {
        return out;
    }
    let mut from = 0;
    while let Some(m) = SECRET_KEY.find_at(text, from) {
        from = m.end().max(m.start() + 1);
        if is_public_token(&text[..m.start()]) {
            continue;
        }
        let head = m.as_str().trim_end_matches([' ', '\t']).as_bytes();
        let quote = match head.last() {
            Some(q @ (b'"' | b'\'')) => Some(*q),
            _ if head.len() >= 3 && head[head.len() - 3..].eq_ignore_ascii_case(b"%22") => {
                Some(b'%')
            }
            _ => None,
        };
        let start = m.end();
        let mut end = start;
        while end < b.len() {
            let c = b[end];
            let stop = match quote {
                Some(b'%') => c == b'%' && code_at(end, &[b"%22"]),
                Some(q) => c == q || c == b'\\',
                None => {
                    c.is_ascii_whitespace()
                        || matches!(
                            c,
                            b'"' | b'\'' | b'\\' | b'&' | b',' | b';' | b'}' | b']' | b')' | b'<'
                        )
                        || (c == b'%'
                            && code_at(end, &[b"%22", b"%26", b"%27", b"%2c", b"%20", b"%3b"]))
                }
            };
            if stop {
                break;
            }
            end += 1;
        }
        let value = &text[start..end];
        // An unquoted JSON object, array or literal is left alone: replacing it would break the
        // line's JSON (the secrets inside an object are found by their own keys).
        let structured = quote.is_none()
            && (value.starts_with(['{', '['])
                || matches!(value, "null" | "true" | "false")
                || (head.contains(&b'"')
                    && value
                        .bytes()
                        .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')));
        if !value.is_empty() && !structured {
            out.push(start..end);
            from = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(Switches::default(), Vec::new(), None)
    }

    fn redact(text: &str) -> String {
        redactor().redact(text, Switches::default()).0.into_owned()
    }

    #[test]
    fn addresses_not_versions_or_oids() {
        assert_eq!(
            redact("from 10.1.2.3 to 192.168.0.1:443"),
            "from [REDACTED:ip] to [REDACTED:ip]:443"
        );
        for keep in [
            "System.Runtime, Version=4.0.0.0, Culture=neutral",
            "oid 1.3.6.1.4.1 private enterprise",
            "Corretto-17.0.10.7.1",
            "\"runtime_version\": \"17.0.10.7\"",
            "openjdk version 17.0.10.7",
            "10.1.2.300 is not an address",
        ] {
            assert_eq!(redact(keep), keep);
        }
        assert_eq!(
            redact("2001:db8::1 and ::1 and fe80::1%eth0"),
            "[REDACTED:ip] and [REDACTED:ip] and [REDACTED:ip]%eth0"
        );
        for keep in [
            "at 06:20:05 ok",
            "arr[::2]",
            "mac 00:1a:2b:3c:4d:5e",
            "std::io::Error",
            "a:b: c",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }

    #[test]
    fn secrets_by_key_in_every_encoding() {
        for (text, want) in [
            (
                "password=hunter2 user=ann",
                "password=[REDACTED:secret] user=ann",
            ),
            (
                r#"{"password": "correct horse battery"}"#,
                r#"{"password": "[REDACTED:secret]"}"#,
            ),
            (
                r#"{\"secretAccessKey\":\"wJalrXUtnFEMI/K7MDENG\"}"#,
                r#"{\"secretAccessKey\":\"[REDACTED:secret]\"}"#,
            ),
            (
                "Authorization: Bearer abc.def.ghi",
                "Authorization: Bearer [REDACTED:secret]",
            ),
            (
                "a=1&password%3Dhunter2%26b%3D2",
                "a=1&password%3D[REDACTED:secret]%26b%3D2",
            ),
            (
                "%22token%22%3A%22abc%22",
                "%22token%22%3A%22[REDACTED:secret]%22",
            ),
            (
                "aws_session_token=IQoJb3JpZ2luX2Vj",
                "aws_session_token=[REDACTED:secret]",
            ),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
        for keep in [
            "token_count=5",
            "max_tokens: 100",
            "password_policy=strict",
            "no secrets",
        ] {
            assert_eq!(redact(keep), keep);
        }
    }

    #[test]
    fn source_defaults_and_overrides() {
        let overrides = parse_overrides(r#"[{"log_group":"/vpc/flow-prod*","ips":true},{"log_group":"/aws/lambda/public-*","emails":false}]"#).unwrap();
        let r = Redactor::new(Switches::default(), overrides, None);
        assert!(!r.switches_for("/vpc/flow-dev", "vpcflow").ips);
        assert!(r.switches_for("/vpc/flow-prod-1", "vpcflow").ips);
        assert!(!r.switches_for("/aws/lambda/public-api", "lambda").emails);
        assert!(r.switches_for("/aws/lambda/orders", "lambda").emails);
        assert!(parse_overrides(r#"[{"log_group":"","ips":1}]"#).is_err());
        assert!(parse_overrides(r#"[{"log_group":" "}]"#)
            .unwrap_err()
            .contains("entry 1"));
        assert!(parse_overrides(r#"[{"log_group":"x","ipz":true}]"#).is_err());
        assert!(glob_matches("/aws/*/x?", "/aws/lambda/a/xy"));
        assert!(!glob_matches("/aws/*/x?", "/aws/lambda/a/x"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The hand-written dotted-quad finder finds exactly what the documented regex finds.
        #[test]
        fn dotted_quads_match_the_regex(text in "[0-9.a_ é:]{0,48}", ip in "(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9][0-9]?)(\\.(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9]{1,3})){2,4}", pre in "[ a.0_]?", post in "[ a.0_]?") {
            let re = Regex::new(r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?-u:\b)").unwrap();
            for t in [text.clone(), format!("{pre}{ip}{post}"), format!("{text}{pre}{ip}{post}{text}")] {
                let want: Vec<Range<usize>> = re.find_iter(&t).map(|m| m.range()).collect();
                proptest::prop_assert_eq!(dotted_quads(&t), want, "{:?}", t);
            }
        }

        /// Redaction never panics and never grows a clean line.
        #[test]
        fn any_text_redacts_without_panicking(text in "\\PC{0,80}") {
            let (out, n) = redactor().redact(&text, Switches::default());
            if n == 0 {
                proptest::prop_assert_eq!(out.as_ref(), text.as_str());
            }
        }
    }
}
