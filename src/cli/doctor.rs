//! `credbroker doctor [--json]`: gather the facts ([`crate::doctor`] judges
//! them) and print each check with its fix. Exits 1 when a check fails.

use crate::config::AwsConfig;
use crate::doctor::{self, Facts};
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(
    about = "Find out why credentials do not reach a tool, with the fix for each problem",
    long_about = "Check everything credentials pass through on their way to a tool, and say \
        for each part ok, a warning, or an error with the fix: the OS keychain; the daemon, \
        its socket and its endpoint; the background service; the AWS config file; each \
        session's sign-in; this machine's clock against IAM Identity Center's; environment \
        and files that would win over credbroker in the SDKs (exported AWS_ACCESS_KEY_ID, \
        AWS_PROFILE naming a plain SSO profile, static keys in [default] of \
        ~/.aws/credentials, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI); and profiles the AWS \
        CLI would read differently from credbroker. Exits 1 when any check is an error.",
    after_help = "Examples:\n  \
        credbroker doctor\n  \
        credbroker doctor --json | jq '.checks[] | select(.level != \"ok\")'"
)]
pub struct Args {
    /// Print the checks as one JSON object: {"checks": [...], "errors": N, "warnings": N}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<i32> {
    let facts = gather(ctx).await;
    let checks = doctor::diagnose(&facts);
    if args.json {
        let count = |level| checks.iter().filter(|c| c.level == level).count();
        let report = serde_json::json!({
            "checks": checks,
            "errors": count(doctor::Level::Error),
            "warnings": count(doctor::Level::Warning),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", doctor::render(&checks));
    }
    Ok(doctor::exit_code(&checks))
}

async fn gather(ctx: &crate::context::Context) -> Facts {
    let status = super::status::gather(ctx).await;
    let config = AwsConfig::load(&status.config.path).ok();
    let endpoint_answer = match &status.endpoint {
        Some(base) => Some(probe_endpoint(base, ctx).await),
        None => None,
    };
    let env = [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ]
    .into_iter()
    .filter_map(|name| Some((name.to_owned(), ctx.env.var(name)?)))
    .collect();
    let credentials_path = ctx
        .env
        .var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ctx.paths.home.join(".aws/credentials"));
    let credentials_file = std::fs::read_to_string(&credentials_path)
        .ok()
        .map(|text| (credentials_path, text));
    let mut regions: Vec<String> = config
        .iter()
        .flat_map(|c| c.sessions.values().map(|s| s.region.clone()))
        .filter(|r| !r.is_empty())
        .collect();
    regions.sort();
    regions.dedup();
    let mut idp_clock = Vec::new();
    for region in regions {
        let answer = idp_time(&region, ctx).await;
        idp_clock.push((region, answer));
    }
    Facts {
        status: Some(status),
        endpoint_answer,
        config,
        env,
        credentials_file,
        idp_clock,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// The endpoint's status for a profile no config names, with the daemon's
/// token: 404 means it answers and the token is good.
async fn probe_endpoint(base: &str, ctx: &crate::context::Context) -> Result<u16, String> {
    let token = std::fs::read_to_string(ctx.paths.token_file())
        .map_err(|e| format!("cannot read the token file: {e}"))?;
    client()
        .get(format!("{base}/v1/credentials/credbroker-doctor-probe"))
        .header("authorization", token.trim())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.without_url().to_string())
}

/// IAM Identity Center's clock in `region` (its `Date` header), and ours.
async fn idp_time(
    region: &str,
    ctx: &crate::context::Context,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let base = ctx.clients.url(crate::sdk::Service::Oidc, region);
    let response = client()
        .get(&base)
        .send()
        .await
        .map_err(|e| format!("{base}: {}", e.without_url()))?;
    let ours = Utc::now();
    let date = response
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{base} sent no Date header"))?;
    let theirs = DateTime::parse_from_rfc2822(date)
        .map_err(|_| format!("{base} sent a Date header that does not parse"))?;
    Ok((theirs.with_timezone(&Utc), ours))
}
