//! STS `AssumeRoleWithWebIdentity` (protocols.md §6): a web identity token
//! traded for role credentials, the way STS decides it.
//!
//! Order of checks: the parameters (`ValidationError`); the token parses as
//! a JWT (`InvalidIdentityToken`); its `iss` is a trusted provider and its
//! RS256 signature verifies against that provider's keys
//! (`InvalidIdentityToken`); `exp` has not passed (`ExpiredTokenException`)
//! and `nbf` has (`InvalidIdentityToken`); `aud` is one of the provider's
//! client ids (`InvalidIdentityToken`); the token names a subject
//! (`IDPRejectedClaim`, 403); and the role's trust policy admits the claims,
//! judged by [`crate::policy::evaluate`] (`AccessDenied`, 403, as STS says
//! "Not authorized to perform sts:AssumeRoleWithWebIdentity"; the emulator
//! adds which statement and condition decided, which real STS does not).
//!
//! Roles come from [`WebIdentityRoles`]: a demo role by default, or a JSON
//! file mapping role ARNs to trust policies. Pure: the caller passes `now`
//! and records the credentials it gets back, so GetCallerIdentity can
//! verify requests signed with them.

use super::portal::IssuedCredentials;
use super::sts::{role_id, StsError, NAMESPACE};
use super::{github, mint};
use crate::policy::claims::provider_of_issuer;
use crate::policy::jwt::{Jwks, Jwt, JwtError};
use crate::policy::{Claims, TrustPolicy};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;

/// The role every emulator trusts GitHub jobs with unless told otherwise.
pub const DEMO_ROLE_ARN: &str = "arn:aws:iam::111111111111:role/GitHubDeploy";

/// The demo role's trust policy: the `octo-org/octo-repo` main branch or its
/// `production` environment, audience `sts.amazonaws.com`.
pub const DEMO_TRUST_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "GitHubDeployFromMain",
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [
          "repo:octo-org/octo-repo:ref:refs/heads/main",
          "repo:octo-org/octo-repo:environment:production"
        ]
      }
    }
  }]
}"#;

/// Role ARN -> trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebIdentityRoles {
    pub roles: BTreeMap<String, TrustPolicy>,
}

impl Default for WebIdentityRoles {
    fn default() -> Self {
        let policy = TrustPolicy::parse(DEMO_TRUST_POLICY).expect("the demo trust policy parses");
        WebIdentityRoles {
            roles: BTreeMap::from([(DEMO_ROLE_ARN.to_string(), policy)]),
        }
    }
}

impl WebIdentityRoles {
    /// A JSON object: role ARN -> the trust policy itself, or the path of a
    /// policy file (relative to the mapping file).
    pub fn load(path: &Path) -> anyhow::Result<WebIdentityRoles> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{} is not a JSON object of role ARN -> policy",
                    path.display()
                )
            })?;
        let mut roles = BTreeMap::new();
        for (arn, value) in map {
            let policy_text = match value {
                serde_json::Value::String(file) => {
                    let file = path.parent().unwrap_or(Path::new(".")).join(file);
                    std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?
                }
                inline => inline.to_string(),
            };
            let policy = TrustPolicy::parse(&policy_text).with_context(|| format!("role {arn}"))?;
            roles.insert(arn, policy);
        }
        Ok(WebIdentityRoles { roles })
    }
}

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

/// What a successful call issued: the access key id and its record.
#[derive(Debug)]
pub struct Assumed {
    pub xml: String,
    pub access_key_id: String,
    pub issued: IssuedCredentials,
}

fn invalid(message: impl Into<String>) -> StsError {
    StsError::new(400, "InvalidIdentityToken", message)
}

/// Handle `Action=AssumeRoleWithWebIdentity`. `max_ttl` caps the lifetime
/// (the emulator's credentials TTL), so tests can see renewals quickly.
pub fn assume_role_with_web_identity(
    params: &[(String, String)],
    providers: &[TrustedProvider],
    roles: &WebIdentityRoles,
    now: DateTime<Utc>,
    max_ttl: chrono::Duration,
    request_id: &str,
) -> Result<Assumed, StsError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let required = |k: &str| {
        get(k).filter(|v| !v.is_empty()).ok_or_else(|| {
            StsError::new(400, "ValidationError", format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(k)))
        })
    };
    let role_arn = required("RoleArn")?;
    let session_name = required("RoleSessionName")?;
    let token = required("WebIdentityToken")?;
    if session_name.len() < 2 || session_name.len() > 64 {
        return Err(StsError::new(
            400,
            "ValidationError",
            "RoleSessionName must be 2 to 64 characters",
        ));
    }
    let duration = match get("DurationSeconds") {
        None => 3600,
        Some(d) => match d.parse::<i64>() {
            Ok(d) if (900..=43200).contains(&d) => d,
            _ => return Err(StsError::new(400, "ValidationError",
                format!("1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"))),
        },
    };
    let jwt = Jwt::decode(token)
        .map_err(|e| invalid(format!("The ID Token provided is not a valid JWT ({e})")))?;
    let iss = jwt.claim_str("iss").unwrap_or_default();
    let provider = providers.iter().find(|p| p.issuer == iss).ok_or_else(|| {
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
        .roles
        .get(role_arn)
        .ok_or_else(|| denied(format!("no role {role_arn}")))?;
    let claims = Claims::from_token(&jwt.claims);
    let decision = crate::policy::evaluate(policy, provider_of_issuer(iss), &claims);
    if !decision.admitted {
        return Err(denied(decision.reason));
    }
    let (account_id, role_name) = parse_role_arn(role_arn).ok_or_else(|| {
        StsError::new(
            400,
            "ValidationError",
            format!("{role_arn} is not a role ARN"),
        )
    })?;
    let lifetime = chrono::Duration::seconds(duration).min(max_ttl);
    let access_key_id = mint::access_key_id();
    let issued = IssuedCredentials {
        secret_access_key: mint::secret_access_key(),
        session_token: mint::token("IQoJb3JpZ2luX2VjEWI", 300),
        account_id: account_id.to_string(),
        role_name: role_name.to_string(),
        user: session_name.to_string(),
        expires_at: now + lifetime,
    };
    let xml = format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{NAMESPACE}\">\n  <AssumeRoleWithWebIdentityResult>\n    \
         <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <Audience>{}</Audience>\n    \
         <AssumedRoleUser>\n      <Arn>arn:aws:sts::{account_id}:assumed-role/{}/{}</Arn>\n      \
         <AssumedRoleId>{}:{}</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n      \
         <AccessKeyId>{access_key_id}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      \
         <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n    \
         <Provider>{}</Provider>\n  </AssumeRoleWithWebIdentityResult>\n  <ResponseMetadata>\n    \
         <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n",
        escape(&subject),
        escape(&audience),
        escape(role_name),
        escape(session_name),
        role_id(account_id, role_name),
        escape(session_name),
        escape(&issued.secret_access_key),
        escape(&issued.session_token),
        crate::model::format_time(issued.expires_at),
        escape(iss),
        escape(request_id),
    );
    Ok(Assumed {
        xml,
        access_key_id,
        issued,
    })
}

/// `arn:aws:iam::ACCOUNT:role[/PATH]/NAME` -> (ACCOUNT, NAME).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (account.len() == 12 && !name.is_empty()).then_some((account, name))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::github::GithubIssuer;

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
            &[TrustedProvider::github()],
            &WebIdentityRoles::default(),
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

    #[test]
    fn roles_load_from_files_and_inline_policies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("deploy.json"), DEMO_TRUST_POLICY).unwrap();
        let mapping = dir.path().join("roles.json");
        std::fs::write(
            &mapping,
            format!(
                r#"{{"arn:aws:iam::222222222222:role/Deploy": "deploy.json",
                    "arn:aws:iam::222222222222:role/Inline": {DEMO_TRUST_POLICY}}}"#
            ),
        )
        .unwrap();
        let roles = WebIdentityRoles::load(&mapping).unwrap();
        assert_eq!(roles.roles.len(), 2);
        assert_eq!(
            roles.roles["arn:aws:iam::222222222222:role/Deploy"],
            roles.roles["arn:aws:iam::222222222222:role/Inline"]
        );
        std::fs::write(&mapping, r#"{"arn:aws:iam::2:role/X": "missing.json"}"#).unwrap();
        assert!(WebIdentityRoles::load(&mapping).is_err());
    }

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111111111111:role/ci/Deploy"),
            Some(("111111111111", "Deploy"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::1:role/x"), None);
    }
}
