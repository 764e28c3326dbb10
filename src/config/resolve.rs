//! From a profile name to what the broker needs: the session it signs in
//! with and the account and role it stands for.
//!
//! Lookup order for each fact: the `credbroker_` key first, then the AWS
//! CLI's own key, so a profile written for `credential_process` (prefixed
//! keys only) and a plain AWS CLI SSO profile both work.

use super::{AwsConfig, ConfigError, Profile, RoleTarget, SessionInfo};

fn setting<'a>(profile: &'a Profile, key: &str) -> Option<&'a str> {
    profile
        .settings
        .get(&format!("credbroker_{key}"))
        .or_else(|| profile.settings.get(key))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

impl AwsConfig {
    fn require_profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        self.profiles
            .get(name)
            .ok_or_else(|| ConfigError::UnknownProfile {
                name: name.to_string(),
                path: self.path.clone(),
            })
    }

    /// An `[sso-session NAME]` as a [`SessionInfo`].
    pub fn session(&self, name: &str) -> Result<SessionInfo, ConfigError> {
        let session = self
            .sessions
            .get(name)
            .ok_or_else(|| ConfigError::UnknownSession {
                name: name.to_string(),
                path: self.path.clone(),
            })?;
        for (key, value) in [
            ("sso_start_url", &session.start_url),
            ("sso_region", &session.region),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Incomplete(format!(
                    "[sso-session {name}] in {} has no {key}; add `{key} = ...` to it",
                    self.path.display()
                )));
            }
        }
        Ok(SessionInfo {
            key: name.to_string(),
            start_url: session.start_url.clone(),
            region: session.region.clone(),
            registration_scopes: session.registration_scopes.clone(),
            legacy: false,
            login_command: format!("credbroker login --sso-session {name}"),
        })
    }

    /// The session a profile signs in with: its `sso_session`, or, for a
    /// legacy profile, its own `sso_start_url` and `sso_region`.
    pub fn session_of_profile(&self, profile: &str) -> Result<SessionInfo, ConfigError> {
        let p = self.require_profile(profile)?;
        if let Some(name) = setting(p, "sso_session") {
            return self.session(name);
        }
        match (setting(p, "sso_start_url"), setting(p, "sso_region")) {
            (Some(start_url), Some(region)) => Ok(SessionInfo {
                key: start_url.to_string(),
                start_url: start_url.to_string(),
                region: region.to_string(),
                registration_scopes: Vec::new(),
                legacy: true,
                login_command: format!("credbroker login --profile {profile}"),
            }),
            (Some(_), None) => Err(ConfigError::Incomplete(format!(
                "profile '{profile}' in {} has sso_start_url but no sso_region; add `sso_region = ...`",
                self.path.display()
            ))),
            _ => Err(ConfigError::Incomplete(format!(
                "profile '{profile}' in {} names no SSO session; add `credbroker_sso_session = NAME` \
                 (or `sso_session = NAME`) pointing at an [sso-session NAME] section",
                self.path.display()
            ))),
        }
    }

    /// The account and role a profile stands for, with its session.
    pub fn role_target(&self, profile: &str) -> Result<RoleTarget, ConfigError> {
        let p = self.require_profile(profile)?;
        let session = self.session_of_profile(profile)?;
        let missing = |key: &str| {
            ConfigError::Incomplete(format!(
                "profile '{profile}' in {} has no {key}; add `credbroker_{key} = ...`",
                self.path.display()
            ))
        };
        let account_id = setting(p, "sso_account_id")
            .or_else(|| setting(p, "account_id"))
            .ok_or_else(|| missing("account_id"))?;
        let role_name = setting(p, "sso_role_name")
            .or_else(|| setting(p, "role_name"))
            .ok_or_else(|| missing("role_name"))?;
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Incomplete(format!(
                "profile '{profile}' in {}: account id '{account_id}' is not 12 digits",
                self.path.display()
            )));
        }
        Ok(RoleTarget {
            profile: profile.to_string(),
            session,
            account_id: account_id.to_string(),
            role_name: role_name.to_string(),
            region: p.region.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str = r#"
[default]
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access, other:scope

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnly
region = eu-central-1
cli_pager =

[profile brokered]
credential_process = credbroker credential-process --profile brokered
credbroker_sso_session = corp
credbroker_account_id = 222222222222
credbroker_role_name = Admin

[profile legacy]
sso_start_url = https://old.awsapps.com/start
sso_region = us-west-2
sso_account_id = 333333333333
sso_role_name = Dev

[profile plain]
region = us-east-2

[profile badsession]
sso_session = nope

[profile halfsession]
sso_session = half

[sso-session half]
sso_region = us-east-1

[services ignored]
foo = bar
"#;

    fn config() -> AwsConfig {
        AwsConfig::parse(CONFIG, Path::new("/cfg")).unwrap()
    }

    #[test]
    fn sessions_and_profiles_are_sorted_out() {
        let c = config();
        assert_eq!(
            c.sessions["corp"].registration_scopes,
            vec!["sso:account:access", "other:scope"]
        );
        assert_eq!(c.profiles.len(), 7);
        assert_eq!(c.profiles["default"].region.as_deref(), Some("us-east-1"));
        assert!(!c.profiles.contains_key("services ignored"));
    }

    #[test]
    fn named_session_profile() {
        let t = config().role_target("dev").unwrap();
        assert_eq!(t.account_id, "111111111111");
        assert_eq!(t.role_name, "ReadOnly");
        assert_eq!(t.region.as_deref(), Some("eu-central-1"));
        assert_eq!(t.session.key, "corp");
        assert_eq!(t.session.region, "eu-west-1");
        assert!(!t.session.legacy);
        assert_eq!(
            t.session.login_command,
            "credbroker login --sso-session corp"
        );
    }

    #[test]
    fn credbroker_prefixed_profile() {
        let t = config().role_target("brokered").unwrap();
        assert_eq!(t.account_id, "222222222222");
        assert_eq!(t.role_name, "Admin");
        assert_eq!(t.session.start_url, "https://corp.awsapps.com/start");
    }

    #[test]
    fn legacy_profile_keys_session_by_start_url() {
        let t = config().role_target("legacy").unwrap();
        assert!(t.session.legacy);
        assert_eq!(t.session.key, "https://old.awsapps.com/start");
        assert_eq!(t.session.region, "us-west-2");
        assert_eq!(t.session.login_command, "credbroker login --profile legacy");
    }

    #[test]
    fn errors_say_what_to_add() {
        let c = config();
        assert!(matches!(
            c.role_target("missing"),
            Err(ConfigError::UnknownProfile { .. })
        ));
        let e = c.role_target("plain").unwrap_err().to_string();
        assert!(e.contains("credbroker_sso_session"), "{e}");
        assert!(matches!(
            c.role_target("badsession"),
            Err(ConfigError::UnknownSession { .. })
        ));
        let e = c.session_of_profile("halfsession").unwrap_err().to_string();
        assert!(e.contains("no sso_start_url"), "{e}");
    }

    #[test]
    fn missing_file_is_empty_config() {
        let c = AwsConfig::load(Path::new("/nonexistent/credbroker/config")).unwrap();
        assert!(c.profiles.is_empty());
    }
}
