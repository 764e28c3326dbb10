//! STS `AssumeRole`: a role session trades its credentials for a session of
//! another role, when that role's trust policy names it.
//!
//! The caller has already passed [`super::sts::authenticate`] (a SigV4
//! signature made with a secret the emulator issued, not expired). Then, in
//! order:
//!
//! 1. the parameters, with the API model's constraints (`ValidationError`):
//!    `RoleArn`, `RoleSessionName` (2-64 of `[\w+=,.@-]`), `ExternalId`
//!    (2-1224 of `[\w+=,.@:/-]`), `DurationSeconds` (900-43200), `Policy`
//!    (JSON, else `MalformedPolicyDocument`; accepted and not enforced);
//! 2. the role's trust policy, judged by
//!    [`credbroker_policy::evaluate::evaluate_assume_role`]: a statement allowing
//!    `sts:AssumeRole` whose `Principal.AWS` names the caller's session ARN,
//!    its role ARN (every session of a role matches the role), its account's
//!    root ARN or the bare account id, with conditions on the request context
//!    below. A refusal, or a role the emulator does not know, is
//!    `AccessDenied` with STS's sentence: "User: SESSION-ARN is not authorized
//!    to perform: sts:AssumeRole on resource: ROLE-ARN" (the deciding
//!    statement is logged, not sent, as STS does not say why);
//! 3. the role-chaining cap: every credential the emulator issues belongs
//!    to a role session (SSO, web identity, or an earlier AssumeRole), so
//!    every AssumeRole is role chaining, and STS refuses a `DurationSeconds`
//!    over one hour for it (`ValidationError`).
//!
//! The context keys a trust policy can test: `aws:PrincipalArn` (the
//! caller's role ARN, as IAM gives it for role sessions),
//! `aws:PrincipalAccount`, `aws:PrincipalType` (`AssumedRole`), `aws:userid`
//! (`ROLEID:SESSION`), `sts:RoleSessionName`, and `sts:ExternalId` when sent.
//!
//! The new session's lifetime is `DurationSeconds`, capped by the emulator's
//! credentials TTL so tests see renewals quickly. Pure: the caller records
//! the credentials it gets back.

use super::portal::IssuedCredentials;
use super::roles::{parse_role_arn, Roles};
use super::sts::{self, escape, Assumed, StsError, NAMESPACE};
use chrono::{DateTime, Utc};
use credbroker_policy::evaluate::evaluate_assume_role;
use credbroker_policy::{Claims, ASSUME_ROLE};

/// STS's cap on a chained role session, in seconds.
pub const CHAINED_SESSION_LIMIT: i64 = 3600;

/// The caller's role ARN: `arn:aws:iam::ACCOUNT:role/ROLE`.
pub fn caller_role_arn(caller: &IssuedCredentials) -> String {
    format!(
        "arn:aws:iam::{}:role/{}",
        caller.account_id, caller.role_name
    )
}

/// The names `Principal.AWS` may give `caller`: its session, its role, its
/// account's root, its account id.
pub fn principal_names(caller: &IssuedCredentials) -> [String; 4] {
    [
        sts::session_arn(caller),
        caller_role_arn(caller),
        format!("arn:aws:iam::{}:root", caller.account_id),
        caller.account_id.clone(),
    ]
}

/// The request context a trust policy's conditions see.
pub fn context(
    caller: &IssuedCredentials,
    session_name: &str,
    external_id: Option<&str>,
) -> Claims {
    let mut context = Claims::for_provider("")
        .with("aws:PrincipalArn", &[&caller_role_arn(caller)])
        .with("aws:PrincipalAccount", &[&caller.account_id])
        .with("aws:PrincipalType", &["AssumedRole"])
        .with("aws:userid", &[&sts::user_id(caller)])
        .with("sts:RoleSessionName", &[session_name]);
    if let Some(id) = external_id {
        context = context.with("sts:ExternalId", &[id]);
    }
    context
}

/// Handle `Action=AssumeRole` for an authenticated `caller`.
pub fn assume_role(
    params: &[(String, String)],
    caller: &IssuedCredentials,
    roles: &Roles,
    now: DateTime<Utc>,
    max_ttl: chrono::Duration,
    request_id: &str,
) -> Result<Assumed, StsError> {
    let role_arn = sts::checked(
        sts::required(params, "RoleArn")?,
        "RoleArn",
        (20, 2048),
        ":/+=,.@-",
    )?;
    let session_name = sts::role_session_name(params)?;
    let external_id = sts::param(params, "ExternalId")
        .map(|id| sts::checked(id, "ExternalId", (2, 1224), "+=,.@:/-"))
        .transpose()?;
    let duration = sts::duration_seconds(params)?;
    let packed_policy = sts::param(params, "Policy")
        .map(packed_policy_size)
        .transpose()?;

    let denied = || {
        StsError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: {ASSUME_ROLE} on resource: {role_arn}",
                sts::session_arn(caller)
            ),
        )
    };
    let (Some(policy), Some((account_id, role_name))) =
        (roles.get(role_arn), parse_role_arn(role_arn))
    else {
        tracing::info!(
            role_arn,
            "AssumeRole refused: the emulator knows no such role"
        );
        return Err(denied());
    };
    let names = principal_names(caller);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let decision =
        evaluate_assume_role(policy, &names, &context(caller, session_name, external_id));
    if !decision.admitted {
        tracing::info!(role_arn, reason = %decision.reason, "AssumeRole refused by the trust policy");
        return Err(denied());
    }
    if duration > CHAINED_SESSION_LIMIT {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }

    let lifetime = chrono::Duration::seconds(duration).min(max_ttl);
    let (access_key_id, issued) =
        sts::mint_session(account_id, role_name, session_name, now + lifetime);
    let packed = packed_policy
        .map(|p| format!("\n    <PackedPolicySize>{p}</PackedPolicySize>"))
        .unwrap_or_default();
    let xml = format!(
        "<AssumeRoleResponse xmlns=\"{NAMESPACE}\">\n  <AssumeRoleResult>\n    {}{packed}\n  \
         </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  \
         </ResponseMetadata>\n</AssumeRoleResponse>\n",
        sts::session_xml(&access_key_id, &issued),
        escape(request_id),
    );
    Ok(Assumed {
        xml,
        access_key_id,
        issued,
    })
}

/// A session policy is accepted (not enforced) when it is JSON; its
/// `PackedPolicySize` is a percentage of the 2,048-character limit.
fn packed_policy_size(policy: &str) -> Result<usize, StsError> {
    if serde_json::from_str::<serde_json::Value>(policy).is_err() {
        return Err(StsError::new(
            400,
            "MalformedPolicyDocument",
            "Syntax errors in policy.",
        ));
    }
    let percent = (policy.len() * 100).div_ceil(2048);
    if percent > 100 {
        return Err(StsError::new(
            400,
            "PackedPolicyTooLarge",
            format!("Packed size of consumed session policies exceeds the limit: {percent}%"),
        ));
    }
    Ok(percent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::{DEPLOY_EXTERNAL_ID, DEPLOY_ROLE_ARN};

    fn caller(account: &str, role: &str) -> IssuedCredentials {
        sts::mint_session(
            account,
            role,
            "dev@example.com",
            DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
        )
        .1
    }

    fn call(caller: &IssuedCredentials, extra: &[(&str, &str)]) -> Result<Assumed, StsError> {
        call_with(caller, &Roles::default(), extra)
    }

    fn call_with(
        caller: &IssuedCredentials,
        roles: &Roles,
        extra: &[(&str, &str)],
    ) -> Result<Assumed, StsError> {
        let mut params: Vec<(String, String)> = [
            ("Action", "AssumeRole"),
            ("RoleArn", DEPLOY_ROLE_ARN),
            ("RoleSessionName", "deploy-run"),
            ("ExternalId", DEPLOY_EXTERNAL_ID),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            params.retain(|(n, _)| n != k);
            if !v.is_empty() {
                params.push((k.to_string(), v.to_string()));
            }
        }
        assume_role(
            &params,
            caller,
            roles,
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            chrono::Duration::seconds(600),
            "rid",
        )
    }

    fn code(r: Result<Assumed, StsError>) -> (u16, String) {
        let e = r.unwrap_err();
        (e.status, e.code)
    }

    #[test]
    fn admin_with_the_external_id_becomes_deploy() {
        let admin = caller("111111111111", "Admin");
        let ok = call(&admin, &[]).unwrap();
        assert_eq!(
            sts::session_arn(&ok.issued),
            "arn:aws:sts::222222222222:assumed-role/Deploy/deploy-run"
        );
        assert!(ok.access_key_id.starts_with("ASIA"));
        assert_eq!(
            ok.issued.expires_at,
            DateTime::from_timestamp(1_900_000_600, 0).unwrap()
        );
        for part in [
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">",
            "<AssumeRoleResult>",
            "<Arn>arn:aws:sts::222222222222:assumed-role/Deploy/deploy-run</Arn>",
            ":deploy-run</AssumedRoleId>",
            &format!("<AccessKeyId>{}</AccessKeyId>", ok.access_key_id),
            "<Expiration>",
            "<RequestId>rid</RequestId>",
        ] {
            assert!(ok.xml.contains(part), "{part} not in {}", ok.xml);
        }
        assert!(!ok.xml.contains("PackedPolicySize"));
        let with_policy = call(
            &admin,
            &[("Policy", r#"{"Version":"2012-10-17","Statement":[]}"#)],
        )
        .unwrap();
        assert!(
            with_policy
                .xml
                .contains("<PackedPolicySize>2</PackedPolicySize>"),
            "{}",
            with_policy.xml
        );
    }

    #[test]
    fn refusals_use_stss_access_denied_sentence() {
        let admin = caller("111111111111", "Admin");
        let wrong = call(&admin, &[("ExternalId", "not-it")]).unwrap_err();
        assert_eq!((wrong.status, wrong.code.as_str()), (403, "AccessDenied"));
        assert_eq!(
            wrong.message,
            "User: arn:aws:sts::111111111111:assumed-role/Admin/dev@example.com is not authorized \
             to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Deploy"
        );
        assert_eq!(code(call(&admin, &[("ExternalId", "")])).1, "AccessDenied");
        let read_only = caller("111111111111", "ReadOnly");
        assert_eq!(code(call(&read_only, &[])).1, "AccessDenied");
        let elsewhere = caller("333333333333", "Admin");
        assert_eq!(code(call(&elsewhere, &[])).1, "AccessDenied");
        let unknown = call(
            &admin,
            &[("RoleArn", "arn:aws:iam::222222222222:role/Nope")],
        )
        .unwrap_err();
        assert!(unknown
            .message
            .ends_with("on resource: arn:aws:iam::222222222222:role/Nope"));
    }

    #[test]
    fn chained_sessions_are_capped_at_one_hour() {
        let admin = caller("111111111111", "Admin");
        let err = call(&admin, &[("DurationSeconds", "3601")]).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "ValidationError"));
        assert_eq!(
            err.message,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        );
        assert!(call(&admin, &[("DurationSeconds", "3600")]).is_ok());
        // The model's range comes first, and the trust policy before the cap.
        let short = call(&admin, &[("DurationSeconds", "899")]).unwrap_err();
        assert!(
            short.message.contains("greater than or equal to 900"),
            "{}",
            short.message
        );
        let denied = call(&admin, &[("DurationSeconds", "7200"), ("ExternalId", "no")]);
        assert_eq!(code(denied).1, "AccessDenied");
    }

    #[test]
    fn parameters_are_checked_like_the_api_model() {
        let admin = caller("111111111111", "Admin");
        for (name, value, want) in [
            ("RoleSessionName", "", "Value null at 'roleSessionName'"),
            ("RoleSessionName", "x", "length greater than or equal to 2"),
            ("RoleSessionName", "a b", "regular expression pattern"),
            ("RoleArn", "", "Value null at 'roleArn'"),
            ("ExternalId", "x", "'externalId'"),
            ("DurationSeconds", "lots", "DurationSeconds"),
        ] {
            let err = call(&admin, &[(name, value)]).unwrap_err();
            assert_eq!(err.code, "ValidationError", "{name}={value}");
            assert!(
                err.message.contains(want),
                "{name}={value}: {}",
                err.message
            );
        }
        assert_eq!(
            code(call(&admin, &[("Policy", "{nope")])).1,
            "MalformedPolicyDocument"
        );
    }

    fn roles(statements: &str) -> Roles {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roles.json");
        let text = format!(r#"{{"{DEPLOY_ROLE_ARN}": {{"Statement": [{statements}]}}}}"#);
        std::fs::write(&path, text).unwrap();
        Roles::load(&path).unwrap()
    }

    /// Principal.AWS forms and the context keys, through the policy engine.
    #[test]
    fn principals_and_context_keys() {
        let admin = caller("111111111111", "Admin");
        let admitted = |principal: &str, condition: &str| {
            let statement = format!(
                r#"{{"Effect": "Allow", "Principal": {{"AWS": {principal}}},
                "Action": "sts:AssumeRole", "Condition": {condition}}}"#
            );
            call_with(&admin, &roles(&statement), &[]).is_ok()
        };
        assert!(admitted(r#""arn:aws:iam::111111111111:role/Admin""#, "{}"));
        assert!(admitted(r#""arn:aws:iam::111111111111:root""#, "{}"));
        assert!(admitted(r#""111111111111""#, "{}"));
        assert!(admitted(r#""*""#, "{}"));
        assert!(admitted(
            r#"["arn:aws:iam::999999999999:root",
                "arn:aws:sts::111111111111:assumed-role/Admin/dev@example.com"]"#,
            "{}"
        ));
        assert!(!admitted(
            r#""arn:aws:iam::111111111111:role/ReadOnly""#,
            "{}"
        ));
        assert!(!admitted(r#""arn:aws:iam::222222222222:root""#, "{}"));
        let anyone = r#""*""#;
        for (condition, want) in [
            (
                r#"{"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Admin"}}"#,
                true,
            ),
            (
                r#"{"StringEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Other"}}"#,
                false,
            ),
            (
                r#"{"StringLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/*"}}"#,
                true,
            ),
            (
                r#"{"StringEquals": {"aws:PrincipalAccount": "111111111111", "sts:RoleSessionName": "deploy-run"}}"#,
                true,
            ),
            (
                r#"{"StringEquals": {"aws:PrincipalType": "AssumedRole"}}"#,
                true,
            ),
            (
                r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}}"#,
                true,
            ),
            (
                r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/Admin"}}"#,
                true,
            ),
            (
                r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Adm?n"}}"#,
                true,
            ),
            (
                r#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}"#,
                false,
            ),
            (
                r#"{"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin"}}"#,
                false,
            ),
            (
                r#"{"StringLike": {"aws:userid": "AROA*:dev@example.com"}}"#,
                true,
            ),
            (
                r#"{"StringEquals": {"sts:ExternalId": "credbroker-demo"}}"#,
                true,
            ),
            (r#"{"Null": {"sts:ExternalId": "true"}}"#, false),
        ] {
            assert_eq!(admitted(anyone, condition), want, "{condition}");
        }
        // A web-identity statement never admits AssumeRole.
        let web = r#"{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/x"}}"#;
        assert!(call_with(&admin, &roles(web), &[]).is_err());
        // Deny wins over Allow.
        let both = roles(
            r#"{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:*"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:RoleSessionName": "deploy-run"}}}"#,
        );
        assert!(call_with(&admin, &both, &[]).is_err());
        assert!(call_with(&admin, &both, &[("RoleSessionName", "other")]).is_ok());
    }
}
