//! `credbroker demo`: the whole flow against the bundled emulator, in a
//! temporary HOME, narrated step by step.
//!
//! First it writes an AWS config with one SSO session and one profile, then
//! starts the emulator (auto-approving sign-ins), signs in with the device
//! code flow, starts the endpoint, resolves credentials through it with the
//! Rust SDK's default credential chain, and finally proves they work by
//! calling the emulator's STS GetCallerIdentity, which checks the SigV4
//! signature. The broker runs in this process on a context of its own
//! (its temp HOME, config, runtime directory and keychain service, and the
//! emulator's URL), so nothing of the person's environment is read or
//! changed; the SDK runs in a child process given only the container
//! variables, as any tool would be. The real keychain is used when one
//! answers (under a throw-away service name, removed at the end), else an
//! in-memory store, and the demo says which.

use crate::broker::Broker;
use crate::context::{Context, Env};
use crate::emulator::{self, EmulatorOptions};
use crate::store::{self, Vault};
use aws_config::BehaviorVersion;
use std::io::Write;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Needs no AWS account and touches nothing of yours: HOME, the AWS config and the
runtime directory all point into a temporary directory that is removed at the end.")]
pub struct Args {
    /// Keep the temporary HOME instead of removing it (its path is printed).
    #[arg(long)]
    pub keep: bool,
    /// Resolve credentials with the Rust SDK's default chain from this
    /// process's environment and call GetCallerIdentity (the demo's step 6
    /// runs itself this way, in a child process).
    #[arg(long, hide = true)]
    pub sdk_probe: bool,
}

const SESSION: &str = "demo";
const PROFILE: &str = "dev-readonly";

fn step(n: u32, text: &str) {
    println!("\n[{n}/7] {text}");
    let _ = std::io::stdout().flush();
}

fn config_text() -> String {
    format!(
        "[sso-session {SESSION}]\n\
         sso_start_url = https://demo.awsapps.com/start\n\
         sso_region = us-east-1\n\
         sso_registration_scopes = sso:account:access\n\n\
         [profile {PROFILE}]\n\
         credential_process = credbroker credential-process --profile {PROFILE}\n\
         credbroker_sso_session = {SESSION}\n\
         credbroker_account_id = 111111111111\n\
         credbroker_role_name = ReadOnly\n\
         region = us-east-1\n"
    )
}

pub async fn run(args: Args, _ctx: &Context) -> anyhow::Result<()> {
    if args.sdk_probe {
        return sdk_probe().await;
    }
    let home = tempfile::Builder::new()
        .prefix("credbroker-demo-")
        .tempdir()?;
    let config_path = home.path().join(".aws/config");

    step(
        1,
        "A temporary HOME with an AWS config: one SSO session, one profile",
    );
    std::fs::create_dir_all(config_path.parent().unwrap())?;
    std::fs::write(&config_path, config_text())?;
    // The demo's own environment: nothing of the person's is read.
    let env = Env::from_pairs([
        ("HOME", home.path().as_os_str().to_owned()),
        ("AWS_CONFIG_FILE", config_path.as_os_str().to_owned()),
        (
            crate::paths::RUNTIME_DIR_ENV,
            home.path().join("run").into_os_string(),
        ),
        (
            "CREDBROKER_KEYCHAIN_SERVICE",
            format!("credbroker-demo-{}", std::process::id()).into(),
        ),
    ]);
    println!("      HOME={}", home.path().display());
    for line in config_text().lines() {
        println!("      | {line}");
    }

    step(
        2,
        "Start the IAM Identity Center + STS emulator (auto-approving sign-ins)",
    );
    let emu = emulator::start(
        "127.0.0.1:0".parse()?,
        EmulatorOptions {
            auto_approve: true,
            ..EmulatorOptions::default()
        },
    )
    .await?;
    let base = emu.base_url();
    let ctx = &Context::new(env.with([("AWS_ENDPOINT_URL", Some(&base))]));
    println!(
        "      emulator at {base}; AWS_ENDPOINT_URL={base} points the official SDK clients at it"
    );

    step(3, "Open the keychain");
    let vault = match store::open_keychain(ctx.keychain_service()).await {
        Ok(vault) => {
            println!("      using the OS keychain (items under a throw-away service name, removed at the end)");
            vault
        }
        Err(e) => {
            println!("      no keychain service answered ({e});");
            println!(
                "      the demo uses an in-memory store instead. `credbroker login` never does."
            );
            Vault::new(Arc::new(store::MemoryStore::default()))
        }
    };

    step(
        4,
        "Sign in with the device-code flow (the emulator approves it)",
    );
    let config = crate::config::AwsConfig::load(&config_path)?;
    let session = config.session(SESSION)?;
    let token = crate::sso::login::device_login(
        &session,
        &vault,
        &crate::sso::login::LoginOptions::no_browser(ctx.clone()),
    )
    .await?;
    println!(
        "      signed in; the access token expires {} and {} refreshable",
        crate::model::format_time(token.expires_at),
        if token.refresh_token.is_some() {
            "is"
        } else {
            "is not"
        }
    );

    step(5, "Start the container-credentials endpoint on loopback");
    let listener = crate::server::bind_loopback("127.0.0.1:0".parse()?).await?;
    let port = listener.local_addr()?.port();
    let token_file = ctx.paths.token_file();
    let auth = crate::server::AuthToken::load_or_create(&token_file)?;
    let broker = Arc::new(Broker::new(vault.clone(), config_path.clone(), ctx));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::server::serve(
        listener,
        broker,
        auth.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let uri = format!("http://127.0.0.1:{port}/v1/credentials/{PROFILE}");
    println!("      AWS_CONTAINER_CREDENTIALS_FULL_URI={uri}");
    println!(
        "      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}",
        token_file.display()
    );

    step(
        6,
        "Resolve credentials with the Rust SDK's default credential chain (a child process)",
    );
    println!(
        "      and 7: call STS GetCallerIdentity with them (the emulator checks the SigV4 signature)"
    );
    let probe = tokio::process::Command::new(std::env::current_exe()?)
        .args(["demo", "--sdk-probe"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &config_path)
        .env("AWS_ENDPOINT_URL", &base)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .status()
        .await?;
    anyhow::ensure!(
        probe.success(),
        "the SDK could not use the credentials ({probe})"
    );
    println!(
        "      upstream calls served by the emulator: {}",
        serde_json::to_string(&emu.stats())?
    );

    let _ = stop.send(());
    let _ = server.await;
    vault.delete_session(SESSION).await.ok();
    emu.shutdown().await;
    if args.keep {
        let kept = home.keep();
        println!("\nkept {}", kept.display());
    }
    println!("\nDemo complete: one sign-in, credentials served to the SDK, signature verified.");
    Ok(())
}

/// Steps 6 and 7 as any tool does them: the Rust SDK's default chain reads
/// the container variables of this process, then signs GetCallerIdentity.
async fn sdk_probe() -> anyhow::Result<()> {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| anyhow::anyhow!("the SDK found no credentials provider"))?;
    use aws_credential_types::provider::ProvideCredentials;
    let creds = provider.provide_credentials().await?;
    println!(
        "      got access key {} expiring {}",
        creds.access_key_id(),
        creds
            .expiry()
            .map(|t| crate::model::format_time(t.into()))
            .unwrap_or_else(|| "never (?)".into())
    );
    let identity = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await?;
    println!("      Arn:     {}", identity.arn().unwrap_or("?"));
    println!("      Account: {}", identity.account().unwrap_or("?"));
    Ok(())
}
