//! What an alert may put in front of a person, whatever it carries: link buttons only to AWS
//! console hosts, and (in Teams) text that cannot turn into markup.
//!
//! An alert's title, SQL excerpt and fields come from what people typed (an analyst's SQL
//! comment, a table name) or from a message anyone allowed to publish to the topic wrote. A
//! Teams card renders TextBlock text as markdown, so `[Reset your password](https://evil.example)`
//! in a SQL comment would become a link in an on-call card; a button may point anywhere.

use lakeops::alert::Alert;

/// Hosts a link button may open: the AWS console in the commercial, China and GovCloud
/// partitions (`https://<region>.console.aws.amazon.com/...` and the bare host).
const CONSOLE_HOSTS: [&str; 3] = [
    "console.aws.amazon.com",
    "console.amazonaws.cn",
    "console.amazonaws-us-gov.com",
];

/// Whether `url` is an https link to an AWS console host (exactly, or a subdomain of one).
pub fn is_console_link(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') || authority.contains(':') {
        return false;
    }
    let host = authority.to_ascii_lowercase();
    CONSOLE_HOSTS
        .iter()
        .any(|h| host == *h || host.strip_suffix(h).is_some_and(|p| p.ends_with('.')))
}

/// The alert with its non-console links left out (logged, so a misbuilt alert is noticed).
pub fn for_chat(alert: &Alert) -> Alert {
    let mut out = alert.clone();
    out.links.retain(|l| {
        let keep = is_console_link(&l.url);
        if !keep {
            tracing::warn!(alert_id = %alert.id, url = %l.url, "link button left out: not an AWS console link");
        }
        keep
    });
    out
}

/// Text for a Teams TextBlock: markdown's control characters escaped with a backslash, so
/// links, emphasis, headings and lists in the text show as typed.
pub fn teams_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '`' | '~' | '#' | '>' | '<' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakeops::alert::Severity;

    #[test]
    fn only_https_console_hosts_pass() {
        for ok in [
            "https://us-east-1.console.aws.amazon.com/athena/home?region=us-east-1#/query-editor",
            "https://console.aws.amazon.com/cloudwatch/home",
            "https://cn-north-1.console.amazonaws.cn/athena",
            "https://console.amazonaws-us-gov.com/",
        ] {
            assert!(is_console_link(ok), "{ok}");
        }
        for bad in [
            "http://us-east-1.console.aws.amazon.com/athena",
            "https://evil.example/console.aws.amazon.com",
            "https://console.aws.amazon.com.evil.example/",
            "https://evilconsole.aws.amazon.com/",
            "https://console.aws.amazon.com@evil.example/",
            "https://console.aws.amazon.com:8443/",
            "javascript:alert(1)",
            "",
        ] {
            assert!(!is_console_link(bad), "{bad}");
        }
    }

    #[test]
    fn a_forged_link_button_is_dropped_and_a_console_one_kept() {
        let alert = Alert::new(
            "ExpensiveQuery",
            Severity::Critical,
            "query-cost-watcher",
            "id",
            chrono::Utc::now(),
            "t",
            "s",
        )
        .link(
            "Open in Athena",
            "https://us-east-1.console.aws.amazon.com/athena/home",
        )
        .link("Reset your password", "https://evil.example/login");
        let safe = for_chat(&alert);
        assert_eq!(safe.links.len(), 1);
        assert_eq!(safe.links[0].label, "Open in Athena");
    }

    #[test]
    fn markup_in_teams_text_shows_as_typed() {
        assert_eq!(
            teams_text("SELECT * FROM t -- [docs](https://evil.example) **now**"),
            "SELECT \\* FROM t -- \\[docs\\]\\(https://evil.example\\) \\*\\*now\\*\\*"
        );
        assert_eq!(teams_text("a_b\\c"), "a\\_b\\\\c");
    }
}
