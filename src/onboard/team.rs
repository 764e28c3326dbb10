//! The team file: the few facts a platform team commits once so that every
//! engineer's `credbroker onboard` writes the same profiles.
//!
//! ```toml
//! start_url = "https://my-org.awsapps.com/start"
//! region = "eu-west-1"                       # where IAM Identity Center lives
//! session_name = "my-org"                    # the [sso-session NAME]
//! profile_template = "{account_name}-{role_name}"
//! default_region = "eu-central-1"            # `region` of every profile
//! default_profile = "shared-services-readonly"   # optional: AWS_PROFILE in the shell lines
//!
//! [accounts]                                 # optional filters, `*` wildcards,
//! include = ["prod-*", "123456789012"]       # matched on account name or id
//! exclude = ["*-sandbox"]
//!
//! [roles]                                    # matched on role name
//! exclude = ["AWSAdministratorAccess"]
//! ```
//!
//! Parsing and checking are pure ([`TeamFile::parse`]); the command line can
//! build the same value without a file ([`TeamFile::from_start_url`]), so
//! there is one code path from here on.

use serde::Deserialize;

/// The default profile-name template.
pub const DEFAULT_TEMPLATE: &str = "{account_name}-{role_name}";

/// The placeholders a profile-name template may use.
pub const PLACEHOLDERS: &[&str] = &["account_name", "account_id", "role_name", "session_name"];

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFile {
    pub start_url: String,
    /// The IAM Identity Center region (`sso_region`).
    pub region: String,
    #[serde(default)]
    pub session_name: Option<String>,
    #[serde(default = "default_template")]
    pub profile_template: String,
    /// The `region` written on every profile; the IAM Identity Center region when absent.
    #[serde(default)]
    pub default_region: Option<String>,
    /// A profile to export as `AWS_PROFILE` in the suggested shell lines.
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub accounts: NameFilter,
    #[serde(default)]
    pub roles: NameFilter,
}

/// Include and exclude patterns (`*` matches any run of characters).
/// An empty `include` admits everything; `exclude` wins over `include`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameFilter {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn default_template() -> String {
    DEFAULT_TEMPLATE.to_owned()
}

impl NameFilter {
    /// Whether any of `names` (an account's name and id, or a role name) is admitted.
    pub fn admits(&self, names: &[&str]) -> bool {
        let hit = |patterns: &[String]| {
            patterns
                .iter()
                .any(|p| names.iter().any(|n| glob_match(p, n)))
        };
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }
}

/// Case-insensitive match of `name` against `pattern`, where `*` is any run.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_lowercase();
    let name = name.to_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

impl TeamFile {
    /// Parse and check team-file TOML. The error is a sentence for a person.
    pub fn parse(text: &str) -> Result<TeamFile, String> {
        let team: TeamFile = toml::from_str(text).map_err(|e| e.to_string())?;
        team.check()?;
        Ok(team)
    }

    /// What `--start-url URL --region R` means: defaults for everything else.
    pub fn from_start_url(start_url: &str, region: &str) -> TeamFile {
        TeamFile {
            start_url: start_url.to_owned(),
            region: region.to_owned(),
            session_name: None,
            profile_template: default_template(),
            default_region: None,
            default_profile: None,
            accounts: NameFilter::default(),
            roles: NameFilter::default(),
        }
    }

    /// The sso-session name: as given, else the first label of the start
    /// URL's host (`https://my-org.awsapps.com/start` -> `my-org`).
    pub fn session_name(&self) -> String {
        if let Some(name) = self.session_name.as_deref().filter(|n| !n.is_empty()) {
            return name.to_owned();
        }
        let host = self
            .start_url
            .split("://")
            .nth(1)
            .unwrap_or(&self.start_url)
            .split(['/', ':', '.'])
            .next()
            .unwrap_or_default();
        let safe = super::names::safe_name(host);
        if safe.is_empty() {
            "credbroker".to_owned()
        } else {
            safe
        }
    }

    /// The region written on each profile.
    pub fn profile_region(&self) -> &str {
        self.default_region.as_deref().unwrap_or(&self.region)
    }

    /// Every value is usable: an https start URL, a region-shaped region, a
    /// session name that fits in a section header, a template with known
    /// placeholders.
    pub fn check(&self) -> Result<(), String> {
        if !(self.start_url.starts_with("https://") || self.start_url.starts_with("http://")) {
            return Err(format!(
                "start_url {:?} is not a URL; copy it from the IAM Identity Center console \
                 (e.g. https://my-org.awsapps.com/start)",
                self.start_url
            ));
        }
        for (key, value) in [
            ("region", Some(&self.region)),
            ("default_region", self.default_region.as_ref()),
        ] {
            if let Some(v) = value {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(format!(
                        "{key} {v:?} is not an AWS region such as eu-west-1"
                    ));
                }
            }
        }
        let session = self.session_name();
        if session.is_empty()
            || !session
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "session_name {session:?} must be letters, digits, '-', '_' or '.'"
            ));
        }
        check_template(&self.profile_template)
    }
}

/// Every `{...}` in `template` names a known placeholder, and braces pair up.
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    let mut placeholders = 0;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("profile_template {template:?} has a '{{' with no '}}'"))?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "profile_template {template:?} uses {{{name}}}; known placeholders: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        placeholders += 1;
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!(
            "profile_template {template:?} has a '}}' with no '{{'"
        ));
    }
    if placeholders == 0 {
        return Err(format!(
            "profile_template {template:?} has no placeholder, so every profile would get the same name"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: &str = r#"
start_url = "https://my-org.awsapps.com/start"
region = "eu-west-1"
profile_template = "{account_name}-{role_name}"
default_region = "eu-central-1"

[accounts]
include = ["prod-*", "123456789012"]
exclude = ["*-sandbox"]

[roles]
exclude = ["AWSAdministratorAccess"]
"#;

    #[test]
    fn parses_with_defaults() {
        let team = TeamFile::parse(TEAM).unwrap();
        assert_eq!(team.session_name(), "my-org");
        assert_eq!(team.profile_region(), "eu-central-1");
        let minimal = TeamFile::parse(
            "start_url = \"https://x.awsapps.com/start\"\nregion = \"us-east-1\"\nsession_name = \"corp\"\n",
        )
        .unwrap();
        assert_eq!(minimal.profile_template, DEFAULT_TEMPLATE);
        assert_eq!(minimal.session_name(), "corp");
        assert_eq!(minimal.profile_region(), "us-east-1");
        assert_eq!(minimal, {
            let mut t = TeamFile::from_start_url("https://x.awsapps.com/start", "us-east-1");
            t.session_name = Some("corp".into());
            t
        });
    }

    #[test]
    fn filters_match_names_or_ids_and_exclude_wins() {
        let team = TeamFile::parse(TEAM).unwrap();
        assert!(team.accounts.admits(&["prod-eu", "999999999999"]));
        assert!(team.accounts.admits(&["anything", "123456789012"]));
        assert!(!team.accounts.admits(&["dev", "999999999999"]));
        assert!(!team.accounts.admits(&["prod-sandbox", "999999999999"]));
        assert!(team.roles.admits(&["ReadOnly"]));
        assert!(!team.roles.admits(&["awsadministratoraccess"]));
    }

    #[test]
    fn glob() {
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("ab*", "ab"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(!glob_match("a*c", "ab"));
        assert!(glob_match("Prod", "prod"));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let base = "start_url = \"https://x.awsapps.com/start\"\nregion = \"us-east-1\"\n";
        let e = TeamFile::parse(&format!("{base}profile_template = \"{{acct}}\"\n")).unwrap_err();
        assert!(e.contains("{account_name}"), "{e}");
        let e = TeamFile::parse(&format!("{base}profile_template = \"fixed\"\n")).unwrap_err();
        assert!(e.contains("no placeholder"), "{e}");
        let e = TeamFile::parse(&format!("{base}session_name = \"a b\"\n")).unwrap_err();
        assert!(e.contains("session_name"), "{e}");
        let e = TeamFile::parse("start_url = \"x\"\nregion = \"us-east-1\"\n").unwrap_err();
        assert!(e.contains("not a URL"), "{e}");
        assert!(TeamFile::parse(&format!("{base}colour = 1\n")).is_err());
        let e = TeamFile::parse(&format!("{base}default_region = \"eu west\"\n")).unwrap_err();
        assert!(e.contains("default_region"), "{e}");
    }
}
