//! The line protocol of the daemon's Unix socket (pure: no socket here).
//!
//! Each request is one JSON object on one line, answered by one JSON line:
//!
//! ```text
//! -> {"op":"credentials","profile":"dev"}
//! <- {"Version":1,"AccessKeyId":"ASIA...","SecretAccessKey":"...","SessionToken":"...","Expiration":"2026-11-21T23:10:00Z"}
//! <- {"error":{"code":"LoginRequired","message":"...; run `credbroker login --sso-session corp`","status":403,"login_command":"credbroker login --sso-session corp"}}
//! <- {"error":{"code":"UpstreamUnavailable","message":"cannot get credentials ...: IAM Identity Center is unavailable: ...","status":503,"reason":"cannot get credentials ...","causes":["IAM Identity Center is unavailable: ...","Connection refused (os error 111)"]}}
//! -> {"op":"status"}
//! <- {"pid":4242,"endpoint":"http://127.0.0.1:9911","config_path":"...","config_error":null,"last_upstream_error":null,"roles":[...]}
//! -> {"op":"logout","sessions":["corp"],"all":false}
//! <- {"dropped_roles":2}
//! ```
//!
//! `logout` is sent by `credbroker logout` after it removed the sessions'
//! keychain items: the daemon forgets the roles it holds for them at once,
//! so from then on it answers `LoginRequired` instead of serving them.
//!
//! A credentials answer is the `credential_process` document itself
//! (protocols.md §2), so the client can print it unchanged. Errors carry the
//! broker's code and HTTP-like status, the message, the rendered causes and
//! the login command when one is needed, so the client can rebuild the same
//! [`BrokerError`] the in-process path would have returned: the same exit
//! code, and the same lines on the person's screen.

use crate::broker::{BrokerError, BrokerSnapshot, ErrorKind};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Longest request line accepted, newline included. Real ones are ~60 bytes.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;

use crate::config::is_profile_name;

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The `credential_process` document for a profile. `config` is the
    /// caller's AWS config file: a daemon reading another file answers
    /// [`OTHER_CONFIG_FILE`] and the caller resolves in-process.
    Credentials {
        profile: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config: Option<PathBuf>,
    },
    /// What the daemon holds: [`DaemonStatus`].
    Status,
    /// Forget the roles held for these sessions (every session with `all`):
    /// their sign-in was just removed. Answered with [`LogoutReply`].
    Logout {
        #[serde(default)]
        sessions: Vec<String>,
        #[serde(default)]
        all: bool,
    },
}

/// The error code of a daemon that reads another AWS config file than the
/// caller of a credentials request.
pub const OTHER_CONFIG_FILE: &str = "OtherConfigFile";

/// The answer to a logout request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutReply {
    /// How many roles' credentials the daemon stopped serving.
    pub dropped_roles: usize,
}

impl LogoutReply {
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("logout replies always encode");
        line.push('\n');
        line
    }
}

/// Parse the reply to a logout request.
pub fn parse_logout_reply(line: &str) -> Result<Result<LogoutReply, ErrorReply>, ProtocolError> {
    let line = line.trim_end();
    if let Ok(envelope) = serde_json::from_str::<ErrorEnvelope>(line) {
        return Ok(Err(envelope.error));
    }
    serde_json::from_str(line)
        .map(Ok)
        .map_err(|e| ProtocolError::BadReply(e.to_string()))
}

impl Request {
    /// The request as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("requests always encode");
        line.push('\n');
        line
    }
}

/// Why a line is not a valid request or reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("request longer than {MAX_REQUEST_BYTES} bytes")]
    TooLong,
    #[error("not a valid request: {0}")]
    BadRequest(String),
    #[error("invalid profile name")]
    InvalidProfile,
    #[error("the daemon sent an unreadable reply: {0}")]
    BadReply(String),
}

/// Parse one request line (with or without its newline).
pub fn parse_request(line: &[u8]) -> Result<Request, ProtocolError> {
    if line.len() > MAX_REQUEST_BYTES {
        return Err(ProtocolError::TooLong);
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| ProtocolError::BadRequest("not UTF-8".into()))?
        .trim_end_matches(['\n', '\r']);
    // serde's message names only the field or variant, never the value.
    let request: Request =
        serde_json::from_str(text).map_err(|e| ProtocolError::BadRequest(e.to_string()))?;
    match &request {
        Request::Credentials { profile, .. } if !is_profile_name(profile) => {
            return Err(ProtocolError::InvalidProfile);
        }
        // Session names follow the same rule as profile names.
        Request::Logout { sessions, .. } if !sessions.iter().all(|s| is_profile_name(s)) => {
            return Err(ProtocolError::BadRequest("invalid session name".into()));
        }
        _ => {}
    }
    Ok(request)
}

/// The error half of a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub code: String,
    pub message: String,
    /// The status the HTTP endpoint would answer with (4xx final, 5xx transient).
    pub status: u16,
    /// For `LoginRequired`: the exact command that signs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_command: Option<String>,
    /// For an error with a hint: the message without it, so the client
    /// rebuilds the error from its parts rather than by cutting the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do next ([`BrokerError::hint`]); for `LoginRequired` the same
    /// as `login_command`, which older clients read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The causes under the error as the daemon renders them
    /// ([`BrokerError::causes`]), outermost first; absent from an older
    /// daemon's reply, and when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct ErrorEnvelope {
    error: ErrorReply,
}

impl ErrorReply {
    pub fn new(code: &str, message: impl Into<String>, status: u16) -> Self {
        ErrorReply {
            code: code.into(),
            message: message.into(),
            status,
            login_command: None,
            reason: None,
            hint: None,
            causes: Vec::new(),
        }
    }

    /// The wire form of `err`: its kind's code and status, `message` on one
    /// line as the endpoint shows it ([`BrokerError::summary`], for older
    /// clients), and the message alone, the hint and the rendered causes as
    /// fields of their own. The cause itself stays on this side.
    pub fn from_broker(err: &BrokerError) -> Self {
        let mut reply = ErrorReply::new(err.code(), err.summary(), err.status());
        reply.causes = err.causes();
        if err.hint().is_some() || !reply.causes.is_empty() {
            reply.reason = Some(err.message().to_string());
        }
        if let Some(hint) = err.hint() {
            reply.hint = Some(hint.to_string());
            if err.is(ErrorKind::LoginRequired) {
                reply.login_command = Some(hint.to_string());
            }
        }
        reply
    }

    pub fn from_protocol(err: &ProtocolError) -> Self {
        let code = match err {
            ProtocolError::InvalidProfile => "InvalidProfileName",
            _ => "BadRequest",
        };
        ErrorReply::new(code, err.to_string(), 400)
    }

    /// The reply line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(&ErrorEnvelope {
            error: self.clone(),
        })
        .expect("error replies always encode");
        line.push('\n');
        line
    }

    /// The broker error the in-process path would have returned, so
    /// callers (and exit codes) cannot tell the paths apart.
    pub fn into_broker_error(self) -> BrokerError {
        let kind = ErrorKind::from_code(&self.code);
        // A daemon from before `hint` sent `login_command` only, and one from
        // before `reason` the whole message: cut the hint off it then.
        // One from before `causes` sent none: the error has no source then.
        let hint = self.hint.or(self.login_command);
        let Some(hint) = hint else {
            let message = self.reason.unwrap_or(self.message);
            return BrokerError::new(kind, message).with_cause_texts(self.causes);
        };
        let reason = self.reason.unwrap_or_else(|| {
            let suffix = format!("; run `{hint}`");
            self.message
                .strip_suffix(&suffix)
                .unwrap_or(&self.message)
                .to_string()
        });
        BrokerError::new(kind, reason)
            .with_hint(hint)
            .with_cause_texts(self.causes)
    }
}

/// A reply to a credentials request.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialsReply {
    /// The `credential_process` document, exactly as received (no newline).
    Document(String),
    Error(ErrorReply),
}

impl std::fmt::Debug for CredentialsReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialsReply::Document(_) => f.write_str("Document(** redacted **)"),
            CredentialsReply::Error(e) => f.debug_tuple("Error").field(e).finish(),
        }
    }
}

/// Parse the reply to a credentials request. A document must be Version 1
/// with every field a credential_process consumer requires.
pub fn parse_credentials_reply(line: &str) -> Result<CredentialsReply, ProtocolError> {
    let line = line.trim_end_matches(['\n', '\r']);
    // Never put the parse error's text in a message: it could quote a secret.
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|_| ProtocolError::BadReply("not a JSON object".into()))?;
    if let Some(error) = value.get("error") {
        let error: ErrorReply = serde_json::from_value(error.clone())
            .map_err(|_| ProtocolError::BadReply("malformed error".into()))?;
        return Ok(CredentialsReply::Error(error));
    }
    if value.get("Version").and_then(|v| v.as_u64()) != Some(1) {
        return Err(ProtocolError::BadReply("not a Version 1 document".into()));
    }
    for field in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        if !value.get(field).is_some_and(|v| v.is_string()) {
            return Err(ProtocolError::BadReply(format!("no {field}")));
        }
    }
    Ok(CredentialsReply::Document(line.to_string()))
}

/// The answer to a status request: what the running daemon holds. Stable
/// (docs/status.md); secrets never appear in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    /// The container-credentials URL base, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub config_path: PathBuf,
    /// Why the config file on disk is not in use (the last good one is served).
    pub config_error: Option<String>,
    pub last_upstream_error: Option<UpstreamErrorStatus>,
    pub roles: Vec<HeldRoleStatus>,
    /// Sessions whose renewal failed for good: the person must sign in.
    #[serde(default)]
    pub needs_login: Vec<NeedsLoginStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedsLoginStatus {
    pub session: String,
    pub reason: String,
    pub command: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamErrorStatus {
    pub at: chrono::DateTime<chrono::Utc>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRoleStatus {
    /// `sso-role`, `web-identity` or `assumed-role` (empty from an older daemon).
    #[serde(default)]
    pub kind: String,
    pub session: String,
    pub account_id: String,
    pub role_name: String,
    /// The role's ARN, for web identities and assumed roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// For an assumed role: its source, `ACCOUNT/ROLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub expiration: chrono::DateTime<chrono::Utc>,
    pub renew_at: chrono::DateTime<chrono::Utc>,
}

impl DaemonStatus {
    pub fn new(pid: u32, endpoint: String, snapshot: BrokerSnapshot) -> Self {
        DaemonStatus {
            pid,
            endpoint,
            config_path: snapshot.config_path,
            config_error: snapshot.config_error,
            last_upstream_error: snapshot.last_upstream_error.map(|e| UpstreamErrorStatus {
                at: e.at,
                message: e.message,
            }),
            roles: snapshot
                .roles
                .into_iter()
                .map(|r| HeldRoleStatus {
                    kind: r.kind.to_string(),
                    session: r.session,
                    account_id: r.account_id,
                    role_name: r.role_name,
                    role_arn: r.role_arn,
                    via: r.via,
                    expiration: r.expiration,
                    renew_at: r.renew_at,
                })
                .collect(),
            needs_login: snapshot
                .needs_login
                .into_iter()
                .map(|n| NeedsLoginStatus {
                    session: n.session,
                    reason: n.reason,
                    command: n.command,
                    since: n.since,
                })
                .collect(),
        }
    }

    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("status always encodes");
        line.push('\n');
        line
    }
}

/// Parse the reply to a status request.
pub fn parse_status_reply(line: &str) -> Result<Result<DaemonStatus, ErrorReply>, ProtocolError> {
    if let Ok(envelope) = serde_json::from_str::<ErrorEnvelope>(line) {
        return Ok(Err(envelope.error));
    }
    serde_json::from_str(line)
        .map(Ok)
        .map_err(|e| ProtocolError::BadReply(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_requests() {
        assert_eq!(
            parse_request(b"{\"op\":\"credentials\",\"profile\":\"dev\"}\n"),
            Ok(Request::Credentials {
                profile: "dev".into(),
                config: None
            })
        );
        assert_eq!(parse_request(b"{\"op\":\"status\"}"), Ok(Request::Status));
        let logout = Request::Logout {
            sessions: vec!["corp".into()],
            all: false,
        };
        assert_eq!(parse_request(logout.to_line().as_bytes()), Ok(logout));
        assert_eq!(
            parse_request(b"{\"op\":\"logout\",\"all\":true}"),
            Ok(Request::Logout {
                sessions: vec![],
                all: true
            })
        );
        assert!(parse_request(b"{\"op\":\"logout\",\"sessions\":[\"\"]}").is_err());
        let line = Request::Credentials {
            profile: "team dev".into(),
            config: Some("/home/u/.aws/config".into()),
        }
        .to_line();
        assert!(line.ends_with('\n'));
        assert_eq!(
            parse_request(line.as_bytes()),
            Ok(Request::Credentials {
                profile: "team dev".into(),
                config: Some("/home/u/.aws/config".into())
            })
        );
    }

    #[test]
    fn refuses_malformed_requests() {
        for line in [
            &b""[..],
            b"{}",
            b"{\"op\":\"shutdown\"}",
            b"{\"op\":\"credentials\"}",
            b"{\"op\":\"credentials\",\"profile\":42}",
            b"not json",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse_request(line), Err(ProtocolError::BadRequest(_))),
                "{line:?}"
            );
        }
        for profile in ["", " dev", "a\\nb", "a\\u0000b", "a/b", ".."] {
            let line = format!("{{\"op\":\"credentials\",\"profile\":\"{profile}\"}}");
            assert_eq!(
                parse_request(line.as_bytes()),
                Err(ProtocolError::InvalidProfile),
                "{line}"
            );
        }
        let long = format!(
            "{{\"op\":\"credentials\",\"profile\":\"{}\"}}",
            "a".repeat(MAX_REQUEST_BYTES)
        );
        assert_eq!(parse_request(long.as_bytes()), Err(ProtocolError::TooLong));
    }

    const DOCUMENT: &str = r#"{"Version":1,"AccessKeyId":"ASIAX","SecretAccessKey":"s3cr3t","SessionToken":"t0k3n","Expiration":"2026-11-21T23:10:00Z"}"#;

    #[test]
    fn a_document_reply_is_kept_verbatim_and_redacted_in_debug() {
        let reply = parse_credentials_reply(&format!("{DOCUMENT}\n")).unwrap();
        assert_eq!(reply, CredentialsReply::Document(DOCUMENT.into()));
        let debug = format!("{reply:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("t0k3n"),
            "{debug}"
        );
    }

    #[test]
    fn incomplete_documents_are_refused_without_quoting_them() {
        for line in [
            r#"{"Version":2,"AccessKeyId":"A","SecretAccessKey":"s3cr3t","SessionToken":"t","Expiration":"x"}"#,
            r#"{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s3cr3t","Expiration":"x"}"#,
            r#"{"Version":1,"SecretAccessKey":"s3cr3t""#,
            "",
        ] {
            let err = parse_credentials_reply(line).unwrap_err();
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn login_required_survives_the_round_trip() {
        let original = BrokerError::login_required(
            "not signed in to SSO session 'corp'",
            "credbroker login --sso-session corp",
        );
        let line = ErrorReply::from_broker(&original).to_line();
        let CredentialsReply::Error(reply) = parse_credentials_reply(&line).unwrap() else {
            panic!("expected an error reply: {line}");
        };
        assert_eq!(reply.status, 403);
        assert_eq!(reply.login_command, reply.hint);
        let rebuilt = reply.into_broker_error();
        assert_eq!(rebuilt.to_string(), original.to_string());
        assert!(rebuilt.is(ErrorKind::LoginRequired));
        assert_eq!(rebuilt.hint(), Some("credbroker login --sso-session corp"));
        assert_eq!(rebuilt.message(), "not signed in to SSO session 'corp'");
    }

    #[test]
    fn every_kind_survives_the_round_trip_with_and_without_a_hint_or_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("IAM Identity Center is unavailable: connection refused")]
        struct Portal(#[source] std::io::Error);
        for kind in ErrorKind::ALL {
            for (hint, cause) in [
                (None, false),
                (Some("credbroker login --sso-session corp"), false),
                (None, true),
                (Some("credbroker login --sso-session corp"), true),
            ] {
                let mut original = BrokerError::new(kind, "no profile named 'dev' (in /u/config)");
                if let Some(hint) = hint {
                    original = original.with_hint(hint);
                }
                if cause {
                    let io = std::io::Error::other("tcp connect error");
                    original = original.with_source(Portal(io));
                }
                let line = ErrorReply::from_broker(&original).to_line();
                let CredentialsReply::Error(reply) = parse_credentials_reply(&line).unwrap() else {
                    panic!("expected an error reply: {line}");
                };
                assert_eq!(reply.code, kind.code());
                assert_eq!(reply.status, kind.status());
                let rebuilt = reply.into_broker_error();
                assert_eq!(rebuilt.kind(), kind, "{line}");
                assert_eq!(rebuilt.message(), original.message(), "{line}");
                assert_eq!(rebuilt.hint(), hint, "{line}");
                assert_eq!(rebuilt.to_string(), original.to_string(), "{line}");
                // The causes come across as shown, and so does the one line
                // an older client (and the endpoint) shows.
                assert_eq!(rebuilt.causes(), original.causes(), "{line}");
                assert_eq!(rebuilt.causes().len(), usize::from(cause) * 2, "{line}");
                assert_eq!(rebuilt.summary(), original.summary(), "{line}");
                assert_eq!(reply_message(&line), original.summary(), "{line}");
                assert_eq!(
                    crate::source::cli_failure(&anyhow::Error::new(rebuilt)),
                    crate::source::cli_failure(&anyhow::Error::new(original)),
                );
            }
        }
    }

    fn reply_message(line: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["error"]["message"].as_str().unwrap().to_string()
    }

    #[test]
    fn a_reply_from_an_older_daemon_still_decodes() {
        // Before `reason`: the command only, and the message with it.
        let line = r#"{"error":{"code":"LoginRequired","message":"expired; run `credbroker login --sso-session corp`","status":403,"login_command":"credbroker login --sso-session corp"}}"#;
        let CredentialsReply::Error(reply) = parse_credentials_reply(line).unwrap() else {
            panic!("expected an error reply");
        };
        let rebuilt = reply.into_broker_error();
        assert!(rebuilt.is(ErrorKind::LoginRequired));
        assert_eq!(rebuilt.message(), "expired");
        assert_eq!(rebuilt.hint(), Some("credbroker login --sso-session corp"));
        // Before `hint`: `reason` and `login_command`.
        let line = r#"{"error":{"code":"LoginRequired","message":"expired; run `x`","status":403,"login_command":"x","reason":"expired"}}"#;
        let CredentialsReply::Error(reply) = parse_credentials_reply(line).unwrap() else {
            panic!("expected an error reply");
        };
        let rebuilt = reply.into_broker_error();
        assert_eq!((rebuilt.message(), rebuilt.hint()), ("expired", Some("x")));
        // Before `causes`: the cause's text in the message, no source.
        let line = r#"{"error":{"code":"UpstreamUnavailable","message":"IAM Identity Center is unavailable: timed out","status":503}}"#;
        let CredentialsReply::Error(reply) = parse_credentials_reply(line).unwrap() else {
            panic!("expected an error reply");
        };
        let rebuilt = reply.into_broker_error();
        assert!(rebuilt.is(ErrorKind::Upstream));
        assert_eq!(
            rebuilt.message(),
            "IAM Identity Center is unavailable: timed out"
        );
        assert!(std::error::Error::source(&rebuilt).is_none());
        assert!(rebuilt.causes().is_empty());
        // The socket's own request errors, and codes it does not know.
        for (code, kind) in [
            ("InvalidProfileName", ErrorKind::NotBrokered),
            ("BadRequest", ErrorKind::Config),
            ("SomethingNew", ErrorKind::Upstream),
        ] {
            let rebuilt = ErrorReply::new(code, "nope", 400).into_broker_error();
            assert_eq!(
                (rebuilt.kind(), rebuilt.to_string().as_str()),
                (kind, "nope")
            );
        }
    }

    #[test]
    fn logout_reply_round_trips() {
        let reply = LogoutReply { dropped_roles: 3 };
        assert_eq!(parse_logout_reply(&reply.to_line()), Ok(Ok(reply)));
        let error = ErrorReply::new("BadRequest", "nope", 400);
        assert_eq!(parse_logout_reply(&error.to_line()), Ok(Err(error)));
    }

    #[test]
    fn status_reply_round_trips_and_errors_are_told_apart() {
        let status = DaemonStatus {
            pid: 7,
            endpoint: "http://127.0.0.1:9911".into(),
            config_path: "/home/u/.aws/config".into(),
            config_error: Some("bad".into()),
            last_upstream_error: None,
            roles: vec![],
            needs_login: vec![],
        };
        assert_eq!(
            parse_status_reply(status.to_line().trim_end()),
            Ok(Ok(status))
        );
        let error = ErrorReply::new("BadRequest", "nope", 400);
        assert_eq!(
            parse_status_reply(error.to_line().trim_end()),
            Ok(Err(error))
        );
        assert!(parse_status_reply("{}").is_err());
    }
}
