//! The person behind a CloudTrail `userIdentity`, from the strongest part of the record that
//! names one, and never from a value the caller chose freely.
//!
//! Field meanings are the CloudTrail User Guide's ("CloudTrail userIdentity element"); the
//! `onBehalfOf` element is IAM Identity Center's trusted identity propagation ("Identity-enhanced
//! IAM role sessions"). The order and why: `docs/decisions/person-identity.md`.

use serde_json::Value;

use super::UNKNOWN;
use lakeops_core::caller::PersonSource;

/// Who the record says ran the call, and what vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// What budgets, spend and routing key on.
    pub name: String,
    pub source: PersonSource,
    /// The session name the caller chose, for display only (empty when it is not shown).
    pub chosen_session: String,
}

impl Person {
    fn new(name: impl Into<String>, source: PersonSource) -> Self {
        Self {
            name: name.into(),
            source,
            chosen_session: String::new(),
        }
    }
}

/// IAM Identity Center creates a permission set's role under this path, named
/// `AWSReservedSSO_<permission set>_<suffix>` (in some accounts with a Region segment after the
/// path: `/aws-reserved/sso.amazonaws.com/eu-west-1/`). Both are required: a role anyone could
/// create with the same name prefix elsewhere is not Identity Center's.
const SSO_ROLE_PATH: &str = "role/aws-reserved/sso.amazonaws.com/";
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

/// The person behind `identity` (a CloudTrail `userIdentity`), trying in order:
/// 1. `onBehalfOf` — the Identity Center user an identity-enhanced session acts for: its name
///    where the record gives one AWS set (an Identity Center role session's name), else its
///    `userId` (or, on the IAM federation path, the identity provider's `subject`);
/// 2. `sessionContext.sourceIdentity` — set once when the first role was assumed, kept through
///    role chaining, unchangeable by a later session;
/// 3. an Identity Center role session's name — AWS sets it to the user's name;
/// 4. by identity type: an IAM user's name, `root`, the calling service (`invokedBy`), a SAML or
///    web identity subject the provider asserted, a federated user's issuer, another account;
/// 5. otherwise (an assumed role whose session name the caller chose): the role.
pub fn person_of(identity: &Value) -> Person {
    on_behalf_of(identity)
        .or_else(|| source_identity(identity))
        .or_else(|| identity_center(identity))
        .or_else(|| by_type(identity))
        .unwrap_or_else(|| role_session(identity))
}

/// The principal: the role that issued an assumed-role session, or the IAM user that issued a
/// federated one (stable across sessions, so filters and budgets can name it), else the
/// identity's own ARN, else (another account's identity has none) the stable part of its
/// principal id.
pub fn principal_arn_of(identity: &Value) -> String {
    let issuer = text(&identity["sessionContext"]["sessionIssuer"]["arn"]);
    let own = text(&identity["arn"]);
    match identity["type"].as_str() {
        Some("AssumedRole" | "FederatedUser") => issuer.or(own),
        _ => own.or(issuer),
    }
    .or_else(|| stable_principal_id(identity))
    .unwrap_or(UNKNOWN)
    .to_string()
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// The last `/`-separated part of an ARN: `user/path/jane` → `jane`,
/// `assumed-role/Role/session` → `session`.
fn last_part(arn: &str) -> Option<&str> {
    arn.rsplit_once('/')
        .map(|(_, last)| last)
        .filter(|s| !s.is_empty())
}

/// A principal id without its session part (`AROA…:session` → `AROA…`): AWS assigns the first
/// part; the second is the caller's.
fn stable_principal_id(identity: &Value) -> Option<&str> {
    text(&identity["principalId"])
        .map(|id| id.split_once(':').map_or(id, |(stable, _)| stable))
        .filter(|s| !s.is_empty())
}

/// An assumed role's session name: the last part of
/// `arn:aws:sts::…:assumed-role/<role>/<session>`, else of its principal id.
fn session_name(identity: &Value) -> Option<&str> {
    text(&identity["arn"])
        .and_then(last_part)
        .or_else(|| {
            text(&identity["principalId"])
                .and_then(|p| p.split_once(':'))
                .map(|(_, session)| session)
        })
        .filter(|s| !s.is_empty())
}

/// The role that issued an assumed-role session: the issuer's name, else from its ARN, else
/// the middle of the session's own ARN.
fn role_name(identity: &Value) -> Option<&str> {
    let issuer = &identity["sessionContext"]["sessionIssuer"];
    text(&issuer["userName"])
        .or_else(|| text(&issuer["arn"]).and_then(last_part))
        .or_else(|| {
            let arn = text(&identity["arn"])?;
            let (_, resource) = arn.split_once(":assumed-role/")?;
            resource.split('/').next().filter(|r| !r.is_empty())
        })
}

/// Whether the session was issued by an Identity Center permission set's role.
fn is_identity_center_session(identity: &Value) -> bool {
    identity["type"].as_str() == Some("AssumedRole")
        && text(&identity["sessionContext"]["sessionIssuer"]["arn"])
            .filter(|arn| arn.starts_with("arn:") && arn.contains(":iam::"))
            .and_then(|arn| arn.rsplit_once(':'))
            .is_some_and(|(_, resource)| {
                resource.starts_with(SSO_ROLE_PATH)
                    && last_part(resource).is_some_and(|r| r.starts_with(SSO_ROLE_PREFIX))
            })
}

fn on_behalf_of(identity: &Value) -> Option<Person> {
    let user = &identity["onBehalfOf"];
    let id = text(&user["userId"]).or_else(|| text(&user["subject"]))?;
    let readable = is_identity_center_session(identity)
        .then(|| session_name(identity))
        .flatten();
    Some(Person::new(
        readable.unwrap_or(id),
        PersonSource::OnBehalfOf,
    ))
}

fn source_identity(identity: &Value) -> Option<Person> {
    text(&identity["sessionContext"]["sourceIdentity"])
        .map(|s| Person::new(s, PersonSource::SourceIdentity))
}

fn identity_center(identity: &Value) -> Option<Person> {
    if !is_identity_center_session(identity) {
        return None;
    }
    session_name(identity).map(|s| Person::new(s, PersonSource::IdentityCenter))
}

fn by_type(identity: &Value) -> Option<Person> {
    let arn = text(&identity["arn"]);
    match identity["type"].as_str().unwrap_or_default() {
        "IAMUser" => text(&identity["userName"])
            .or_else(|| arn.and_then(last_part))
            .map(|n| Person::new(n, PersonSource::IamUser)),
        "Root" => Some(Person::new("root", PersonSource::Root)),
        "AWSService" => text(&identity["invokedBy"]).map(|s| Person::new(s, PersonSource::Service)),
        // `userName` is the assertion's `saml:sub` / the token's user id: the provider's word.
        "SAMLUser" => text(&identity["userName"]).map(|n| Person::new(n, PersonSource::Saml)),
        "WebIdentityUser" => {
            text(&identity["userName"]).map(|n| Person::new(n, PersonSource::WebIdentity))
        }
        "FederatedUser" => Some(federated(identity)),
        "AWSAccount" => text(&identity["accountId"]).map(|account| Person {
            chosen_session: text(&identity["principalId"])
                .and_then(|p| p.split_once(':'))
                .map(|(_, s)| s.to_string())
                .unwrap_or_default(),
            ..Person::new(account, PersonSource::CrossAccount)
        }),
        "AssumedRole" => web_identity_subject(identity),
        // IdentityCenterUser without onBehalfOf, Unknown, and types yet to come: only what AWS
        // assigned.
        _ => Some(Person::new(
            stable_principal_id(identity).unwrap_or(UNKNOWN),
            PersonSource::Other,
        )),
    }
}

/// A GetFederationToken session: its name is whatever the IAM user (or root) that called
/// GetFederationToken passed, so the person is that issuer and the name only display.
fn federated(identity: &Value) -> Person {
    let issuer = &identity["sessionContext"]["sessionIssuer"];
    let name = if issuer["type"].as_str() == Some("Root") {
        Some("root")
    } else {
        text(&issuer["userName"]).or_else(|| text(&issuer["arn"]).and_then(last_part))
    };
    Person {
        chosen_session: text(&identity["arn"])
            .and_then(last_part)
            .unwrap_or_default()
            .to_string(),
        ..Person::new(name.unwrap_or(UNKNOWN), PersonSource::Federated)
    }
}

/// A role session from AssumeRoleWithWebIdentity whose record carries the provider's subject
/// (`webIdFederationData.attributes`, e.g. `cognito-identity.amazonaws.com:sub`). Without one
/// (an EKS service account's session names no user) the session is the caller's choice.
fn web_identity_subject(identity: &Value) -> Option<Person> {
    let attributes = identity["sessionContext"]["webIdFederationData"]["attributes"].as_object()?;
    attributes
        .iter()
        .find(|(key, _)| key.ends_with(":sub") || key.ends_with(":user_id"))
        .and_then(|(_, v)| text(v))
        .map(|subject| Person::new(subject, PersonSource::WebIdentity))
}

/// The last resort for an assumed role: the role is the person, the session name (the caller's
/// choice) only display.
fn role_session(identity: &Value) -> Person {
    let Some(role) = role_name(identity) else {
        return Person::new(
            stable_principal_id(identity).unwrap_or(UNKNOWN),
            PersonSource::Other,
        );
    };
    Person {
        chosen_session: session_name(identity).unwrap_or_default().to_string(),
        ..Person::new(role, PersonSource::CallerChosen)
    }
}
