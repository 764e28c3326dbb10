//! Where a web identity token comes from: the value of a profile's
//! `credbroker_web_identity_source` and of `credbroker ci --source`, parsed
//! (pure). Fetching is [`crate::ci_token`]'s job; this is only the grammar,
//! kept in the config module because a profile names it.
//!
//! ```text
//! github-actions   the Actions token request (ACTIONS_ID_TOKEN_REQUEST_URL), with the audience
//! gitlab           a GitLab `id_tokens` variable: GITLAB_OIDC_TOKEN, or gitlab:NAME
//! circleci         CIRCLE_OIDC_TOKEN_V2; renewed with `circleci run oidc get` where that CLI is
//! buildkite        `buildkite-agent oidc request-token --audience A --lifetime N`
//! bitbucket        BITBUCKET_STEP_OIDC_TOKEN
//! env:NAME         any environment variable
//! file:PATH        a file, read afresh for every call (EKS rotates it)
//! command:CMD      a shell command that prints a JWT, run for every call
//! ```

use std::path::PathBuf;

/// The audience a GitHub Actions (and a Buildkite) token is asked for by default.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";
/// The variable GitLab's `id_tokens` entry is named in credbroker's docs.
pub const GITLAB_DEFAULT_VARIABLE: &str = "GITLAB_OIDC_TOKEN";
/// CircleCI's token with the `sub` that names the source of the change.
pub const CIRCLECI_VARIABLE: &str = "CIRCLE_OIDC_TOKEN_V2";
/// Bitbucket Pipelines' token for a step with `oidc: true`.
pub const BITBUCKET_VARIABLE: &str = "BITBUCKET_STEP_OIDC_TOKEN";
/// The lifetime asked of `buildkite-agent oidc request-token`: the token is
/// traded at once, so it need not outlive the STS call by much.
pub const BUILDKITE_TOKEN_LIFETIME: u32 = 300;

/// Where a web identity token comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// A GitHub Actions job's OIDC token, asked for with this audience.
    GithubActions { audience: String },
    /// A GitLab `id_tokens` variable: minted once per job, not renewable.
    Gitlab { variable: String },
    /// `CIRCLE_OIDC_TOKEN_V2`, or a fresh one from the `circleci` CLI with
    /// this audience (the audience of the variable's token when `None`).
    Circleci { audience: Option<String> },
    /// A fresh token from `buildkite-agent oidc request-token`.
    Buildkite { audience: String, lifetime: u32 },
    /// `BITBUCKET_STEP_OIDC_TOKEN`: minted once per step, not renewable.
    Bitbucket,
    /// Any environment variable: read once at start, not renewable.
    Env(String),
    /// A token file, read afresh for every call (EKS rotates it).
    File(PathBuf),
    /// A shell command (`sh -c`) that prints a JWT, run for every call.
    Command(String),
}

impl TokenSource {
    /// Parse a source as written; `audience` is the profile's (or
    /// `--audience`), used by the sources that ask for one.
    pub fn parse(text: &str, audience: Option<&str>) -> Result<TokenSource, String> {
        let text = text.trim();
        let aud = || audience.unwrap_or(DEFAULT_AUDIENCE).to_string();
        let nonempty = |rest: &str, what: &str| {
            let rest = rest.trim();
            if rest.is_empty() {
                Err(format!("`{text}` names no {what}"))
            } else {
                Ok(rest.to_string())
            }
        };
        Ok(match text {
            "github-actions" | "github" => TokenSource::GithubActions { audience: aud() },
            "gitlab" => TokenSource::Gitlab {
                variable: GITLAB_DEFAULT_VARIABLE.into(),
            },
            "circleci" => TokenSource::Circleci {
                audience: audience.map(String::from),
            },
            "buildkite" => TokenSource::Buildkite {
                audience: aud(),
                lifetime: BUILDKITE_TOKEN_LIFETIME,
            },
            "bitbucket" => TokenSource::Bitbucket,
            _ => {
                if let Some(name) = text.strip_prefix("gitlab:") {
                    TokenSource::Gitlab {
                        variable: env_name(&nonempty(name, "variable")?)?,
                    }
                } else if let Some(name) = text.strip_prefix("env:") {
                    TokenSource::Env(env_name(&nonempty(name, "variable")?)?)
                } else if let Some(path) = text.strip_prefix("file:") {
                    TokenSource::File(PathBuf::from(nonempty(path, "file")?))
                } else if let Some(cmd) = text.strip_prefix("command:") {
                    TokenSource::Command(nonempty(cmd, "command")?)
                } else {
                    return Err(format!(
                        "`{text}` is not a token source; use github-actions, gitlab, circleci, \
                         buildkite, bitbucket, env:NAME, file:PATH or command:CMD"
                    ));
                }
            }
        })
    }

    /// The source as written in a profile (the inverse of [`TokenSource::parse`]).
    pub fn spec(&self) -> String {
        match self {
            TokenSource::GithubActions { .. } => "github-actions".into(),
            TokenSource::Gitlab { variable } if variable == GITLAB_DEFAULT_VARIABLE => {
                "gitlab".into()
            }
            TokenSource::Gitlab { variable } => format!("gitlab:{variable}"),
            TokenSource::Circleci { .. } => "circleci".into(),
            TokenSource::Buildkite { .. } => "buildkite".into(),
            TokenSource::Bitbucket => "bitbucket".into(),
            TokenSource::Env(name) => format!("env:{name}"),
            TokenSource::File(path) => format!("file:{}", path.display()),
            TokenSource::Command(cmd) => format!("command:{cmd}"),
        }
    }

    /// The audience this source asks its issuer for, where it asks.
    pub fn audience(&self) -> Option<&str> {
        match self {
            TokenSource::GithubActions { audience } | TokenSource::Buildkite { audience, .. } => {
                Some(audience)
            }
            TokenSource::Circleci { audience } => audience.as_deref(),
            _ => None,
        }
    }

    /// The environment variable a one-shot source reads.
    pub fn variable(&self) -> Option<&str> {
        match self {
            TokenSource::Gitlab { variable } => Some(variable),
            TokenSource::Circleci { .. } => Some(CIRCLECI_VARIABLE),
            TokenSource::Bitbucket => Some(BITBUCKET_VARIABLE),
            TokenSource::Env(name) => Some(name),
            _ => None,
        }
    }
}

/// An environment variable name: letters, digits and `_`, not starting with a digit.
fn env_name(name: &str) -> Result<String, String> {
    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{name}` is not an environment variable name (letters, digits and _)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_parses_and_prints_back() {
        for text in [
            "github-actions",
            "gitlab",
            "gitlab:AWS_ID_TOKEN",
            "circleci",
            "buildkite",
            "bitbucket",
            "env:MY_JWT",
            "file:/var/run/token",
            "command:vault read -field=token x",
        ] {
            let source = TokenSource::parse(text, None).unwrap();
            assert_eq!(source.spec(), text);
        }
        assert_eq!(
            TokenSource::parse("buildkite", Some("api://aws")).unwrap(),
            TokenSource::Buildkite {
                audience: "api://aws".into(),
                lifetime: BUILDKITE_TOKEN_LIFETIME
            }
        );
        assert_eq!(
            TokenSource::parse("gitlab", None).unwrap().variable(),
            Some("GITLAB_OIDC_TOKEN")
        );
    }

    #[test]
    fn bad_sources_say_what_is_accepted() {
        let e = TokenSource::parse("jenkins", None).unwrap_err();
        assert!(e.contains("env:NAME") && e.contains("command:CMD"), "{e}");
        assert!(TokenSource::parse("env:", None).is_err());
        assert!(TokenSource::parse("env:A-B", None).is_err());
        assert!(TokenSource::parse("command:  ", None).is_err());
    }
}
