//! SKELETON (being completed): the AWS config file, as the AWS CLI reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed AWS config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsConfig {
    pub path: PathBuf,
    pub sessions: BTreeMap<String, SsoSession>,
    pub profiles: BTreeMap<String, Profile>,
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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    Syntax { path: PathBuf, line: usize, message: String },
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("no profile named '{name}' in {path}")]
    UnknownProfile { name: String, path: PathBuf },
    #[error("no [sso-session {name}] section in {path}")]
    UnknownSession { name: String, path: PathBuf },
    #[error("{0}")]
    Incomplete(String),
}

impl AwsConfig {
    pub fn parse(_text: &str, _path: &Path) -> Result<AwsConfig, ConfigError> {
        todo!()
    }
    /// Read and parse `path`; a missing file is an empty config.
    pub fn load(_path: &Path) -> Result<AwsConfig, ConfigError> {
        todo!()
    }
    /// Read `$AWS_CONFIG_FILE` or `~/.aws/config`.
    pub fn load_default() -> Result<AwsConfig, ConfigError> {
        Self::load(&crate::paths::aws_config_file())
    }
    /// The session a profile signs in with (sso_session / credbroker_sso_session / legacy keys).
    pub fn session_of_profile(&self, _profile: &str) -> Result<SessionInfo, ConfigError> {
        todo!()
    }
    /// An `[sso-session NAME]` as a SessionInfo.
    pub fn session(&self, _name: &str) -> Result<SessionInfo, ConfigError> {
        todo!()
    }
    /// The account and role a profile stands for.
    pub fn role_target(&self, _profile: &str) -> Result<RoleTarget, ConfigError> {
        todo!()
    }
}
