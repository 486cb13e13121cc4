//! A log line's level, from whatever way the line says it: a level word in any of the spellings
//! logging libraries use, a number on the pino / bunyan, syslog or OpenTelemetry scale, a logfmt
//! `level=` pair, or a word near the start of a text line (log4j, Spark, Glue, .NET console).
//!
//! Levels are written out in one vocabulary: TRACE DEBUG INFO NOTICE WARN ERROR CRITICAL FATAL.

/// A level word (any case) → the level written out. `None` for anything else, so a message word
/// is never taken for a level.
pub fn from_word(word: &str) -> Option<&'static str> {
    let w = word
        .trim()
        .trim_matches(|c| c == '[' || c == ']' || c == '"');
    if w.is_empty() || w.len() > 13 {
        return None;
    }
    let mut lower = [0u8; 13];
    for (d, s) in lower.iter_mut().zip(w.bytes()) {
        *d = s.to_ascii_lowercase();
    }
    let level = match &lower[..w.len()] {
        // `trce`/`dbug`/`fail`/`crit`: .NET's console and Lambda text format; `finest`/`finer`/
        // `fine`/`severe`: java.util.logging; `verbose`/`information`: Serilog / .NET;
        // `eror`/`erro`: log15 and logrus short forms; `emerg`/`alert`: syslog.
        b"trace" | b"trce" | b"verbose" | b"finest" | b"finer" => "TRACE",
        b"debug" | b"dbug" | b"dbg" | b"fine" => "DEBUG",
        b"info" | b"information" | b"informational" | b"inf" => "INFO",
        b"notice" => "NOTICE",
        b"warn" | b"warning" | b"wrn" => "WARN",
        b"error" | b"err" | b"eror" | b"erro" | b"fail" | b"severe" => "ERROR",
        b"critical" | b"crit" => "CRITICAL",
        b"fatal" | b"ftl" | b"panic" | b"emerg" | b"emergency" | b"alert" => "FATAL",
        _ => return None,
    };
    Some(level)
}

/// The numeric scale a level number is on, chosen by the key that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// `level` / `lvl`: pino and bunyan use 10..60; a number 0..7 there is syslog's.
    PinoOrSyslog,
    /// `severity`: syslog 0 (emergency) .. 7 (debug).
    Syslog,
    /// `severity_number` / `SeverityNumber`: OpenTelemetry 1..24.
    OpenTelemetry,
}

pub fn from_number(n: f64, scale: Scale) -> Option<&'static str> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let syslog = |n: f64| {
        Some(match n as u32 {
            0 | 1 => "FATAL",
            2 => "CRITICAL",
            3 => "ERROR",
            4 => "WARN",
            5 => "NOTICE",
            6 => "INFO",
            7 => "DEBUG",
            _ => return None,
        })
    };
    match scale {
        Scale::Syslog => syslog(n),
        Scale::PinoOrSyslog if n < 10.0 => syslog(n),
        Scale::PinoOrSyslog => Some(match n as u32 {
            10..=19 => "TRACE",
            20..=29 => "DEBUG",
            30..=39 => "INFO",
            40..=49 => "WARN",
            50..=59 => "ERROR",
            _ => "FATAL",
        }),
        Scale::OpenTelemetry => Some(match n as u32 {
            1..=4 => "TRACE",
            5..=8 => "DEBUG",
            9..=12 => "INFO",
            13..=16 => "WARN",
            17..=20 => "ERROR",
            21..=24 => "FATAL",
            _ => return None,
        }),
    }
}

/// The JSON keys a level is found under, in the order they are tried, with the scale a number
/// under that key is on. `level`: pino, bunyan, winston, Lambda JSON format, Powertools;
/// `log_level`: Python runtime's JSON format for unhandled exceptions; `levelname`: Python
/// logging's JSON formatters; `severity`: Google / GCP style and syslog-in-JSON; `log.level`:
/// Elastic Common Schema; `@l`: Serilog compact JSON; `SeverityText` / `severity_text`,
/// `SeverityNumber` / `severity_number`: OpenTelemetry log data model.
pub const JSON_KEYS: [(&str, Scale); 14] = [
    ("level", Scale::PinoOrSyslog),
    ("log_level", Scale::PinoOrSyslog),
    ("levelname", Scale::PinoOrSyslog),
    ("severity", Scale::Syslog),
    ("log.level", Scale::PinoOrSyslog),
    ("lvl", Scale::PinoOrSyslog),
    ("loglevel", Scale::PinoOrSyslog),
    ("Level", Scale::PinoOrSyslog),
    ("LogLevel", Scale::PinoOrSyslog),
    ("@l", Scale::PinoOrSyslog),
    ("severity_text", Scale::Syslog),
    ("SeverityText", Scale::Syslog),
    ("severity_number", Scale::OpenTelemetry),
    ("SeverityNumber", Scale::OpenTelemetry),
];

/// A logfmt line's level: `level=error msg=…` (also `lvl=`, `severity=`, quoted values). Walks
/// the `=` signs of the line's head (no substring searcher to set up per line).
pub fn from_logfmt(line: &str) -> Option<&'static str> {
    let head = prefix(line, 512);
    let b = head.as_bytes();
    for eq in memchr::memchr_iter(b'=', b) {
        let key_start = b[..eq]
            .iter()
            .rposition(|c| c.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        if !matches!(&b[key_start..eq], b"level" | b"lvl" | b"severity") {
            continue;
        }
        let value = head[eq + 1..]
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        if let Some(level) = from_word(value.trim_matches('"')) {
            return Some(level);
        }
    }
    None
}

/// A level word near the start of a text line: `[ERROR] …`, `ERROR: …`, log4j / Spark / Glue
/// `26/11/23 06:20:05 ERROR GlueLogger: …`, .NET console `fail: …`, logrus `ERRO[0000] …`,
/// Serilog `[06:20:05 ERR] …`, Rust tracing `2024-05-01T10:00:00.123456Z ERROR target: …`. Only
/// upper-case words count (the lower-case .NET console prefixes are matched at the very start),
/// so a message that says "error" in prose is not an error. ANSI colour codes (tracing's default
/// format writes them: `\x1b[31mERROR\x1b[0m`) are looked through.
pub fn from_text_start(line: &str) -> Option<&'static str> {
    let head = prefix(line, 192);
    if memchr::memchr(0x1b, head.as_bytes()).is_some() {
        return from_plain_text_start(&strip_ansi(head));
    }
    from_plain_text_start(line)
}

/// Text with its ANSI escape sequences (`ESC [ parameters final-byte`, and a lone `ESC x`)
/// taken out.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters and intermediates (0x20..=0x3f), then one final byte (0x40..=0x7e).
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

fn from_plain_text_start(line: &str) -> Option<&'static str> {
    for dotnet in ["trce: ", "dbug: ", "info: ", "warn: ", "fail: ", "crit: "] {
        if line.starts_with(dotnet) {
            return from_word(&dotnet[..4]);
        }
    }
    prefix(line, 64)
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '[' | ']' | '|' | '(' | ')'))
        .filter(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_uppercase()))
        .find_map(from_word)
}

/// The first `max` bytes of a line, cut at a character boundary.
fn prefix(line: &str, max: usize) -> &str {
    let mut end = line.len().min(max);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// Whether a level raises an alert.
pub fn is_error(level: Option<&str>) -> bool {
    matches!(level, Some("ERROR" | "CRITICAL" | "FATAL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_numbers_and_logfmt() {
        assert_eq!(from_word("Warning"), Some("WARN"));
        assert_eq!(from_word("[fail]"), Some("ERROR"));
        assert_eq!(from_word("errors"), None);
        assert_eq!(from_number(50.0, Scale::PinoOrSyslog), Some("ERROR"));
        assert_eq!(from_number(30.0, Scale::PinoOrSyslog), Some("INFO"));
        assert_eq!(from_number(3.0, Scale::PinoOrSyslog), Some("ERROR"));
        assert_eq!(from_number(6.0, Scale::Syslog), Some("INFO"));
        assert_eq!(from_number(17.0, Scale::OpenTelemetry), Some("ERROR"));
        assert_eq!(from_number(8.0, Scale::Syslog), None);
        assert_eq!(from_number(f64::NAN, Scale::Syslog), None);
        assert_eq!(from_logfmt("ts=1 level=error msg=\"x\""), Some("ERROR"));
        assert_eq!(
            from_logfmt("msg=\"loglevel=error\" level=info"),
            Some("INFO")
        );
        assert_eq!(from_logfmt("no pairs here"), None);
        assert_eq!(from_text_start("fail: Orders.Api[0] boom"), Some("ERROR"));
        assert_eq!(from_text_start("ERRO[0003] lost connection"), Some("ERROR"));
        assert_eq!(from_text_start("retrying after an error"), None);
        assert_eq!(
            from_text_start("\x1b[2m2024-05-01T10:00:00Z\x1b[0m \x1b[31mERROR\x1b[0m x: y"),
            Some("ERROR")
        );
        assert_eq!(from_text_start("\x1b[32m INFO\x1b[0m \x1b["), Some("INFO"));
    }
}
