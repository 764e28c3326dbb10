//! `credbroker ci --role-arn ARN` with no config file: the profile a CI job
//! would have written, made from the flags and the job's environment, and
//! the files later steps read the endpoint from (pure).
//!
//! The profile is written as `credbroker_web_identity_*` keys, the same a
//! person would write, so everything after (the broker, renewal, `status`)
//! is the path a profile takes. Every value is checked before it reaches the
//! file: a newline in `--audience` must not become a second key.

use super::{detect, Ci, EnvSnapshot};
use crate::config::TokenSource;

/// The profile name `--role-arn` serves under (`/v1/credentials/ci`).
pub const PROFILE: &str = "ci";

/// The flags that describe the role and the token.
#[derive(Clone, Debug, Default)]
pub struct JobRequest<'a> {
    pub role_arn: &'a str,
    pub source: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub session_name: Option<&'a str>,
    pub duration: Option<u32>,
    pub region: Option<&'a str>,
}

/// The job's profile: the CI it runs on, its token source, and the text of
/// the AWS config file that names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobProfile {
    pub ci: Option<Ci>,
    pub source: TokenSource,
    pub config_text: String,
}

/// The variables CI systems do not set on a laptop, for the error that says so.
const CI_FLAGS: &str = "GITHUB_ACTIONS, GITLAB_CI, CIRCLECI, BUILDKITE, BITBUCKET_BUILD_NUMBER";

pub fn profile_for(req: &JobRequest<'_>, env: &EnvSnapshot) -> Result<JobProfile, String> {
    check_flags(req)?;
    let ci = detect(env);
    let source = match (req.source, ci) {
        (Some(spec), _) => TokenSource::parse(spec, req.audience)?,
        (None, Some(ci)) => ci.default_source(req.audience),
        (None, None) => {
            return Err(format!(
                "no CI detected (none of {CI_FLAGS} is set), so there is no token source to \
                 pick: give --source (github-actions, gitlab, circleci, buildkite, bitbucket, \
                 env:NAME, file:PATH or command:CMD)"
            ))
        }
    };
    let region = req
        .region
        .or_else(|| env.get("AWS_REGION"))
        .or_else(|| env.get("AWS_DEFAULT_REGION"));
    if let Some(region) = region {
        let ok = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!(
                "region `{region}` is not an AWS region name like eu-west-1"
            ));
        }
    }
    let session_name = match req.session_name {
        Some(name) => name.to_string(),
        None => default_session_name(ci, env),
    };
    let mut lines = vec![
        format!("[profile {PROFILE}]"),
        format!("credbroker_web_identity_role_arn = {}", req.role_arn),
        format!("credbroker_web_identity_source = {}", source.spec()),
        format!("credbroker_web_identity_session_name = {session_name}"),
    ];
    if let Some(aud) = source.audience() {
        lines.push(format!("credbroker_web_identity_audience = {aud}"));
    }
    if let Some(d) = req.duration {
        lines.push(format!("credbroker_web_identity_duration = {d}"));
    }
    if let Some(r) = region {
        lines.push(format!("region = {r}"));
    }
    for (flag, value) in [
        ("--role-arn", Some(req.role_arn)),
        ("--source", req.source),
        ("--audience", req.audience),
        ("--session-name", Some(session_name.as_str())),
    ] {
        if let Some(v) = value.filter(|v| v.chars().any(char::is_control)) {
            return Err(format!(
                "{flag} holds a control character (a newline?): {:?}",
                v.escape_debug().to_string()
            ));
        }
    }
    let mut config_text = lines.join("\n");
    config_text.push('\n');
    Ok(JobProfile {
        ci,
        source,
        config_text,
    })
}

/// The flags STS would refuse, refused first with the flag's name.
fn check_flags(req: &JobRequest<'_>) -> Result<(), String> {
    let parts: Vec<&str> = req.role_arn.splitn(6, ':').collect();
    let is_role = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].len() > "role/".len()
        && parts[5].starts_with("role/");
    if !is_role {
        return Err(format!(
            "--role-arn `{}` is not a role ARN like arn:aws:iam::111111111111:role/NAME",
            req.role_arn
        ));
    }
    if let Some(d) = req.duration.filter(|d| !(900..=43_200).contains(d)) {
        return Err(format!(
            "--duration must be 900..43200 seconds (and within the role's maximum session), not {d}"
        ));
    }
    if let Some(name) = req.session_name {
        let ok = (2..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
        if !ok {
            return Err(format!(
                "--session-name `{name}` must be 2 to 64 letters, digits or _+=,.@-"
            ));
        }
    }
    Ok(())
}

/// `credbroker-gitlab-4711`: the CI and its job number, so CloudTrail shows
/// which job assumed the role.
fn default_session_name(ci: Option<Ci>, env: &EnvSnapshot) -> String {
    let (short, id) = match ci {
        Some(Ci::GithubActions) => ("github", env.get("GITHUB_RUN_ID")),
        Some(Ci::Gitlab) => ("gitlab", env.get("CI_JOB_ID")),
        Some(Ci::Circleci) => ("circleci", env.get("CIRCLE_BUILD_NUM")),
        Some(Ci::Buildkite) => ("buildkite", env.get("BUILDKITE_BUILD_NUMBER")),
        Some(Ci::Bitbucket) => ("bitbucket", env.get("BITBUCKET_BUILD_NUMBER")),
        None => ("ci", None),
    };
    match id {
        Some(id) => crate::config::session_name_for(&format!("{short}-{id}")),
        None => crate::config::session_name_for(short),
    }
}

/// A dotenv file: `NAME=value` lines, a value single-quoted when it holds
/// anything but plain URL and path characters, so `set -a; . FILE` reads
/// it back exactly.
pub fn dotenv(set: &[(String, String)]) -> String {
    set.iter()
        .map(|(name, value)| format!("{name}={}\n", shell_value(value)))
        .collect()
}

/// `export NAME=value` lines for CircleCI's `$BASH_ENV`, which every later
/// step sources.
pub fn bash_exports(set: &[(String, String)]) -> String {
    set.iter()
        .map(|(name, value)| format!("export {name}={}\n", shell_value(value)))
        .collect()
}

fn shell_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/:._-@%+=,".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(pairs.iter().copied())
    }

    const ROLE: &str = "arn:aws:iam::111111111111:role/GitLabDeploy";

    #[test]
    fn a_gitlab_job_gets_the_gitlab_source_and_a_session_named_after_the_job() {
        let req = JobRequest {
            role_arn: ROLE,
            ..JobRequest::default()
        };
        let job = env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_ID", "4711"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let profile = profile_for(&req, &job).unwrap();
        assert_eq!(profile.ci, Some(Ci::Gitlab));
        let config = crate::config::AwsConfig::parse(
            &profile.config_text,
            std::path::Path::new("generated"),
        )
        .unwrap();
        let chain = config.chain(PROFILE).unwrap();
        let crate::config::ChainRoot::WebIdentity(target) = chain.root else {
            panic!("{chain:?}")
        };
        assert_eq!(target.role_arn, ROLE);
        assert_eq!(target.session_name, "credbroker-gitlab-4711");
        assert_eq!(target.region.as_deref(), Some("eu-west-1"));
        assert_eq!(target.source, Ci::Gitlab.default_source(None));
    }

    #[test]
    fn without_a_ci_the_source_must_be_named_and_nothing_reaches_the_file_unchecked() {
        let req = JobRequest {
            role_arn: ROLE,
            ..JobRequest::default()
        };
        let e = profile_for(&req, &env(&[])).unwrap_err();
        assert!(e.contains("--source") && e.contains("GITLAB_CI"), "{e}");
        let req = JobRequest {
            role_arn: ROLE,
            source: Some("buildkite"),
            audience: Some("x\nregion = evil"),
            ..JobRequest::default()
        };
        assert!(profile_for(&req, &env(&[]))
            .unwrap_err()
            .contains("--audience"));
        let req = JobRequest {
            role_arn: ROLE,
            source: Some("env:T"),
            region: Some("eu west"),
            ..JobRequest::default()
        };
        assert!(profile_for(&req, &env(&[])).unwrap_err().contains("region"));
        for (req, flag) in [
            (
                JobRequest {
                    role_arn: "bogus",
                    ..JobRequest::default()
                },
                "--role-arn",
            ),
            (
                JobRequest {
                    role_arn: ROLE,
                    duration: Some(5),
                    ..JobRequest::default()
                },
                "--duration",
            ),
            (
                JobRequest {
                    role_arn: ROLE,
                    session_name: Some("a b"),
                    ..JobRequest::default()
                },
                "--session-name",
            ),
        ] {
            let e = profile_for(&req, &env(&[("GITLAB_CI", "true")])).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
        }
    }

    #[test]
    fn dotenv_values_read_back_through_the_shell() {
        let set = vec![
            (
                "A".to_string(),
                "http://127.0.0.1:1/v1/credentials/ci".to_string(),
            ),
            ("B".to_string(), "/tmp/it's here".to_string()),
        ];
        assert_eq!(
            dotenv(&set),
            "A=http://127.0.0.1:1/v1/credentials/ci\nB='/tmp/it'\\''s here'\n"
        );
        assert!(bash_exports(&set).starts_with("export A=http://"));
    }
}
