//! A local IAM Identity Center and STS that speak the AWS wire formats, so
//! the official SDK clients (and the AWS CLI, boto3) talk to it unchanged
//! with `AWS_ENDPOINT_URL=http://127.0.0.1:PORT`.
//!
//! A crate of its own (re-exported by credbroker as `credbroker::emulator`,
//! behind its default `emulator` feature), so a broker can be built without
//! it; it shares only the policy engine and the clock with the broker.
//!
//! One loopback port serves all three services; their paths do not collide:
//!
//! - sso-oidc (restJson1): `POST /client/register`, `/device_authorization`,
//!   `/token`, and the PKCE page `GET /authorize` ([`oidc`]);
//! - the SSO portal (restJson1, bearer token): `GET /federation/credentials`,
//!   `/assignment/accounts`, `/assignment/roles`, `POST /logout` ([`portal`]);
//! - STS (awsQuery/XML, SigV4-signed): `POST /` ([`sts`], [`sigv4`]);
//!   `AssumeRole` is decided in [`assume_role`], `AssumeRoleWithWebIdentity`
//!   (unsigned) in [`web_identity`], both on the roles of [`roles`];
//! - a GitHub Actions-style OIDC issuer: `/.well-known/openid-configuration`,
//!   `/.well-known/jwks`, the token request `GET /_github/token`, and for
//!   tests `GET /_emulator/github`, `POST /_emulator/github/claims` ([`github`]);
//! - the GitLab, CircleCI, Buildkite and Bitbucket issuers (and GitHub's
//!   again): `GET /_oidc/NAME/.well-known/openid-configuration` and `jwks`,
//!   and `POST /_emulator/oidc/mint` for a token of any of them ([`issuers`]);
//! - for people: `GET /device`, the approval page ([`approval`]);
//! - for tests: `GET /_emulator/stats`, `POST /_emulator/faults`
//!   ([`faults`]), `POST /_emulator/revoke`, `GET /_emulator/secrets` (every
//!   secret issued and still held, for tests that grep logs for them).
//!
//! docs/emulator.md describes every route and file for people.
//!
//! The protocol modules are pure state machines over [`EmulatorOptions`] and
//! a `now`; [`http`] does the sockets, and [`Emulator`] holds the shared
//! state. Time comes from the crate clock, so a test on a
//! [`ManualClock`](credbroker_clock::ManualClock) can expire tokens and
//! credentials without waiting. Lifetimes and the account [`Directory`] are
//! options; `auto_approve` approves a device sign-in after its first poll.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use credbroker_emulator::{self as emulator, EmulatorOptions};
//! let running = emulator::start("127.0.0.1:0".parse().unwrap(), EmulatorOptions {
//!     auto_approve: true,
//!     ..Default::default()
//! }).await?;
//! println!("AWS_ENDPOINT_URL={}", running.base_url());
//! running.shutdown().await;
//! # Ok(()) }
//! ```

pub mod approval;
pub mod assume_role;
pub mod directory;
pub mod faults;
pub mod github;
mod http;
pub mod issuers;
mod mint;
pub mod oidc;
pub mod operation;
pub mod portal;
pub mod roles;
pub mod signin;
pub mod sigv4;
pub mod sts;
pub mod web_identity;

pub use directory::{Account, Directory};
pub use faults::Fault;

use chrono::{DateTime, Utc};
use credbroker_clock::SharedClock;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the emulator behaves. `Default` is what `credbroker emulator` runs
/// with when given no flags.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Lifetime of access tokens (`expiresIn` of CreateToken). Default 1 h.
    pub token_ttl: Duration,
    /// Lifetime of role credentials from GetRoleCredentials. Default 1 h.
    pub credentials_ttl: Duration,
    /// Lifetime of client registrations. Default 90 days.
    pub registration_ttl: Duration,
    /// Lifetime of a device code (`expiresIn` of StartDeviceAuthorization). Default 600 s.
    pub device_code_ttl: Duration,
    /// Polling interval announced to device-code clients. Default 1 s, so
    /// tests are quick; polls closer than half of it get `slow_down`.
    pub poll_interval: Duration,
    /// Approve every device authorization after its first poll, and every
    /// PKCE authorize request at once.
    pub auto_approve: bool,
    /// The user's accounts and roles.
    pub directory: Directory,
    /// Where `now` comes from for every expiry decision.
    pub clock: SharedClock,
    /// Roles STS `AssumeRole` and `AssumeRoleWithWebIdentity` know, with
    /// their trust policies.
    pub roles: roles::Roles,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            token_ttl: Duration::from_secs(3600),
            credentials_ttl: Duration::from_secs(3600),
            registration_ttl: Duration::from_secs(90 * 24 * 3600),
            device_code_ttl: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
            auto_approve: false,
            directory: Directory::default(),
            clock: credbroker_clock::system(),
            roles: roles::Roles::default(),
        }
    }
}

/// Everything the services share, behind one lock: an OIDC token is checked
/// by the portal, and portal credentials are checked by STS.
#[derive(Debug, Default)]
struct State {
    oidc: oidc::Oidc,
    portal: portal::Portal,
    signin: signin::Signin,
}

/// The emulator's shared state: what it has issued, what it has served,
/// and which faults are armed.
#[derive(Debug)]
pub struct Emulator {
    options: EmulatorOptions,
    base_url: String,
    state: Mutex<State>,
    stats: Mutex<BTreeMap<String, u64>>,
    faults: Mutex<faults::Faults>,
    /// The GitHub-style OIDC issuer ([`github`]).
    github: github::GithubIssuer,
}

impl Emulator {
    pub fn new(options: EmulatorOptions, base_url: impl Into<String>) -> Self {
        Emulator {
            options,
            base_url: base_url.into(),
            state: Mutex::default(),
            stats: Mutex::default(),
            faults: Mutex::default(),
            github: github::GithubIssuer::default(),
        }
    }

    pub fn options(&self) -> &EmulatorOptions {
        &self.options
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn now(&self) -> DateTime<Utc> {
        self.options.clock.now()
    }

    /// Calls served so far, by operation name (only operations called at least once).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.stats.lock().unwrap().clone()
    }

    fn count(&self, operation: &str) {
        *self
            .stats
            .lock()
            .unwrap()
            .entry(operation.to_owned())
            .or_default() += 1;
    }

    /// Approve the pending device authorization with this user code, as the
    /// approval page's button does. False if there is none.
    pub fn approve(&self, user_code: &str) -> bool {
        let now = self.now();
        self.state
            .lock()
            .unwrap()
            .oidc
            .decide_device(user_code, true, now)
    }

    /// Deny the pending device authorization with this user code.
    pub fn deny(&self, user_code: &str) -> bool {
        let now = self.now();
        self.state
            .lock()
            .unwrap()
            .oidc
            .decide_device(user_code, false, now)
    }

    /// Every secret the emulator holds now (`GET /_emulator/secrets`), so a
    /// test can check that none of them reached a log.
    pub fn secrets(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let mut secrets = state.oidc.secrets();
        secrets.extend(state.portal.secrets());
        secrets
    }

    /// Revoke every access and refresh token, as if every session ended.
    pub fn revoke_all_tokens(&self) {
        self.state.lock().unwrap().oidc.revoke_all();
    }

    /// Replace the fault table (see [`faults`]); an empty map clears it.
    pub fn set_faults(&self, table: HashMap<String, Fault>) {
        self.faults.lock().unwrap().replace(table);
    }
}

/// A started emulator. Dropping it stops the server too; prefer
/// [`RunningEmulator::shutdown`], which waits for open connections.
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: Arc<Emulator>,
    local_addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL`.
    pub fn base_url(&self) -> String {
        self.emulator.base_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state, for tests that approve, revoke or inject faults directly.
    pub fn emulator(&self) -> &Arc<Emulator> {
        &self.emulator
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.emulator.stats()
    }

    /// Stop accepting, let open connections finish (up to a few seconds), return.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Bind `listen` (a loopback address; port 0 picks one) and serve on the
/// current tokio runtime. Returns once the socket is bound.
pub async fn start(
    listen: SocketAddr,
    options: EmulatorOptions,
) -> std::io::Result<RunningEmulator> {
    if !listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the emulator listens on loopback addresses only, not {listen}"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let emulator = Arc::new(Emulator::new(options, format!("http://{local_addr}")));
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(http::serve(listener, emulator.clone(), watch));
    tracing::info!(%local_addr, "emulator listening");
    Ok(RunningEmulator {
        emulator,
        local_addr,
        shutdown,
        task,
    })
}
