//! Which CI a job runs on, from the variables each one sets in every job,
//! and what that CI's job needs by default: its token source, the audience
//! to ask for, and where later steps find the environment.

use super::EnvSnapshot;
use crate::config::{TokenSource, DEFAULT_AUDIENCE};

/// A CI system credbroker knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    GithubActions,
    Gitlab,
    Circleci,
    Buildkite,
    Bitbucket,
}

/// The CI this environment belongs to: `GITHUB_ACTIONS=true`,
/// `GITLAB_CI=true`, `CIRCLECI=true`, `BUILDKITE=true`, or a
/// `BITBUCKET_BUILD_NUMBER` (Bitbucket sets no flag variable).
pub fn detect(env: &EnvSnapshot) -> Option<Ci> {
    if env.is_true("GITHUB_ACTIONS") {
        Some(Ci::GithubActions)
    } else if env.is_true("GITLAB_CI") {
        Some(Ci::Gitlab)
    } else if env.is_true("CIRCLECI") {
        Some(Ci::Circleci)
    } else if env.is_true("BUILDKITE") {
        Some(Ci::Buildkite)
    } else if env.get("BITBUCKET_BUILD_NUMBER").is_some() {
        Some(Ci::Bitbucket)
    } else {
        None
    }
}

impl Ci {
    pub fn name(self) -> &'static str {
        match self {
            Ci::GithubActions => "GitHub Actions",
            Ci::Gitlab => "GitLab CI",
            Ci::Circleci => "CircleCI",
            Ci::Buildkite => "Buildkite",
            Ci::Bitbucket => "Bitbucket Pipelines",
        }
    }

    /// The token source a job of this CI uses unless told otherwise, asking
    /// for `audience` where the source asks.
    pub fn default_source(self, audience: Option<&str>) -> TokenSource {
        let spec = match self {
            Ci::GithubActions => "github-actions",
            Ci::Gitlab => "gitlab",
            Ci::Circleci => "circleci",
            Ci::Buildkite => "buildkite",
            Ci::Bitbucket => "bitbucket",
        };
        TokenSource::parse(spec, audience.or(self.default_audience()))
            .expect("every CI's own source parses")
    }

    /// The audience asked for by default: `sts.amazonaws.com` where
    /// credbroker asks (GitHub, Buildkite); elsewhere the CI's own default
    /// (the GitLab `id_tokens` entry, the CircleCI org id, the Bitbucket
    /// workspace) is in the token already.
    pub fn default_audience(self) -> Option<&'static str> {
        match self {
            Ci::GithubActions | Ci::Buildkite => Some(DEFAULT_AUDIENCE),
            Ci::Gitlab | Ci::Circleci | Ci::Bitbucket => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ci_is_told_by_its_own_variable() {
        let ci = |pairs: &[(&str, &str)]| detect(&EnvSnapshot::from_pairs(pairs.iter().copied()));
        assert_eq!(ci(&[("GITHUB_ACTIONS", "true")]), Some(Ci::GithubActions));
        assert_eq!(ci(&[("GITLAB_CI", "true")]), Some(Ci::Gitlab));
        assert_eq!(ci(&[("CIRCLECI", "true")]), Some(Ci::Circleci));
        assert_eq!(ci(&[("BUILDKITE", "true")]), Some(Ci::Buildkite));
        assert_eq!(ci(&[("BITBUCKET_BUILD_NUMBER", "42")]), Some(Ci::Bitbucket));
        assert_eq!(ci(&[("GITLAB_CI", "false"), ("CI", "true")]), None);
        assert_eq!(ci(&[("BITBUCKET_BUILD_NUMBER", "")]), None);
    }

    #[test]
    fn each_ci_has_its_source() {
        assert_eq!(
            Ci::Gitlab.default_source(None),
            TokenSource::Gitlab {
                variable: "GITLAB_OIDC_TOKEN".into()
            }
        );
        assert_eq!(
            Ci::GithubActions.default_source(None).audience(),
            Some("sts.amazonaws.com")
        );
        assert_eq!(
            Ci::Buildkite.default_source(Some("api://x")).audience(),
            Some("api://x")
        );
        assert_eq!(Ci::Circleci.default_source(None).audience(), None);
        assert_eq!(Ci::Bitbucket.default_source(None), TokenSource::Bitbucket);
    }
}
