//! Who ran a query, as the index keeps it (read from its CloudTrail record by the shared
//! crate's `attribution`).

/// Who started a query, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The IAM user, or the role an assumed-role session was issued by (its ARN).
    pub principal_arn: String,
    /// The person budgets, spend per person and alert routing are keyed on. Never a value the
    /// caller could choose freely (an assumed role's session name): where the record names no
    /// one better, the person is the role (see [`PersonSource`]).
    pub person: String,
    /// Which part of the record vouched for `person`.
    pub person_source: PersonSource,
    /// The session name the caller chose (an assumed role's, or a federated user's name), kept
    /// for display only ("session 'bob' chosen by the caller"); empty when the person came from
    /// something else. Never a key.
    pub session_name: String,
    pub account: String,
    pub source_ip: String,
    /// From the user agent and the record's other signals: `attribution::client_of`.
    pub client: String,
}

/// Where a [`Caller`]'s `person` came from, strongest first (the order `attribution` tries
/// them in). The string forms ([`PersonSource::as_str`]) are stored in the index and sent as a
/// message attribute: they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PersonSource {
    /// `userIdentity.onBehalfOf`: the IAM Identity Center user an identity-enhanced session
    /// (trusted identity propagation) acts for.
    OnBehalfOf,
    /// `sessionContext.sourceIdentity`: set when the first role was assumed, kept through role
    /// chaining, never changed by a later session.
    SourceIdentity,
    /// The session name of an IAM Identity Center permission set's role (`AWSReservedSSO_…`
    /// under `/aws-reserved/sso.amazonaws.com/`), which AWS sets to the user's name.
    IdentityCenter,
    /// An IAM user's name.
    IamUser,
    /// The account's root user.
    Root,
    /// The AWS service that called (`invokedBy` of an `AWSService` identity).
    Service,
    /// The `saml:sub` of a SAML identity (`SAMLUser`), as the identity provider asserted it.
    Saml,
    /// The subject a web identity provider asserted (`WebIdentityUser`, or a role session's
    /// `webIdFederationData`).
    WebIdentity,
    /// A federated user (GetFederationToken): the IAM user that issued it; the federated name
    /// is the issuer's choice and kept only as `session_name`.
    Federated,
    /// Another AWS account (`AWSAccount`): the account id.
    CrossAccount,
    /// An assumed role whose session name the caller chose: the person is the role; the
    /// session name is kept only as `session_name`.
    CallerChosen,
    /// An identity type this version does not know: its AWS-assigned principal id.
    Other,
    /// Not recorded: an index item written before the source was kept.
    #[default]
    Unrecorded,
}

impl PersonSource {
    pub const ALL: [PersonSource; 13] = [
        Self::OnBehalfOf,
        Self::SourceIdentity,
        Self::IdentityCenter,
        Self::IamUser,
        Self::Root,
        Self::Service,
        Self::Saml,
        Self::WebIdentity,
        Self::Federated,
        Self::CrossAccount,
        Self::CallerChosen,
        Self::Other,
        Self::Unrecorded,
    ];

    /// The stable short form: stored in the index, sent as the `person_source` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnBehalfOf => "on-behalf-of",
            Self::SourceIdentity => "source-identity",
            Self::IdentityCenter => "identity-center",
            Self::IamUser => "iam-user",
            Self::Root => "root",
            Self::Service => "aws-service",
            Self::Saml => "saml",
            Self::WebIdentity => "web-identity",
            Self::Federated => "federated",
            Self::CrossAccount => "cross-account",
            Self::CallerChosen => "caller-chosen",
            Self::Other => "other",
            Self::Unrecorded => "unrecorded",
        }
    }

    /// The source a stored string names; anything else (a missing attribute, a form a later
    /// version added) reads as [`PersonSource::Unrecorded`].
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .unwrap_or_default()
    }
}

impl std::fmt::Display for PersonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_are_distinct_and_read_back() {
        let forms: std::collections::HashSet<&str> =
            PersonSource::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(forms.len(), PersonSource::ALL.len());
        for p in PersonSource::ALL {
            assert_eq!(PersonSource::parse(p.as_str()), p);
        }
        assert_eq!(PersonSource::parse(""), PersonSource::Unrecorded);
        assert_eq!(
            PersonSource::parse("IdentityCenter"),
            PersonSource::Unrecorded
        );
    }
}
