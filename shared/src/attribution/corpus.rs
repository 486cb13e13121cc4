//! A corpus of CloudTrail records, one per identity shape, and who each one names. The records
//! are ours (account 123456789012, made-up people and ids); each shape follows the source its
//! comment names. `StartQueryExecution` records are read end to end ([`QueryStart`], client
//! included); STS's own records of a federation call (their identity types appear nowhere
//! else) are read by [`person_of`].

use super::*;
use serde_json::json;

struct Case {
    file: &'static str,
    record: &'static str,
    person: &'static str,
    source: PersonSource,
    /// The caller-chosen session name kept for display ("" for none).
    session: &'static str,
    /// The client, where the record's agent is one we have seen (else not checked).
    client: Option<&'static str>,
}

macro_rules! case {
    ($file:literal, $person:literal, $source:ident, $session:literal, $client:expr) => {
        Case {
            file: $file,
            record: include_str!(concat!("../../tests/fixtures/cloudtrail/", $file, ".json")),
            person: $person,
            source: PersonSource::$source,
            session: $session,
            client: $client,
        }
    };
}

/// The records and who each one names.
const CORPUS: &[Case] = &[
    // CloudTrail User Guide, "CloudTrail userIdentity element": the IAMUser example.
    case!("iam-user", "priya", IamUser, "", Some("aws-cli")),
    // The userIdentity of temporary credentials (same guide) issued by an Identity Center
    // permission set's role (IAM Identity Center User Guide, "IAM roles created by IAM
    // Identity Center": `AWSReservedSSO_…`); console calls carry the browser's agent and
    // `sessionCredentialFromConsole` (CloudTrail User Guide, record contents).
    case!(
        "identity-center-console",
        "jane.doe@example.com",
        IdentityCenter,
        "",
        Some("console")
    ),
    // The same session as newer records show it, with `onBehalfOf` (`userId`,
    // `identityStoreArn`: the guide's IdentityCenterUser example); other projects' public
    // fixtures of permission-set sessions carry it the same way.
    case!(
        "identity-center-on-behalf-of",
        "jane.doe@example.com",
        OnBehalfOf,
        "",
        Some("aws-cli")
    ),
    // The temporary-credentials example: a session name is AssumeRole's `RoleSessionName`.
    case!(
        "assumed-role",
        "Analysts",
        CallerChosen,
        "bob",
        Some("boto3")
    ),
    // CloudTrail User Guide, "AWS STS source identity"; IAM User Guide, "Logging IAM and AWS
    // STS API calls with AWS CloudTrail" (the cross-account AssumeRole example passes
    // `sourceIdentity`, which the session then carries in `sessionContext`).
    case!(
        "assumed-role-source-identity",
        "bob",
        SourceIdentity,
        "",
        Some("aws-cli")
    ),
    // The same guide's role chaining example: the first session's source identity persists.
    case!(
        "role-chain-source-identity",
        "johndoe",
        SourceIdentity,
        "",
        Some("boto3")
    ),
    // Role chaining without one: an Identity Center user assumed a second role and named the
    // session after herself. Only the first hop was Identity Center's.
    case!(
        "role-chain-from-identity-center",
        "WarehouseAdmin",
        CallerChosen,
        "jane.doe@example.com",
        Some("aws-cli")
    ),
    // IAM Identity Center User Guide, "Identity-enhanced IAM role sessions" (CloudTrail logs
    // the userId of an application's identity-enhanced session); the Amazon Q Apps guide's
    // CloudTrail example shows it as `onBehalfOf` on an AssumedRole identity.
    case!(
        "tip-application-role",
        "94482488-3041-7026-18f3-be45837cd0e4",
        OnBehalfOf,
        "",
        Some("boto3")
    ),
    // Amazon EMR Management Guide, "Audit access with simplified trusted identity
    // propagation": on the IAM federation path `onBehalfOf` has `subject`, `subjectType`,
    // `issuer` and `federatedProviderArn`, no `userId`.
    case!(
        "tip-federation-path",
        "00u1a2b3c4d5E6f7g8h9",
        OnBehalfOf,
        "",
        Some("boto3")
    ),
    // CloudTrail User Guide: the "request made on behalf of an IAM Identity Center user"
    // example (type IdentityCenterUser, `onBehalfOf`, `credentialId`). Its agent is ours.
    case!(
        "identity-center-user",
        "94482488-3041-7026-18f3-be45837cd0e4",
        OnBehalfOf,
        "",
        None
    ),
    // QuickSight's service role (QuickSight User Guide, "Authorizing connections to Amazon
    // Athena") calling through the Athena JDBC 3 driver (its agent: AWS SDK for Java 2 plus
    // `AthenaJDBC/<version>`). The session name is QuickSight's choice.
    case!(
        "quicksight-service-role",
        "aws-quicksight-service-role-v0",
        CallerChosen,
        "QuickSight",
        Some("quicksight")
    ),
    // CloudTrail User Guide: type AWSService, `invokedBy`; a service's name as source and
    // agent.
    case!(
        "quicksight-service",
        "quicksight.amazonaws.com",
        Service,
        "",
        Some("quicksight")
    ),
    // IAM User Guide, "Example SAML AWS STS API event": STS's record of AssumeRoleWithSAML,
    // `userName` the assertion's `saml:sub`.
    case!("saml-user", "jane@corp.example.com", Saml, "", None),
    // A later call by that SAML session: the guide's table says CloudTrail shows "role
    // identity only (no user)", so nothing proves the session name came from the provider.
    case!(
        "saml-session",
        "OktaDataAnalyst",
        CallerChosen,
        "jane@corp.example.com",
        Some("console")
    ),
    // The provider set SourceIdentity in the assertion (the same SAML example passes
    // `sourceIdentity`): now it does.
    case!(
        "saml-session-source-identity",
        "jane@corp.example.com",
        SourceIdentity,
        "",
        Some("console")
    ),
    // IAM User Guide, "Example web identity AWS STS API event" (WebIdentityUser, `userName`
    // the token's user id).
    case!(
        "web-identity-user",
        "108234567890123456789",
        WebIdentity,
        "",
        None
    ),
    // A Cognito identity pool session: `webIdFederationData` (CloudTrail User Guide: the
    // provider and the application and user ids it reported), with the IAM User Guide's
    // web identity condition keys (`cognito-identity.amazonaws.com:sub`, `:aud`, `:amr`).
    case!(
        "web-identity-cognito",
        "us-east-1:5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        WebIdentity,
        "",
        Some("aws-sdk-js")
    ),
    // An EKS service account's session (an OIDC provider ARN, no attributes): the session
    // name is the SDK's (`botocore-session-<epoch>`), so the role is the person.
    case!(
        "web-identity-eks",
        "orders-etl-irsa",
        CallerChosen,
        "botocore-session-1732441800",
        Some("boto3")
    ),
    // CloudTrail User Guide: type Root, the account's ARN; from the console here.
    case!("root", "root", Root, "", Some("console")),
    // IAM User Guide's cross-account AssumeRole example as the role's account records it
    // (type AWSAccount: the other account and its principal id, nothing else).
    case!(
        "aws-account",
        "777788889999",
        CrossAccount,
        "",
        Some("cross-account")
    ),
    // CloudTrail User Guide: type FederatedUser (GetFederationToken), whose `sessionIssuer`
    // is the IAM user that called it; the name "Bob" is that user's choice.
    case!(
        "federated-user",
        "id-broker",
        Federated,
        "Bob",
        Some("aws-sdk-java")
    ),
    // An IAM user's query whose text CloudTrail left out.
    case!("omitted-query-text", "priya", IamUser, "", Some("aws-cli")),
];

/// An EventBridge "AWS API Call via CloudTrail" event around `record`.
fn eventbridge(record: &Value) -> Value {
    json!({
        "version": "0",
        "id": "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": "aws.athena",
        "account": "123456789012",
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record
    })
}

#[test]
fn every_identity_shape_names_its_person() {
    for case in CORPUS {
        let record: Value = serde_json::from_str(case.record).expect(case.file);
        let expected = Person {
            name: case.person.into(),
            source: case.source,
            chosen_session: case.session.into(),
        };
        assert_eq!(
            person_of(&record["userIdentity"]),
            expected,
            "{}",
            case.file
        );
        if record["eventName"] != "StartQueryExecution" {
            continue;
        }
        let start = QueryStart::from_event(&eventbridge(&record))
            .unwrap_or_else(|e| panic!("{}: {e}", case.file))
            .unwrap_or_else(|| panic!("{}: no query", case.file));
        let c = &start.caller;
        assert_eq!(
            (c.person.as_str(), c.person_source, c.session_name.as_str()),
            (case.person, case.source, case.session),
            "{}",
            case.file
        );
        assert_eq!(
            start.query_id,
            record["responseElements"]["queryExecutionId"]
        );
        if let Some(client) = case.client {
            assert_eq!(c.client, client, "{}", case.file);
        }
        assert!(
            !run_by_text(Some(c)).is_empty() && run_by_text(Some(c)).starts_with(case.person),
            "{}",
            case.file
        );
    }
}

/// No record's person is a session name its caller chose, unless AWS or a provider vouched
/// for it (an Identity Center role's session name).
#[test]
fn no_person_is_a_caller_chosen_session_name() {
    for case in CORPUS {
        let record: Value = serde_json::from_str(case.record).unwrap();
        let identity = &record["userIdentity"];
        let session = identity["arn"]
            .as_str()
            .filter(|arn| arn.contains(":assumed-role/") || arn.contains(":federated-user/"))
            .and_then(|arn| arn.rsplit('/').next());
        let Some(session) = session else { continue };
        let person = person_of(identity);
        let vouched = matches!(
            person.source,
            PersonSource::IdentityCenter | PersonSource::OnBehalfOf | PersonSource::SourceIdentity
        );
        assert!(
            person.name != session || vouched,
            "{}: {person:?} is the session name",
            case.file
        );
    }
}
