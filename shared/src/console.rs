//! Deep links into the AWS console, so an alert takes the reader straight to the thing.

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn base(region: &str) -> String {
    format!("https://{region}.console.aws.amazon.com")
}

/// The query in Athena's "Recent queries" view.
pub fn athena_query(region: &str, query_execution_id: &str) -> String {
    format!(
        "{}/athena/home?region={region}#/query-editor/history/{}",
        base(region),
        encode(query_execution_id)
    )
}

/// A workgroup's page in the Athena console.
pub fn athena_workgroup(region: &str, workgroup: &str) -> String {
    format!(
        "{}/athena/home?region={region}#/workgroups/details/{}",
        base(region),
        encode(workgroup)
    )
}

/// CloudWatch's log-group view uses its own escaping: `/` becomes `$252F` (a doubly encoded `%2F`).
fn cloudwatch_escape(s: &str) -> String {
    encode(s).replace('%', "$25")
}

/// A log stream in CloudWatch Logs.
pub fn log_stream(region: &str, log_group: &str, log_stream: &str) -> String {
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        base(region),
        cloudwatch_escape(log_group),
        cloudwatch_escape(log_stream)
    )
}

/// A log group in CloudWatch Logs.
pub fn log_group(region: &str, log_group: &str) -> String {
    format!(
        "{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}",
        base(region),
        cloudwatch_escape(log_group)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_escape_their_parts() {
        assert_eq!(
            athena_query("eu-west-1", "abc-123"),
            "https://eu-west-1.console.aws.amazon.com/athena/home?region=eu-west-1#/query-editor/history/abc-123"
        );
        assert!(log_stream("us-east-1", "/aws/lambda/f", "2026/11/23/[$LATEST]ab")
            .ends_with("log-group/$252Faws$252Flambda$252Ff/log-events/2026$252F11$252F23$252F$255B$2524LATEST$255Dab"));
    }
}
