//! The IAM roles the emulator's STS knows, each with its trust policy.
//!
//! IAM keeps one trust policy (`AssumeRolePolicyDocument`) per role, whoever
//! asks: its `sts:AssumeRoleWithWebIdentity` statements name OIDC providers
//! (`Principal.Federated`), its `sts:AssumeRole` statements name AWS
//! principals (`Principal.AWS`). So one table serves both calls
//! ([`super::web_identity`] and [`super::assume_role`]), and one file
//! (`credbroker emulator --roles FILE`) replaces the defaults for both:
//!
//! ```json
//! {"arn:aws:iam::222222222222:role/Deploy": {"Version": "2012-10-17", "Statement": [...]},
//!  "arn:aws:iam::111111111111:role/GitHubDeploy": "github-deploy.json"}
//! ```
//!
//! A value is the policy itself, or the path of a policy file relative to
//! the roles file. Every key must be a role ARN and every policy must parse,
//! so a typo fails at start-up, naming the file and the role, not at the
//! first call.

use credbroker_policy::TrustPolicy;
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

/// The role every emulator trusts GitLab jobs with unless told otherwise.
pub const GITLAB_ROLE_ARN: &str = "arn:aws:iam::111111111111:role/GitLabDeploy";

/// The GitLab role's trust policy: the `octo-group/octo-project` main
/// branch (a branch, not a tag named `main`), protected, audience
/// `https://gitlab.com`.
pub const GITLAB_TRUST_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "GitLabDeployFromMain",
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/gitlab.com"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
      "StringEquals": {
        "gitlab.com:aud": "https://gitlab.com",
        "gitlab.com:sub": "project_path:octo-group/octo-project:ref_type:branch:ref:main",
        "gitlab.com:ref_protected": "true"
      }
    }
  }]
}"#;

/// The role the default directory's `Admin` sessions may chain into.
pub const DEPLOY_ROLE_ARN: &str = "arn:aws:iam::222222222222:role/Deploy";

/// The `ExternalId` the Deploy role asks for.
pub const DEPLOY_EXTERNAL_ID: &str = "credbroker-demo";

/// The Deploy role's trust policy: sessions of `Admin` in the dev account
/// (111111111111, the default directory's SSO role), with the external id.
pub const DEPLOY_TRUST_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "AdminFromDevWithExternalId",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:role/Admin"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": "credbroker-demo"}}
  }]
}"#;

/// Role ARN -> trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    pub roles: BTreeMap<String, TrustPolicy>,
}

impl Default for Roles {
    /// [`DEMO_ROLE_ARN`] for GitHub jobs, [`GITLAB_ROLE_ARN`] for GitLab
    /// jobs and [`DEPLOY_ROLE_ARN`] for `Admin`.
    fn default() -> Self {
        let parse = |text| TrustPolicy::parse(text).expect("the default trust policies parse");
        Roles {
            roles: BTreeMap::from([
                (DEMO_ROLE_ARN.to_string(), parse(DEMO_TRUST_POLICY)),
                (GITLAB_ROLE_ARN.to_string(), parse(GITLAB_TRUST_POLICY)),
                (DEPLOY_ROLE_ARN.to_string(), parse(DEPLOY_TRUST_POLICY)),
            ]),
        }
    }
}

impl Roles {
    /// Read a roles file (see the module docs). Errors name the file and role.
    pub fn load(path: &Path) -> anyhow::Result<Roles> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the roles file {}", path.display()))?;
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| {
                format!(
                    "{} is not a JSON object of role ARN -> trust policy",
                    path.display()
                )
            })?;
        let mut roles = BTreeMap::new();
        for (arn, value) in map {
            anyhow::ensure!(
                parse_role_arn(&arn).is_some(),
                "{}: {arn:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                path.display()
            );
            let policy_text = match value {
                serde_json::Value::String(file) => {
                    let file = path.parent().unwrap_or(Path::new(".")).join(file);
                    std::fs::read_to_string(&file).with_context(|| {
                        format!(
                            "role {arn} in {}: cannot read {}",
                            path.display(),
                            file.display()
                        )
                    })?
                }
                inline => inline.to_string(),
            };
            let policy = TrustPolicy::parse(&policy_text)
                .with_context(|| format!("role {arn} in {}", path.display()))?;
            roles.insert(arn, policy);
        }
        Ok(Roles { roles })
    }

    pub fn get(&self, arn: &str) -> Option<&TrustPolicy> {
        self.roles.get(arn)
    }
}

/// `arn:aws:iam::ACCOUNT:role[/PATH]/NAME` -> (ACCOUNT, NAME).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (is_account && !name.is_empty()).then_some((account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_the_demo_roles() {
        let roles = Roles::default();
        assert_eq!(roles.roles.len(), 3);
        assert!(roles.get(DEMO_ROLE_ARN).is_some());
        assert!(roles.get(GITLAB_ROLE_ARN).is_some());
        let deploy = roles.get(DEPLOY_ROLE_ARN).unwrap();
        assert_eq!(
            deploy.statements[0].principal.aws,
            ["arn:aws:iam::111111111111:role/Admin"]
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
        let roles = Roles::load(&mapping).unwrap();
        assert_eq!(roles.roles.len(), 2);
        assert_eq!(
            roles.get("arn:aws:iam::222222222222:role/Deploy"),
            roles.get("arn:aws:iam::222222222222:role/Inline")
        );
        std::fs::write(
            &mapping,
            r#"{"arn:aws:iam::222222222222:role/X": "missing.json"}"#,
        )
        .unwrap();
        let err = format!("{:#}", Roles::load(&mapping).unwrap_err());
        assert!(
            err.contains("missing.json") && err.contains("role/X"),
            "{err}"
        );
        std::fs::write(&mapping, r#"{"arn:aws:iam::2:role/X": {}}"#).unwrap();
        let err = format!("{:#}", Roles::load(&mapping).unwrap_err());
        assert!(
            err.contains("not a role ARN") && err.contains("roles.json"),
            "{err}"
        );
        std::fs::write(
            &mapping,
            r#"{"arn:aws:iam::222222222222:role/X": {"Statement": 3}}"#,
        )
        .unwrap();
        let err = format!("{:#}", Roles::load(&mapping).unwrap_err());
        assert!(err.contains("role/X") && err.contains("Statement"), "{err}");
    }

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111111111111:role/ci/Deploy"),
            Some(("111111111111", "Deploy"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::1:role/x"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::11111111111x:role/x"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::111111111111:user/x"), None);
    }
}
