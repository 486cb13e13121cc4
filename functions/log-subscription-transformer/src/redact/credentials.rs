//! Credentials known by their shape rather than by a key name:
//! - a secret access key printed right after its access key id (`AKIA…:<40 characters>`, a
//!   credentials CSV row): IAM User Guide, "Manage access keys for IAM users" (a key is the pair
//!   of an id and its 40-character secret);
//! - GitHub tokens, `ghp_` / `gho_` / `ghu_` / `ghs_` / `ghr_` + 36 or more characters and
//!   fine-grained `github_pat_…` (GitHub changelog 2021-03-31, "Authentication token format
//!   updates are generally available");
//! - PEM private key bodies between `-----BEGIN … PRIVATE KEY-----` and `-----END …` (RFC 7468),
//!   with real line breaks or `\n` escapes on one line; the labels stay;
//! - the password of a URL's userinfo, `scheme://user:password@host` (RFC 3986 §3.2.1): only
//!   the password goes, scheme, user, host, port and path stay.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// The four access key id prefixes (IAM User Guide, "Unique identifier prefixes": AKIA long-term
/// keys, ASIA temporary ones, AROA roles, AIDA users), searched in one SIMD pass before the
/// pattern runs: most lines have none, and a regex call per line costs about as much as its
/// search.
pub(crate) const KEY_ID_PREFIX_LITERALS: [&str; 4] = ["AKIA", "ASIA", "AROA", "AIDA"];

static KEY_ID_PREFIXES: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(KEY_ID_PREFIX_LITERALS)
        .expect("built-in patterns")
});

static KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?-u:\b)").expect("built-in pattern")
});

/// AWS access key ids (`AKIA…`, `ASIA…`, `AROA…`, `AIDA…` and 16 more upper-case letters or
/// digits, a word on its own).
pub fn access_key_ids(text: &str) -> Vec<Range<usize>> {
    if !KEY_ID_PREFIXES.is_match(text) {
        return Vec::new();
    }
    KEY_ID.find_iter(text).map(|m| m.range()).collect()
}

/// An access key id, up to six separator bytes (quotes, escapes, `:`, `,`, `=`, spaces), and a
/// 40-character base64-ish run: the secret access key printed next to its id.
static KEY_ID_THEN_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?-u:\b)(?:AKIA|ASIA)[A-Z0-9]{16}["'\\ \t,:;|=]{1,6}[A-Za-z0-9/+]{40}"#)
        .expect("built-in pattern")
});

/// The 40-character secret access key printed right after its access key id (the id itself is
/// the access-key-id redaction's). A longer run of key characters is no such secret.
pub fn secret_keys_after_key_ids(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    KEY_ID_THEN_SECRET
        .find_iter(text)
        .map(|m| m.end() - 40..m.end())
        .filter(|r| {
            b.get(r.end)
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b'=')))
        })
        .collect()
}

/// The GitHub token prefixes, searched in one SIMD pass before the pattern runs (a regex call
/// per line costs about as much as its search).
pub(crate) const GITHUB_PREFIX_LITERALS: [&str; 6] =
    ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];

static GITHUB_PREFIXES: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(GITHUB_PREFIX_LITERALS)
        .expect("built-in patterns")
});

static GITHUB_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,247})(?-u:\b)")
        .expect("built-in pattern")
});

/// GitHub tokens: `gh[pousr]_` and 36 or more letters or digits, `github_pat_` and 22 or more.
pub fn github_tokens(text: &str) -> Vec<Range<usize>> {
    if !GITHUB_PREFIXES.is_match(text) {
        return Vec::new();
    }
    GITHUB_TOKEN.find_iter(text).map(|m| m.range()).collect()
}

/// PEM private key bodies: from the end of a `-----BEGIN <label>PRIVATE KEY-----` line to the
/// `-----END` that closes it, or, when the text holds no end (a cut line), to the next `"` or
/// the text's end. Public keys and certificates are left alone.
pub fn private_key_bodies(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = memchr::memmem::find(&b[from..], b"-----BEGIN ") {
        let label_start = from + off + "-----BEGIN ".len();
        from = label_start;
        let Some(label_len) = memchr::memmem::find(&b[label_start..], b"-----") else {
            break;
        };
        let label = &b[label_start..label_start + label_len];
        if label_len > 64 || !label.ends_with(b"PRIVATE KEY") {
            continue;
        }
        let start = label_start + label_len + "-----".len();
        let end = memchr::memmem::find(&b[start..], b"-----END ")
            .or_else(|| memchr::memchr(b'"', &b[start..]))
            .map_or(b.len(), |n| start + n);
        if end > start {
            out.push(start..end);
        }
        from = end.max(start);
    }
    out
}

/// Passwords in URLs' userinfo: `postgres://etl:<password>@db:5432/lake`,
/// `redis://:<password>@cache:6379`. The authority ends at `/`, `?`, `#`, whitespace, a quote
/// or `\`; its last `@` ends the userinfo, whose first `:` starts the password.
pub fn url_passwords(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(b, "://") {
        let start = at + "://".len();
        let len = b[start..]
            .iter()
            .take_while(|c| {
                !(c.is_ascii_whitespace()
                    || matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'\\' | b'<' | b'>'))
            })
            .count();
        let authority = &b[start..start + len];
        let Some(at_sign) = memchr::memrchr(b'@', authority) else {
            continue;
        };
        let Some(colon) = memchr::memchr(b':', &authority[..at_sign]) else {
            continue;
        };
        if colon + 1 < at_sign {
            out.push(start + colon + 1..start + at_sign);
        }
    }
    out
}
