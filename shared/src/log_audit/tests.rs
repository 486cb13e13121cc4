use super::*;

const TRANSFORMER: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:lakeops-log-subscription-transformer";

fn standard(subscriptions: &[&str]) -> LogGroupView {
    LogGroupView {
        class: LogGroupClass::Standard,
        subscriptions: subscriptions.iter().map(|s| s.to_string()).collect(),
    }
}

fn account(functions: Vec<FunctionLogging>, groups: Vec<(&str, LogGroupView)>) -> Account {
    Account {
        functions,
        groups: groups
            .into_iter()
            .map(|(n, g)| (n.to_string(), g))
            .collect(),
        policies: Vec::new(),
    }
}

fn suite() -> SuiteDestinations {
    SuiteDestinations(vec![TRANSFORMER.to_string()])
}

#[test]
fn each_way_of_being_unseen_is_named_and_a_watched_function_is_not() {
    let fns = vec![
        FunctionLogging::new("watched", None, None, None),
        FunctionLogging::new("unsubscribed", None, None, None),
        FunctionLogging::new("to-elsewhere", None, None, None),
        FunctionLogging::new("quiet-platform", None, Some("JSON"), Some("WARN")),
        FunctionLogging::new("info-platform", None, Some("JSON"), Some("INFO")),
        FunctionLogging::new("vended", Some("/vended/logs"), None, None),
        FunctionLogging::new("cheap", Some("/ia/logs"), None, None),
        FunctionLogging::new("never-ran", None, None, None),
    ];
    let groups = vec![
        ("/aws/lambda/watched", standard(&[TRANSFORMER])),
        ("/aws/lambda/unsubscribed", standard(&[])),
        (
            "/aws/lambda/to-elsewhere",
            standard(&["arn:aws:firehose:us-east-1:123456789012:deliverystream/other"]),
        ),
        ("/aws/lambda/quiet-platform", standard(&[TRANSFORMER])),
        ("/aws/lambda/info-platform", standard(&[TRANSFORMER])),
        (
            "/vended/logs",
            LogGroupView {
                class: LogGroupClass::Delivery,
                subscriptions: vec![],
            },
        ),
        (
            "/ia/logs",
            LogGroupView {
                class: LogGroupClass::InfrequentAccess,
                subscriptions: vec![],
            },
        ),
    ];
    let found = audit(&account(fns, groups), &suite(), &[]);
    let got: Vec<(&str, &[BlindSpot])> = found
        .iter()
        .map(|f| (f.function.as_str(), f.reasons.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("cheap", &[BlindSpot::InfrequentAccess][..]),
            ("never-ran", &[BlindSpot::NoLogGroup][..]),
            (
                "quiet-platform",
                &[BlindSpot::NoReportLines {
                    level: "WARN".into()
                }][..]
            ),
            ("to-elsewhere", &[BlindSpot::NotSubscribed][..]),
            ("unsubscribed", &[BlindSpot::NotSubscribed][..]),
            ("vended", &[BlindSpot::DeliveredOutsideCloudWatch][..]),
        ]
    );
}

#[test]
fn an_account_policy_covers_every_group_but_those_it_leaves_out() {
    let policy = AccountSubscription::parse(
        "lakeops-all",
        Some(&format!(
            r#"{{"DestinationArn": "{TRANSFORMER}", "FilterPattern": ""}}"#
        )),
        Some(r#"LogGroupName NOT IN ["/aws/lambda/left-out", "/aws/lambda/lakeops-x"]"#),
    )
    .unwrap();
    assert_eq!(policy.destination, TRANSFORMER);
    let mut a = account(
        vec![
            FunctionLogging::new("covered", None, None, None),
            FunctionLogging::new("left-out", None, None, None),
        ],
        vec![
            ("/aws/lambda/covered", standard(&[])),
            ("/aws/lambda/left-out", standard(&[])),
        ],
    );
    a.policies.push(policy);
    let found = audit(&a, &suite(), &[]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].function, "left-out");
    // A policy to somewhere else does not count.
    a.policies[0].destination = "arn:aws:lambda:us-east-1:123456789012:function:other".into();
    assert_eq!(audit(&a, &suite(), &[]).len(), 2);
}

#[test]
fn selection_criteria_other_than_not_in_are_refused_not_guessed() {
    assert!(AccountSubscription::parse("p", None, Some("LogGroupNamePrefix IN [\"x\"]")).is_err());
    assert_eq!(
        AccountSubscription::parse("p", None, Some("LogGroupName NOT IN [broken"))
            .unwrap_err()
            .to_string(),
        "account policy p: selection criteria not understood: LogGroupName NOT IN [broken"
    );
    let none = AccountSubscription::parse("p", Some("not json"), None).unwrap();
    assert!(none.excluded.is_empty());
    assert_eq!(none.destination, "");
}

#[test]
fn the_suites_own_functions_are_skipped_and_no_destinations_means_any_subscription() {
    let a = account(
        vec![
            FunctionLogging::new(
                "lakeops-query-cost-watcher",
                None,
                Some("JSON"),
                Some("WARN"),
            ),
            FunctionLogging::new("orders", None, None, None),
        ],
        vec![("/aws/lambda/orders", standard(&["arn:aws:logs:somewhere"]))],
    );
    assert!(audit(&a, &SuiteDestinations::default(), &["lakeops-".into()]).is_empty());
    assert_eq!(
        audit(&a, &suite(), &["lakeops-".into()])[0].function,
        "orders"
    );
}

#[test]
fn the_report_says_how_many_were_checked_and_why_each_is_unseen() {
    let f = Finding {
        function: "orders".into(),
        log_group: "/aws/lambda/orders".into(),
        reasons: vec![
            BlindSpot::NotSubscribed,
            BlindSpot::NoReportLines {
                level: "WARN".into(),
            },
        ],
    };
    let lines = report_lines(&[f], 12);
    assert_eq!(lines[0], "1 of 12 Lambda functions checked fail unseen:");
    assert!(lines[1].starts_with("- orders (/aws/lambda/orders): no subscription filter"));
    assert!(lines[1].contains("SystemLogLevel WARN"));
    assert_eq!(
        report_lines(&[], 3),
        vec!["All 3 Lambda functions checked send their failures to lakeops."]
    );
}
