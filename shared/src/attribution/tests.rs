//! The reading of a `StartQueryExecution` record, the protections against a caller choosing
//! who is charged, client detection and the "Run by" text. The corpus of real identity shapes
//! is in `corpus.rs`.

use super::*;
use serde_json::json;

/// An EventBridge "AWS API Call via CloudTrail" event around a CloudTrail record: the record's
/// shape is the Athena User Guide's StartQueryExecution example, with the
/// `queryExecutionContext` and `workGroup` request parameters of the StartQueryExecution API.
fn event(identity: Value, agent: &str) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.athena",
        "account": "123456789012",
        "time": "2026-11-24T09:30:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": "2026-11-24T09:30:00Z",
            "eventSource": "athena.amazonaws.com",
            "eventName": "StartQueryExecution",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": agent,
            "requestParameters": {
                "queryString": "SELECT * FROM orders",
                "queryExecutionContext": {"database": "sales", "catalog": "AwsDataCatalog"},
                "workGroup": "analysts",
                "clientRequestToken": "16bc6e70-f972-4260-b18a-db1b623cb35c"
            },
            "responseElements": {"queryExecutionId": "b621c254-74e0-48e3-9630-78ed857782f9"},
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "123456789012"
        }
    })
}

fn iam_user() -> Value {
    json!({
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": "arn:aws:iam::123456789012:user/analysts/johndoe",
        "accountId": "123456789012",
        "accessKeyId": "AKIAEXAMPLEKEY",
        "userName": "johndoe"
    })
}

/// An assumed-role session of `role` (whose IAM path is `path`) named `session`: the shape of
/// the CloudTrail User Guide's "userIdentity with temporary security credentials" example.
fn assumed_at(path: &str, role: &str, session: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLEROLEID:{session}"),
        "arn": format!("arn:aws:sts::123456789012:assumed-role/{role}/{session}"),
        "accountId": "123456789012",
        "accessKeyId": "ASIAEXAMPLEKEY",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID",
                "arn": format!("arn:aws:iam::123456789012:role/{path}{role}"),
                "accountId": "123456789012",
                "userName": role
            },
            "attributes": {"creationDate": "2026-11-24T08:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

fn assumed(role: &str, session: &str) -> Value {
    assumed_at("", role, session)
}

fn sso(session: &str) -> Value {
    assumed_at(
        "aws-reserved/sso.amazonaws.com/",
        "AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6789",
        session,
    )
}

fn caller(identity: Value) -> Caller {
    QueryStart::from_event(&event(identity, "aws-cli/2.15.0"))
        .unwrap()
        .unwrap()
        .caller
}

#[test]
fn iam_users_are_their_user_name() {
    let s = QueryStart::from_event(&event(iam_user(), "aws-internal/3"))
        .unwrap()
        .unwrap();
    assert_eq!(s.query_id, "b621c254-74e0-48e3-9630-78ed857782f9");
    assert_eq!(s.workgroup.as_deref(), Some("analysts"));
    assert_eq!(s.database.as_deref(), Some("sales"));
    assert_eq!(
        s.caller,
        Caller {
            principal_arn: "arn:aws:iam::123456789012:user/analysts/johndoe".into(),
            person: "johndoe".into(),
            person_source: PersonSource::IamUser,
            session_name: String::new(),
            account: "123456789012".into(),
            source_ip: "198.51.100.7".into(),
            client: "console".into(),
        }
    );
}

/// The security property: a session name is whatever `sts:AssumeRole`'s caller passed, so it
/// must neither split one role's spend nor charge it to someone else.
#[test]
fn a_spoofed_session_name_does_not_move_spend() {
    let bob = caller(assumed("Analysts", "bob"));
    let renamed = caller(assumed("Analysts", "bob-2"));
    assert_eq!(bob.person, "Analysts");
    assert_eq!(
        renamed.person, bob.person,
        "renaming a session dodges nothing"
    );
    assert_eq!(bob.person_source, PersonSource::CallerChosen);
    assert_eq!(bob.session_name, "bob", "kept, for display only");

    // Named like someone else: still the role, never jane.
    let posing = caller(assumed("Analysts", "jane.doe@example.com"));
    assert_eq!(posing.person, "Analysts");
    let jane = caller(sso("jane.doe@example.com"));
    assert_eq!(jane.person, "jane.doe@example.com");
    assert_ne!(posing.person, jane.person);

    // Nor does a role named like Identity Center's, outside Identity Center's path.
    let lookalike = caller(assumed(
        "AWSReservedSSO_DataAnalyst_fake",
        "jane.doe@example.com",
    ));
    assert_eq!(lookalike.person, "AWSReservedSSO_DataAnalyst_fake");
    assert_eq!(lookalike.person_source, PersonSource::CallerChosen);
}

/// Through the index: the two sessions' spend lands on the role's day total, none on jane's.
#[tokio::test]
async fn a_spoofed_session_name_charges_the_role_not_the_person_it_names() {
    use lakeops_core::index::{IndexStore, Pricing};
    use lakeops_core::memory::MemoryIndex;
    use lakeops_core::query::{QueryExecution, TablesRead};
    let index = MemoryIndex::new();
    let now = chrono::Utc::now();
    let tables = TablesRead::Tables(vec!["sales.orders".into()]);
    for (id, session) in [("q-1", "bob"), ("q-2", "jane.doe@example.com")] {
        let mut e = event(assumed("Analysts", session), "aws-cli/2.15.0");
        e["detail"]["responseElements"]["queryExecutionId"] = json!(id);
        let start = QueryStart::from_event(&e).unwrap().unwrap();
        let q = QueryExecution::example(id);
        let p = Pricing {
            query: &q,
            usd: 5.0,
            day: "2026-11-24",
            tables: &tables,
        };
        index.record_finished(p, now, None).await.unwrap();
        index
            .record_start(id, &start.caller, None, now)
            .await
            .unwrap();
    }
    let who = ["Analysts".to_string(), "jane.doe@example.com".to_string()];
    let totals = index.person_day_totals(&who, "2026-11-24").await.unwrap();
    assert_eq!(totals.get("Analysts").copied(), Some(10.0));
    assert_eq!(
        totals.get("jane.doe@example.com").copied().unwrap_or(0.0),
        0.0
    );
}

#[test]
fn source_identity_wins_over_the_session_name() {
    let mut id = assumed("Analysts", "jane.doe@example.com");
    id["sessionContext"]["sourceIdentity"] = json!("bob");
    let c = caller(id);
    assert_eq!(
        (c.person.as_str(), c.person_source),
        ("bob", PersonSource::SourceIdentity)
    );
    // And over an Identity Center session name: it was set before, by whoever vouched first.
    let mut id = sso("jane.doe@example.com");
    id["sessionContext"]["sourceIdentity"] = json!("jane");
    assert_eq!(caller(id).person, "jane");
}

#[test]
fn on_behalf_of_wins_over_all() {
    let mut id = assumed("bi-tool", "jane.doe@example.com");
    id["sessionContext"]["sourceIdentity"] = json!("bi-service");
    id["onBehalfOf"] = json!({
        "userId": "94482488-3041-7026-18f3-be45837cd0e4",
        "identityStoreArn": "arn:aws:identitystore::123456789012:identitystore/d-9067c4ff29"
    });
    let c = caller(id);
    assert_eq!(c.person, "94482488-3041-7026-18f3-be45837cd0e4");
    assert_eq!(c.person_source, PersonSource::OnBehalfOf);
    assert_eq!(c.principal_arn, "arn:aws:iam::123456789012:role/bi-tool");
    // An Identity Center session names the same user readably, as AWS set it.
    let mut id = sso("jane.doe@example.com");
    id["onBehalfOf"] = json!({"userId": "94482488-3041-7026-18f3-be45837cd0e4"});
    let c = caller(id);
    assert_eq!(
        (c.person.as_str(), c.person_source),
        ("jane.doe@example.com", PersonSource::OnBehalfOf)
    );
}

#[test]
fn identity_center_sessions_are_their_user_and_regional_paths_count() {
    assert_eq!(
        person_of(&sso("jane.doe@example.com")),
        Person {
            name: "jane.doe@example.com".into(),
            source: PersonSource::IdentityCenter,
            chosen_session: String::new(),
        }
    );
    let regional = assumed_at(
        "aws-reserved/sso.amazonaws.com/eu-west-1/",
        "AWSReservedSSO_ReadOnly_9f8e7d6c5b4a3210",
        "kim",
    );
    assert_eq!(person_of(&regional).source, PersonSource::IdentityCenter);
    // The right path, a name Identity Center never gives.
    let odd = assumed_at("aws-reserved/sso.amazonaws.com/", "Analysts", "kim");
    assert_eq!(person_of(&odd).name, "Analysts");
}

#[test]
fn failed_calls_start_no_query_and_malformed_events_say_why() {
    let mut failed = event(iam_user(), "aws-cli/2.15.0");
    failed["detail"]["errorCode"] = json!("InvalidRequestException");
    failed["detail"]["responseElements"] = Value::Null;
    assert_eq!(QueryStart::from_event(&failed).unwrap(), None);

    let mut other_call = event(iam_user(), "aws-cli/2.15.0");
    other_call["detail"]["eventName"] = json!("GetQueryResults");
    assert!(QueryStart::from_event(&other_call)
        .unwrap_err()
        .to_string()
        .contains("StartQueryExecution"));
    let mut no_identity = event(iam_user(), "aws-cli/2.15.0");
    no_identity["detail"]["userIdentity"] = Value::Null;
    assert!(QueryStart::from_event(&no_identity)
        .unwrap_err()
        .to_string()
        .contains("userIdentity"));
    assert!(QueryStart::from_event(&json!({"detail-type": "Scheduled Event"})).is_err());
}

#[test]
fn odd_identities_fall_back_to_what_aws_assigned() {
    assert_eq!(person_of(&json!({})).name, UNKNOWN);
    let unknown_type = json!({"type": "Unknown", "principalId": "AIDAEXAMPLE:picked"});
    assert_eq!(
        person_of(&unknown_type),
        Person {
            name: "AIDAEXAMPLE".into(),
            source: PersonSource::Other,
            chosen_session: String::new(),
        }
    );
    // A role session with no issuer: the role from its own ARN.
    let bare = json!({
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/etl-runner/i-0abc"
    });
    assert_eq!(person_of(&bare).name, "etl-runner");
}

/// Real agent shapes, each from where its comment says; versions and platform parts vary.
#[test]
fn clients_from_real_user_agents() {
    let cases = [
        // Athena User Guide, CloudTrail StartQueryExecution example (the query editor).
        ("aws-internal/3", "198.51.100.7", "console"),
        ("AWS Internal", "198.51.100.7", "console"),
        // Athena User Guide, CloudTrail CreateNamedQuery example (AWS CLI v1).
        ("aws-cli/1.11.85 Python/2.7.10 Darwin/16.6.0 botocore/1.5.48", "198.51.100.7", "aws-cli"),
        // AWS CLI v2 (its --version line is its agent's prefix).
        ("aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023 prompt/off command/athena.start-query-execution", "198.51.100.7", "aws-cli"),
        // boto3 in Lambda: botocore's user-agent 2.0 format (md/, ua/, os/, lang/, exec-env/).
        ("Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.209-218.812.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.34", "3.91.10.1", "boto3"),
        // boto3, older format.
        ("Boto3/1.9.201 Python/3.7.3 Linux/4.14.133-97.112.amzn2.x86_64 exec-env/AWS_Lambda_python3.7 Botocore/1.12.201", "3.91.10.1", "boto3"),
        // awswrangler = boto3 + user_agent_extra "awswrangler/<version>".
        ("Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.34.34 awswrangler/3.5.2", "203.0.113.9", "awswrangler"),
        // dbt-athena = boto3 + "dbt-athena-community/<version>".
        ("Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57 dbt-athena-community/1.6.4", "203.0.113.9", "dbt"),
        // Airflow's Amazon provider = boto3 + "Airflow/<v> AmPP/<v> Caller/<operator> DagRunKey/<uuid>".
        ("Boto3/1.33.13 md/Botocore#1.33.13 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.33.13 Airflow/2.8.1 AmPP/8.16.0 Caller/AthenaOperator DagRunKey/8a7c3f62-1e4b-5c09-9d2e-3f1a0b6c7d8e", "10.0.3.17", "airflow"),
        // PyAthena (also Superset's Athena driver) = boto3 + "PyAthena/<version>".
        ("Boto3/1.26.3 Python/3.9.16 Linux/5.4.0 Botocore/1.29.3 PyAthena/2.25.2", "10.0.3.18", "pyathena"),
        // Superset naming itself.
        ("Boto3/1.26.3 Python/3.9.16 Linux/5.4.0 Botocore/1.29.3 PyAthena/2.25.2 superset/3.1.0", "10.0.3.18", "superset"),
        // The Athena JDBC 3.x driver (AWS SDK for Java 2 + driver token) and the Simba 2.x one.
        ("aws-sdk-java/2.21.29 Linux/5.10.0 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy AthenaJDBC/3.0.0", "198.51.100.20", "jdbc"),
        ("aws-sdk-java/1.12.261 Linux/5.15.0 OpenJDK_64-Bit_Server_VM/11.0.16+8 java/11.0.16 vendor/Eclipse_Adoptium cfg/retry-mode/standard SimbaAthenaJDBC/2.0.35", "198.51.100.20", "jdbc"),
        // Tableau through the driver, with its application name appended.
        ("aws-sdk-java/1.12.261 Windows_Server_2019/10.0 OpenJDK_64-Bit_Server_VM/11.0.16 java/11.0.16 AthenaJDBC/2.0.35 Tableau", "198.51.100.21", "tableau"),
        // The Simba ODBC driver (AWS SDK for C++).
        ("aws-sdk-cpp/1.9.247 Windows/10.0.19041 AMD64 MSVC/1929 SimbaAthenaODBC/1.1.19", "198.51.100.22", "odbc"),
        // QuickSight: the service calls as itself.
        ("quicksight.amazonaws.com", "quicksight.amazonaws.com", "quicksight"),
        // The SDKs by language (each SDK's user-agent builder: name/version first).
        ("aws-sdk-go-v2/1.24.1 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/athena#1.37.3", "10.0.4.4", "aws-sdk-go"),
        ("aws-sdk-go/1.50.8 (go1.21.6; linux; amd64)", "10.0.4.4", "aws-sdk-go"),
        ("aws-sdk-rust/1.1.7 os/linux lang/rust/1.85.0", "10.0.4.5", "aws-sdk-rust"),
        ("aws-sdk-js/3.496.0 ua/2.0 os/linux#5.10.205 lang/js md/nodejs#20.10.0 api/athena#3.496.0 exec-env/AWS_Lambda_nodejs20.x", "10.0.4.6", "aws-sdk-js"),
        ("aws-sdk-nodejs/2.1550.0 linux/v18.19.0 exec-env/AWS_Lambda_nodejs18.x", "10.0.4.6", "aws-sdk-js"),
        ("aws-sdk-java/2.21.29 Linux/5.10.0 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy", "10.0.4.7", "aws-sdk-java"),
        ("aws-sdk-dotnet-coreclr/3.7.300.20 aws-sdk-dotnet-core/3.7.301.1 .NET_Core/8.0.1 OS/Linux_5.10.0 ClientAsync", "10.0.4.8", "aws-sdk-dotnet"),
        ("aws-sdk-php/3.297.3 OS/Linux/5.15.0 GuzzleHttp/7 curl/7.81.0 PHP/8.2.15", "10.0.4.9", "aws-sdk-php"),
        ("aws-sdk-ruby3/3.190.3 ua/2.0 api/athena#1.79.0 os/linux md/x86_64 lang/ruby#3.2.2 md/3.2.2 cfg/retry-mode#legacy", "10.0.4.10", "aws-sdk-ruby"),
        ("aws-sdk-kotlin/1.0.41 ua/2.0 api/athena#1.0.41 os/linux#5.10 lang/kotlin#1.9.22 md/javaVersion#17.0.9", "10.0.4.11", "aws-sdk-kotlin"),
        // An SDK this version does not know by name stays one coarse value.
        ("aws-sdk-erlang/0.9.1", "10.0.4.12", "aws-sdk"),
        // A browser without console credentials: the IAM User Guide's sign-in example agent.
        ("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0", "192.0.2.110", "browser"),
        ("curl/8.4.0", "198.51.100.30", "other"),
        ("", "", "other"),
    ];
    for (agent, source, client) in cases {
        assert_eq!(
            client_of(&ClientSignals::agent(agent, source)),
            client,
            "{agent}"
        );
    }
}

/// The record's other signals: where the agent alone would mislead.
#[test]
fn clients_from_the_records_other_signals() {
    let jdbc = "aws-sdk-java/2.21.29 Linux/5.10.0 Java/17.0.9 AthenaJDBC/3.0.0";
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    let quicksight_role = ClientSignals {
        issuer_role: "aws-quicksight-service-role-v0",
        ..ClientSignals::agent(jdbc, "52.23.63.224")
    };
    assert_eq!(client_of(&quicksight_role), "quicksight");
    let console = ClientSignals {
        console_credentials: true,
        ..ClientSignals::agent(firefox, "198.51.100.7")
    };
    assert_eq!(client_of(&console), "console");
    // CloudShell: console credentials, the CLI's agent.
    let cloudshell = ClientSignals {
        console_credentials: true,
        ..ClientSignals::agent(
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exec-env/CloudShell",
            "",
        )
    };
    assert_eq!(client_of(&cloudshell), "aws-cli");
    // Another account's call, recorded with AWS's internal agent: not our console.
    let foreign = ClientSignals {
        foreign_account: true,
        ..ClientSignals::agent("AWS Internal", "AWS Internal")
    };
    assert_eq!(client_of(&foreign), "cross-account");
}

#[test]
fn run_by_names_the_person_and_where_it_came_from() {
    assert_eq!(run_by_text(None), NO_TRAIL);
    let jane = caller(sso("jane"));
    assert_eq!(
        run_by_text(Some(&jane)),
        "jane (Identity Center, arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataAnalyst_0a1b2c3d4e5f6789)"
    );
    let bob = caller(assumed("Analysts", "bob"));
    assert_eq!(
        run_by_text(Some(&bob)),
        "Analysts (role arn:aws:iam::123456789012:role/Analysts; session 'bob' chosen by the caller)"
    );
    let john = caller(iam_user());
    assert_eq!(
        run_by_text(Some(&john)),
        "johndoe (IAM user, arn:aws:iam::123456789012:user/analysts/johndoe)"
    );
    // An item written before the source was kept reads as before.
    let old = Caller {
        principal_arn: "arn:aws:iam::1:role/Analyst".into(),
        person: "jane".into(),
        ..Default::default()
    };
    assert_eq!(
        run_by_text(Some(&old)),
        "jane (arn:aws:iam::1:role/Analyst)"
    );
}

/// CloudTrail may leave the query's text out; nothing here reads it, and the tables reader
/// takes the placeholder for no tables.
#[test]
fn an_omitted_query_text_is_still_attributed_and_reads_no_tables() {
    let mut e = event(iam_user(), "aws-cli/2.15.0");
    e["detail"]["requestParameters"]["queryString"] = json!(crate::tables_read::OMITTED);
    let start = QueryStart::from_event(&e).unwrap().unwrap();
    assert_eq!(start.caller.person, "johndoe");
    assert_eq!(
        crate::tables_read::tables_read(crate::tables_read::OMITTED, start.database.as_deref()),
        crate::tables_read::TablesRead::Unparsed
    );
}
