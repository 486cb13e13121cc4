//! SQL text for people: whitespace folded, string literals masked beyond a short prefix (they
//! may hold secrets or personal data), comments and long digit runs masked too, cut to a length;
//! and Athena's failure reasons with the data values they quote masked the same way.

/// Characters of a string literal (or digits of a long number) shown before the rest is masked.
const LITERAL_PREFIX: usize = 4;
/// A digit run this long is data (an account, card or phone number), not a limit or a constant.
const LONG_DIGITS: usize = 9;

/// Folds whitespace; masks string literals after their first 4 characters, comments whole
/// (`--…`, `/*…*/`: analysts paste data and links into them), and runs of 9+ digits after their
/// first 4; cuts to `max` characters with a marker. Quoted identifiers (`"sales"."orders"`) stay.
pub fn excerpt(sql: &str, max: usize) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len().min(max + 16));
    let mut i = 0;
    let mut last_space = true;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (piece, end) = if c == '\'' {
            masked_quote(&chars, i, '\'')
        } else if c == '-' && next == Some('-') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p);
            ("--…".to_string(), end)
        } else if c == '/' && next == Some('*') {
            let close = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/');
            ("/*…*/".to_string(), close.map_or(chars.len(), |j| j + 2))
        } else if c.is_ascii_digit() && !continues_identifier(&chars, i) {
            digit_run(&chars, i)
        } else if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            i += 1;
            continue;
        } else {
            let end = identifier_end(&chars, i);
            (chars[i..end].iter().collect(), end)
        };
        out.push_str(&piece);
        last_space = false;
        i = end.max(i + 1);
    }
    cut(out.trim_end(), max)
}

/// A quoted run at `start` shown as its first 4 characters and `…` (a doubled quote is one
/// quote inside); with the index after it.
fn masked_quote(chars: &[char], start: usize, quote: char) -> (String, usize) {
    let mut out = String::from(quote);
    let (mut shown, mut masked) = (0, false);
    let mut i = start + 1;
    while i < chars.len() {
        let inner = chars[i];
        i += 1;
        if inner == quote {
            if chars.get(i) != Some(&quote) {
                break;
            }
            i += 1;
        }
        if shown < LITERAL_PREFIX {
            out.push(inner);
            shown += 1;
        } else if !masked {
            out.push('…');
            masked = true;
        }
    }
    out.push(quote);
    (out, i)
}

/// Whether the digit at `i` is part of a word (`t_2024`, `x1`), not a number.
fn continues_identifier(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The end of a run of word characters (or of one other character) starting at `i`.
fn identifier_end(chars: &[char], i: usize) -> usize {
    if !(chars[i].is_alphanumeric() || chars[i] == '_') {
        return i + 1;
    }
    let mut end = i;
    while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
        end += 1;
    }
    end
}

/// A number at `i`: as it is, or, 9 digits or longer, its first 4 and `…`.
fn digit_run(chars: &[char], i: usize) -> (String, usize) {
    let mut end = i;
    while end < chars.len() && chars[end].is_ascii_digit() {
        end += 1;
    }
    let run: String = chars[i..end].iter().collect();
    if end - i >= LONG_DIGITS {
        (format!("{}…", &run[..LITERAL_PREFIX]), end)
    } else {
        (run, end)
    }
}

fn cut(folded: &str, max: usize) -> String {
    if folded.chars().count() <= max {
        folded.to_string()
    } else {
        let kept: String = folded.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// An Athena failure reason with the data it quotes masked before it is stored or shown:
/// `INVALID_CAST_ARGUMENT: Cannot cast '<value>' to INT`, `HIVE_BAD_DATA: Error parsing field
/// value '<value>' …: For input string: "<value>"`, `Value cannot be cast to date: <value>`,
/// `Value 123456789012 exceeds …`. Quoted values (either quote) keep their first 4 characters,
/// digit runs of 9+ their first 4, and what follows `cast to <type>: ` is masked whole. Error
/// codes, column positions and types stay, so the reason still says what went wrong. Reasons
/// that can only quote catalog names ([`NAMES_ONLY`]) stay whole; `COLUMN_NOT_FOUND` does not:
/// a value written in double quotes is read as a column and quoted back.
pub fn mask_reason(reason: &str) -> String {
    if NAMES_ONLY.iter().any(|code| reason.starts_with(code)) {
        return reason.to_string();
    }
    let chars: Vec<char> = reason.chars().collect();
    let mut out = String::with_capacity(reason.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let (piece, end) = if c == '\'' || c == '"' {
            masked_quote(&chars, i, c)
        } else if c.is_ascii_digit() && !continues_identifier(&chars, i) {
            digit_run(&chars, i)
        } else {
            (c.to_string(), i + 1)
        };
        out.push_str(&piece);
        i = end;
        if let Some(rest) = cast_value_start(&out) {
            out.truncate(rest);
            out.push('…');
            break;
        }
    }
    out
}

/// Athena error codes whose message quotes only a catalog, database or table name.
const NAMES_ONLY: [&str; 3] = ["TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND"];

/// Where the unquoted value of `… cast to <type>: <value>` starts in `text`, once the `: ` after
/// the type has been written.
fn cast_value_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let at = lower.rfind("cast to ")?;
    let after = &text[at + "cast to ".len()..];
    let colon = after.find(": ")?;
    let ty = &after[..colon];
    let simple = !ty.is_empty()
        && ty
            .chars()
            .all(|c| c.is_alphanumeric() || "_()<>, ".contains(c));
    (simple && after.len() > colon + 2).then(|| at + "cast to ".len() + colon + 2)
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

    #[test]
    fn comments_long_numbers_and_link_markup_do_not_reach_chat() {
        let hostile = "SELECT * FROM \"sales\".\"orders\" -- see [docs](https://evil.example/x) card 4111111111111111\n\
                       WHERE customer_id = 123456789012 AND t_2024_123456789.x = 42 /* jane@example.com\n555-0100 */ LIMIT 10";
        assert_eq!(
            excerpt(hostile, 500),
            "SELECT * FROM \"sales\".\"orders\" --… WHERE customer_id = 1234… AND t_2024_123456789.x = 42 /*…*/ LIMIT 10"
        );
        assert_eq!(excerpt("SELECT 1 /* never closed", 100), "SELECT 1 /*…*/");
        assert_eq!(excerpt("SELECT 1 --", 100), "SELECT 1 --…");
        for s in ["'", "--", "/*", "*/", "\"", "1", "é'", "", "/", "-"] {
            let _ = excerpt(s, 10);
        }
    }

    #[test]
    fn athena_reasons_keep_what_went_wrong_not_the_data() {
        let cases = [
            (
                "INVALID_CAST_ARGUMENT: Cannot cast 'jane.doe@example.com' to INT",
                "INVALID_CAST_ARGUMENT: Cannot cast 'jane…' to INT",
            ),
            (
                "INVALID_CAST_ARGUMENT: Value cannot be cast to date: 2026-13-45 secret",
                "INVALID_CAST_ARGUMENT: Value cannot be cast to date: …",
            ),
            (
                "HIVE_BAD_DATA: Error parsing field value '4111 1111 1111 1111' for field 3: For input string: \"4111 1111 1111 1111\"",
                "HIVE_BAD_DATA: Error parsing field value '4111…' for field 3: For input string: \"4111…\"",
            ),
            (
                "NUMERIC_VALUE_OUT_OF_RANGE: Value 123456789012 exceeds MAX_INT",
                "NUMERIC_VALUE_OUT_OF_RANGE: Value 1234… exceeds MAX_INT",
            ),
            (
                "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.sales.gone' does not exist",
                "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.sales.gone' does not exist",
            ),
            (
                "COLUMN_NOT_FOUND: line 1:30: Column 'jane.doe@example.com' cannot be resolved",
                "COLUMN_NOT_FOUND: line 1:30: Column 'jane…' cannot be resolved",
            ),
            ("Query exhausted resources at this scale factor", "Query exhausted resources at this scale factor"),
        ];
        for (reason, want) in cases {
            assert_eq!(mask_reason(reason), want, "{reason}");
        }
        for s in ["'", "\"", "cast to : ", "cast to x: ", "", "9999999999"] {
            let _ = mask_reason(s);
        }
    }
}
