//! Java exceptions printed as plain lines (`Throwable.printStackTrace()`, or a logger writing
//! the throwable without a level).
//!
//! A stack trace is one incident, but a Java function's stdout / stderr reach CloudWatch line by
//! line, so one trace arrives as many events. Only its head — `<class name>: <message>` or the
//! class name alone — is a failure line. Its continuation lines (`\tat <frame>`, `Caused by: …`,
//! `\tSuppressed: …`, `\t... N more`) are not: each cause or frame repeats the same incident,
//! and counting them would make one failure look like many. They start with a tab or a
//! capitalised word, so [`exception_head`] never takes them.

/// The class name when a line starts with a Java exception's `toString()`: a qualified class
/// name (lower-case first package, every part an identifier, the class ending in `Exception`,
/// `Error` or `Throwable`) alone on its line or followed by `: `. Prose that only names an
/// exception (`java.lang.IllegalStateException is thrown when …`) is not one.
pub(super) fn exception_head(line: &str) -> Option<&str> {
    if !line.starts_with(|c: char| c.is_ascii_lowercase()) {
        return None;
    }
    // A byte search: `str::find` with a set of chars decodes the line char by char.
    let end = memchr::memchr3(b':', b'\r', b'\n', line.as_bytes()).unwrap_or(line.len());
    let class = &line[..end];
    let rest = &line[end..];
    if !(rest.is_empty() || rest.starts_with(['\r', '\n']) || rest.starts_with(": ")) {
        return None;
    }
    let (package, name) = class.rsplit_once('.')?;
    let identifier = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
    };
    let named_as_exception = ["Exception", "Error", "Throwable"]
        .iter()
        .any(|suffix| name.ends_with(suffix));
    (package.split('.').all(identifier)
        && identifier(name)
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && named_as_exception)
        .then_some(class)
}

#[cfg(test)]
mod tests {
    use super::exception_head;

    #[test]
    fn heads_not_continuations_or_prose() {
        for (line, class) in [
            (
                "java.lang.IllegalStateException: closed",
                "java.lang.IllegalStateException",
            ),
            (
                "java.lang.NullPointerException",
                "java.lang.NullPointerException",
            ),
            (
                "com.x.Outer$InnerError: boom\n\tat com.x.Y.z(Y.java:1)",
                "com.x.Outer$InnerError",
            ),
        ] {
            assert_eq!(exception_head(line), Some(class), "{line}");
        }
        for line in [
            "\tat com.x.Y.z(Y.java:12)",
            "Caused by: java.io.IOException: broken pipe",
            "\t... 5 more",
            "java.lang.IllegalStateException is thrown when closed",
            "com.example.Handler: started",
            "processing item 3 of batch 7 ok",
            "java.lang.Exception:no space",
            "",
        ] {
            assert_eq!(exception_head(line), None, "{line}");
        }
    }
}
