//! The AWS config file, read the way the AWS CLI reads it.
//!
//! First [`ini`] splits the text into sections of lower-cased keys (pure, no
//! file access), then [`AwsConfig`] sorts the sections into `[sso-session]`s
//! and `[profile]`s, and finally the resolvers answer the two questions the
//! broker asks: which session does a profile sign in with
//! ([`AwsConfig::session_of_profile`]), and which account and role does it
//! stand for ([`AwsConfig::role_target`]).
//!
//! A profile names its role either with the AWS CLI's own keys
//! (`sso_session`, `sso_account_id`, `sso_role_name`) or with the same keys
//! under a `credbroker_` prefix. The prefixed form exists because an SDK that
//! sees `sso_*` keys on a profile uses its own SSO provider before
//! `credential_process` (protocols.md §2).
//!
//! `[services NAME]` sections are kept for the SDK clients' endpoints
//! ([`AwsConfig::services`]). Unknown keys and sections are kept but
//! ignored, as the CLI ignores them;
//! what the SDKs skip (invalid names, see [`ini`]) is skipped and noted in
//! [`AwsConfig::ignored`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod chain;
mod ini;
mod resolve;
mod token_source;

pub use chain::{session_name_for, AssumeRoleHop, Chain, ChainRoot, WebIdentityTarget};
pub use ini::{parse_file, parse_sections, sub_settings, Ignored, ParsedFile, Section};
pub use token_source::{
    TokenSource, BITBUCKET_VARIABLE, BUILDKITE_TOKEN_LIFETIME, CIRCLECI_VARIABLE, DEFAULT_AUDIENCE,
    GITLAB_DEFAULT_VARIABLE,
};

/// The key that makes a profile credbroker's own web-identity profile.
pub const WEB_IDENTITY_ROLE_ARN_KEY: &str = "credbroker_web_identity_role_arn";

/// A parsed AWS config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsConfig {
    pub path: PathBuf,
    pub sessions: BTreeMap<String, SsoSession>,
    pub profiles: BTreeMap<String, Profile>,
    /// `[services NAME]` sections by name, their settings as written: each
    /// service's key (`sts =`) holds its indented sub-settings, read back
    /// with [`sub_settings`]. A profile's `services = NAME` selects one
    /// (the SDKs' per-service endpoints, protocols.md §10).
    pub services: BTreeMap<String, BTreeMap<String, String>>,
    /// Sections and settings skipped as the SDKs skip them, with the reason.
    pub ignored: Vec<Ignored>,
}

/// An `[sso-session NAME]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoSession {
    pub name: String,
    pub start_url: String,
    pub region: String,
    pub registration_scopes: Vec<String>,
}

/// A `[profile NAME]` (or `[default]`) section, as far as credbroker cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub region: Option<String>,
    /// All key/value pairs as written (lower-cased keys), unknown ones included.
    pub settings: BTreeMap<String, String>,
}

/// What a sign-in needs: which IAM Identity Center instance, under which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The keychain key: the sso-session name, or the start URL for a legacy profile.
    pub key: String,
    pub start_url: String,
    pub region: String,
    pub registration_scopes: Vec<String>,
    /// A legacy profile (`sso_start_url` on the profile): no refresh tokens.
    pub legacy: bool,
    /// The `credbroker login ...` command that signs this session in.
    pub login_command: String,
}

/// A profile resolved to the role it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleTarget {
    pub profile: String,
    pub session: SessionInfo,
    pub account_id: String,
    pub role_name: String,
    pub region: Option<String>,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("no profile named '{name}' in {path}")]
    UnknownProfile { name: String, path: PathBuf },
    #[error("no [sso-session {name}] section in {path}")]
    UnknownSession { name: String, path: PathBuf },
    #[error("{0}")]
    Incomplete(String),
    /// A role chain that cannot be followed (cycle, unknown or unsupported
    /// source, bad hop setting); see [`AwsConfig::chain`].
    #[error("profile '{profile}' in {}: {message}", path.display())]
    Chain {
        profile: String,
        path: PathBuf,
        message: String,
    },
}

impl AwsConfig {
    /// Parse the text of a config file; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<AwsConfig, ConfigError> {
        let mut config = AwsConfig {
            path: path.to_path_buf(),
            ..AwsConfig::default()
        };
        let file = parse_file(text, path)?;
        config.ignored = file.ignored;
        for section in file.sections {
            if let Some(name) = section.name.strip_prefix("sso-session ") {
                let name = name.trim().to_string();
                let get = |k: &str| section.settings.get(k).cloned().unwrap_or_default();
                let registration_scopes = get("sso_registration_scopes")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                config.sessions.insert(
                    name.clone(),
                    SsoSession {
                        name,
                        start_url: get("sso_start_url"),
                        region: get("sso_region"),
                        registration_scopes,
                    },
                );
            } else if let Some(name) = section.name.strip_prefix("services ") {
                // A header given twice merges, later keys winning, as for profiles.
                config
                    .services
                    .entry(name.trim().to_string())
                    .or_default()
                    .extend(section.settings);
            } else if let Some(name) = profile_name(&section.name) {
                let entry = config
                    .profiles
                    .entry(name.clone())
                    .or_insert_with(|| Profile {
                        name,
                        ..Profile::default()
                    });
                entry.settings.extend(section.settings);
                entry.region = entry.settings.get("region").cloned();
            }
        }
        Ok(config)
    }

    /// Read and parse `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<AwsConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).inspect(|config| {
                for ignored in &config.ignored {
                    tracing::warn!("{}: {ignored}", path.display());
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AwsConfig {
                path: path.to_path_buf(),
                ..AwsConfig::default()
            }),
            Err(e) => Err(ConfigError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    /// Read `$AWS_CONFIG_FILE` or `~/.aws/config`, as `paths` says.
    pub fn load_default(paths: &crate::paths::Paths) -> Result<AwsConfig, ConfigError> {
        Self::load(&paths.aws_config_file)
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }
}

/// Longest profile name credbroker serves; real ones are far shorter.
pub const MAX_PROFILE_LEN: usize = 256;

/// The one rule for a profile name a client may ask for, on the endpoint
/// and on the daemon's socket alike: not empty, at most
/// [`MAX_PROFILE_LEN`] bytes, no control character, no `/` (it is a path
/// segment and names a token file), not `.` or `..`, and no surrounding
/// spaces.
pub fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PROFILE_LEN
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c.is_control() || c == '/')
        && name.trim() == name
}

/// `[profile NAME]` -> NAME, `[default]` -> default; other sections are not profiles.
fn profile_name(section: &str) -> Option<String> {
    if section == "default" {
        return Some("default".into());
    }
    let name = section.strip_prefix("profile ")?.trim();
    (!name.is_empty()).then(|| name.to_string())
}
