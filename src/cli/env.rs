//! `credbroker env --profile NAME`: the environment that points a shell's
//! AWS tools at the daemon, printed for `eval "$(credbroker env ...)"`.
//!
//! What is set and why (protocols.md §1):
//! - `AWS_CONTAINER_CREDENTIALS_FULL_URI`: the daemon's URL for this profile.
//! - `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`: read by current SDKs on every
//!   fetch, so a rotated token is picked up.
//! - `AWS_CONTAINER_AUTHORIZATION_TOKEN`: the token itself, for clients from
//!   before late 2023 (Debian 12's AWS CLI 2.9) that know only this one.
//!
//! Both carry a token scoped to this one profile ([`crate::server::scope`]),
//! never the daemon's secret: a tool started for `dev` cannot read `prod`.
//! The file is `<runtime dir>/tokens/<hash of the profile>`, written here
//! (0600) and re-derived by the daemon when the secret is rotated.
//! - `AWS_REGION` / `AWS_DEFAULT_REGION`: when the profile names a region.
//!
//! What is unset: every variable an SDK would consult before the container
//! provider (static keys, `AWS_PROFILE`, web identity, and
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, which Python, Rust and JS prefer
//! over FULL_URI). A `[default]` profile with keys in `~/.aws/credentials`
//! still wins over the container provider in most SDKs; that cannot be
//! undone from the environment.
//!
//! [`credential_env`] computes all of it without I/O; `exec` applies the
//! same [`EnvPlan`] to a child process.

use crate::server::AuthToken;
use anyhow::Context as _;
use std::path::Path;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The token it prints reads that one profile only. Examples:
  eval \"$(credbroker env --profile dev)\"      # this shell: terraform, aws, SDKs
  credbroker env --profile dev --format fish | source
  credbroker env --profile dev --format powershell | Invoke-Expression
  credbroker env --profile dev --format json   # for scripts")]
pub struct Args {
    /// The AWS profile whose credentials the tools should get (on a
    /// terminal, leave it out to pick one).
    #[arg(long)]
    pub profile: Option<String>,
    /// `sh` prints export/unset lines for eval (bash, zsh, dash); `fish` and
    /// `powershell` print those shells' own; `json` prints {"set":{..},"unset":[..]}.
    #[arg(long, value_enum, default_value_t = Format::Sh)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Sh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    Json,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let profile = super::pick::profile_or_pick(args.profile, "env", &ctx.paths)?;
    let plan = plan_for_profile(&profile, ctx)?;
    let text = match args.format {
        Format::Sh => plan.to_shell(),
        Format::Fish => plan.to_fish(),
        Format::Powershell => plan.to_powershell(),
        Format::Json => plan.to_json(),
    };
    print!("{text}");
    Ok(())
}

/// The variable that carries the token itself; redacted in `Debug`.
const TOKEN_VAR: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";

/// Variables an SDK would use instead of the endpoint.
const SHADOWING_VARS: &[&str] = &[
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
];

/// Variables to set and to remove, in order.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvPlan {
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
}

impl std::fmt::Debug for EnvPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: Vec<(&str, &str)> = self
            .set
            .iter()
            .map(|(name, value)| {
                let shown = if name == TOKEN_VAR {
                    "** redacted **"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("EnvPlan")
            .field("set", &set)
            .field("unset", &self.unset)
            .finish()
    }
}

impl Drop for EnvPlan {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (_, value) in &mut self.set {
            value.zeroize();
        }
    }
}

/// The environment for `profile` served at `endpoint_base`
/// (`http://127.0.0.1:PORT`).
pub fn credential_env(
    endpoint_base: &str,
    profile: &str,
    token_file: &Path,
    token: &str,
    region: Option<&str>,
) -> EnvPlan {
    let uri = format!(
        "{}{}{}",
        endpoint_base.trim_end_matches('/'),
        crate::server::routes::CREDENTIALS_PATH,
        encode_path_segment(profile)
    );
    let mut set = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI".to_owned(), uri),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".to_owned(),
            token_file.to_string_lossy().into_owned(),
        ),
        (TOKEN_VAR.to_owned(), token.to_owned()),
    ];
    if let Some(region) = region.filter(|r| !r.is_empty()) {
        set.push(("AWS_REGION".to_owned(), region.to_owned()));
        set.push(("AWS_DEFAULT_REGION".to_owned(), region.to_owned()));
    }
    EnvPlan {
        set,
        unset: SHADOWING_VARS.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// Everything `env` and `exec` need: the profile must exist and be one the
/// daemon serves (SSO role, web identity or chain);
/// the daemon's secret is created if missing, exactly as the daemon would,
/// and the profile's scoped token file is written.
pub fn plan_for_profile(profile: &str, ctx: &crate::context::Context) -> anyhow::Result<EnvPlan> {
    let config = crate::config::AwsConfig::load_default(&ctx.paths)?;
    // Every kind of profile the daemon serves: an SSO role, a web identity,
    // or a chain of roles assumed on one of them.
    let chain = config
        .chain(profile)
        .with_context(|| format!("profile '{profile}' cannot be served by credbroker"))?;
    let region = chain.region();
    let secret = AuthToken::load_or_create(&ctx.paths.token_file())?;
    let runtime_dir = &ctx.paths.runtime_dir;
    let token_file = crate::server::scope::write_token_file(runtime_dir, &secret, profile)
        .with_context(|| format!("cannot write the token file for '{profile}'"))?;
    let token = crate::server::scope::scoped_token(&secret, profile);
    let endpoint_file = ctx.paths.endpoint_file();
    let base = match crate::daemon::read_endpoint_file(&endpoint_file)? {
        Some(base) => base,
        None => {
            eprintln!(
                "credbroker: no daemon is running (no {}); start one with `credbroker daemon`",
                endpoint_file.display()
            );
            crate::daemon::endpoint_base(&ctx.paths)?
        }
    };
    Ok(credential_env(
        &base,
        profile,
        &token_file,
        token.expose(),
        region.as_deref(),
    ))
}

impl EnvPlan {
    /// POSIX shell lines: one `export` per variable, then one `unset`.
    pub fn to_shell(&self) -> String {
        let mut out = String::new();
        for (name, value) in &self.set {
            out.push_str(&format!("export {name}={}\n", shell_quote(value)));
        }
        if !self.unset.is_empty() {
            out.push_str(&format!("unset {}\n", self.unset.join(" ")));
        }
        out
    }

    /// fish lines for `| source`: `set -e` for each removal, then
    /// `set -gx` for each variable.
    pub fn to_fish(&self) -> String {
        let mut out = String::new();
        for name in &self.unset {
            out.push_str(&format!("set -e {name}\n"));
        }
        for (name, value) in &self.set {
            out.push_str(&format!("set -gx {name} {}\n", fish_quote(value)));
        }
        out
    }

    /// PowerShell lines for `| Invoke-Expression`.
    pub fn to_powershell(&self) -> String {
        let mut out = String::new();
        for name in &self.unset {
            out.push_str(&format!(
                "Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue\n"
            ));
        }
        for (name, value) in &self.set {
            out.push_str(&format!("$env:{name} = {}\n", powershell_quote(value)));
        }
        out
    }

    /// `{"set": {NAME: VALUE, ...}, "unset": [NAME, ...]}` and a newline.
    pub fn to_json(&self) -> String {
        let set: serde_json::Map<String, serde_json::Value> = self
            .set
            .iter()
            .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
            .collect();
        let mut out = serde_json::json!({ "set": set, "unset": self.unset }).to_string();
        out.push('\n');
        out
    }

    /// Apply to a child process: removals first, so a name in both lists is set.
    pub fn apply(&self, command: &mut std::process::Command) {
        for name in &self.unset {
            command.env_remove(name);
        }
        for (name, value) in &self.set {
            command.env(name, value);
        }
    }
}

/// Quote for a POSIX shell: bare when only safe characters, else single
/// quotes with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Quote for fish: single quotes, where only `\\` and `\'` are escapes.
pub fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Quote for PowerShell: a verbatim (single-quoted) string, where every
/// quote character PowerShell accepts (the ASCII one and the typographic
/// ones) is doubled.
pub fn powershell_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fish_and_powershell_lines_quote_what_they_carry() {
        let plan = super::EnvPlan {
            set: vec![("A".into(), "it's \\ \u{2019}x".into())],
            unset: vec!["B".into(), "C".into()],
        };
        assert_eq!(
            plan.to_fish(),
            "set -e B\nset -e C\nset -gx A 'it\\'s \\\\ \u{2019}x'\n"
        );
        assert_eq!(
            plan.to_powershell(),
            "Remove-Item -Path Env:B -ErrorAction SilentlyContinue\n\
             Remove-Item -Path Env:C -ErrorAction SilentlyContinue\n\
             $env:A = 'it''s \\ \u{2019}\u{2019}x'\n"
        );
    }

    use super::*;

    fn plan(profile: &str, region: Option<&str>) -> EnvPlan {
        credential_env(
            "http://127.0.0.1:9911",
            profile,
            Path::new("/run/user/1000/credbroker/token"),
            "tok-en_123",
            region,
        )
    }

    fn value<'a>(plan: &'a EnvPlan, name: &str) -> Option<&'a str> {
        plan.set
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn points_clients_at_the_profile_url_with_both_token_forms() {
        let plan = plan("dev", None);
        assert_eq!(
            value(&plan, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            Some("http://127.0.0.1:9911/v1/credentials/dev")
        );
        assert_eq!(
            value(&plan, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            Some("/run/user/1000/credbroker/token")
        );
        assert_eq!(
            value(&plan, "AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            Some("tok-en_123")
        );
        assert_eq!(value(&plan, "AWS_REGION"), None);
    }

    #[test]
    fn unsets_everything_that_would_shadow_the_endpoint() {
        let plan = plan("dev", None);
        for name in [
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
        ] {
            assert!(plan.unset.iter().any(|n| n == name), "{name}");
        }
        assert!(plan.set.iter().all(|(n, _)| !plan.unset.contains(n)));
    }

    #[test]
    fn region_sets_both_region_variables() {
        let plan = plan("dev", Some("eu-west-1"));
        assert_eq!(value(&plan, "AWS_REGION"), Some("eu-west-1"));
        assert_eq!(value(&plan, "AWS_DEFAULT_REGION"), Some("eu-west-1"));
    }

    #[test]
    fn profile_is_percent_encoded_in_the_url() {
        let plan = plan("team dev/é", None);
        assert_eq!(
            value(&plan, "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            Some("http://127.0.0.1:9911/v1/credentials/team%20dev%2F%C3%A9")
        );
        assert_eq!(
            crate::server::routes::parse_route("/v1/credentials/team%20dev%C3%A9"),
            crate::server::routes::Route::Credentials("team devé".into())
        );
    }

    #[test]
    fn shell_output_is_quoted_and_eval_safe() {
        assert_eq!(
            shell_quote("http://127.0.0.1:1/v1/credentials/dev"),
            "http://127.0.0.1:1/v1/credentials/dev"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_quote(""), "''");
        let text = plan("dev", Some("us-east-1")).to_shell();
        assert!(text.starts_with("export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/v1/credentials/dev\n"), "{text}");
        assert!(
            text.ends_with(&format!("unset {}\n", SHADOWING_VARS.join(" "))),
            "{text}"
        );
    }

    #[test]
    fn json_output_has_set_object_and_unset_list() {
        let v: serde_json::Value = serde_json::from_str(&plan("dev", None).to_json()).unwrap();
        assert_eq!(v["set"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"], "tok-en_123");
        assert!(v["unset"]
            .as_array()
            .unwrap()
            .contains(&"AWS_PROFILE".into()));
    }

    #[test]
    fn debug_redacts_the_token() {
        let text = format!("{:?}", plan("dev", None));
        assert!(!text.contains("tok-en_123"), "{text}");
        assert!(text.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    }
}
