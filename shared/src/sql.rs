//! SQL text for people: whitespace folded, string literals masked beyond a short prefix (they
//! may hold secrets or personal data), cut to a length.

/// Characters of a string literal shown before the rest is masked.
const LITERAL_PREFIX: usize = 4;

/// Folds whitespace, masks string literals after their first 4 characters, and cuts to `max`
/// characters with a marker.
pub fn excerpt(sql: &str, max: usize) -> String {
    let mut out = String::with_capacity(sql.len().min(max + 16));
    let mut chars = sql.chars().peekable();
    let mut last_space = true;
    while let Some(c) = chars.next() {
        if c == '\'' {
            out.push('\'');
            let mut shown = 0;
            let mut masked = false;
            while let Some(inner) = chars.next() {
                if inner == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        break;
                    }
                }
                if shown < LITERAL_PREFIX {
                    out.push(inner);
                    shown += 1;
                } else if !masked {
                    out.push('…');
                    masked = true;
                }
            }
            out.push('\'');
            last_space = false;
        } else if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
    let folded = out.trim_end();
    if folded.chars().count() <= max {
        folded.to_string()
    } else {
        let kept: String = folded.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// The shape of a statement, for grouping repeats of "the same query": comments dropped,
/// everything lower-cased, every string and number literal replaced by `?`, and the rest split
/// into words and single punctuation characters joined by one space — so
/// `WHERE dt = '2026-11-22' LIMIT 10` and `where dt='2026-11-23'  limit 20` share one
/// fingerprint. Nothing of a literal survives, so a fingerprint is safe to log and alert on.
pub fn fingerprint(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut i = 0;
    // Skips a quoted run starting at `i` (a doubled quote stays inside); returns the index after.
    let quoted = |mut i: usize, quote: char| {
        i += 1;
        while i < chars.len() {
            if chars[i] == quote {
                if chars.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
        } else if c == '\'' {
            i = quoted(i, '\'');
            tokens.push("?".into());
        } else if c == '"' {
            let end = quoted(i, '"');
            tokens.push(chars[i..end].iter().collect::<String>().to_lowercase());
            i = end;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            if c.is_ascii_digit() {
                tokens.push("?".into());
            } else {
                tokens.push(chars[start..i].iter().collect::<String>().to_lowercase());
            }
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens.join(" ")
}

/// A short stable name for a fingerprint (FNV-1a, 64 bits, hex): fits in ledger keys and alert
/// attributes.
pub fn fingerprint_id(fingerprint: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in fingerprint.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_group_repeats_and_drop_literals() {
        let a = fingerprint(
            "SELECT *\n FROM \"Sales\".orders WHERE dt = '2026-11-22' LIMIT 10 -- run 1",
        );
        let b = fingerprint(
            "select * from \"sales\".orders\twhere dt='2026-11-23' /* retry */ limit 20",
        );
        assert_eq!(a, "select * from \"sales\" . orders where dt = ? limit ?");
        assert_eq!(b, a, "spacing, case, comments and literals do not matter");
        assert_eq!(
            fingerprint("SELECT col1, t2.x FROM t2"),
            "select col1 , t2.x from t2"
        );
        assert_eq!(fingerprint("SELECT 'it''s secret', 1.5e3"), "select ? , ?");
        assert_ne!(fingerprint_id(&a), fingerprint_id("select 1"));
        assert_eq!(fingerprint_id(&a).len(), 16);
        // Garbage in, no panic out.
        for s in ["'", "--", "/*", "\"", "1", "é'", ""] {
            let _ = fingerprint(s);
        }
    }

    #[test]
    fn folds_masks_and_cuts() {
        assert_eq!(
            excerpt("SELECT *\n  FROM t\tWHERE a = 1", 100),
            "SELECT * FROM t WHERE a = 1"
        );
        assert_eq!(
            excerpt(
                "SELECT * FROM u WHERE token = 'sk_live_abcdef123' AND x = 'ab'",
                100
            ),
            "SELECT * FROM u WHERE token = 'sk_l…' AND x = 'ab'"
        );
        assert_eq!(excerpt("SELECT 'it''s secret'", 100), "SELECT 'it's…'");
        assert_eq!(excerpt("SELECT 1234567890", 10), "SELECT 12…");
        assert_eq!(
            excerpt("SELECT 'unterminated secret", 100),
            "SELECT 'unte…'"
        );
    }
}
