//! Secrets known by their key: `password=…`, `"token": "…"`, `Authorization: Bearer …`, in
//! plain, JSON, escaped-JSON and URL-encoded text.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
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

/// The literals of [`SECRET_KEY_STEMS`] (the redactor's one pass over every redaction's
/// literals takes them too).
pub(crate) const SECRET_KEY_STEM_LITERALS: [&str; 18] = [
    "pass",
    "Pass",
    "PASS",
    "pwd",
    "Pwd",
    "PWD",
    "secret",
    "Secret",
    "SECRET",
    "token",
    "Token",
    "TOKEN",
    "key",
    "Key",
    "KEY",
    "authorization",
    "Authorization",
    "AUTHORIZATION",
];

/// A literal every secret key holds, as keys are written — lower case, Capitalized (`dbPassword`,
/// `SessionToken`) or UPPER (`AWS_SESSION_TOKEN`): one SIMD (Teddy) pass rules out most lines
/// before the case-insensitive key pattern (which has no literal prefix to search for) runs.
/// Case-insensitive matching here cannot use that search (measured: a tenth of all the time), so
/// a key in another mixed case (`pAssword`) is not redacted.
static SECRET_KEY_STEMS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(SECRET_KEY_STEM_LITERALS)
        .expect("built-in patterns")
});

/// Keys ending in `token` that are not secrets: pagination tokens (`NextToken`,
/// `ContinuationToken`, `pageToken`), .NET's `PublicKeyToken` in assembly names, and
/// idempotency tokens (`ClientRequestToken` of Secrets Manager, CloudFormation and others;
/// `idempotencyToken`): a value the caller picks so that a retry is not done twice.
fn is_public_token(before_key: &str) -> bool {
    let tail = before_key
        .get(before_key.len().saturating_sub(16)..)
        .unwrap_or_default()
        .trim_end_matches(['_', '-'])
        .to_ascii_lowercase();
    [
        "publickey",
        "next",
        "continuation",
        "page",
        "pagination",
        "clientrequest",
        "idempotency",
    ]
    .iter()
    .any(|w| tail.ends_with(w))
}

/// Whether the key at `at` is part of an ARN (`arn:aws:secretsmanager:us-east-1:123456789012:
/// secret:prod/db-AbCdEf`): an ARN names a resource, and the name after `secret:` is an
/// identifier, not the secret.
fn in_arn(text: &str, at: usize) -> bool {
    // Past the whole delimiter: a non-ASCII space (U+00A0) is more than one byte.
    let token_start = text[..at]
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace() || matches!(c, '"' | '\'' | '=' | ',' | '(' | '['))
        .map_or(0, |(i, c)| i + c.len_utf8());
    text[token_start..at].starts_with("arn:")
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
        if is_public_token(&text[..m.start()]) || in_arn(text, m.start()) {
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
        // A value another redaction already replaced stays as it is.
        let redacted = value.starts_with("[REDACTED");
        if !value.is_empty() && !structured && !redacted {
            out.push(start..end);
            from = end;
        }
    }
    out
}
