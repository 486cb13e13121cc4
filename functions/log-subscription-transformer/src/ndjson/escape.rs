//! JSON string escaping, as `serde_json` escapes (the tests hold it to that), but faster on
//! log text: see [`write_escaped_inner`].

/// Which of 8 bytes (little-endian) need escaping in a JSON string — a control character, `"`
/// or `\\` — as a mask of their high bits; zero when none does. (The classic "has zero byte /
/// has byte less than" word tricks.) A borrow can flag a byte above a real one, never below it,
/// so the lowest flag is exact: `trailing_zeros() / 8` is the first byte to escape.
#[inline]
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let q = w ^ (ONES * b'"' as u64);
    let quote = q.wrapping_sub(ONES) & !q;
    let b = w ^ (ONES * b'\\' as u64);
    let backslash = b.wrapping_sub(ONES) & !b;
    (control | quote | backslash) & HIGH
}

/// A JSON string, escaped as `serde_json` escapes it.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    write_escaped(out, s.as_bytes());
}

/// UTF-8 bytes as a JSON string.
pub(super) fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    write_escaped_inner(out, bytes);
    out.push(b'"');
}

/// Bytes escaped as the inside of a JSON string (no quotes around), 8 bytes at a time: each
/// word is copied whole (one store, where copying the run up to an escape costs a `memcpy`
/// call — JSON-in-JSON has a quote every few bytes), then cut back to the first byte that needs
/// escaping, found by the word's mask. Escaping maps each byte on its own, so escaping the
/// pieces of a text one after another is escaping the text.
pub(super) fn write_escaped_inner(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len());
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word: [u8; 8] = chunk.try_into().expect("8 bytes");
        out.extend_from_slice(&word);
        let mask = escape_mask(u64::from_le_bytes(word));
        if mask == 0 {
            i += 8;
            continue;
        }
        let clean = mask.trailing_zeros() as usize / 8;
        out.truncate(out.len() - (8 - clean));
        i += clean;
        write_escape(out, bytes[i]);
        i += 1;
    }
    for &c in &bytes[i..] {
        if needs_escape(c) {
            write_escape(out, c);
        } else {
            out.push(c);
        }
    }
}

/// Whether JSON escapes a byte: a control character, `"` or `\\`.
pub(super) fn needs_escape(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// One byte that JSON escapes: the short forms, `\\u00XX` for other control characters.
#[inline]
fn write_escape(out: &mut Vec<u8>, c: u8) {
    match c {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "",
            "plain ascii text that is longer than eight bytes",
            "quote \" backslash \\ newline \n tab \t cr \r",
            "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "ünïcödé and emoji 🦀 stay as they are",
            "\"\"\"\"\"\"\"\"\"",
        ] {
            assert_eq!(escaped(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_escapes_like_serde_json(s in "\\PC*|[\\x00-\\x7f]{0,64}") {
            proptest::prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
