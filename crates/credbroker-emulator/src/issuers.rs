//! The CI OIDC issuers the emulator stands in for: GitHub Actions, GitLab,
//! CircleCI, Buildkite and Bitbucket Pipelines, each with its own signing
//! key, discovery document and key set, so a test or a script can mint a
//! token shaped like the one that CI gives a job and trade it with STS.
//!
//! Tokens carry each CI's real issuer (`https://gitlab.com`,
//! `https://oidc.circleci.com/org/ORG`, ...), so trust policies written for
//! the real CI work unchanged; the emulator serves each issuer's discovery
//! at `/_oidc/NAME/.well-known/openid-configuration` and its keys at
//! `/_oidc/NAME/.well-known/jwks`. `POST /_emulator/oidc/mint` with
//! `{"issuer": NAME, "claims": {...}}` signs that CI's default claims for a
//! job, with the given ones merged over them.
//!
//! STS trusts an issuer when a role in its roles table names that issuer's
//! provider in `Principal.Federated`, with the issuer's default audience
//! plus every audience the roles' `HOST:aud` conditions name (an IAM OIDC
//! provider's client-id list). Each key is made on first use, once per
//! process, as GitHub's is: key generation is the slow part.

use super::github::{self, IssuerKey};
use super::roles::Roles;
use super::web_identity::TrustedProvider;
use chrono::{DateTime, Utc};
use credbroker_policy::claims::provider_of_issuer;
use credbroker_policy::jwt::{sign_rs256, Jwk, Jwks};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The emulator's CircleCI organization id (a UUID, as CircleCI's are).
pub const CIRCLECI_ORG_ID: &str = "a3c3e2a4-6a3f-4c3e-9b1e-0c1d2e3f4a5b";
/// The emulator's Bitbucket workspace.
pub const BITBUCKET_WORKSPACE: &str = "octo-workspace";
/// The emulator's Bitbucket workspace UUID, in Bitbucket's braces.
pub const BITBUCKET_WORKSPACE_UUID: &str = "{8d2c1f0e-3b4a-4c5d-8e6f-7a8b9c0d1e2f}";

/// One of the CI issuers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Issuer {
    Github,
    Gitlab,
    Circleci,
    Buildkite,
    Bitbucket,
}

impl Issuer {
    pub const ALL: [Issuer; 5] = [
        Issuer::Github,
        Issuer::Gitlab,
        Issuer::Circleci,
        Issuer::Buildkite,
        Issuer::Bitbucket,
    ];

    /// The name in routes and in the mint request.
    pub fn name(self) -> &'static str {
        match self {
            Issuer::Github => "github",
            Issuer::Gitlab => "gitlab",
            Issuer::Circleci => "circleci",
            Issuer::Buildkite => "buildkite",
            Issuer::Bitbucket => "bitbucket",
        }
    }

    pub fn from_name(name: &str) -> Option<Issuer> {
        Issuer::ALL.into_iter().find(|i| i.name() == name)
    }

    /// The real issuer URL, the `iss` of every token.
    pub fn url(self) -> String {
        match self {
            Issuer::Github => github::ISSUER.into(),
            Issuer::Gitlab => "https://gitlab.com".into(),
            Issuer::Circleci => format!("https://oidc.circleci.com/org/{CIRCLECI_ORG_ID}"),
            Issuer::Buildkite => "https://agent.buildkite.com".into(),
            Issuer::Bitbucket => format!(
                "https://api.bitbucket.org/2.0/workspaces/{BITBUCKET_WORKSPACE}/pipelines-config/identity/oidc"
            ),
        }
    }

    /// The audience a job's token carries unless the job asks for another.
    pub fn default_audience(self) -> String {
        match self {
            Issuer::Github | Issuer::Buildkite => github::DEFAULT_AUDIENCE.into(),
            Issuer::Gitlab => "https://gitlab.com".into(),
            Issuer::Circleci => CIRCLECI_ORG_ID.into(),
            Issuer::Bitbucket => {
                format!("ari:cloud:bitbucket::workspace/{BITBUCKET_WORKSPACE_UUID}")
            }
        }
    }

    fn key(self) -> &'static IssuerKey {
        static KEYS: [OnceLock<IssuerKey>; 4] = [const { OnceLock::new() }; 4];
        let slot = match self {
            Issuer::Github => return github::issuer_key(),
            Issuer::Gitlab => 0,
            Issuer::Circleci => 1,
            Issuer::Buildkite => 2,
            Issuer::Bitbucket => 3,
        };
        KEYS[slot].get_or_init(|| github::generate(2048))
    }

    /// The issuer's published key set.
    pub fn jwks(self) -> Jwks {
        let key = self.key();
        Jwks {
            keys: vec![Jwk {
                kid: key.kid.clone(),
                public: key.key.to_public_key(),
            }],
        }
    }

    /// `/_oidc/NAME`: where the emulator serves this issuer's discovery.
    pub fn path(self) -> String {
        format!("/_oidc/{}", self.name())
    }

    pub fn openid_configuration(self, base_url: &str) -> Value {
        json!({
            "issuer": self.url(),
            "jwks_uri": format!("{base_url}{}/.well-known/jwks", self.path()),
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
            "scopes_supported": ["openid"],
        })
    }

    /// The claims a job of this CI gets by default (the emulator's
    /// `octo` project on its main branch), valid for five minutes.
    pub fn default_claims(self, now: DateTime<Utc>) -> Map<String, Value> {
        let sha = "2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
        let specific = match self {
            Issuer::Github => json!({
                "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
                "repository": "octo-org/octo-repo",
                "repository_owner": "octo-org",
                "ref": "refs/heads/main",
                "event_name": "push",
            }),
            Issuer::Gitlab => json!({
                "sub": "project_path:octo-group/octo-project:ref_type:branch:ref:main",
                "namespace_id": "72",
                "namespace_path": "octo-group",
                "project_id": "1234",
                "project_path": "octo-group/octo-project",
                "user_login": "octocat",
                "pipeline_source": "push",
                "ref": "main",
                "ref_type": "branch",
                "ref_path": "refs/heads/main",
                "ref_protected": "true",
            }),
            Issuer::Circleci => json!({
                "sub": format!("org/{CIRCLECI_ORG_ID}/project/5d6e7f80-91a2-4b3c-8d4e-5f60718293a4/user/0a1b2c3d-4e5f-4607-8192-a3b4c5d6e7f8/vcs-origin/github.com/octo-org/octo-repo/vcs-ref/refs/heads/main"),
                "oidc.circleci.com/project-id": "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4",
                "oidc.circleci.com/org-id": CIRCLECI_ORG_ID,
                "oidc.circleci.com/context-ids": ["c0ffee00-0000-4000-8000-000000000001"],
                "oidc.circleci.com/vcs-origin": "github.com/octo-org/octo-repo",
                "oidc.circleci.com/vcs-ref": "refs/heads/main",
            }),
            Issuer::Buildkite => json!({
                "sub": format!("organization:octo-org:pipeline:deploy:ref:refs/heads/main:commit:{sha}:step:deploy"),
                "organization_slug": "octo-org",
                "pipeline_slug": "deploy",
                "build_branch": "main",
                "build_commit": sha,
                "step_key": "deploy",
            }),
            Issuer::Bitbucket => json!({
                "sub": "{b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e}:{c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f}",
                "workspaceUuid": BITBUCKET_WORKSPACE_UUID,
                "repositoryUuid": "{b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e}",
                "stepUuid": "{c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f}",
                "branchName": "main",
            }),
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(self.url()));
        claims.insert("aud".into(), Value::String(self.default_audience()));
        claims.insert("iat".into(), now.timestamp().into());
        claims.insert("nbf".into(), (now.timestamp() - 5).into());
        claims.insert("exp".into(), (now.timestamp() + 300).into());
        claims.insert("jti".into(), super::mint::request_id().into());
        if let Value::Object(more) = specific {
            claims.extend(more);
        }
        claims
    }

    /// A signed token: the defaults with `overrides` merged over them.
    pub fn mint(self, overrides: &Map<String, Value>, now: DateTime<Utc>) -> String {
        let mut claims = self.default_claims(now);
        claims.extend(overrides.clone());
        let key = self.key();
        sign_rs256(&claims, &key.kid, &key.key)
    }

    /// Whether some role's trust policy names this issuer's provider.
    fn named_by(self, roles: &Roles) -> bool {
        let url = self.url();
        let host = provider_of_issuer(&url);
        roles.roles.values().any(|policy| {
            policy.statements.iter().any(|s| {
                s.principal
                    .federated
                    .iter()
                    .any(|arn| arn.ends_with(&format!("oidc-provider/{host}")))
            })
        })
    }

    /// This issuer as STS trusts it, if the roles name it.
    pub fn trusted(self, roles: &Roles) -> Option<TrustedProvider> {
        if !self.named_by(roles) {
            return None;
        }
        let url = self.url();
        let aud_key = format!("{}:aud", provider_of_issuer(&url));
        let mut audiences = vec![self.default_audience()];
        for policy in roles.roles.values() {
            for s in &policy.statements {
                for c in &s.conditions {
                    if c.key.eq_ignore_ascii_case(&aud_key) {
                        audiences.extend(c.values.iter().cloned());
                    }
                }
            }
        }
        audiences.dedup();
        Some(TrustedProvider {
            issuer: url,
            jwks: self.jwks(),
            audiences,
        })
    }
}

/// The provider STS trusts for a token from `iss`, if the roles name it.
pub fn trusted_provider(iss: &str, roles: &Roles) -> Option<TrustedProvider> {
    Issuer::ALL
        .into_iter()
        .find(|i| i.url() == iss)
        .and_then(|i| i.trusted(roles))
}

/// `POST /_emulator/oidc/mint` body -> `{"token": JWT}`, or the reason it is refused.
pub fn mint_request(body: &[u8], now: DateTime<Utc>) -> Result<Value, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let name = request.get("issuer").and_then(Value::as_str).ok_or(
        "the body needs \"issuer\": one of github, gitlab, circleci, buildkite, bitbucket",
    )?;
    let issuer = Issuer::from_name(name).ok_or_else(|| {
        format!("unknown issuer {name:?}: use github, gitlab, circleci, buildkite or bitbucket")
    })?;
    let claims = match request.get("claims") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err("\"claims\" must be a JSON object".into()),
    };
    Ok(json!({ "token": issuer.mint(&claims, now) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credbroker_policy::jwt::Jwt;

    #[test]
    fn a_minted_gitlab_token_verifies_and_the_default_role_trusts_gitlab() {
        let now = Utc::now();
        let answer =
            mint_request(br#"{"issuer":"gitlab","claims":{"ref":"feature"}}"#, now).unwrap();
        let jwt = Jwt::decode(answer["token"].as_str().unwrap()).unwrap();
        assert_eq!(jwt.claim_str("iss"), Some("https://gitlab.com"));
        assert_eq!(jwt.claim_str("ref"), Some("feature"));
        assert_eq!(jwt.audiences(), ["https://gitlab.com"]);
        assert!(jwt.verify(&Issuer::Gitlab.jwks()).is_ok());

        let roles = Roles::default();
        let provider = trusted_provider("https://gitlab.com", &roles).unwrap();
        assert_eq!(provider.audiences, ["https://gitlab.com"]);
        assert!(trusted_provider(&Issuer::Buildkite.url(), &roles).is_none());
        assert!(trusted_provider("https://evil.example", &roles).is_none());
    }

    #[test]
    fn bad_mint_requests_say_what_is_wrong() {
        let now = Utc::now();
        assert!(mint_request(b"{", now).unwrap_err().contains("not JSON"));
        assert!(mint_request(br#"{"issuer":"jenkins"}"#, now)
            .unwrap_err()
            .contains("unknown issuer"));
        assert!(mint_request(br#"{"issuer":"gitlab","claims":[1]}"#, now)
            .unwrap_err()
            .contains("object"));
    }
}
