//! The client a `StartQueryExecution` came from: the user agent first, then what else the
//! CloudTrail record says (the session's role, the console flag, a foreign account).
//!
//! A client is a hint for routing and the digest, not an identity: a caller can send any user
//! agent. Budgets never key on it.

use serde_json::Value;

/// What a CloudTrail record says about the program that made the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientSignals<'a> {
    /// `userAgent`.
    pub user_agent: &'a str,
    /// `sourceIPAddress` (a service's name when a service called).
    pub source_ip: &'a str,
    /// The role that issued the session (`sessionContext.sessionIssuer.userName`).
    pub issuer_role: &'a str,
    /// `userIdentity.invokedBy`.
    pub invoked_by: &'a str,
    /// The record's `sessionCredentialFromConsole` is `"true"`: the credentials came from a
    /// console session (the CloudTrail User Guide's record contents; present only when true).
    pub console_credentials: bool,
    /// `userIdentity.type` is `AWSAccount`: another account called.
    pub foreign_account: bool,
}

impl<'a> ClientSignals<'a> {
    /// The signals of a CloudTrail record (an EventBridge event's `detail`).
    pub fn of_record(detail: &'a Value) -> Self {
        let s = |v: &'a Value| v.as_str().unwrap_or_default();
        let identity = &detail["userIdentity"];
        Self {
            user_agent: s(&detail["userAgent"]),
            source_ip: s(&detail["sourceIPAddress"]),
            issuer_role: s(&identity["sessionContext"]["sessionIssuer"]["userName"]),
            invoked_by: s(&identity["invokedBy"]),
            console_credentials: detail["sessionCredentialFromConsole"].as_str() == Some("true")
                || detail["sessionCredentialFromConsole"].as_bool() == Some(true),
            foreign_account: identity["type"].as_str() == Some("AWSAccount"),
        }
    }

    /// Only an agent and a source, as the record's other fields were absent.
    pub fn agent(user_agent: &'a str, source_ip: &'a str) -> Self {
        Self {
            user_agent,
            source_ip,
            ..Self::default()
        }
    }
}

/// The client a call came from; the first match wins, most specific first. Where each signal
/// comes from:
/// - `quicksight`: QuickSight calls Athena either as the service (`quicksight.amazonaws.com` as
///   source, agent or `invokedBy`: CloudTrail's service-principal convention) or with its
///   service role (`aws-quicksight-service-role-v0` under `/service-role/`, the role QuickSight
///   creates; "Authorizing connections to Amazon Athena" in the QuickSight User Guide) through
///   an Athena JDBC driver, whose agent alone would say `jdbc`.
/// - `tableau`, `superset`: only when the application names itself (the Simba drivers append
///   their `ApplicationName`/`App_Name` property to the agent; Superset through PyAthena does
///   not, and is then `pyathena`).
/// - `dbt`: dbt-athena's boto3 config, `user_agent_extra="dbt-athena-community/<version>"`
///   (dbt-labs/dbt-athena, `dbt/adapters/athena/config.py`).
/// - `airflow`: the Amazon provider's hook adds `Airflow/<version> AmPP/<provider version>
///   Caller/<operator> DagRunKey/<uuid>` (apache-airflow-providers-amazon, `hooks/base_aws.py`).
/// - `awswrangler`: `user_agent_extra=f"awswrangler/{__version__}"` (aws-sdk-pandas,
///   `awswrangler/_utils.py`).
/// - `pyathena`: `user_agent_extra = f"PyAthena/{__version__}"` (PyAthena, `pyathena/__init__.py`).
/// - `jdbc`, `odbc`: the Athena drivers' agents (`AthenaJDBC/..`, `AthenaODBC/..`, the Simba
///   drivers' `..JDBC..`/`..ODBC..` tokens).
/// - `cross-account`: an `AWSAccount` identity — another account's principal, or a service
///   acting for it (its agent is often `AWS Internal`, which must not read as our console).
/// - `console`: the Athena query editor's calls are recorded with `aws-internal/3` (Athena User
///   Guide, "Logging Amazon Athena API calls with AWS CloudTrail", StartQueryExecution example),
///   `AWS Internal`, or the console's own host; newer ones with the browser's own agent and
///   `sessionCredentialFromConsole: "true"`. The flag alone is not enough: CloudShell's
///   `aws-cli` runs on console credentials too and stays `aws-cli`.
/// - `aws-cli`: `aws-cli/2.x ...` (its agent starts with it; it also names botocore).
/// - `boto3`: `Boto3/1.x md/Botocore#1.x ...` (new style) or `Boto3/1.x Python/3.x ...
///   Botocore/1.x` (old style).
/// - `aws-sdk-<language>` ([`sdk_client`]).
/// - `browser`: a browser's agent without console credentials (a web application calling
///   Athena from the page, or a console record older than the flag).
pub fn client_of(s: &ClientSignals<'_>) -> &'static str {
    let agent = s.user_agent.to_ascii_lowercase();
    let has = |token: &str| agent.contains(token);
    let browser = agent.starts_with("mozilla/");
    if is_quicksight(s, &agent) {
        "quicksight"
    } else if let Some(tool) = tool_client(&agent) {
        tool
    } else if s.foreign_account {
        "cross-account"
    } else if agent.starts_with("aws-internal")
        || agent.starts_with("aws internal")
        || has("console.amazonaws.com")
        || has("console.aws.amazon.com")
        || (s.console_credentials && (browser || agent.is_empty()))
    {
        "console"
    } else if agent.starts_with("aws-cli/") {
        "aws-cli"
    } else if has("boto3/") || has("botocore/") {
        "boto3"
    } else if let Some(sdk) = sdk_client(&agent) {
        sdk
    } else if browser {
        "browser"
    } else {
        "other"
    }
}

fn is_quicksight(s: &ClientSignals<'_>, agent: &str) -> bool {
    let role = s.issuer_role.to_ascii_lowercase();
    agent.contains("quicksight")
        || s.source_ip.to_ascii_lowercase().contains("quicksight")
        || s.invoked_by.to_ascii_lowercase().contains("quicksight")
        || role.starts_with("aws-quicksight-")
}

/// A tool that adds its own token to an SDK's agent (so it is looked for before the SDK's).
fn tool_client(agent: &str) -> Option<&'static str> {
    let has = |token: &str| agent.contains(token);
    Some(if has("tableau") {
        "tableau"
    } else if has("superset") {
        "superset"
    } else if has("dbt-athena") || has("dbt/") {
        "dbt"
    } else if has("airflow/") || has("ampp/") {
        "airflow"
    } else if has("awswrangler") {
        "awswrangler"
    } else if has("pyathena") {
        "pyathena"
    } else if has("jdbc") {
        "jdbc"
    } else if has("odbc") {
        "odbc"
    } else {
        return None;
    })
}

/// The AWS SDK an agent names, by language: `aws-sdk-java`, `aws-sdk-go`, `aws-sdk-js`,
/// `aws-sdk-rust`, `aws-sdk-cpp`, `aws-sdk-dotnet`, `aws-sdk-php`, `aws-sdk-ruby`,
/// `aws-sdk-kotlin`, `aws-sdk-swift`; `aws-sdk` for one this list does not know.
///
/// Decision: the language is named rather than one coarse `aws-sdk`. Python's SDK was already
/// told apart (`boto3`); the others are as different in who runs them (a Java service, a Go
/// job, a Node.js Lambda), and "spend by client" in the digest is where that shows. The set is
/// closed (a fixed list, each SDK's major versions folded: `aws-sdk-go-v2` is `aws-sdk-go`), so
/// the digest and routing rules see a handful of stable values, never a version. A rule that
/// wants every SDK matches the prefix (`{"client": [{"prefix": "aws-sdk"}]}`).
///
/// The agents' first tokens, per SDK (each SDK's user-agent builder): `aws-sdk-java/1.x` and
/// `/2.x`, `aws-sdk-go/1.x`, `aws-sdk-go-v2/1.x`, `aws-sdk-js/3.x` (v3), `aws-sdk-nodejs/2.x`
/// (v2 in Node.js), `aws-sdk-rust/1.x`, `aws-sdk-cpp/1.x`, `aws-sdk-dotnet-coreclr/3.x` and
/// `aws-sdk-dotnet-45/3.x`, `aws-sdk-php/3.x`, `aws-sdk-ruby3/3.x`, `aws-sdk-kotlin/1.x`,
/// `aws-sdk-swift/1.x`.
pub fn sdk_client(agent: &str) -> Option<&'static str> {
    const LANGUAGES: [(&str, &str); 11] = [
        ("java", "aws-sdk-java"),
        ("go", "aws-sdk-go"),
        ("js", "aws-sdk-js"),
        ("nodejs", "aws-sdk-js"),
        ("rust", "aws-sdk-rust"),
        ("cpp", "aws-sdk-cpp"),
        ("dotnet", "aws-sdk-dotnet"),
        ("php", "aws-sdk-php"),
        ("ruby", "aws-sdk-ruby"),
        ("kotlin", "aws-sdk-kotlin"),
        ("swift", "aws-sdk-swift"),
    ];
    let agent = agent.to_ascii_lowercase();
    let (_, after) = agent.split_once("aws-sdk-")?;
    // `java/2.21`, `go-v2/1.24`, `dotnet-coreclr/3.7`, `ruby3/3.190`: the letters before the
    // first non-letter.
    let language: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    Some(
        LANGUAGES
            .iter()
            .find(|(name, _)| *name == language)
            .map_or("aws-sdk", |(_, client)| client),
    )
}
