use super::*;
use chrono::Utc;
use lakeops::alert::Severity;

fn people(yaml: &str) -> Result<People, Vec<String>> {
    let v: Value = serde_norway::from_str(yaml).unwrap();
    People::read(v.get("people"), v.get("quiet_workgroups"))
}

fn alert(run_by: &str, source: &str, workgroup: &str) -> Alert {
    Alert::new(
        "ExpensiveQuery",
        Severity::Critical,
        "query-cost-watcher",
        "query-cost-watcher/expensive/q-1",
        Utc::now(),
        "Athena query cost $20.00",
        "Query q-1 …",
    )
    .attribute("run_by", run_by)
    .attribute("person_source", source)
    .attribute("workgroup", workgroup)
}

const MAP: &str = r#"
people:
  Jane.Doe@example.com:
    slack: U024BE7LH
    teams: {id: jane.doe@example.com, name: Jane Doe}
    google_chat: users/112233445566778899
  bob@example.com: {slack: U0BOB, opt_out: true}
quiet_workgroups: [etl-nightly]
"#;

#[test]
fn only_a_person_the_caller_cannot_choose_is_mentioned() {
    let p = people(MAP).unwrap();
    let jane = p.to_mention(&alert("jane.doe@example.com", "identity-center", "adhoc"));
    assert_eq!(jane.and_then(|j| j.slack.as_deref()), Some("U024BE7LH"));
    for (who, source, wg, why) in [
        (
            "jane.doe@example.com",
            "caller-chosen",
            "adhoc",
            "a session name anyone can choose",
        ),
        (
            "jane.doe@example.com",
            "unrecorded",
            "adhoc",
            "no CloudTrail record",
        ),
        (
            "jane.doe@example.com",
            "identity-center",
            "etl-nightly",
            "a quiet workgroup",
        ),
        ("bob@example.com", "iam-user", "adhoc", "opted out"),
        (
            "carol@example.com",
            "iam-user",
            "adhoc",
            "not in the map: named, not mentioned",
        ),
    ] {
        assert_eq!(p.to_mention(&alert(who, source, wg)), None, "{why}");
    }
}

#[test]
fn each_platform_mentions_in_its_own_way() {
    let p = people(MAP).unwrap();
    let a = alert("jane.doe@example.com", "identity-center", "adhoc");
    let jane = p.to_mention(&a).unwrap();
    let slack = mention(
        Platform::Slack,
        crate::format::render(Platform::Slack, &a),
        jane,
    );
    assert!(slack["text"].as_str().unwrap().starts_with("<@U024BE7LH> "));
    assert_eq!(slack["blocks"][1]["text"]["text"], "For <@U024BE7LH>");
    let teams = mention(
        Platform::Teams,
        crate::format::render(Platform::Teams, &a),
        jane,
    );
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["body"][2]["text"], "For <at>Jane Doe</at>");
    assert_eq!(
        card["msteams"]["entities"][0]["mentioned"]["id"],
        "jane.doe@example.com"
    );
    assert_eq!(
        card["msteams"]["width"], "Full",
        "the card's own msteams settings kept"
    );
    let chat = mention(
        Platform::GoogleChat,
        crate::format::render(Platform::GoogleChat, &a),
        jane,
    );
    assert!(chat["text"]
        .as_str()
        .unwrap()
        .starts_with("<users/112233445566778899> "));
}

#[test]
fn identities_that_could_smuggle_markup_or_page_everyone_are_refused() {
    for bad in [
        "people: {x: {slack: '<!channel>'}}",
        "people: {x: {slack: u024}}",
        "people: {x: {google_chat: users/all}}",
        "people: {x: {google_chat: 'users/<x>'}}",
        "people: {x: {teams: {id: a, name: '<at>Everyone</at>'}}}",
        "people: {x: {teams: {id: a}}}",
        "people: {x: {email: x@example.com}}",
        "people: [x]",
        "quiet_workgroups: etl",
    ] {
        assert!(people(bad).is_err(), "{bad}");
    }
}
