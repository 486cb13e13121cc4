//! IP addresses: IPv4 dotted quads that are addresses (not OIDs or versions) and IPv6 in full or
//! compressed form.

use std::ops::Range;

use super::is_word;

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
