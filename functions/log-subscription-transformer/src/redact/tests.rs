//! The redactions' unit and property tests.

use super::*;

fn redactor() -> Redactor {
    Redactor::new(Switches::default(), Vec::new(), None)
}

fn redact(text: &str) -> String {
    redactor().redact(text, Switches::default()).0.into_owned()
}

#[test]
fn addresses_not_versions_or_oids() {
    assert_eq!(
        redact("from 10.1.2.3 to 192.168.0.1:443"),
        "from [REDACTED:ip] to [REDACTED:ip]:443"
    );
    for keep in [
        "System.Runtime, Version=4.0.0.0, Culture=neutral",
        "oid 1.3.6.1.4.1 private enterprise",
        "Corretto-17.0.10.7.1",
        "\"runtime_version\": \"17.0.10.7\"",
        "openjdk version 17.0.10.7",
        "10.1.2.300 is not an address",
    ] {
        assert_eq!(redact(keep), keep);
    }
    assert_eq!(
        redact("2001:db8::1 and ::1 and fe80::1%eth0"),
        "[REDACTED:ip] and [REDACTED:ip] and [REDACTED:ip]%eth0"
    );
    for keep in [
        "at 06:20:05 ok",
        "arr[::2]",
        "mac 00:1a:2b:3c:4d:5e",
        "std::io::Error",
        "a:b: c",
    ] {
        assert_eq!(redact(keep), keep);
    }
}

#[test]
fn secrets_by_key_in_every_encoding() {
    for (text, want) in [
        (
            "password=hunter2 user=ann",
            "password=[REDACTED:secret] user=ann",
        ),
        (
            r#"{"password": "correct horse battery"}"#,
            r#"{"password": "[REDACTED:secret]"}"#,
        ),
        (
            r#"{\"secretAccessKey\":\"wJalrXUtnFEMI/K7MDENG\"}"#,
            r#"{\"secretAccessKey\":\"[REDACTED:secret]\"}"#,
        ),
        (
            "Authorization: Bearer abc.def.ghi",
            "Authorization: Bearer [REDACTED:secret]",
        ),
        (
            "a=1&password%3Dhunter2%26b%3D2",
            "a=1&password%3D[REDACTED:secret]%26b%3D2",
        ),
        (
            "%22token%22%3A%22abc%22",
            "%22token%22%3A%22[REDACTED:secret]%22",
        ),
        (
            "aws_session_token=IQoJb3JpZ2luX2Vj",
            "aws_session_token=[REDACTED:secret]",
        ),
    ] {
        assert_eq!(redact(text), want, "{text}");
    }
    for keep in [
        "token_count=5",
        "max_tokens: 100",
        "password_policy=strict",
        "no secrets",
    ] {
        assert_eq!(redact(keep), keep);
    }
}

#[test]
fn source_defaults_and_overrides() {
    let overrides = parse_overrides(r#"[{"log_group":"/vpc/flow-prod*","ips":true},{"log_group":"/aws/lambda/public-*","emails":false}]"#).unwrap();
    let r = Redactor::new(Switches::default(), overrides, None);
    assert!(!r.switches_for("/vpc/flow-dev", "vpcflow").ips);
    assert!(r.switches_for("/vpc/flow-prod-1", "vpcflow").ips);
    assert!(!r.switches_for("/aws/lambda/public-api", "lambda").emails);
    assert!(r.switches_for("/aws/lambda/orders", "lambda").emails);
    assert!(parse_overrides(r#"[{"log_group":"","ips":1}]"#).is_err());
    assert!(parse_overrides(r#"[{"log_group":" "}]"#)
        .unwrap_err()
        .contains("entry 1"));
    assert!(parse_overrides(r#"[{"log_group":"x","ipz":true}]"#).is_err());
    assert!(glob_matches("/aws/*/x?", "/aws/lambda/a/xy"));
    assert!(!glob_matches("/aws/*/x?", "/aws/lambda/a/x"));
}

/// One secret of each family the redactor knows, with random parts.
fn any_secret() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        ("[A-Z0-9]{8,10}", "[A-Z0-9]{8,10}", "[A-Za-z0-9]{24}")
            .prop_map(|(t, b, s)| format!("https://hooks.slack.com/services/T{t}/B{b}/{s}")),
        ("[a-f0-9]{8}", "[a-f0-9]{32}").prop_map(|(g, id)| format!(
            "https://acme.webhook.office.com/webhookb2/{g}-1111-4222-8333-444455556666@{g}/IncomingWebhook/{id}/{g}"
        )),
        "[A-Za-z0-9_-]{20,43}".prop_map(|sig| format!(
            "https://prod-1.westus.logic.azure.com:443/workflows/ab12/triggers/manual/paths/invoke?api-version=2016-10-01&sv=1.0&sig={sig}"
        )),
        ("gh[pousr]_", "[A-Za-z0-9]{36}").prop_map(|(p, s)| format!("{p}{s}")),
        "[A-Za-z0-9]{22}_[A-Za-z0-9]{59}".prop_map(|s| format!("github_pat_{s}")),
        "[A-Za-z0-9+/]{20,80}".prop_map(|body| format!(
            "-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----"
        )),
        ("[A-Z0-9]{16}", "[A-Za-z0-9/+]{40}").prop_map(|(id, key)| format!("AKIA{id}:{key}")),
        "[A-Za-z0-9!*]{4,16}".prop_map(|pw| format!("postgres://etl:{pw}@db.example.com:5432/lake")),
        "[A-Za-z0-9]{4,16}".prop_map(|pw| format!("password={pw}")),
        proptest::sample::select(vec![
            "4242 4242 4242 4242",
            "5555-5555-5555-4444",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
        ])
        .prop_map(str::to_string),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Redaction takes out the secret and nothing around it: benign text (letters and
    /// punctuation, no secret shapes) before and after a known secret comes out unchanged.
    #[test]
    fn redaction_stays_inside_the_secret(
        before in "[A-Za-z ,.;!?()]{0,30}",
        secret in any_secret(),
        after in "[A-Za-z ,.;!?()]{0,30}",
    ) {
        let text = format!("{before} {secret} {after}");
        let (out, n) = redactor().redact(&text, Switches::default());
        proptest::prop_assert!(n >= 1, "nothing redacted in {:?}", text);
        proptest::prop_assert!(out.starts_with(&format!("{before} ")), "{:?} -> {:?}", text, out);
        proptest::prop_assert!(out.ends_with(&format!(" {after}")), "{:?} -> {:?}", text, out);
        proptest::prop_assert!(!out.contains(&secret), "{:?} -> {:?}", text, out);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// The hand-written dotted-quad finder finds exactly what the documented regex finds.
    #[test]
    fn dotted_quads_match_the_regex(text in "[0-9.a_ é:]{0,48}", ip in "(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9][0-9]?)(\\.(25[0-9]|2[0-9][0-9]|1[0-9][0-9]|[0-9]{1,3})){2,4}", pre in "[ a.0_]?", post in "[ a.0_]?") {
        let re = Regex::new(r"(?-u:\b)(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?-u:\b)").unwrap();
        for t in [text.clone(), format!("{pre}{ip}{post}"), format!("{text}{pre}{ip}{post}{text}")] {
            let want: Vec<Range<usize>> = re.find_iter(&t).map(|m| m.range()).collect();
            proptest::prop_assert_eq!(dotted_quads(&t), want, "{:?}", t);
        }
    }

    /// Redaction never panics and never grows a clean line.
    #[test]
    fn any_text_redacts_without_panicking(text in "\\PC{0,80}") {
        let (out, n) = redactor().redact(&text, Switches::default());
        if n == 0 {
            proptest::prop_assert_eq!(out.as_ref(), text.as_str());
        }
    }
}

/// The redactions run one by one, each behind only its own literal test: what
/// [`Redactor::redact`] must equal with its one pass over all literals.
fn redact_one_by_one(r: &Redactor, text: &str) -> (String, usize) {
    let mut out = text.to_string();
    let mut count = 0;
    for red in &r.redactions {
        if let Some((replaced, n)) = red.apply(&out) {
            out = replaced;
            count += n;
        }
    }
    (out, count)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// The one pass over every redaction's literals only skips redactions that would find
    /// nothing: secrets of every family, alone, twice, and inside arbitrary text.
    #[test]
    fn the_literal_pass_changes_nothing(
        before in "[A-Za-z0-9 ,.:/@%=_é-]{0,24}",
        a in any_secret(),
        b in any_secret(),
        after in "[A-Za-z0-9 ,.:/@%=_-]{0,40}",
    ) {
        let r = redactor();
        for text in [
            format!("{before}{a}{after}"),
            format!("{a} {b}"),
            format!("{before} {after}"),
            format!("key={a}&{b}"),
        ] {
            let (got, n) = r.redact(&text, Switches::default());
            let want = redact_one_by_one(&r, &text);
            proptest::prop_assert_eq!((got.into_owned(), n), want, "{:?}", text);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

    /// The hand-written e-mail finder finds exactly what the documented regex finds.
    #[test]
    fn email_addresses_match_the_regex(
        text in "[a-zA-Z0-9._%+@ é:-]{0,48}",
        local in "[a-zA-Z0-9._%+-]{0,6}",
        domain in "[a-zA-Z0-9.-]{0,10}",
        tld in "[a-zA-Z0-9.]{0,5}",
        pre in "[ a.@_é%-]?",
        post in "[ a.@1_é-]?",
    ) {
        let re = Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
        let email = format!("{pre}{local}@{domain}.{tld}{post}");
        for t in [
            text.clone(),
            email.clone(),
            format!("{text}{email}{text}"),
            format!("{email}{email}"),
            format!("{email}@{domain}.{tld}"),
        ] {
            let want: Vec<Range<usize>> = re.find_iter(&t).map(|m| m.range()).collect();
            proptest::prop_assert_eq!(email_addresses(&t), want, "{:?}", t);
        }
    }
}

#[test]
fn email_edge_cases_match_the_regex() {
    let re = Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap();
    for t in [
        "A@®",
        "@_@.",
        "a@b.cd.e1",
        "a@b.com@c.org",
        "a@b.com.x@c.org",
        "x@y@b.com",
        "ann@.example.com",
        "ann@example.c",
        "ann@example.com1 bob@ex-ample.co.uk.",
        "é@b.cd ann%40example.com user1@example.comé",
    ] {
        let want: Vec<Range<usize>> = re.find_iter(t).map(|m| m.range()).collect();
        assert_eq!(email_addresses(t), want, "{t:?}");
    }
}

#[test]
fn a_non_ascii_space_before_a_secret_is_no_panic() {
    // U+00A0 (two bytes in UTF-8) and U+3000 (three) before the key: the token's start is past
    // the whole character, never inside it.
    for text in ["user\u{a0}password=hunter2", "x\u{3000}password=hunter2 ok"] {
        let out = redact(text);
        assert!(!out.contains("hunter2"), "{out}");
    }
}
