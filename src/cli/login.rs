//! `credbroker login`: sign a session in to IAM Identity Center and keep
//! the token in the OS keychain.
//!
//! Like the AWS CLI since 2.22, an sso-session signs in with the
//! authorization code and PKCE (the browser comes back to a listener on
//! 127.0.0.1). That needs a browser on this machine, so the device code
//! (approve on any device) is used instead with `--device-code` or
//! `--no-browser`, over SSH, where no browser can be opened, and for legacy
//! profiles ([`choose_method`]).
//!
//! The session comes from `~/.aws/config` (or `$AWS_CONFIG_FILE`), named
//! directly (`--sso-session`) or through a profile that uses it
//! (`--profile`). The keychain is checked before anything else, so a missing
//! Secret Service is reported before the person approves a code for nothing.

use crate::config::{AwsConfig, SessionInfo};
use crate::model::{format_time, SsoToken};
use crate::sso::login::{can_open_browser, device_login, LoginOptions};
use crate::sso::pkce_login::pkce_login;
use crate::store::{open_keychain, Vault};
use chrono::Utc;
use std::ffi::OsString;

#[derive(clap::Args, Debug)]
#[command(
    about = "Sign in to IAM Identity Center and keep the token in the OS keychain",
    long_about = "Sign in to IAM Identity Center.\n\n\
        By default credbroker opens the sign-in page in a browser on this machine (and \
        prints it); once you approve, the browser comes back to credbroker on 127.0.0.1 \
        (authorization code with PKCE, as the AWS CLI does). With --device-code or \
        --no-browser, over SSH, or where no browser can be opened, it shows a short code \
        and a page to open on any device instead: check that the page shows the same \
        code and approve it. The access token, and a refresh token when the sso-session asks \
        for the sso:account:access scope, go to the OS keychain (never to a plain file), \
        where the daemon and `credbroker credential-process` find them.\n\n\
        Name what to sign in with either an [sso-session NAME] section of ~/.aws/config \
        or a profile that uses one (profiles with sso_start_url of their own work too, \
        but cannot be renewed without signing in again). With neither, the config's only \
        [sso-session] is used; when it has several, they are listed.\n\n\
        Already signed in? On a terminal credbroker says until when the sign-in is valid \
        and asks before signing in again; --force signs in again without asking.",
    after_help = "Examples:\n  \
        credbroker login                                # the config's only sso-session\n  \
        credbroker login --sso-session my-org\n  \
        credbroker login --profile dev --device-code    # approve on another device\n  \
        credbroker login --sso-session my-org --export-aws-cli-cache"
)]
#[command(group = clap::ArgGroup::new("target").args(["sso_session", "profile"]))]
pub struct Args {
    /// The [sso-session NAME] section of ~/.aws/config to sign in with.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,
    /// A profile whose sso-session (or legacy sso_start_url) to sign in with.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Do not open a browser; print a page and code to open elsewhere (the
    /// device code: implies --device-code).
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in with a device code instead of the browser on this machine
    /// (automatic over SSH and without a display).
    #[arg(long)]
    pub device_code: bool,
    /// Also write the token to ~/.aws/sso/cache for tools that read the AWS
    /// CLI's cache. Off by default: that file holds the token in plain text.
    #[arg(long)]
    pub export_aws_cli_cache: bool,
    /// Print the result as JSON on stdout (the sign-in prompts stay on stderr).
    #[arg(long)]
    pub json: bool,
    /// Sign in again without asking, even while the current sign-in is valid.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let config = AwsConfig::load_default(&ctx.paths)?;
    let session = match (&args.sso_session, &args.profile) {
        (Some(name), _) => config.session(name)?,
        (None, Some(profile)) => config.session_of_profile(profile)?,
        (None, None) => config.session(&only_session(&config)?)?,
    };
    let vault = open_keychain(ctx.keychain_service()).await?;
    if !args.force && !confirm_sign_in_again(&session, &vault).await? {
        return Ok(());
    }
    let options = LoginOptions {
        open_browser: !args.no_browser,
        cancel_on_ctrl_c: true,
        // A profile's own SDK settings (endpoints, retries) apply to its sign-in.
        ..LoginOptions::new(match &args.profile {
            Some(profile) => ctx.for_profile(&config, profile)?,
            None => ctx.clone(),
        })
    };
    let method = choose_method(args.device_code_asked(), &session, |name| {
        ctx.env.var_os(name)
    });
    let token = sign_in(method, &session, &vault, &options)
        .await
        .map_err(|e| sign_in_failed(&session, e))?;
    if args.export_aws_cli_cache {
        let path = export(&session, &token, &vault, ctx).await?;
        eprintln!(
            "Wrote the AWS CLI token cache {} (plain text; `credbroker logout` removes it).",
            path.display()
        );
    }
    if args.json {
        println!("{}", summary_json(&session.key, &token));
    } else {
        eprintln!(
            "{}",
            summary_line(&session.key, &token, options.ctx.clock.now())
        );
    }
    Ok(())
}

/// The name of the config's one `[sso-session]`, for `login` with no argument.
pub fn only_session(config: &AwsConfig) -> anyhow::Result<String> {
    let names: Vec<&String> = config.sessions.keys().collect();
    match names.as_slice() {
        [one] => Ok((*one).clone()),
        [] => anyhow::bail!(
            "{} has no [sso-session NAME] section; add one (docs/getting-started.md shows how), \
             or name a profile with `credbroker login --profile NAME`",
            config.path.display()
        ),
        several => anyhow::bail!(
            "{} has {} sso-sessions; name one:\n{}",
            config.path.display(),
            several.len(),
            several
                .iter()
                .map(|name| format!("    credbroker login --sso-session {name}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The error of a failed sign-in; where the device code would get round
/// the failure, it ends with the whole command to run.
pub fn sign_in_failed(session: &SessionInfo, error: crate::sso::oidc::LoginError) -> anyhow::Error {
    if error.wants_device_code() {
        anyhow::anyhow!(
            "sign-in to '{}' failed: {error}: `{} --device-code`",
            session.key,
            session.login_command
        )
    } else {
        anyhow::Error::new(error).context(format!("sign-in to '{}' failed", session.key))
    }
}

/// Whether to go on with a sign-in while `session` may already be signed
/// in: yes when it is not, or its token is about to expire, or stdin is no
/// terminal (a script that runs `login` wants a sign-in); on a terminal the
/// person is told until when the sign-in is valid and asked.
async fn confirm_sign_in_again(session: &SessionInfo, vault: &Vault) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    let Ok(Some(token)) = vault.sso_token(&session.key).await else {
        return Ok(true);
    };
    let now = Utc::now();
    let Some(question) = sign_in_again_question(&session.key, &token, now) else {
        return Ok(true);
    };
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} (not a terminal: signing in again)");
        return Ok(true);
    }
    eprint!("{question} Sign in again? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    let again = is_yes(&answer);
    if !again {
        eprintln!("Kept the current sign-in (`--force` signs in again without asking).");
    }
    Ok(again)
}

/// `Already signed in to 'corp' until ... (about 7h12m left).`, or `None`
/// when the token is expired or has less than five minutes left.
pub fn sign_in_again_question(
    session: &str,
    token: &SsoToken,
    now: chrono::DateTime<Utc>,
) -> Option<String> {
    let left = token.expires_at - now;
    if left < chrono::Duration::minutes(5) {
        return None;
    }
    Some(format!(
        "Already signed in to '{session}' until {} (about {}h{:02}m left).",
        format_time(token.expires_at),
        left.num_hours(),
        left.num_minutes() % 60
    ))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

impl Args {
    /// `--device-code`, or `--no-browser`, which implies it.
    fn device_code_asked(&self) -> bool {
        self.device_code || self.no_browser
    }
}

/// How a sign-in runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Authorization code with PKCE, in a browser on this machine.
    Pkce,
    /// Device code, approved on any device.
    DeviceCode,
}

/// PKCE, unless the device code is asked for (`--device-code`,
/// `--no-browser`), over SSH, without a browser, or for a legacy profile
/// (the AWS CLI keeps those on the device code too).
pub fn choose_method(
    device_code: bool,
    session: &SessionInfo,
    env: impl Fn(&str) -> Option<OsString>,
) -> Method {
    if device_code || session.legacy || !can_open_browser(env) {
        Method::DeviceCode
    } else {
        Method::Pkce
    }
}

/// Sign `session` in by `method` and save the token; `login` and `onboard`
/// both start here.
pub async fn sign_in(
    method: Method,
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
) -> Result<SsoToken, crate::sso::oidc::LoginError> {
    match method {
        Method::Pkce => pkce_login(session, vault, options).await,
        Method::DeviceCode => device_login(session, vault, options).await,
    }
}

/// Write the AWS CLI cache for the token just saved, with the registration
/// that obtained it (so the SDKs can renew it themselves).
async fn export(
    session: &SessionInfo,
    token: &SsoToken,
    vault: &Vault,
    ctx: &crate::context::Context,
) -> anyhow::Result<std::path::PathBuf> {
    let registration = match &token.registration_key {
        Some(key) => vault.registration(key).await?,
        None => None,
    };
    Ok(crate::aws_cli_cache::export_aws_cli_cache(
        session,
        token,
        registration.as_ref(),
        &ctx.paths.home,
    )?)
}

/// `Signed in to 'work'; the token is valid until ... (8h), renewable.`
pub fn summary_line(session: &str, token: &SsoToken, now: chrono::DateTime<Utc>) -> String {
    let left = token.expires_at - now;
    let renewal = if token.refresh_token.is_some() {
        "renewed automatically until the sign-in session ends"
    } else {
        "not renewable: sign in again when it expires (add sso_registration_scopes = sso:account:access to the [sso-session] to get a renewable sign-in)"
    };
    format!(
        "Signed in to '{session}' ({}). The token is valid until {} (about {}h{:02}m); {renewal}.",
        token.start_url,
        format_time(token.expires_at),
        left.num_hours().max(0),
        (left.num_minutes() % 60).max(0),
    )
}

/// `{"session":..,"startUrl":..,"region":..,"expiresAt":..,"refreshable":..}`
pub fn summary_json(session: &str, token: &SsoToken) -> String {
    serde_json::json!({
        "session": session,
        "startUrl": token.start_url,
        "region": token.region,
        "expiresAt": format_time(token.expires_at),
        "refreshable": token.refresh_token.is_some(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;
    use chrono::{Duration, TimeZone};
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn token(refresh: bool) -> SsoToken {
        SsoToken {
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            access_token: Secret::new("at-secret"),
            expires_at: Utc.with_ymd_and_hms(2030, 1, 1, 8, 0, 0).unwrap(),
            refresh_token: refresh.then(|| Secret::new("rt-secret")),
            issued_at: None,
            registration_key: None,
        }
    }

    #[test]
    fn at_most_one_target() {
        assert!(Cli::try_parse_from(["x", "--sso-session", "a"]).is_ok());
        assert!(Cli::try_parse_from(["x", "--profile", "p", "--no-browser"]).is_ok());
        assert!(Cli::try_parse_from(["x"]).is_ok());
        assert!(Cli::try_parse_from(["x", "--sso-session", "a", "--profile", "p"]).is_err());
    }

    fn config(text: &str) -> AwsConfig {
        AwsConfig::parse(text, std::path::Path::new("/home/me/.aws/config")).unwrap()
    }

    #[test]
    fn no_argument_takes_the_only_session_and_lists_several() {
        let one =
            config("[sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n");
        assert_eq!(only_session(&one).unwrap(), "corp");
        let two = config(
            "[sso-session corp]\nsso_start_url = https://x/start\nsso_region = us-east-1\n\
             [sso-session lab]\nsso_start_url = https://y/start\nsso_region = eu-west-1\n",
        );
        let message = only_session(&two).unwrap_err().to_string();
        assert!(message.contains("has 2 sso-sessions"), "{message}");
        assert!(
            message.contains("credbroker login --sso-session corp"),
            "{message}"
        );
        assert!(
            message.contains("credbroker login --sso-session lab"),
            "{message}"
        );
        let none = only_session(&config("[profile a]\nregion = us-east-1\n")).unwrap_err();
        assert!(
            none.to_string()
                .contains("/home/me/.aws/config has no [sso-session"),
            "{none}"
        );
    }

    #[test]
    fn a_valid_sign_in_is_named_with_its_expiry() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 48, 0).unwrap();
        let question = sign_in_again_question("work", &token(true), now).unwrap();
        assert!(
            question.contains("until 2030-01-01T08:00:00Z"),
            "{question}"
        );
        assert!(question.contains("7h12m"), "{question}");
        let nearly = Utc.with_ymd_and_hms(2030, 1, 1, 7, 57, 0).unwrap();
        assert_eq!(sign_in_again_question("work", &token(true), nearly), None);
        assert!(is_yes("Y\n") && is_yes(" yes ") && !is_yes("\n") && !is_yes("no"));
    }

    #[test]
    fn a_failure_the_device_code_gets_round_names_the_whole_command() {
        let mut s = session(false);
        s.login_command = "credbroker login --sso-session work".into();
        let timeout =
            crate::sso::oidc::LoginError::BrowserTimeout(std::time::Duration::from_secs(300));
        let message = sign_in_failed(&s, timeout).to_string();
        assert!(
            message.ends_with("`credbroker login --sso-session work --device-code`"),
            "{message}"
        );
        let denied = format!(
            "{:#}",
            sign_in_failed(&s, crate::sso::oidc::LoginError::Denied)
        );
        assert!(!denied.contains("--device-code"), "{denied}");
    }

    fn session(legacy: bool) -> SessionInfo {
        SessionInfo {
            key: "work".into(),
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            registration_scopes: vec!["sso:account:access".into()],
            legacy,
            login_command: String::new(),
        }
    }

    #[test]
    fn pkce_by_default_device_code_when_asked_or_without_a_browser() {
        let desktop = |name: &str| (name == "DISPLAY").then(|| OsString::from(":0"));
        let ssh = |name: &str| match name {
            "DISPLAY" => Some(OsString::from(":0")),
            "SSH_CONNECTION" => Some(OsString::from("10.0.0.1 5 10.0.0.2 22")),
            _ => None,
        };
        let asked = |extra: &[&str]| {
            let mut argv = vec!["x", "--sso-session", "work"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).unwrap().args.device_code_asked()
        };
        assert!(!asked(&[]));
        assert!(asked(&["--device-code"]));
        assert!(asked(&["--no-browser"]));
        let s = session(false);
        assert_eq!(choose_method(false, &s, desktop), Method::Pkce);
        assert_eq!(choose_method(true, &s, desktop), Method::DeviceCode);
        assert_eq!(choose_method(false, &s, ssh), Method::DeviceCode);
        assert_eq!(
            choose_method(false, &session(true), desktop),
            Method::DeviceCode
        );
        #[cfg(all(unix, not(target_os = "macos")))]
        assert_eq!(choose_method(false, &s, |_| None), Method::DeviceCode);
    }

    #[test]
    fn summaries_carry_expiry_and_renewability_but_no_secret() {
        let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() - Duration::minutes(5);
        let line = summary_line("work", &token(true), now);
        assert!(
            line.contains("2030-01-01T08:00:00Z") && line.contains("8h05m"),
            "{line}"
        );
        assert!(line.contains("renewed automatically"));
        assert!(summary_line("work", &token(false), now).contains("not renewable"));
        let json: serde_json::Value =
            serde_json::from_str(&summary_json("work", &token(true))).unwrap();
        assert_eq!(json["refreshable"], true);
        assert_eq!(json["expiresAt"], "2030-01-01T08:00:00Z");
        for text in [line, json.to_string()] {
            assert!(!text.contains("secret"), "{text}");
        }
    }
}
