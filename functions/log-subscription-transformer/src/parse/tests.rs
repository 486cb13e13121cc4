//! Unit tests of line parsing.

use super::*;

const REQ: &str = "3f6a1c2e-9b7d-4e1a-8c5f-0d2b4a6e8c1f";

/// Parses a line built in the test (kept alive for the test's length).
fn parse_owned(line: String) -> Parsed<'static> {
    parse(Box::leak(line.into_boxed_str()))
}

#[test]
fn text_platform_lines() {
    let s = parse_owned(format!("START RequestId: {REQ} Version: $LATEST\n"));
    assert_eq!(
        (s.kind.as_ref(), s.request_id.as_deref()),
        ("platform.start", Some(REQ))
    );
    let r = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 843.21 ms\tBilled Duration: 844 ms\tMemory Size: 512 MB\tMax Memory Used: 187 MB\tInit Duration: 412.77 ms\t\n"));
    assert_eq!(r.kind, "platform.report");
    let rep = r.report.unwrap();
    assert_eq!(rep.duration_ms, Some(843.21));
    assert_eq!(rep.billed_duration_ms, Some(844.0));
    assert_eq!(rep.memory_size_mb, Some(512.0));
    assert_eq!(rep.max_memory_used_mb, Some(187.0));
    assert_eq!(rep.init_duration_ms, Some(412.77));
    let warm = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t"));
    assert_eq!(
        warm.report.unwrap().init_duration_ms,
        None,
        "warm start: no Init Duration"
    );
    // SnapStart's REPORT (AWS Lambda docs, "Monitoring for Lambda SnapStart") puts its
    // restore durations after the others: neither is the invocation's `Duration`.
    let restored = parse_owned(format!("REPORT RequestId: {REQ}\tDuration: 77.38 ms\tBilled Duration: 270 ms\tMemory Size: 512 MB\tMax Memory Used: 97 MB\tRestore Duration: 413.73 ms\tBilled Restore Duration: 192 ms\t"));
    let rep = restored.report.unwrap();
    assert_eq!(
        (
            rep.duration_ms,
            rep.billed_duration_ms,
            rep.init_duration_ms
        ),
        (Some(77.38), Some(270.0), None)
    );
    // Pairs separated by spaces (tabs lost on the way) read the same.
    let spaced = parse_owned(format!("REPORT RequestId: {REQ} Duration: 12.5 ms Billed Duration: 13 ms Memory Size: 128 MB Max Memory Used: 128 MB Status: error Error Type: Runtime.OutOfMemory"));
    assert_eq!(
        (spaced.kind.as_ref(), spaced.error_type.as_deref()),
        ("runtime.crash", Some("Runtime.OutOfMemory"))
    );
    let rep = spaced.report.unwrap();
    assert_eq!(
        (
            rep.duration_ms,
            rep.billed_duration_ms,
            rep.max_memory_used_mb
        ),
        (Some(12.5), Some(13.0), Some(128.0))
    );
}

#[test]
fn runtime_text_format_levels_timeouts_and_crashes() {
    let e = parse_owned(format!(
        "2026-11-23T06:20:00.840Z\t{REQ}\tERROR\tInvoke Error \t{{\"errorType\":\"KeyError\"}}\n"
    ));
    assert_eq!(
        (e.level, e.request_id.as_deref()),
        (Some("ERROR"), Some(REQ))
    );
    assert!(e.is_error());
    let py = parse_owned(format!(
        "[WARNING]\t2026-11-23T06:20:00.840Z\t{REQ}\tslow downstream"
    ));
    assert_eq!(py.level, Some("WARN"));
    let t = parse_owned(format!(
        "2026-11-23T06:20:03.000Z {REQ} Task timed out after 3.00 seconds"
    ));
    assert_eq!(
        (t.kind.as_ref(), t.request_id.as_deref()),
        ("platform.timeout", Some(REQ))
    );
    assert!(t.is_error());
    let oom = parse_owned(format!(
        "RequestId: {REQ} Error: Runtime exited with error: signal: killed\nRuntime.ExitError"
    ));
    assert_eq!(oom.kind, "runtime.crash");
    let glue = parse("26/11/23 06:20:05 ERROR GlueLogger: Job failed: AnalysisException");
    assert_eq!(glue.level, Some("ERROR"));
    assert_eq!(parse("just some text about errors").level, None);
}

#[test]
fn json_application_and_platform_lines() {
    let app =
        parse(r#"{"level":"INFO","message":"batch received","orders":412,"requestId":"r-1"}"#);
    assert_eq!(
        (app.kind.as_ref(), app.level, app.message.as_ref()),
        ("log", Some("INFO"), "batch received")
    );
    assert_eq!(app.fields.unwrap().get("orders").unwrap().get(), "412");
    let report = parse(
        r#"{"time":"2026-11-23T06:20:00.845Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":843.21,"billedDurationMs":844,"memorySizeMB":512,"maxMemoryUsedMB":187,"initDurationMs":412.77},"status":"success"}}"#,
    );
    assert_eq!(report.kind, "platform.report");
    assert_eq!(report.report.unwrap().max_memory_used_mb, Some(187.0));
    let timeout = parse(
        r#"{"time":"t","type":"platform.runtimeDone","record":{"requestId":"r-2","status":"timeout"}}"#,
    );
    assert_eq!(
        (timeout.kind.as_ref(), timeout.request_id.as_deref()),
        ("platform.timeout", Some("r-2"))
    );
    assert!(parse("{not json").fields.is_none());
}
