//! The real-world corpus (`corpus/log-lines.txt`) run as a test: every line classified as the
//! corpus says, every redaction case exact, and the recall / precision figures docs/logs.md quotes
//! (`cargo test -p log-subscription-transformer corpus -- --nocapture`).

use crate::level;
use crate::parse::{self, kind};
use crate::redact::{Redactor, Switches};
use crate::transform::source_type;

const CORPUS: &str = include_str!("../corpus/log-lines.txt");

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('e') => out.push('\x1b'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `key=value` pairs of a `want:` line; `summary=` takes the rest of the line.
fn expectations(want: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = want.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("key=value");
        if key == "summary" {
            out.push((key, unescape(after)));
            break;
        }
        let (value, tail) = after.split_once(' ').unwrap_or((after, ""));
        out.push((key, unescape(value)));
        rest = tail.trim_start();
    }
    out
}

enum Case {
    Line {
        line: String,
        want: String,
    },
    Redact {
        group: String,
        text: String,
        want: String,
    },
}

fn cases() -> Vec<(usize, Case)> {
    let mut out = Vec::new();
    let mut group = "/aws/lambda/app".to_string();
    let mut lines = CORPUS.lines().enumerate().peekable();
    while let Some((n, l)) = lines.next() {
        let mut next_want = || {
            let (_, w) = lines.next().expect("a want: line after each case");
            w.strip_prefix("want: ")
                .unwrap_or_else(|| panic!("line {}: expected want:", n + 2))
                .to_string()
        };
        if let Some(line) = l.strip_prefix("line: ") {
            let want = next_want();
            out.push((
                n + 1,
                Case::Line {
                    line: unescape(line),
                    want,
                },
            ));
        } else if let Some(text) = l.strip_prefix("redact: ") {
            let want = next_want();
            out.push((
                n + 1,
                Case::Redact {
                    group: group.clone(),
                    text: unescape(text),
                    want: unescape(&want),
                },
            ));
        } else if let Some(g) = l.strip_prefix("group: ") {
            group = g.to_string();
        } else {
            assert!(
                l.is_empty() || l.starts_with('#'),
                "line {}: not a case: {l}",
                n + 1
            );
        }
    }
    out
}

#[test]
fn corpus_lines_and_redactions() {
    let redactor = Redactor::new(Switches::default(), Vec::new(), None);
    let mut problems = Vec::new();
    let (mut failures, mut caught, mut others, mut false_errors, mut redactions) = (0, 0, 0, 0, 0);
    for (at, case) in cases() {
        match case {
            Case::Line { line, want } => {
                let p = parse::parse(&line);
                let mut is_failure_line = false;
                for (key, value) in expectations(&want) {
                    let got = match key {
                        "type" => {
                            is_failure_line |= matches!(
                                value.as_str(),
                                kind::TIMEOUT | kind::CRASH | kind::UNHANDLED
                            );
                            p.kind.to_string()
                        }
                        "level" => {
                            is_failure_line |= level::is_error(Some(&value));
                            p.level.unwrap_or("-").to_string()
                        }
                        "error_type" => p.error_type.as_deref().unwrap_or("-").to_string(),
                        "summary" => p.summary().unwrap_or("-").to_string(),
                        "probable_oom" => {
                            let oom = p.report.as_ref().is_some_and(|r| r.probable_out_of_memory);
                            (if oom { "yes" } else { "no" }).to_string()
                        }
                        other => panic!("line {at}: unknown expectation {other}"),
                    };
                    if got != value {
                        problems.push(format!(
                            "line {at}: {key} is {got:?}, corpus says {value:?}"
                        ));
                    }
                }
                // What the function does: redact first, then classify. Redaction must not change
                // whether a line alerts.
                let (redacted, _) = redactor.redact(&line, Switches::default());
                let alerts = parse::parse(&redacted).is_error();
                if alerts != p.is_error() {
                    problems.push(format!("line {at}: redaction changes whether it alerts"));
                }
                if is_failure_line {
                    failures += 1;
                    caught += usize::from(alerts);
                } else {
                    others += 1;
                    false_errors += usize::from(alerts);
                }
            }
            Case::Redact { group, text, want } => {
                redactions += 1;
                let switches = redactor.switches_for(&group, source_type(&group).0);
                let (got, _) = redactor.redact(&text, switches);
                if got != want {
                    problems.push(format!("line {at}: redacted to\n  {got}\nnot\n  {want}"));
                }
            }
        }
    }
    println!(
        "corpus: recall {caught}/{failures} failure lines alert; precision: {false_errors} false errors in {others} other lines; {redactions} redaction cases"
    );
    assert!(
        failures >= 50 && others >= 30 && redactions >= 20,
        "the corpus shrank"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!((caught, false_errors), (failures, 0));
}
