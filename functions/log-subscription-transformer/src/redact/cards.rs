//! Payment card numbers (PANs; PCI DSS v4.0 requirement 3.4.1 wants them unreadable wherever
//! they are stored).
//!
//! A card number here is 13–19 digits that pass the Luhn check and start with 2–6 (the major
//! networks' IIN ranges: Mastercard 2 and 5, Amex / JCB / Diners 3, Visa 4, Discover / UnionPay /
//! Maestro 6), written plain or in the printed groupings 4-4-4-4, 4-4-4-4-1..3, 4-6-5 or 4-6-4
//! joined by single spaces or dashes (one kind per number), not touching a letter or digit.
//! The first-digit rule keeps epoch milliseconds (`1795400400000`) and most numeric ids, which
//! would pass the Luhn check one time in ten, out.
//!
//! Speed: a number spans at least 13 bytes of digits, spaces and dashes, so only every 12th byte
//! is looked at; a run around it is read only when that byte is a digit, or a space or dash
//! between two digits.

use std::ops::Range;

/// Bytes a printed card number is made of.
fn is_card_byte(c: u8) -> bool {
    c.is_ascii_digit() || c == b' ' || c == b'-'
}

/// Every card number in a text, leftmost first.
pub fn card_numbers(text: &str) -> Vec<Range<usize>> {
    const STRIDE: usize = 12;
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = STRIDE.min(b.len().saturating_sub(1));
    let mut scanned_to = 0;
    while i < b.len() {
        // A number's separators sit between two digits: a space hit elsewhere (most of them,
        // in prose) is no number.
        let digit_at = |p: Option<usize>| p.and_then(|p| b.get(p)).is_some_and(u8::is_ascii_digit);
        let hit = b[i].is_ascii_digit()
            || (is_card_byte(b[i]) && digit_at(i.checked_sub(1)) && digit_at(Some(i + 1)));
        if i >= scanned_to && hit {
            let start = b[..i]
                .iter()
                .rposition(|c| !is_card_byte(*c))
                .map_or(0, |p| p + 1);
            let end = i + b[i..].iter().take_while(|c| is_card_byte(**c)).count();
            if end - start >= 13 {
                numbers_in_run(b, start, end, &mut out);
            }
            scanned_to = end;
        }
        i += STRIDE;
    }
    out
}

/// A run's digit groups: `(start, end, separator before it)`.
fn groups(b: &[u8], start: usize, end: usize) -> Vec<(usize, usize, u8)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        if !b[at].is_ascii_digit() {
            at += 1;
            continue;
        }
        let len = b[at..end].iter().take_while(|c| c.is_ascii_digit()).count();
        let sep = if at > start { b[at - 1] } else { 0 };
        // A group joined to the one before by exactly one separator keeps it; otherwise it
        // starts a new number (marked by separator 0).
        let joined = at >= start + 2 && b[at - 2].is_ascii_digit();
        out.push((at, at + len, if joined { sep } else { 0 }));
        at += len;
    }
    out
}

/// The card numbers among a run of digits, spaces and dashes, pushed onto `out`.
fn numbers_in_run(b: &[u8], start: usize, end: usize, out: &mut Vec<Range<usize>>) {
    let g = groups(b, start, end);
    let mut i = 0;
    'next: while i < g.len() {
        // The longest window of joined groups from `i` that is a card number.
        let mut j = i + 1;
        while j < g.len() && g[j].2 != 0 && g[j].2 == g.get(i + 1).map_or(0, |x| x.2) {
            j += 1;
        }
        for k in (i + 1..=j).rev() {
            let window = &g[i..k];
            if is_card(b, window) {
                let (s, e) = (window[0].0, window[window.len() - 1].1);
                let touches = |p: Option<&u8>| p.is_some_and(|c| c.is_ascii_alphanumeric());
                if !touches(s.checked_sub(1).and_then(|p| b.get(p))) && !touches(b.get(e)) {
                    out.push(s..e);
                    i = k;
                    continue 'next;
                }
            }
        }
        i += 1;
    }
}

/// Whether groups (joined by one kind of separator) are a card number: a printed layout, the
/// right length, first digit 2–6, and the Luhn check.
fn is_card(b: &[u8], window: &[(usize, usize, u8)]) -> bool {
    let lens: Vec<usize> = window.iter().map(|(s, e, _)| e - s).collect();
    let layout = match lens.as_slice() {
        [n] => (13..=19).contains(n),
        [4, 4, 4, 4] | [4, 6, 5] | [4, 6, 4] => true,
        [4, 4, 4, 4, last] => (1..=3).contains(last),
        _ => false,
    };
    if !layout || !matches!(b[window[0].0], b'2'..=b'6') {
        return false;
    }
    let digits: usize = lens.iter().sum();
    let mut sum = 0;
    let mut position = 0;
    for (s, e, _) in window.iter().rev() {
        for c in b[*s..*e].iter().rev() {
            let d = u32::from(c - b'0');
            sum += if position % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            };
            position += 1;
        }
    }
    (13..=19).contains(&digits) && sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::card_numbers;

    fn found(text: &str) -> Vec<&str> {
        card_numbers(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn layouts_luhn_and_first_digit() {
        assert_eq!(
            found("card 4242 4242 4242 4242 ok"),
            ["4242 4242 4242 4242"]
        );
        assert_eq!(found("5555-5555-5555-4444"), ["5555-5555-5555-4444"]);
        assert_eq!(found("x 3782 822463 10005."), ["3782 822463 10005"]);
        assert_eq!(found("n=6011111111111117,"), ["6011111111111117"]);
        // A year before a grouped number: the window that passes is the number.
        assert_eq!(
            found("on 2026 4242 4242 4242 4242"),
            ["4242 4242 4242 4242"]
        );
        for keep in [
            "4242424242424241",
            "1795400400000",
            "1234567890123456789",
            "a4242424242424242",
            "4242 4242-4242 4242",
            "4242  4242 4242 4242",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7",
        ] {
            assert_eq!(found(keep), Vec::<&str>::new(), "{keep}");
        }
    }
}
