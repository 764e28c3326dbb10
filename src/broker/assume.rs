//! One AssumeRole hop of a role chain: STS `AssumeRole` through
//! `aws-sdk-sts`, signed with the credentials of the hop's source.
//!
//! The STS client comes from the context's [`SdkClients`]: built once per
//! region and endpoint (`AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` of the
//! context's environment, so the emulator or a VPC endpoint is used with no
//! special path) and reused for every call; only the signing credentials,
//! given per request, differ from one call to the next.
//!
//! A refusal (AccessDenied, for example a wrong `external_id`; a
//! ValidationError such as a chained session over STS's one-hour cap) is
//! final and shown with STS's own code and message; throttling, 5xx and
//! network trouble are transient. No message carries a secret: STS's
//! messages name the role and the caller's ARN, never a key.

use super::BrokerError;
use crate::config::AssumeRoleHop;
use crate::model::{RoleCredentials, Secret};
use crate::sdk::SdkClients;
use chrono::{DateTime, Utc};
use std::path::Path;

/// STS's cap on a session assumed with role-chained credentials.
const CHAINED_SESSION_CAP: i32 = 3600;

/// Assume `hop`'s role with `source`'s credentials.
pub(crate) async fn assume_role(
    clients: &SdkClients,
    hop: &AssumeRoleHop,
    source: &RoleCredentials,
    config_path: &Path,
    now: DateTime<Utc>,
) -> Result<RoleCredentials, BrokerError> {
    let region = hop.region.as_deref().unwrap_or("us-east-1");
    let client = clients.sts(region);
    let signing = aws_credential_types::Credentials::new(
        source.access_key_id.clone(),
        source.secret_access_key.expose().to_owned(),
        Some(source.session_token.expose().to_owned()),
        Some(source.expiration.into()),
        "credbroker-source",
    );
    let out = client
        .assume_role()
        .role_arn(&hop.role_arn)
        .role_session_name(&hop.session_name)
        .set_external_id(hop.external_id.clone())
        .set_duration_seconds(hop.duration_seconds)
        .customize()
        .config_override(aws_sdk_sts::Config::builder().credentials_provider(signing))
        .send()
        .await
        .map_err(|e| {
            refusal(hop, config_path, crate::sso::classify(&e).at(client.url()))
                .with_cause(crate::sso::sdk_cause(e))
        })?;
    let creds = out
        .credentials()
        .ok_or_else(|| BrokerError::upstream("AssumeRole returned no credentials"))?;
    crate::model::refuse_empty_keys(
        "AssumeRole",
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token(),
    )
    .map_err(BrokerError::upstream)?;
    let expiration = DateTime::from_timestamp(creds.expiration().secs(), 0)
        .ok_or_else(|| BrokerError::upstream("AssumeRole returned an impossible expiration"))?;
    tracing::info!(profile = %hop.profile, role = %hop.role_arn, expires = %expiration, "assumed role");
    Ok(RoleCredentials {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: Secret::new(creds.secret_access_key()),
        session_token: Secret::new(creds.session_token()),
        expiration,
        account_id: account_of(&hop.role_arn),
        issued_at: Some(now),
    })
}

/// The account of a role ARN (`arn:aws:iam::ACCOUNT:role/NAME`).
pub(crate) fn account_of(role_arn: &str) -> Option<String> {
    role_arn
        .split(':')
        .nth(4)
        .filter(|a| a.len() == 12)
        .map(String::from)
}

/// The role name of a role ARN (its last path part).
pub(crate) fn role_name_of(role_arn: &str) -> Option<String> {
    role_arn
        .split_once(":role/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path).to_string())
}

fn refusal(
    hop: &AssumeRoleHop,
    config_path: &Path,
    failure: crate::sso::CallFailure,
) -> BrokerError {
    use crate::sso::FailureKind;
    let transient = failure.kind == FailureKind::Transient
        || failure.status.is_some_and(|s| s >= 500 || s == 429)
        || matches!(
            failure.code.as_deref(),
            Some(
                "throttling"
                    | "throttled"
                    | "requestlimitexceeded"
                    | "internalfailure"
                    | "serviceunavailable"
                    | "expiredtoken"
            )
        );
    let mut message = format!(
        "STS refused AssumeRole into {} for profile '{}' (in {}): {}",
        hop.role_arn,
        hop.profile,
        config_path.display(),
        failure.detail
    );
    if transient {
        return BrokerError::upstream(message);
    }
    match failure.code.as_deref() {
        Some("validationerror")
            if hop
                .duration_seconds
                .is_some_and(|d| d > CHAINED_SESSION_CAP) =>
        {
            message.push_str(&format!(
                "; STS allows a role-chained session {CHAINED_SESSION_CAP} seconds at most: lower duration_seconds in [profile {}]",
                hop.profile
            ));
        }
        Some("accessdenied") => {
            message.push_str(&format!(
                "; check the role's trust policy, and external_id in [profile {}] if the role asks for one",
                hop.profile
            ));
        }
        _ => {}
    }
    BrokerError::config(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::ErrorKind;

    #[test]
    fn arns_split_into_account_and_role() {
        let arn = "arn:aws:iam::222222222222:role/team/Deploy";
        assert_eq!(account_of(arn).as_deref(), Some("222222222222"));
        assert_eq!(role_name_of(arn).as_deref(), Some("Deploy"));
        assert_eq!(account_of("arn:foo"), None);
    }

    #[test]
    fn refusals_are_final_and_outages_transient() {
        let hop = AssumeRoleHop {
            profile: "deploy".into(),
            role_arn: "arn:aws:iam::222222222222:role/Deploy".into(),
            external_id: Some("wrong".into()),
            session_name: "s".into(),
            duration_seconds: Some(7200),
            region: None,
        };
        let failure = |code: &str, status| crate::sso::CallFailure {
            kind: crate::sso::FailureKind::Service,
            code: Some(code.into()),
            status: Some(status),
            detail: format!("{code}: because"),
            source: None,
        };
        let path = Path::new("/cfg");
        let e = refusal(&hop, path, failure("accessdenied", 403));
        assert!(e.is(ErrorKind::Config), "{e}");
        assert!(e.to_string().contains("external_id"), "{e}");
        assert!(e.to_string().contains("/cfg"), "{e}");
        let e = refusal(&hop, path, failure("validationerror", 400));
        assert!(e.to_string().contains("3600 seconds"), "{e}");
        for (code, status) in [("throttling", 400), ("internalfailure", 500), ("x", 503)] {
            let e = refusal(&hop, path, failure(code, status));
            assert!(e.is(ErrorKind::Upstream), "{code}: {e}");
        }
    }

    /// An STS that answers 200 with a body cut off inside `<Credentials>`:
    /// the SDK fills the missing required fields with empty strings and
    /// calls it a success.
    async fn cut_off_sts() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 16384];
                let _ = socket.read(&mut request).await;
                let body =
                    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
                            <AssumeRoleResult><Credentials><AccessKeyId>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn empty_keys_from_a_cut_off_answer_are_a_transient_error() {
        let url = cut_off_sts().await;
        let clients = SdkClients::new(crate::env::Env::from_pairs([("AWS_ENDPOINT_URL", url)]));
        let hop = AssumeRoleHop {
            profile: "deploy".into(),
            role_arn: "arn:aws:iam::222222222222:role/Deploy".into(),
            external_id: None,
            session_name: "s".into(),
            duration_seconds: None,
            region: Some("us-east-1".into()),
        };
        let now = Utc::now();
        let source = RoleCredentials {
            access_key_id: "ASIASOURCE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("token"),
            expiration: now + chrono::Duration::hours(1),
            account_id: None,
            issued_at: Some(now),
        };
        let e = assume_role(&clients, &hop, &source, Path::new("/cfg"), now)
            .await
            .unwrap_err();
        assert!(e.is(ErrorKind::Upstream), "{e}");
        assert!(
            e.to_string()
                .starts_with("AssumeRole answered with an empty"),
            "{e}"
        );
    }
}
