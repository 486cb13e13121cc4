//! Who ran a query, as the index keeps it (read from its CloudTrail record by the shared
//! crate's `attribution`).

/// Who started a query, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The IAM user, or the role an assumed-role session was issued by (its ARN).
    pub principal_arn: String,
    /// The person: the IAM user's name, or the session name of an assumed role (for SSO, the
    /// user's name; for a service's role, whatever session name the service chose).
    pub person: String,
    pub account: String,
    pub source_ip: String,
    /// From the user agent: `attribution::client_of`.
    pub client: String,
}
