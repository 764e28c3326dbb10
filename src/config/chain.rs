//! Role chaining as the AWS CLI reads it: from a profile name to the source
//! its credentials start from and the roles assumed on the way (pure).
//!
//! A profile with `role_arn` and `source_profile` is one AssumeRole hop on
//! top of its source's credentials; the source may itself be chained, to
//! any depth. A chain ends at a source credbroker can sign in with:
//! - an SSO role (`sso_session` + `sso_account_id` + `sso_role_name`, or the
//!   `credbroker_` forms, or a legacy `sso_start_url` profile);
//! - a web identity: the AWS CLI's own `role_arn` + `web_identity_token_file`
//!   profile (as EKS and other CIs write it), or credbroker's
//!   `credbroker_web_identity_role_arn` profile (see [`crate::web_identity`]).
//!
//! Each hop also reads `external_id`, `role_session_name`,
//! `duration_seconds` and `region`. Every key is read in its `credbroker_`
//! form first: an SDK that sees `role_arn` + `source_profile` on a profile
//! assumes the role itself before it would run `credential_process`.
//!
//! Refused, each with a message naming the profile and the file: a source
//! with static keys (credbroker does not read plaintext keys), a
//! `credential_source` (the SDKs read it from the environment, instance
//! metadata or the container endpoint; credbroker has none of those to
//! offer), both `source_profile` and `credential_source` on one profile,
//! a missing source, and a cycle. The cases follow the AWS SDKs' shared
//! assume-role resolution tests (see `chain/tests.rs`).

use super::{AwsConfig, ConfigError, Profile, RoleTarget};
use std::path::PathBuf;

/// STS's longest session for AssumeRole and AssumeRoleWithWebIdentity.
const MAX_DURATION: i32 = 43_200;
/// STS's shortest session.
const MIN_DURATION: i32 = 900;

use super::token_source::TokenSource;

/// A role assumed with a web identity token: the root of a CI chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WebIdentityTarget {
    pub profile: String,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: Option<i32>,
    pub source: TokenSource,
    pub region: Option<String>,
}

/// Where a chain's first credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainRoot {
    Sso(RoleTarget),
    WebIdentity(WebIdentityTarget),
}

impl ChainRoot {
    pub fn profile(&self) -> &str {
        match self {
            ChainRoot::Sso(t) => &t.profile,
            ChainRoot::WebIdentity(t) => &t.profile,
        }
    }
}

/// One AssumeRole call, made with the credentials of the hop before it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssumeRoleHop {
    /// The profile that names this role.
    pub profile: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    pub session_name: String,
    pub duration_seconds: Option<i32>,
    /// The profile's own region, else its source's: the STS region called.
    pub region: Option<String>,
}

/// A profile resolved: its root source, then the roles assumed in order
/// (empty for a profile that is itself a root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub profile: String,
    pub root: ChainRoot,
    pub hops: Vec<AssumeRoleHop>,
}

impl Chain {
    /// The region the profile's tools should use: its last hop's, else its
    /// root's.
    pub fn region(&self) -> Option<String> {
        match self.hops.last() {
            Some(hop) => hop.region.clone(),
            None => match &self.root {
                ChainRoot::Sso(t) => t.region.clone(),
                ChainRoot::WebIdentity(t) => t.region.clone(),
            },
        }
    }
}

/// The key of `profile`, `credbroker_` form first.
fn setting<'a>(profile: &'a Profile, key: &str) -> Option<&'a str> {
    profile
        .settings
        .get(&format!("credbroker_{key}"))
        .or_else(|| profile.settings.get(key))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn has_static_keys(p: &Profile) -> bool {
    [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ]
    .iter()
    .any(|k| p.settings.contains_key(*k))
}

impl AwsConfig {
    fn chain_error(&self, profile: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Chain {
            profile: profile.to_string(),
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// What `profile` stands for, from its root source through every role
    /// assumed on the way (see the module docs).
    pub fn chain(&self, profile: &str) -> Result<Chain, ConfigError> {
        let mut hops = Vec::new();
        let mut visited: Vec<String> = Vec::new();
        let mut name = profile.to_string();
        let root = loop {
            let p = match self.profiles.get(&name) {
                Some(p) => p,
                None if visited.is_empty() => {
                    return Err(ConfigError::UnknownProfile {
                        name,
                        path: self.path.clone(),
                    })
                }
                None => {
                    let from = visited.last().expect("a source is named by a profile");
                    return Err(self.chain_error(
                        from,
                        format!(
                            "its source_profile '{name}' is not in the file; add a [profile {name}] section or name another source"
                        ),
                    ));
                }
            };
            visited.push(name.clone());
            let is_source = visited.len() > 1;
            // A source's own static keys would be its credentials (the SDKs
            // use them); credbroker does not read plaintext keys.
            if is_source && has_static_keys(p) {
                return Err(self.static_keys_error(&name, visited.len() > 1));
            }
            if let Some(role_arn) = setting(p, "role_arn") {
                let source_profile = setting(p, "source_profile");
                let credential_source = setting(p, "credential_source");
                if source_profile.is_some() && credential_source.is_some() {
                    return Err(self.chain_error(
                        &name,
                        "it has both source_profile and credential_source; keep one (credbroker can use only source_profile)",
                    ));
                }
                if let Some(source) = credential_source {
                    return Err(self.chain_error(
                        &name,
                        format!(
                            "credential_source = {source} is not supported: credbroker does not take \
                             credentials from the environment, instance metadata or a container; \
                             use source_profile = a profile credbroker signs in with (SSO or web identity)"
                        ),
                    ));
                }
                if let Some(file) = setting(p, "web_identity_token_file") {
                    break ChainRoot::WebIdentity(self.aws_web_identity(p, role_arn, file)?);
                }
                let Some(source) = source_profile else {
                    return Err(self.chain_error(
                        &name,
                        "it has role_arn but no source_profile; add `source_profile = NAME` naming the profile whose credentials assume the role",
                    ));
                };
                hops.push(self.hop(p, role_arn)?);
                if source == name {
                    // The SDKs read a self-referencing profile's own static
                    // keys; its other credentials are not a source.
                    return Err(if has_static_keys(p) {
                        self.static_keys_error(&name, true)
                    } else {
                        self.chain_error(
                            &name,
                            "its source_profile is itself; name another profile",
                        )
                    });
                }
                if let Some(start) = visited.iter().position(|v| v == source) {
                    let mut cycle: Vec<&str> =
                        visited[start..].iter().map(String::as_str).collect();
                    cycle.push(source);
                    return Err(self.chain_error(
                        profile,
                        format!(
                            "its source_profile chain forms a cycle: {}",
                            cycle.join(" -> ")
                        ),
                    ));
                }
                name = source.to_string();
                continue;
            }
            if let Some(role_arn) = p.settings.get(crate::config::WEB_IDENTITY_ROLE_ARN_KEY) {
                break ChainRoot::WebIdentity(self.credbroker_web_identity(p, role_arn)?);
            }
            if setting(p, "web_identity_token_file").is_some() {
                return Err(self.chain_error(
                    &name,
                    "it has web_identity_token_file but no role_arn; add `role_arn = arn:aws:iam::ACCOUNT:role/NAME`",
                ));
            }
            if has_static_keys(p) {
                return Err(self.static_keys_error(&name, false));
            }
            if is_source && setting(p, "credential_source").is_some() {
                return Err(self.chain_error(
                    &name,
                    "credential_source is not supported; use an SSO or web-identity profile as the source",
                ));
            }
            break ChainRoot::Sso(self.role_target(&name)?);
        };
        // Hops were found from the requested profile down; they are made
        // from the root up. A hop without a region takes its source's.
        hops.reverse();
        let mut region = match &root {
            ChainRoot::Sso(t) => t.region.clone(),
            ChainRoot::WebIdentity(t) => t.region.clone(),
        };
        for hop in &mut hops {
            if hop.region.is_none() {
                hop.region = region.clone();
            }
            region = hop.region.clone();
        }
        Ok(Chain {
            profile: profile.to_string(),
            root,
            hops,
        })
    }

    fn static_keys_error(&self, profile: &str, as_source: bool) -> ConfigError {
        let what = if as_source {
            "it is a source_profile with static keys (aws_access_key_id ...)"
        } else {
            "it holds static keys (aws_access_key_id ...)"
        };
        self.chain_error(
            profile,
            format!(
                "{what}, and credbroker does not read plaintext keys; sign in with IAM Identity Center \
                 instead (an [sso-session] and `credbroker_sso_session`, `credbroker_account_id`, \
                 `credbroker_role_name` on the profile) or use a web identity"
            ),
        )
    }

    fn hop(&self, p: &Profile, role_arn: &str) -> Result<AssumeRoleHop, ConfigError> {
        check_role_arn(role_arn).map_err(|m| self.chain_error(&p.name, m))?;
        Ok(AssumeRoleHop {
            profile: p.name.clone(),
            role_arn: role_arn.to_string(),
            external_id: setting(p, "external_id").map(String::from),
            session_name: match setting(p, "role_session_name") {
                Some(n) => check_session_name(n).map_err(|m| self.chain_error(&p.name, m))?,
                None => session_name_for(&p.name),
            },
            duration_seconds: duration(setting(p, "duration_seconds"), "duration_seconds")
                .map_err(|m| self.chain_error(&p.name, m))?,
            region: p.region.clone(),
        })
    }

    /// The AWS CLI's `role_arn` + `web_identity_token_file` profile.
    fn aws_web_identity(
        &self,
        p: &Profile,
        role_arn: &str,
        file: &str,
    ) -> Result<WebIdentityTarget, ConfigError> {
        check_role_arn(role_arn).map_err(|m| self.chain_error(&p.name, m))?;
        Ok(WebIdentityTarget {
            profile: p.name.clone(),
            role_arn: role_arn.to_string(),
            session_name: match setting(p, "role_session_name") {
                Some(n) => check_session_name(n).map_err(|m| self.chain_error(&p.name, m))?,
                None => session_name_for(&p.name),
            },
            duration_seconds: duration(setting(p, "duration_seconds"), "duration_seconds")
                .map_err(|m| self.chain_error(&p.name, m))?,
            source: TokenSource::File(PathBuf::from(file)),
            region: p.region.clone(),
        })
    }

    /// credbroker's own `credbroker_web_identity_*` profile.
    fn credbroker_web_identity(
        &self,
        p: &Profile,
        role_arn: &str,
    ) -> Result<WebIdentityTarget, ConfigError> {
        let get = |k: &str| {
            p.settings
                .get(&format!("credbroker_web_identity_{k}"))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let bad = |m: String| self.chain_error(&p.name, m);
        let source = TokenSource::parse(get("source").unwrap_or("github-actions"), get("audience"))
            .map_err(|m| bad(format!("credbroker_web_identity_source: {m}")))?;
        check_role_arn(role_arn)
            .map_err(|m| bad(format!("{}: {m}", super::WEB_IDENTITY_ROLE_ARN_KEY)))?;
        Ok(WebIdentityTarget {
            profile: p.name.clone(),
            role_arn: role_arn.to_string(),
            session_name: get("session_name")
                .map(String::from)
                .unwrap_or_else(|| session_name_for(&p.name)),
            duration_seconds: duration(get("duration"), "credbroker_web_identity_duration")
                .map_err(bad)?,
            source,
            region: p.region.clone(),
        })
    }
}

fn check_role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role_arn `{arn}` is not a role ARN like arn:aws:iam::111111111111:role/NAME"
        ))
    }
}

/// STS's role session names: 2 to 64 of `[\w+=,.@-]`.
fn check_session_name(name: &str) -> Result<String, String> {
    let ok = (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "role_session_name `{name}` must be 2 to 64 letters, digits or _+=,.@-"
        ))
    }
}

fn duration(value: Option<&str>, key: &str) -> Result<Option<i32>, String> {
    match value {
        None => Ok(None),
        Some(d) => match d.parse::<i32>() {
            Ok(d) if (MIN_DURATION..=MAX_DURATION).contains(&d) => Ok(Some(d)),
            _ => Err(format!(
                "{key} must be {MIN_DURATION}..{MAX_DURATION} seconds, not `{d}`"
            )),
        },
    }
}

/// `credbroker-PROFILE`, cut to STS's characters and 64-character limit.
pub fn session_name_for(profile: &str) -> String {
    let cleaned: String = format!("credbroker-{profile}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.chars().take(64).collect()
}

#[cfg(test)]
mod tests;
