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

#[cfg(test)]
mod tests {
    use super::*;

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
