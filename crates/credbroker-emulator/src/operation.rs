//! Every operation the emulator serves, as a type: the router names one,
//! `/_emulator/stats` counts it, `/_emulator/faults` arms faults on it, and
//! its service decides the wire format of its errors.
//!
//! Each handler matches on its own service's enum, exhaustively, so a new
//! operation cannot fall into another one's arm, and names come from one
//! place ([`Operation::name`]), so the names a test writes in a fault table
//! are the names the stats report.

use super::sts;

/// sso-oidc operations (restJson1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcOperation {
    RegisterClient,
    StartDeviceAuthorization,
    CreateToken,
}

/// SSO portal operations (restJson1, bearer token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalOperation {
    GetRoleCredentials,
    ListAccounts,
    ListAccountRoles,
    Logout,
}

/// One operation of one of the emulator's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Oidc(OidcOperation),
    Portal(PortalOperation),
    Sts(sts::Action),
    /// The GitHub Actions-style token request (`GET /_github/token`).
    GitHubTokenRequest,
}

/// The wire family of an operation, which decides how an error is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// restJson1, the exception name in `x-amzn-errortype`; OAuth's
    /// `error` field in the body.
    Oidc,
    /// restJson1, `{"message": ...}` bodies (the GitHub issuer too).
    Portal,
    /// awsQuery: STS's XML `ErrorResponse`.
    Sts,
}

impl Operation {
    pub const ALL: [Operation; 11] = [
        Operation::Oidc(OidcOperation::RegisterClient),
        Operation::Oidc(OidcOperation::StartDeviceAuthorization),
        Operation::Oidc(OidcOperation::CreateToken),
        Operation::Portal(PortalOperation::GetRoleCredentials),
        Operation::Portal(PortalOperation::ListAccounts),
        Operation::Portal(PortalOperation::ListAccountRoles),
        Operation::Portal(PortalOperation::Logout),
        Operation::Sts(sts::Action::GetCallerIdentity),
        Operation::Sts(sts::Action::AssumeRole),
        Operation::Sts(sts::Action::AssumeRoleWithWebIdentity),
        Operation::GitHubTokenRequest,
    ];

    /// The AWS operation name (the STS `Action`), as stats and faults use it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Oidc(OidcOperation::RegisterClient) => "RegisterClient",
            Operation::Oidc(OidcOperation::StartDeviceAuthorization) => "StartDeviceAuthorization",
            Operation::Oidc(OidcOperation::CreateToken) => "CreateToken",
            Operation::Portal(PortalOperation::GetRoleCredentials) => "GetRoleCredentials",
            Operation::Portal(PortalOperation::ListAccounts) => "ListAccounts",
            Operation::Portal(PortalOperation::ListAccountRoles) => "ListAccountRoles",
            Operation::Portal(PortalOperation::Logout) => "Logout",
            Operation::Sts(action) => action.name(),
            Operation::GitHubTokenRequest => "GitHubTokenRequest",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    pub fn protocol(self) -> Protocol {
        match self {
            Operation::Oidc(_) => Protocol::Oidc,
            Operation::Portal(_) | Operation::GitHubTokenRequest => Protocol::Portal,
            Operation::Sts(_) => Protocol::Sts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        let mut names: Vec<_> = Operation::ALL.iter().map(|op| op.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
        for action in sts::Action::ALL {
            assert!(
                Operation::ALL.contains(&Operation::Sts(action)),
                "{action:?}"
            );
            assert_eq!(Operation::Sts(action).protocol(), Protocol::Sts);
        }
        assert_eq!(Operation::from_name("GetRoleCredential"), None);
    }
}
