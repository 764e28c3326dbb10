//! Faults a test can ask for, per operation, so the broker's failure paths
//! (throttling, outages, slow or dropped connections) run against the same
//! server as the happy path.
//!
//! `POST /_emulator/faults` replaces the whole table with a JSON object keyed
//! by operation name (`{}` clears it):
//!
//! ```json
//! {"GetRoleCredentials": {"status": 503, "count": 2},
//!  "CreateToken": {"latency_ms": 1500},
//!  "ListAccounts": {"drop": true, "count": 1}}
//! ```
//!
//! `status` answers with that HTTP status in the operation's own error format
//! (`code` overrides the exception name): restJson1 for sso-oidc and the
//! portal, STS's `ErrorResponse` XML for the STS actions, whose default codes
//! are those STS sends: 400 or 429 `Throttling`, 500 `InternalFailure`, 503
//! `ServiceUnavailable`; `latency_ms` delays the answer;
//! `drop` closes the connection without answering; `malformed` answers 200
//! with a body cut off mid-document (a proxy or a bug upstream, which the
//! client must treat as a failed call, not as credentials); `count` limits how many
//! calls are affected (absent: until the table is replaced). Each call that
//! a fault touches uses up one of its count.

use super::operation::Operation;
pub use super::operation::Protocol;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub drop: bool,
    #[serde(default)]
    pub malformed: bool,
    #[serde(default)]
    pub count: Option<u64>,
}

/// The error code a fault with this status uses unless it names one.
pub fn default_code(protocol: Protocol, status: u16) -> &'static str {
    match (protocol, status) {
        (Protocol::Sts, 429) | (Protocol::Sts, 400) => "Throttling",
        (Protocol::Sts, 403) => "AccessDenied",
        (Protocol::Sts, 503) => "ServiceUnavailable",
        (Protocol::Sts, s) if s >= 500 => "InternalFailure",
        (Protocol::Sts, _) => "InvalidParameterValue",
        (Protocol::Oidc, 401) => "InvalidClientException",
        (Protocol::Portal, 401) => "UnauthorizedException",
        (_, 404) => "ResourceNotFoundException",
        (_, 429) => "TooManyRequestsException",
        (_, s) if s >= 500 => "InternalServerException",
        _ => "InvalidRequestException",
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    by_operation: HashMap<String, Fault>,
}

impl Faults {
    /// Parse a fault table; unknown operation names and statuses outside
    /// 400-599 are errors, so a typo does not silently inject nothing.
    pub fn parse(body: &[u8]) -> Result<HashMap<String, Fault>, String> {
        let table: BTreeMap<String, Fault> =
            serde_json::from_slice(body).map_err(|e| format!("invalid fault table: {e}"))?;
        for (op, fault) in &table {
            if Operation::from_name(op).is_none() {
                let known: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
                return Err(format!(
                    "unknown operation {op:?}; known: {}",
                    known.join(", ")
                ));
            }
            if fault.status.is_some_and(|s| !(400..=599).contains(&s)) {
                return Err(format!("{op}: status must be 400-599"));
            }
        }
        Ok(table.into_iter().collect())
    }

    pub fn replace(&mut self, table: HashMap<String, Fault>) {
        self.by_operation = table;
    }

    /// The fault for this call of `operation`, using up one of its count.
    pub fn take(&mut self, operation: Operation) -> Option<Fault> {
        let operation = operation.name();
        let fault = self.by_operation.get_mut(operation)?;
        let taken = fault.clone();
        if let Some(count) = fault.count.as_mut() {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.by_operation.remove(operation);
            }
        }
        Some(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{OidcOperation, PortalOperation};
    use crate::sts;

    const GET_ROLE_CREDENTIALS: Operation = Operation::Portal(PortalOperation::GetRoleCredentials);
    const CREATE_TOKEN: Operation = Operation::Oidc(OidcOperation::CreateToken);

    #[test]
    fn counted_fault_runs_out() {
        let mut faults = Faults::default();
        faults
            .replace(Faults::parse(br#"{"GetRoleCredentials":{"status":503,"count":2}}"#).unwrap());
        assert_eq!(faults.take(GET_ROLE_CREDENTIALS).unwrap().status, Some(503));
        assert!(faults.take(GET_ROLE_CREDENTIALS).is_some());
        assert!(faults.take(GET_ROLE_CREDENTIALS).is_none());
        let list = Operation::Portal(PortalOperation::ListAccounts);
        assert!(faults.take(list).is_none());
    }

    #[test]
    fn uncounted_fault_stays_and_typos_are_errors() {
        let mut faults = Faults::default();
        faults.replace(Faults::parse(br#"{"CreateToken":{"latency_ms":5}}"#).unwrap());
        for _ in 0..3 {
            assert_eq!(faults.take(CREATE_TOKEN).unwrap().latency_ms, Some(5));
        }
        assert!(Faults::parse(br#"{"GetRoleCredential":{}}"#)
            .unwrap_err()
            .contains("unknown"));
        assert!(Faults::parse(br#"{"Logout":{"status":200}}"#).is_err());
        assert!(Faults::parse(br#"{"Logout":{"stauts":500}}"#).is_err());
        assert!(
            Faults::parse(br#"{"GetRoleCredentials":{"malformed":true}}"#).unwrap()
                ["GetRoleCredentials"]
                .malformed
        );
        let every: serde_json::Map<String, serde_json::Value> = Operation::ALL
            .iter()
            .map(|op| (op.name().to_string(), serde_json::json!({"status": 500})))
            .collect();
        let table = serde_json::to_vec(&every).unwrap();
        assert_eq!(Faults::parse(&table).unwrap().len(), Operation::ALL.len());
    }

    #[test]
    fn codes_follow_the_protocol() {
        assert_eq!(
            default_code(GET_ROLE_CREDENTIALS.protocol(), 429),
            "TooManyRequestsException"
        );
        assert_eq!(
            default_code(CREATE_TOKEN.protocol(), 500),
            "InternalServerException"
        );
        for action in sts::Action::ALL {
            let protocol = Operation::Sts(action).protocol();
            assert_eq!(protocol, Protocol::Sts, "{action:?}");
            assert_eq!(default_code(protocol, 503), "ServiceUnavailable");
            assert_eq!(default_code(protocol, 500), "InternalFailure");
            assert_eq!(default_code(protocol, 400), "Throttling");
        }
        assert_eq!(Operation::GitHubTokenRequest.protocol(), Protocol::Portal);
    }
}
