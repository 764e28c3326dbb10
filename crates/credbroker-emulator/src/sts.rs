//! STS over the awsQuery protocol: `POST /` with a form body naming the
//! `Action`, answered in XML in the `2011-06-15` namespace.
//!
//! `GetCallerIdentity` is how a tool (and a test) proves that the role
//! credentials the portal served really work: the request must carry a
//! valid SigV4 signature made with a secret the emulator issued, the
//! matching session token, and the credentials must not have expired. The
//! answer names the assumed role: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/USER`.
//!
//! Order of checks in [`authenticate`], as STS reports them: no
//! `Authorization` -> `MissingAuthenticationToken`; unknown access key id or
//! wrong session token -> `InvalidClientTokenId`; bad signature ->
//! `SignatureDoesNotMatch`; expired -> `ExpiredToken`. `AssumeRole` (signed,
//! the same checks first) is decided in [`super::assume_role`];
//! `AssumeRoleWithWebIdentity` (unsigned) in [`super::web_identity`]; any
//! other action is `InvalidAction`.
//!
//! This module also holds what the two `AssumeRole*` calls share: parameter
//! validation with STS's `ValidationError` wording, minting a role session,
//! and the `AssumedRoleUser` and `Credentials` XML.
//!
//! Pure: request parts and the portal's record in, XML out.

use super::mint;
use super::portal::{IssuedCredentials, Portal};
use super::sigv4::{self, SigV4Error, SignedRequest};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const VERSION: &str = "2011-06-15";

/// An STS error: `ErrorResponse/Error/{Type,Code,Message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl StsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        StsError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// STS's `ValidationError` (400).
    pub fn validation(message: impl Into<String>) -> Self {
        StsError::new(400, "ValidationError", message)
    }

    pub fn xml(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
             <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            escape(&self.code),
            escape(&self.message),
            escape(request_id)
        )
    }
}

/// The operations the emulator's STS knows, by `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    GetCallerIdentity,
    AssumeRole,
    AssumeRoleWithWebIdentity,
}

impl Action {
    pub const ALL: [Action; 3] = [
        Action::GetCallerIdentity,
        Action::AssumeRole,
        Action::AssumeRoleWithWebIdentity,
    ];

    /// The `Action` value, which is also the operation's name in
    /// `/_emulator/stats` and `/_emulator/faults`.
    pub fn name(self) -> &'static str {
        match self {
            Action::GetCallerIdentity => "GetCallerIdentity",
            Action::AssumeRole => "AssumeRole",
            Action::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The `Action` parameter, or `InvalidAction` / `MissingAction`.
pub fn action(params: &[(String, String)]) -> Result<Action, StsError> {
    let action = param(params, "Action")
        .ok_or_else(|| StsError::new(400, "MissingAction", "Missing Action"))?;
    let version = param(params, "Version").unwrap_or(VERSION);
    let unknown = || {
        StsError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        )
    };
    if version != VERSION {
        return Err(unknown());
    }
    Action::from_name(action).ok_or_else(unknown)
}

/// Check a signed request and return the credentials it was signed with.
pub fn authenticate<'p>(
    req: &SignedRequest<'_>,
    portal: &'p Portal,
    now: DateTime<Utc>,
) -> Result<&'p IssuedCredentials, StsError> {
    let header = req.header("authorization").ok_or_else(|| {
        StsError::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        )
    })?;
    let auth = sigv4::parse_authorization(header)
        .map_err(|e| StsError::new(400, "IncompleteSignature", e.to_string()))?;
    let invalid_token = || {
        StsError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    };
    let issued = portal
        .credentials(&auth.access_key_id)
        .ok_or_else(invalid_token)?;
    match sigv4::verify(req, &auth, &issued.secret_access_key) {
        Ok(()) => {}
        Err(SigV4Error::Mismatch) => {
            return Err(StsError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. \
                 Consult the service documentation for details.",
            ))
        }
        Err(SigV4Error::Malformed(m)) => return Err(StsError::new(400, "IncompleteSignature", m)),
    }
    let token = req.header("x-amz-security-token").unwrap_or_default();
    if !sigv4::constant_time_eq(token.as_bytes(), issued.session_token.as_bytes()) {
        return Err(invalid_token());
    }
    if now >= issued.expires_at {
        return Err(StsError::new(
            400,
            "ExpiredToken",
            "The security token included in the request is expired",
        ));
    }
    Ok(issued)
}

/// Verify the signed request and name the caller.
pub fn get_caller_identity(
    req: &SignedRequest<'_>,
    portal: &Portal,
    now: DateTime<Utc>,
    request_id: &str,
) -> Result<String, StsError> {
    let issued = authenticate(req, portal, now)?;
    Ok(format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">\n  <GetCallerIdentityResult>\n    \
         <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  \
         </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  \
         </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        escape(&session_arn(issued)),
        escape(&user_id(issued)),
        escape(&issued.account_id),
        escape(request_id)
    ))
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`: who a role session is.
pub fn session_arn(issued: &IssuedCredentials) -> String {
    format!(
        "arn:aws:sts::{}:assumed-role/{}/{}",
        issued.account_id, issued.role_name, issued.user
    )
}

/// `AROA...:SESSION`: the session's `UserId` / `AssumedRoleId`.
pub fn user_id(issued: &IssuedCredentials) -> String {
    format!(
        "{}:{}",
        role_id(&issued.account_id, &issued.role_name),
        issued.user
    )
}

/// What a successful `AssumeRole*` call issued: its answer, and the
/// credentials to record so later calls signed with them verify.
#[derive(Debug)]
pub struct Assumed {
    pub xml: String,
    pub access_key_id: String,
    pub issued: IssuedCredentials,
}

/// New credentials for a session `session` of `role_name` in `account_id`.
pub fn mint_session(
    account_id: &str,
    role_name: &str,
    session: &str,
    expires_at: DateTime<Utc>,
) -> (String, IssuedCredentials) {
    let issued = IssuedCredentials {
        secret_access_key: mint::secret_access_key(),
        session_token: mint::token("IQoJb3JpZ2luX2VjEWI", 300),
        account_id: account_id.to_string(),
        role_name: role_name.to_string(),
        user: session.to_string(),
        expires_at,
    };
    (mint::access_key_id(), issued)
}

/// The `<AssumedRoleUser>` and `<Credentials>` elements of an `AssumeRole*` result.
pub fn session_xml(access_key_id: &str, issued: &IssuedCredentials) -> String {
    format!(
        "<AssumedRoleUser>\n      <Arn>{}</Arn>\n      <AssumedRoleId>{}</AssumedRoleId>\n    \
         </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      \
         <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      \
         <Expiration>{}</Expiration>\n    </Credentials>",
        escape(&session_arn(issued)),
        escape(&user_id(issued)),
        escape(access_key_id),
        escape(&issued.secret_access_key),
        escape(&issued.session_token),
        credbroker_clock::format_time(issued.expires_at),
    )
}

/// One request parameter (query string and form body together).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A parameter that must be there, or STS's "Value null" `ValidationError`.
pub fn required<'a>(params: &'a [(String, String)], name: &str) -> Result<&'a str, StsError> {
    param(params, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            StsError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: \
             Member must not be null",
                lower_first(name)
            ))
        })
}

/// STS's wording for a value that breaks a constraint of the API model.
fn constraint(value: &str, name: &str, rule: &str) -> StsError {
    StsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: \
         Member must {rule}",
        lower_first(name)
    ))
}

/// A string parameter of `min..=max` characters from `[\w` + `extra` `]`
/// (the API model's length and pattern).
pub fn checked<'a>(
    value: &'a str,
    name: &str,
    (min, max): (usize, usize),
    extra: &str,
) -> Result<&'a str, StsError> {
    let len = value.chars().count();
    if len < min {
        return Err(constraint(
            value,
            name,
            &format!("have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(constraint(
            value,
            name,
            &format!("have length less than or equal to {max}"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || extra.contains(c))
    {
        return Err(constraint(
            value,
            name,
            &format!("satisfy regular expression pattern: [\\w{extra}]*"),
        ));
    }
    Ok(value)
}

/// `RoleSessionName`: 2-64 characters of `[\w+=,.@-]`.
pub fn role_session_name(params: &[(String, String)]) -> Result<&str, StsError> {
    checked(
        required(params, "RoleSessionName")?,
        "RoleSessionName",
        (2, 64),
        "+=,.@-",
    )
}

/// `DurationSeconds`: 900-43200, 3600 when absent.
pub fn duration_seconds(params: &[(String, String)]) -> Result<i64, StsError> {
    let Some(text) = param(params, "DurationSeconds") else {
        return Ok(3600);
    };
    match text.parse::<i64>() {
        Ok(d) if d < 900 => Err(constraint(
            text,
            "DurationSeconds",
            "have value greater than or equal to 900",
        )),
        Ok(d) if d > 43200 => Err(constraint(
            text,
            "DurationSeconds",
            "have value less than or equal to 43200",
        )),
        Ok(d) => Ok(d),
        Err(_) => Err(StsError::validation(format!(
            "Value '{text}' for parameter DurationSeconds is invalid: not an integer"
        ))),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// A stable role id (`AROA` + 17 characters) for an account and role name.
pub fn role_id(account_id: &str, role_name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(format!("{account_id}/{role_name}").as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("AROA{tail}")
}

/// Text for an XML element or attribute.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Directory;
    use crate::EmulatorOptions;

    fn params(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes()).into_owned().collect()
    }

    #[test]
    fn actions() {
        assert_eq!(
            action(&params("Action=GetCallerIdentity&Version=2011-06-15")),
            Ok(Action::GetCallerIdentity)
        );
        assert_eq!(
            action(&params(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
            )),
            Ok(Action::AssumeRoleWithWebIdentity)
        );
        assert_eq!(
            action(&params("Action=Nope&Version=2011-06-15"))
                .unwrap_err()
                .code,
            "InvalidAction"
        );
        assert_eq!(
            action(&params("Version=2011-06-15")).unwrap_err().code,
            "MissingAction"
        );
    }

    /// Sign like a client would, with this module's own signer pieces.
    fn signed(akid: &str, secret: &str, token: &str, body: &'static [u8]) -> Vec<(String, String)> {
        let mut headers = vec![
            ("host".to_owned(), "127.0.0.1:1".to_owned()),
            ("x-amz-date".to_owned(), "20300101T000000Z".to_owned()),
            ("x-amz-security-token".to_owned(), token.to_owned()),
        ];
        let auth = sigv4::Authorization {
            access_key_id: akid.into(),
            date: "20300101".into(),
            region: "us-east-1".into(),
            service: "sts".into(),
            signed_headers: vec![
                "host".into(),
                "x-amz-date".into(),
                "x-amz-security-token".into(),
            ],
            signature: String::new(),
        };
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let sig = sigv4::signature(&req, &auth, secret, "20300101T000000Z").unwrap();
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={akid}/20300101/us-east-1/sts/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={sig}"
            ),
        ));
        headers
    }

    #[test]
    fn caller_identity_checks_key_signature_token_and_expiry() {
        let mut portal = Portal::default();
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let body = portal
            .get_role_credentials(
                &Directory::default(),
                Some("111111111111"),
                Some("ReadOnly"),
                now,
                &EmulatorOptions::default(),
            )
            .unwrap();
        let c = &body["roleCredentials"];
        let (akid, secret, token) = (
            c["accessKeyId"].as_str().unwrap(),
            c["secretAccessKey"].as_str().unwrap(),
            c["sessionToken"].as_str().unwrap(),
        );
        let payload: &'static [u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
        let call = |headers: &[(String, String)], at| {
            let req = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers,
                body: payload,
            };
            get_caller_identity(&req, &portal, at, "rid")
        };
        let xml = call(&signed(akid, secret, token, payload), now).unwrap();
        assert!(
            xml.contains(
                "<Arn>arn:aws:sts::111111111111:assumed-role/ReadOnly/dev@example.com</Arn>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<Account>111111111111</Account>"));
        assert!(xml.contains(&format!("xmlns=\"{NAMESPACE}\"")));

        let code = |r: Result<String, StsError>| r.unwrap_err().code;
        assert_eq!(
            code(call(&signed("ASIAUNKNOWN", secret, token, payload), now)),
            "InvalidClientTokenId"
        );
        assert_eq!(
            code(call(&signed(akid, "wrong", token, payload), now)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(call(&signed(akid, secret, "other", payload), now)),
            "InvalidClientTokenId"
        );
        let late = now + chrono::Duration::seconds(3601);
        let err = call(&signed(akid, secret, token, payload), late).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "ExpiredToken"));
        assert_eq!(code(call(&[], now)), "MissingAuthenticationToken");
    }

    #[test]
    fn error_xml_shape() {
        let xml = StsError::new(403, "InvalidClientTokenId", "a < b").xml("rid");
        assert!(
            xml.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">")
        );
        assert!(xml.contains("<Type>Sender</Type>"));
        assert!(xml.contains("<Code>InvalidClientTokenId</Code>"));
        assert!(xml.contains("<Message>a &lt; b</Message>"));
        assert!(xml.contains("<RequestId>rid</RequestId>"));
        assert!(role_id("111111111111", "Admin").starts_with("AROA"));
        assert_eq!(role_id("1", "A").len(), 21);
    }
}
