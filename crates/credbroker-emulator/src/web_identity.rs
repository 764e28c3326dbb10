//! STS `AssumeRoleWithWebIdentity` (protocols.md §6): a web identity token
//! traded for role credentials, the way STS decides it.
//!
//! Order of checks: the parameters (`ValidationError`); the token parses as
//! a JWT (`InvalidIdentityToken`); its `iss` is a trusted provider (the
//! caller looks it up: [`super::issuers::trusted_provider`]) and its
//! RS256 signature verifies against that provider's keys
//! (`InvalidIdentityToken`); `exp` has not passed (`ExpiredTokenException`)
//! and `nbf` has (`InvalidIdentityToken`); `aud` is one of the provider's
//! client ids (`InvalidIdentityToken`); the token names a subject
//! (`IDPRejectedClaim`, 403); and the role's trust policy admits the claims,
//! judged by [`credbroker_policy::evaluate`] (`AccessDenied`, 403, as STS says
//! "Not authorized to perform sts:AssumeRoleWithWebIdentity"; the emulator
//! adds which statement and condition decided, which real STS does not).
//!
//! Roles come from [`Roles`], the one table AssumeRole reads too. Pure: the
//! caller passes `now` and records the credentials it gets back, so
//! GetCallerIdentity (and AssumeRole) can verify requests signed with them.

use super::github;
use super::roles::{parse_role_arn, Roles};
use super::sts::{self, escape, Assumed, StsError, NAMESPACE};
use chrono::{DateTime, Utc};
use credbroker_policy::claims::provider_of_issuer;
use credbroker_policy::jwt::{Jwks, Jwt, JwtError};
use credbroker_policy::Claims;

pub use super::roles::{DEMO_ROLE_ARN, DEMO_TRUST_POLICY};

/// A provider STS trusts: its issuer, keys and client ids (audiences).
#[derive(Clone, Debug)]
pub struct TrustedProvider {
    pub issuer: String,
    pub jwks: Jwks,
    pub audiences: Vec<String>,
}

impl TrustedProvider {
    /// The emulator's GitHub issuer.
    pub fn github() -> TrustedProvider {
        TrustedProvider {
            issuer: github::ISSUER.to_string(),
            jwks: github::jwks(),
            audiences: vec![github::DEFAULT_AUDIENCE.to_string()],
        }
    }
}

fn invalid(message: impl Into<String>) -> StsError {
    StsError::new(400, "InvalidIdentityToken", message)
}

/// Handle `Action=AssumeRoleWithWebIdentity`. `max_ttl` caps the lifetime
/// (the emulator's credentials TTL), so tests can see renewals quickly.
pub fn assume_role_with_web_identity(
    params: &[(String, String)],
    providers: &dyn Fn(&str) -> Option<TrustedProvider>,
    roles: &Roles,
    now: DateTime<Utc>,
    max_ttl: chrono::Duration,
    request_id: &str,
) -> Result<Assumed, StsError> {
    let role_arn = sts::required(params, "RoleArn")?;
    let session_name = sts::role_session_name(params)?;
    let token = sts::required(params, "WebIdentityToken")?;
    let duration = sts::duration_seconds(params)?;
    let jwt = Jwt::decode(token)
        .map_err(|e| invalid(format!("The ID Token provided is not a valid JWT ({e})")))?;
    let iss = jwt.claim_str("iss").unwrap_or_default();
    let provider = providers(iss).ok_or_else(|| {
        invalid(format!(
            "No OpenIDConnect provider found in your account for {iss}"
        ))
    })?;
    jwt.verify(&provider.jwks).map_err(|e| match e {
        JwtError::UnknownKey(kid) => invalid(format!(
            "Couldn't find the signing key {kid:?} in the provider's JWKS"
        )),
        other => invalid(format!(
            "The token signature could not be verified: {other}"
        )),
    })?;
    jwt.check_time(now, chrono::Duration::zero())
        .map_err(|e| match e {
            JwtError::Expired(exp) => StsError::new(
                400,
                "ExpiredTokenException",
                format!(
            "Token expired: current date/time {} must be before the expiration date/time {}",
            now.timestamp(), exp.timestamp()
        ),
            ),
            other => invalid(other.to_string()),
        })?;
    let audiences = jwt.audiences();
    let audience = audiences
        .iter()
        .find(|a| provider.audiences.contains(a))
        .ok_or_else(|| {
            invalid(format!(
                "Incorrect token audience {:?}; the provider accepts {:?}",
                audiences, provider.audiences
            ))
        })?
        .clone();
    let subject = jwt
        .claim_str("sub")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| StsError::new(403, "IDPRejectedClaim", "The token has no sub claim"))?
        .to_string();
    let denied = |why: String| {
        StsError::new(
            403,
            "AccessDenied",
            format!("Not authorized to perform sts:AssumeRoleWithWebIdentity ({why})"),
        )
    };
    let policy = roles
        .get(role_arn)
        .ok_or_else(|| denied(format!("no role {role_arn}")))?;
    // STS puts only some of an issuer's claims in the request context
    // (protocols.md §15); a condition on another is never met.
    let claims = Claims::from_token(&jwt.claims).in_sts_context();
    let decision = credbroker_policy::evaluate(policy, provider_of_issuer(iss), &claims);
    if !decision.admitted {
        return Err(denied(decision.reason));
    }
    let (account_id, role_name) = parse_role_arn(role_arn)
        .ok_or_else(|| StsError::validation(format!("{role_arn} is not a role ARN")))?;
    let lifetime = chrono::Duration::seconds(duration).min(max_ttl);
    let (access_key_id, issued) =
        sts::mint_session(account_id, role_name, session_name, now + lifetime);
    let xml = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{NAMESPACE}\">\n  \
         <AssumeRoleWithWebIdentityResult>\n    \
         <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    \
         <Audience>{}</Audience>\n    {}\n    <Provider>{}</Provider>\n  \
         </AssumeRoleWithWebIdentityResult>\n  <ResponseMetadata>\n    \
         <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n",
        escape(&subject),
        escape(&audience),
        sts::session_xml(&access_key_id, &issued),
        escape(iss),
        escape(request_id),
    );
    Ok(Assumed {
        xml,
        access_key_id,
        issued,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::GithubIssuer;

    fn token(issuer: &GithubIssuer, job: &str, audience: &str, now: DateTime<Utc>) -> String {
        issuer.set_job(job.as_bytes()).unwrap();
        let env = issuer.job_environment("http://x");
        let auth = format!("Bearer {}", env["request_token"].as_str().unwrap());
        issuer
            .request_token(Some(&auth), Some(audience), now)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn call(token: &str, now: DateTime<Utc>) -> Result<Assumed, StsError> {
        let params: Vec<(String, String)> = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", DEMO_ROLE_ARN),
            ("RoleSessionName", "ci-run"),
            ("WebIdentityToken", token),
            ("DurationSeconds", "900"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assume_role_with_web_identity(
            &params,
            &|iss| (iss == github::ISSUER).then(TrustedProvider::github),
            &Roles::default(),
            now,
            chrono::Duration::seconds(60),
            "rid",
        )
    }

    #[test]
    fn admits_the_pinned_job_and_rejects_each_failure_with_its_code() {
        let issuer = GithubIssuer::default();
        let now = Utc::now();
        let ok = call(&token(&issuer, "{}", "sts.amazonaws.com", now), now).unwrap();
        assert!(ok.xml.contains("<SubjectFromWebIdentityToken>repo:octo-org/octo-repo:ref:refs/heads/main</SubjectFromWebIdentityToken>"), "{}", ok.xml);
        assert!(ok.xml.contains("assumed-role/GitHubDeploy/ci-run</Arn>"));
        assert_eq!(ok.issued.expires_at, now + chrono::Duration::seconds(60));
        assert_eq!(ok.issued.account_id, "111111111111");

        let code = |job: &str, aud: &str| {
            let e = call(&token(&issuer, job, aud, now), now).unwrap_err();
            (e.status, e.code, e.message)
        };
        let (status, c, message) = code(r#"{"repository":"evil/fork"}"#, "sts.amazonaws.com");
        assert_eq!((status, c.as_str()), (403, "AccessDenied"));
        assert!(message.contains("repo:evil/fork"), "{message}");
        assert_eq!(code("{}", "api://other").1, "InvalidIdentityToken");
        let (status, c, _) = code(r#"{"lifetime_secs":-10}"#, "sts.amazonaws.com");
        assert_eq!((status, c.as_str()), (400, "ExpiredTokenException"));
        assert_eq!(
            code(r#"{"forge_signature":true}"#, "sts.amazonaws.com").1,
            "InvalidIdentityToken"
        );
        assert_eq!(
            code(r#"{"not_before_secs":600}"#, "sts.amazonaws.com").1,
            "InvalidIdentityToken"
        );
        assert_eq!(
            code(r#"{"sub":""}"#, "sts.amazonaws.com").1,
            "IDPRejectedClaim"
        );
        assert_eq!(
            call("not-a-jwt", now).unwrap_err().code,
            "InvalidIdentityToken"
        );
    }
}
