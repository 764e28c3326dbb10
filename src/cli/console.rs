//! `credbroker console --profile P`: the AWS web console, signed in as the
//! profile's role, in one command.
//!
//! The credentials come the way `credential_process` gets them (the daemon,
//! else in process), so every kind of profile credbroker serves works. They
//! are traded at the sign-in service for a one-time token
//! ([`crate::console`]); only that token is ever printed or handed to the
//! browser. Under SSH, with no browser, or with `--print`, the URL is
//! printed as stdout's last line, alone on it, for scripts and for copying.

use crate::config::AwsConfig;
use crate::console::{self, Destination, Partition};
use crate::model::{RoleCredentials, Secret};
use crate::sso::login::can_open_browser;
use anyhow::Context as _;

#[derive(clap::Args, Debug)]
#[command(
    about = "Open the AWS web console signed in as a profile's role",
    long_about = "Open the AWS web console signed in as a profile's role.\n\n\
        The profile's role credentials (from the daemon, or fetched here) are traded at the \
        AWS sign-in service for a one-time sign-in token that is good for 15 minutes; the \
        browser opens a URL holding only that token. Over SSH, where no browser can be \
        opened, or with --print, the URL is printed on stdout instead (the last line, alone). \
        The console opens in the profile's region unless --region says otherwise; \
        --service opens one service's page, --destination any console URL.",
    after_help = "Examples:\n  \
        credbroker console --profile dev\n  \
        credbroker console --profile prod --service s3 --region eu-west-1\n  \
        credbroker console --profile dev --print        # just the URL, e.g. to open elsewhere\n\n\
        Service shortcuts: billing, cloudformation, cloudfront, cloudtrail, cloudwatch, \
        dynamodb, ec2, ecr, ecs, eks, iam, kms, lambda, logs, organizations, rds, route53, \
        s3, secretsmanager, sns, sqs, ssm, sso, vpc."
)]
pub struct Args {
    /// The profile whose role to sign in as (on a terminal, leave it out to
    /// pick one).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Open this service's console page (see the shortcuts below).
    #[arg(long, value_name = "NAME", conflicts_with = "destination")]
    pub service: Option<String>,
    /// Open this console URL (https://...).
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,
    /// The console's region (default: the profile's region, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Print the sign-in URL on stdout instead of opening a browser.
    #[arg(long)]
    pub print: bool,
    /// How long the console session lasts, in seconds (900 to 43200). Not
    /// for chained roles: AWS refuses it for their credentials.
    #[arg(long, value_name = "SECONDS")]
    pub session_duration: Option<u32>,
}

/// The name the console shows as where the sign-in came from.
const ISSUER: &str = "credbroker";

pub async fn run(mut args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let profile = super::pick::profile_or_pick(args.profile.take(), "console", &ctx.paths)?;
    let config = AwsConfig::load_default(&ctx.paths)?;
    let region = args
        .region
        .clone()
        .or_else(|| config.profiles.get(&profile).and_then(|p| p.region.clone()))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let partition = Partition::of_region(&region);
    let destination = match (&args.service, &args.destination) {
        (Some(service), _) => Destination::Service(service.clone()),
        (None, Some(url)) => Destination::Url(url.clone()),
        (None, None) => Destination::Home,
    }
    .url(partition, &region)?;
    let duration = args
        .session_duration
        .map(console::check_duration)
        .transpose()?;
    if duration.is_some() && is_chained(&config, &profile) {
        anyhow::bail!(
            "profile '{}' in {} is a chained role (role_arn with source_profile), and AWS refuses \
             a console session duration for chained-role credentials; run it again without \
             --session-duration (the console session then lasts as long as the credentials)",
            profile,
            config.path.display()
        );
    }

    let document = super::credential_process::document(&profile, ctx).await?;
    let creds = parse_document(&document).context("the credentials answer could not be read")?;
    let endpoint = console::federation_endpoint(partition, |name| ctx.env.var(name));
    let token = signin_token(&endpoint, &creds, duration).await?;
    let url = console::login_url(&endpoint, ISSUER, &destination, &token);

    let open = !args.print && can_open_browser(|name| ctx.env.var_os(name));
    if open && webbrowser::open(&url).is_ok() {
        eprintln!(
            "Opened the console for profile '{}' in the browser ({destination}).",
            profile
        );
        return Ok(());
    }
    if !args.print {
        eprintln!("No browser can be opened here; open this URL (good once, within 15 minutes):");
    }
    println!("{url}");
    Ok(())
}

/// Whether `profile` assumes its role with another role's credentials
/// (one AssumeRole hop or more), as the config's chain resolution reads it.
/// A profile whose chain does not resolve is left to the fetch, which
/// reports why.
fn is_chained(config: &AwsConfig, profile: &str) -> bool {
    config
        .chain(profile)
        .is_ok_and(|chain| !chain.hops.is_empty())
}

/// A `credential_process` document as role credentials.
fn parse_document(document: &str) -> Option<RoleCredentials> {
    let value: serde_json::Value = serde_json::from_str(document).ok()?;
    let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
    Some(RoleCredentials {
        access_key_id: text("AccessKeyId")?,
        secret_access_key: Secret::new(text("SecretAccessKey")?),
        session_token: Secret::new(text("SessionToken")?),
        expiration: text("Expiration")?.parse().ok()?,
        account_id: text("AccountId"),
        issued_at: None,
    })
}

/// Trade `creds` for a one-time sign-in token at `endpoint`.
async fn signin_token(
    endpoint: &str,
    creds: &RoleCredentials,
    duration: Option<u32>,
) -> anyhow::Result<String> {
    let request = console::signin_token_request(endpoint, creds, duration);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    // The request URL holds the role's secret: errors name the endpoint only.
    let response = client.get(request.as_str()).send().await.map_err(|e| {
        anyhow::anyhow!(
            "could not reach the AWS sign-in service at {endpoint}: {}",
            e.without_url()
        )
    })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        anyhow::bail!(
            "the AWS sign-in service at {endpoint} refused the role's session (HTTP {}){}; \
             the credentials may have just expired: run the command again",
            status.as_u16(),
            refusal_reason(&body)
        );
    }
    console::parse_signin_token(&body).ok_or_else(|| {
        anyhow::anyhow!("the AWS sign-in service at {endpoint} answered without a SigninToken")
    })
}

/// A short, printable reason from an error answer, if it has one.
fn refusal_reason(body: &str) -> String {
    let line: String = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('<'))
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_process_document_is_read_back() {
        let doc = r#"{"Version":1,"AccessKeyId":"ASIA1","SecretAccessKey":"s","SessionToken":"t","Expiration":"2030-01-01T00:00:00Z"}"#;
        let creds = parse_document(doc).unwrap();
        assert_eq!(creds.access_key_id, "ASIA1");
        assert_eq!(creds.secret_access_key.expose(), "s");
        assert!(parse_document(r#"{"Version":1}"#).is_none());
    }

    #[test]
    fn chained_profiles_are_told_apart() {
        let config = AwsConfig::parse(
            "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n\
             [profile hub]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n\n\
             [profile deploy]\nrole_arn = arn:aws:iam::222222222222:role/Deploy\nsource_profile = hub\n\n\
             [profile ci]\nrole_arn = arn:aws:iam::333333333333:role/Ci\nweb_identity_token_file = /t\n\n\
             [profile ci-deploy]\ncredbroker_role_arn = arn:aws:iam::222222222222:role/Deploy\ncredbroker_source_profile = ci\n\n\
             [profile orphan]\nrole_arn = arn:aws:iam::222222222222:role/Deploy\nsource_profile = nowhere\n",
            std::path::Path::new("/x/config"),
        )
        .unwrap();
        assert!(is_chained(&config, "deploy"));
        assert!(
            is_chained(&config, "ci-deploy"),
            "web identity, then AssumeRole"
        );
        assert!(!is_chained(&config, "hub"));
        assert!(
            !is_chained(&config, "ci"),
            "AssumeRoleWithWebIdentity alone is no chain"
        );
        assert!(!is_chained(&config, "orphan"), "left to the fetch's error");
        assert!(!is_chained(&config, "missing"));
    }

    #[test]
    fn a_refusal_reason_is_one_clean_line() {
        assert_eq!(
            refusal_reason("<html>\n\nSession expired\x1b[31m\n"),
            ": Session expired[31m"
        );
        assert_eq!(refusal_reason(""), "");
    }
}
