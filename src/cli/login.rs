//! `credbroker login`: sign a session in to IAM Identity Center with the
//! device-code flow and keep the token in the OS keychain.
//!
//! The session comes from `~/.aws/config` (or `$AWS_CONFIG_FILE`), named
//! directly (`--sso-session`) or through a profile that uses it
//! (`--profile`). The keychain is checked before anything else, so a missing
//! Secret Service is reported before the person approves a code for nothing.

use crate::config::AwsConfig;
use crate::model::{format_time, SsoToken};
use crate::sso::login::{device_login, LoginOptions};
use crate::store::open_keychain;
use anyhow::Context as _;
use chrono::Utc;

#[derive(clap::Args, Debug)]
#[command(
    about = "Sign in to IAM Identity Center and keep the token in the OS keychain",
    long_about = "Sign in to IAM Identity Center with the device-code flow.\n\n\
        credbroker shows a short code and opens the sign-in page in a browser (or tells \
        you which page to open on any device). Check that the page shows the same code \
        and approve it. The access token, and a refresh token when the sso-session asks \
        for the sso:account:access scope, go to the OS keychain (never to a plain file), \
        where the daemon and `credbroker credential-process` find them.\n\n\
        Name what to sign in with either an [sso-session NAME] section of ~/.aws/config \
        or a profile that uses one (profiles with sso_start_url of their own work too, \
        but cannot be renewed without signing in again).",
    after_help = "Examples:\n  \
        credbroker login --sso-session my-org\n  \
        credbroker login --profile dev --no-browser     # over SSH, approve on your laptop"
)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["sso_session", "profile"]))]
pub struct Args {
    /// The [sso-session NAME] section of ~/.aws/config to sign in with.
    #[arg(long, value_name = "NAME")]
    pub sso_session: Option<String>,
    /// A profile whose sso-session (or legacy sso_start_url) to sign in with.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Do not open a browser; print the page and code to open elsewhere.
    /// (No browser is opened over SSH or without a display anyway.)
    #[arg(long)]
    pub no_browser: bool,
    /// Print the result as JSON on stdout (the sign-in prompts stay on stderr).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = AwsConfig::load_default()?;
    let session = match (&args.sso_session, &args.profile) {
        (Some(name), _) => config.session(name)?,
        (None, Some(profile)) => config.session_of_profile(profile)?,
        (None, None) => {
            anyhow::bail!("name what to sign in with: --sso-session NAME or --profile NAME")
        }
    };
    let vault = open_keychain().await?;
    let options = LoginOptions {
        open_browser: !args.no_browser,
        cancel_on_ctrl_c: true,
        ..LoginOptions::default()
    };
    let token = device_login(&session, &vault, &options)
        .await
        .with_context(|| format!("sign-in to '{}' failed", session.key))?;
    if args.json {
        println!("{}", summary_json(&session.key, &token));
    } else {
        eprintln!(
            "{}",
            summary_line(&session.key, &token, options.clock.now())
        );
    }
    Ok(())
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
        }
    }

    #[test]
    fn exactly_one_target() {
        assert!(Cli::try_parse_from(["x", "--sso-session", "a"]).is_ok());
        assert!(Cli::try_parse_from(["x", "--profile", "p", "--no-browser"]).is_ok());
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from(["x", "--sso-session", "a", "--profile", "p"]).is_err());
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
