//! Turns a profile name into role credentials.
//!
//! First the AWS config file says which session, account and role the
//! profile stands for (re-read when the file changes). Then, in order: the
//! in-memory cache, the keychain (credentials survive a restart), and
//! finally the SSO portal with the session's access token, read from the
//! keychain at that moment so a `credbroker login` made while the daemon
//! runs is picked up without a restart.
//!
//! Concurrent requests for one role share one upstream call: each role has
//! a fetch lock, and whoever waits on it re-checks the cache first.
//!
//! A cache hit is the endpoint's hot path, so it does little: a profile
//! resolved once is remembered until the config file changes; credentials
//! are kept with their response body already made ([`Vended`]); and while
//! the daemon's file watcher runs ([`Broker::set_config_watched`]) the file
//! is looked at no more than once a second instead of on every request.

use crate::audit::Subject;
use crate::clock::SharedClock;
use crate::config::{
    AssumeRoleHop, AwsConfig, ChainRoot, ConfigError, RoleTarget, WebIdentityTarget,
};
use crate::context::Context;
use crate::lifecycle;
use crate::model::{RoleCredentials, Vended};
use crate::session::SessionKeeper;
use crate::sso::portal::{self, PortalError};
use crate::store::{StoreError, Vault};

mod assume;
mod config_file;
mod renewal;
use config_file::ConfigFile;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub use crate::source::{BrokerError, CredentialSource, ErrorKind, Freshness, Served};

/// One role in one session: the key of an SSO role's slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RoleKey {
    session: String,
    account_id: String,
    role_name: String,
}

impl RoleKey {
    fn of(target: &RoleTarget) -> Self {
        RoleKey {
            session: target.session.key.clone(),
            account_id: target.account_id.clone(),
            role_name: target.role_name.clone(),
        }
    }
}

/// What one cache slot holds credentials for. An assumed role's key holds
/// its source's, so two profiles naming the same role on the same source
/// share one slot, and a hop is told apart from the same role reached
/// another way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SlotKey {
    Sso(RoleKey),
    WebIdentity(WebIdentityTarget),
    Assumed(Arc<SlotKey>, AssumeRoleHop),
}

impl SlotKey {
    /// The SSO session a chain starts from, if it starts from one.
    fn sso_session(&self) -> Option<&str> {
        match self {
            SlotKey::Sso(k) => Some(&k.session),
            SlotKey::WebIdentity(_) => None,
            SlotKey::Assumed(source, _) => source.sso_session(),
        }
    }
}

/// How a slot's credentials are fetched, as last resolved.
#[derive(Clone, Debug)]
enum Fetch {
    /// GetRoleCredentials with the session's token.
    Sso(RoleTarget),
    /// AssumeRoleWithWebIdentity with a fresh token ([`crate::web_identity`]).
    WebIdentity(WebIdentityTarget),
    /// AssumeRole signed with the source slot's credentials ([`assume`]).
    Assumed {
        source: Arc<RoleSlot>,
        hop: AssumeRoleHop,
    },
}

/// The cache slot of one credential source (an SSO role, a web identity, an
/// assumed role): the last credentials, and the lock that makes concurrent
/// misses share one upstream call. Every kind has the same slot, so one
/// single flight, one renewal pass and one status view cover them all.
#[derive(Debug)]
struct RoleSlot {
    key: SlotKey,
    /// Read by every request, written once per renewal: a read-write lock,
    /// so concurrent requests never wait on each other.
    current: RwLock<Option<Arc<Vended>>>,
    /// How to fetch again, so the renewal loop can renew it.
    how: Mutex<Option<Fetch>>,
    /// Failed background renewals in a row, and when to try next.
    backoff: Mutex<(u32, Option<chrono::DateTime<chrono::Utc>>)>,
    fetch: tokio::sync::Mutex<()>,
}

impl RoleSlot {
    fn new(key: SlotKey) -> Self {
        RoleSlot {
            key,
            current: RwLock::new(None),
            how: Mutex::new(None),
            backoff: Mutex::new((0, None)),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    fn servable(&self, now: chrono::DateTime<chrono::Utc>) -> Option<Arc<Vended>> {
        let current = self.current.read().unwrap();
        current
            .as_ref()
            .filter(|v| lifecycle::is_servable(&v.credentials, now))
            .cloned()
    }
}

/// A profile resolved to the slot of its credentials and the subject of
/// its audit records.
#[derive(Debug)]
struct SsoRole {
    slot: Arc<RoleSlot>,
    subject: Arc<Subject>,
}

/// Profiles resolved under one parse of the config file; a new parse
/// starts afresh.
#[derive(Debug, Default)]
struct Resolutions {
    config: Option<Arc<AwsConfig>>,
    roles: HashMap<String, Arc<SsoRole>>,
}

/// Profile name -> role credentials: cache, then keychain, then the portal.
#[derive(Debug)]
pub struct Broker {
    vault: Vault,
    clock: SharedClock,
    /// The SDK clients and the environment (for web identity tokens).
    ctx: Context,
    config: ConfigFile,
    resolved: RwLock<Resolutions>,
    roles: Mutex<HashMap<SlotKey, Arc<RoleSlot>>>,
    last_upstream_error: Mutex<Option<UpstreamError>>,
    sessions: SessionKeeper,
    /// Bounds how many roles are fetched from the portal at once.
    upstream: tokio::sync::Semaphore,
    /// Wakes the renewal loop when a role is fetched, so its next pass
    /// plans for the new credentials' expiry.
    renewal_wakeup: tokio::sync::Notify,
    /// Bumped after every change of what a profile is served (new
    /// credentials, a logout, a new parse of the config): an answer kept
    /// by an endpoint connection is good while this is unchanged. Written
    /// a few times an hour, read on every request; a read of a line no one
    /// writes costs no core a cache miss.
    epoch: AtomicU64,
}

/// How many GetRoleCredentials calls may be in flight at once.
pub const MAX_CONCURRENT_FETCHES: usize = 8;

/// The latest upstream failure, for `credbroker status`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UpstreamError {
    pub at: chrono::DateTime<chrono::Utc>,
    pub message: String,
}

/// One role the broker holds credentials for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HeldRole {
    /// `sso-role`, `web-identity` or `assumed-role`.
    pub kind: &'static str,
    /// The SSO session the credentials come from (for a chain: its root's);
    /// `web-identity` for a chain rooted in a web identity.
    pub session: String,
    pub account_id: String,
    pub role_name: String,
    /// The role's ARN, for web identities and assumed roles.
    pub role_arn: Option<String>,
    /// For an assumed role: what its source is (`ACCOUNT/ROLE`).
    pub via: Option<String>,
    pub expiration: chrono::DateTime<chrono::Utc>,
    /// When the broker renews them (expiration minus the renewal margin).
    pub renew_at: chrono::DateTime<chrono::Utc>,
}

/// What the broker knows right now; secrets excluded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BrokerSnapshot {
    pub config_path: PathBuf,
    pub config_error: Option<String>,
    pub last_upstream_error: Option<UpstreamError>,
    pub roles: Vec<HeldRole>,
    /// Sessions that can no longer be renewed: the person must sign in.
    pub needs_login: Vec<crate::session::NeedsLogin>,
}

impl Broker {
    /// A broker for the profiles of `config_path`, in `ctx` (its clock,
    /// environment, notifications and SDK clients).
    pub fn new(vault: Vault, config_path: PathBuf, ctx: &Context) -> Self {
        Broker {
            vault: vault.clone(),
            clock: ctx.clock.clone(),
            ctx: ctx.clone(),
            config: ConfigFile::new(config_path),
            resolved: RwLock::new(Resolutions::default()),
            roles: Mutex::new(HashMap::new()),
            last_upstream_error: Mutex::new(None),
            sessions: SessionKeeper::new(vault.clone(), ctx.clone()),
            upstream: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
            renewal_wakeup: tokio::sync::Notify::new(),
            epoch: AtomicU64::new(0),
        }
    }

    /// The current AWS config, re-read when the file changed. An invalid edit
    /// keeps the last good configuration (and is reported by [`Broker::snapshot`]).
    pub fn config(&self) -> Result<Arc<AwsConfig>, ConfigError> {
        self.config.current()
    }

    /// Say whether a file watcher calls [`Broker::reload_config`] on every
    /// change; while one does, requests compare the file's stamp at most
    /// once a second.
    pub fn set_config_watched(&self, watched: bool) {
        self.config.set_watched(watched);
    }

    /// Re-read the config file now (the file watcher calls this on change).
    pub fn reload_config(&self) -> Result<(), ConfigError> {
        let reloaded = self.config.reload();
        self.changed();
        reloaded
    }

    /// Say that what some profile is served may have changed: every kept
    /// answer is looked up again.
    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The last reload error, if the file on disk is currently invalid.
    pub fn config_error(&self) -> Option<ConfigError> {
        self.config.error()
    }

    /// Roles held, config state and the last upstream error; no secrets.
    pub fn snapshot(&self) -> BrokerSnapshot {
        let slots: Vec<Arc<RoleSlot>> = self.roles.lock().unwrap().values().cloned().collect();
        let mut roles: Vec<HeldRole> = slots
            .into_iter()
            .filter_map(|slot| {
                let current = slot.current.read().unwrap();
                let c = &current.as_ref()?.credentials;
                let mut held = describe(&slot.key);
                held.expiration = c.expiration;
                held.renew_at = lifecycle::renew_at(c.expiration, c.lifetime());
                Some(held)
            })
            .collect();
        roles.sort_by(|a, b| {
            (&a.session, &a.account_id, &a.role_name, &a.via).cmp(&(
                &b.session,
                &b.account_id,
                &b.role_name,
                &b.via,
            ))
        });
        BrokerSnapshot {
            config_path: self.config.path().to_path_buf(),
            config_error: self.config_error().map(|e| e.to_string()),
            last_upstream_error: self.last_upstream_error.lock().unwrap().clone(),
            roles,
            needs_login: self.sessions.needs_login(),
        }
    }

    /// [`Broker::snapshot`] after checking the sessions that needed a new
    /// sign-in against the keychain: one made since is shown at once.
    pub async fn current_snapshot(&self) -> BrokerSnapshot {
        self.sessions.revalidate().await;
        self.snapshot()
    }

    /// Stop serving every role of `sessions` (of every session with `all`),
    /// as `credbroker logout` asks after removing their keychain items: the
    /// next request for one of them finds no credentials and no token, and
    /// is answered `LoginRequired`. Returns how many roles held credentials.
    pub fn forget_sessions(&self, sessions: &[String], all: bool) -> usize {
        let gone = |session: &str| all || sessions.iter().any(|s| s == session);
        let dropped: Vec<Arc<RoleSlot>> = {
            let mut roles = self.roles.lock().unwrap();
            let keys: Vec<SlotKey> = roles
                .keys()
                .filter(|k| k.sso_session().is_some_and(gone))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| roles.remove(k)).collect()
        };
        self.resolved
            .write()
            .unwrap()
            .roles
            .retain(|_, role| !role.slot.key.sso_session().is_some_and(gone));
        self.sessions.forget(gone);
        let mut held = 0;
        for slot in dropped {
            if slot.current.write().unwrap().take().is_some() {
                held += 1;
            }
            *slot.how.lock().unwrap() = None;
        }
        self.changed();
        held
    }

    fn record_upstream_error(&self, message: &str) {
        *self.last_upstream_error.lock().unwrap() = Some(UpstreamError {
            at: self.clock.now(),
            message: message.to_string(),
        });
    }

    /// Also write the AWS CLI's SSO token cache under `home` after each
    /// token refresh (see [`crate::aws_cli_cache`]).
    pub fn export_aws_cli_cache_to(&self, home: PathBuf) {
        self.sessions.export_aws_cli_cache_to(home);
    }

    pub fn config_path(&self) -> &std::path::Path {
        self.config.path()
    }

    /// What `profile` stands for: the slot of its credentials (for a chain,
    /// of its last hop), remembered until the config file is parsed again.
    fn resolve(&self, profile: &str) -> Result<Arc<SsoRole>, BrokerError> {
        let config = self
            .config()
            .map_err(|e| BrokerError::config(e.to_string()).with_source(e))?;
        {
            let memo = self.resolved.read().unwrap();
            let same_parse = memo
                .config
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(c, &config));
            if let Some(role) = memo.roles.get(profile).filter(|_| same_parse) {
                return Ok(role.clone());
            }
        }
        let chain = config.chain(profile).map_err(config_error)?;
        let (key, how) = match chain.root {
            ChainRoot::Sso(target) => (SlotKey::Sso(RoleKey::of(&target)), Fetch::Sso(target)),
            ChainRoot::WebIdentity(target) => (
                SlotKey::WebIdentity(target.clone()),
                Fetch::WebIdentity(target),
            ),
        };
        let mut slot = self.slot(key, how);
        for hop in chain.hops {
            let key = SlotKey::Assumed(Arc::new(slot.key.clone()), hop.clone());
            slot = self.slot(key, Fetch::Assumed { source: slot, hop });
        }
        let held = describe(&slot.key);
        let subject = Arc::new(Subject {
            profile: profile.to_owned(),
            account: Some(held.account_id),
            role: Some(held.role_name),
            chain: chain_of(&slot.key),
        });
        let role = Arc::new(SsoRole { slot, subject });
        // Entries of another parse are dropped. (Should a request still on
        // an older parse get here last, the next one starts afresh again.)
        let mut memo = self.resolved.write().unwrap();
        if !memo
            .config
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &config))
        {
            *memo = Resolutions {
                config: Some(config.clone()),
                roles: HashMap::new(),
            };
            self.changed();
        }
        memo.roles.insert(profile.to_owned(), role.clone());
        Ok(role)
    }

    /// The SDK clients as `profile` configures them (its retries, FIPS and
    /// dual-stack choice, endpoints), over the environment's: each hop of a
    /// chain calls with its own profile's settings, since its slot is shared
    /// by every profile chained on it (protocols.md §10).
    fn clients_for(&self, profile: &str) -> Result<crate::sdk::SdkClients, BrokerError> {
        let config = self
            .config()
            .map_err(|e| BrokerError::config(e.to_string()).with_source(e))?;
        self.ctx
            .clients
            .for_profile(&config, profile)
            .map_err(|e| BrokerError::config(e.to_string()).with_source(e))
    }

    /// The slot for `key`, told how to fetch as last resolved.
    fn slot(&self, key: SlotKey, how: Fetch) -> Arc<RoleSlot> {
        let slot = self
            .roles
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_insert_with(|| Arc::new(RoleSlot::new(key)))
            .clone();
        *slot.how.lock().unwrap() = Some(how);
        slot
    }

    /// Credentials for a slot (the single-flight path). Boxed: an assumed
    /// role's fetch asks for its source's credentials through here.
    fn vended<'a>(
        &'a self,
        slot: &'a Arc<RoleSlot>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Arc<Vended>, BrokerError>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(vended) = slot.servable(self.clock.now()) {
                return Ok(vended);
            }
            let _fetching = slot.fetch.lock().await;
            // Whoever held the lock before us may have fetched already.
            if let Some(vended) = slot.servable(self.clock.now()) {
                return Ok(vended);
            }
            self.fetch_into(slot, true).await
        })
    }

    /// Fetch for `slot` (its fetch lock held) and remember the result; on
    /// transient trouble fall back to still-valid cached credentials.
    async fn fetch_into(
        &self,
        slot: &RoleSlot,
        keychain_first: bool,
    ) -> Result<Arc<Vended>, BrokerError> {
        let how = slot.how.lock().unwrap().clone();
        let Some(how) = how else {
            // Forgotten by a logout while this request waited.
            return Err(match slot.key.sso_session() {
                Some(session) => BrokerError::login_required(
                    format!("signed out of SSO session '{session}'"),
                    format!("credbroker login --sso-session {session}"),
                ),
                None => BrokerError::upstream("the credentials were dropped; try again"),
            });
        };
        let fetched = match &how {
            Fetch::Sso(target) => self.fetch(target, keychain_first).await,
            Fetch::WebIdentity(target) => match self.clients_for(&target.profile) {
                Ok(clients) => {
                    let env = crate::web_identity::ActionsEnv::from_env(&self.ctx.env);
                    crate::web_identity::assume(&clients, target, &env, self.clock.now()).await
                }
                Err(e) => Err(e),
            },
            Fetch::Assumed { source, hop } => match self.clients_for(&hop.profile) {
                Ok(clients) => match self.vended(source).await {
                    Ok(source) => {
                        assume::assume_role(
                            &clients,
                            hop,
                            &source.credentials,
                            self.config.path(),
                            self.clock.now(),
                        )
                        .await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
        };
        match fetched {
            Ok(creds) => {
                let vended = Arc::new(Vended::new(creds));
                *slot.current.write().unwrap() = Some(vended.clone());
                self.changed();
                self.renewal_wakeup.notify_one();
                Ok(vended)
            }
            Err(e) if e.is(ErrorKind::Upstream) => {
                let message = e.summary();
                self.record_upstream_error(&message);
                // During an outage, still-valid credentials are better than none.
                let stale = slot.current.read().unwrap().clone();
                match stale.filter(|v| lifecycle::is_unexpired(&v.credentials, self.clock.now())) {
                    Some(vended) => {
                        tracing::warn!(key = ?slot.key, %message, "renewal failed; serving cached credentials");
                        Ok(vended)
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The keychain's copy when fresh (unless renewing), else the portal;
    /// stores what the portal returned.
    async fn fetch(
        &self,
        target: &RoleTarget,
        keychain_first: bool,
    ) -> Result<RoleCredentials, BrokerError> {
        let session = &target.session;
        let (account, role) = (&target.account_id, &target.role_name);
        if keychain_first {
            match self
                .vault
                .role_credentials(&session.key, account, role)
                .await
            {
                Ok(Some(creds)) if lifecycle::is_servable(&creds, self.clock.now()) => {
                    tracing::debug!(profile = %target.profile, "credentials from the keychain");
                    return Ok(creds);
                }
                Ok(_) => {}
                Err(e) => return Err(keychain_error(e)),
            }
        }
        let clients = self.clients_for(&target.profile)?;
        let token = self.sessions.token(session).await?;
        let _upstream = self.upstream.acquire().await.expect("never closed");
        let mut result = portal::get_role_credentials(&clients, &token, account, role).await;
        if matches!(result, Err(PortalError::Unauthorized(_))) && token.refresh_token.is_some() {
            // Revoked or expired early: one refresh, then one more try.
            if let Ok(fresh) = self.sessions.refresh(session, true).await {
                result = portal::get_role_credentials(&clients, &fresh, account, role).await;
            }
        }
        // The message says what failed; the portal's error, and the SDK's
        // under it, are its cause.
        let mut creds = result.map_err(|e| {
            match e {
                PortalError::Unauthorized(_) => BrokerError::login_required(
                    format!(
                        "IAM Identity Center rejected the sign-in of SSO session '{}'",
                        session.key
                    ),
                    session.login_command.clone(),
                ),
                PortalError::NotFound(_) => BrokerError::not_brokered(format!(
                    "role {role} in account {account} is not assigned to you (profile '{}')",
                    target.profile
                )),
                PortalError::Transient(_) | PortalError::Other(_) => {
                    BrokerError::upstream(format!(
                    "cannot get credentials for profile '{}' (role {role} in account {account})",
                    target.profile
                ))
                }
            }
            .with_source(e)
        })?;
        creds.issued_at.get_or_insert(self.clock.now());
        creds.account_id.get_or_insert_with(|| account.clone());
        tracing::info!(profile = %target.profile, account = %account, role = %role, expires = %creds.expiration, "fetched role credentials");
        if let Err(e) = self
            .vault
            .put_role_credentials(&session.key, account, role, &creds)
            .await
        {
            tracing::warn!(error = %e, "could not cache role credentials in the keychain");
        }
        Ok(creds)
    }
}

/// A config error as the broker reports it. Every message names the file.
pub fn config_error(e: ConfigError) -> BrokerError {
    let kind = match e {
        ConfigError::UnknownProfile { .. } => ErrorKind::UnknownProfile,
        ConfigError::UnknownSession { .. } | ConfigError::Incomplete(_) => ErrorKind::NotBrokered,
        ConfigError::Syntax { .. } | ConfigError::Io { .. } | ConfigError::Chain { .. } => {
            ErrorKind::Config
        }
    };
    BrokerError::new(kind, e.to_string()).with_source(e)
}

/// What a slot holds, for `status` and the audit trail (times left zero).
fn describe(key: &SlotKey) -> HeldRole {
    let held = |kind, session: &str, arn: &str, via| HeldRole {
        kind,
        session: session.to_string(),
        account_id: assume::account_of(arn).unwrap_or_default(),
        role_name: assume::role_name_of(arn).unwrap_or_default(),
        role_arn: Some(arn.to_string()),
        via,
        expiration: chrono::DateTime::UNIX_EPOCH,
        renew_at: chrono::DateTime::UNIX_EPOCH,
    };
    match key {
        SlotKey::Sso(k) => HeldRole {
            kind: "sso-role",
            session: k.session.clone(),
            account_id: k.account_id.clone(),
            role_name: k.role_name.clone(),
            role_arn: None,
            via: None,
            expiration: chrono::DateTime::UNIX_EPOCH,
            renew_at: chrono::DateTime::UNIX_EPOCH,
        },
        SlotKey::WebIdentity(t) => held("web-identity", "web-identity", &t.role_arn, None),
        SlotKey::Assumed(source, hop) => {
            let source = describe(source);
            let via = format!("{}/{}", source.account_id, source.role_name);
            held("assumed-role", &source.session, &hop.role_arn, Some(via))
        }
    }
}

/// `111111111111/Admin -> 222222222222/Deploy` for an assumed role, source
/// first; `None` for a source that is not chained.
fn chain_of(key: &SlotKey) -> Option<String> {
    let SlotKey::Assumed(source, _) = key else {
        return None;
    };
    let this = describe(key);
    let before = chain_of(source).unwrap_or_else(|| {
        let s = describe(source);
        format!("{}/{}", s.account_id, s.role_name)
    });
    Some(format!(
        "{before} -> {}/{}",
        this.account_id, this.role_name
    ))
}

fn keychain_error(e: StoreError) -> BrokerError {
    BrokerError::keychain("cannot read cached role credentials from the keychain").with_source(e)
}

impl SsoRole {
    fn served(&self, vended: &Vended) -> Served {
        Served {
            body: vended.body(),
            subject: Some(self.subject.clone()),
        }
    }
}

impl CredentialSource for Broker {
    async fn credentials(&self, profile: &str) -> Result<RoleCredentials, BrokerError> {
        let role = self.resolve(profile)?;
        Ok(self.vended(&role.slot).await?.credentials.clone())
    }

    fn role_of(&self, profile: &str) -> Option<(String, String)> {
        let role = self.resolve(profile).ok()?;
        Some((role.subject.account.clone()?, role.subject.role.clone()?))
    }

    fn cached(&self, profile: &str) -> Option<Served> {
        let role = self.resolve(profile).ok()?;
        let vended = role.slot.servable(self.clock.now())?;
        Some(role.served(&vended))
    }

    fn cached_to_keep(&self, profile: &str) -> Option<(Served, Freshness)> {
        let recheck = self.config.recheck_after()?;
        // Read before the lookup: a change after it bumps the epoch after
        // the lookup saw the old state, so the kept answer is dropped.
        let epoch = self.epoch.load(Ordering::Acquire);
        let role = self.resolve(profile).ok()?;
        let vended = role.slot.servable(self.clock.now())?;
        let freshness = Freshness {
            epoch,
            servable_until: lifecycle::servable_until(&vended.credentials),
            recheck_at: std::time::Instant::now() + recheck,
        };
        Some((role.served(&vended), freshness))
    }

    fn is_fresh(&self, freshness: &Freshness) -> bool {
        self.epoch.load(Ordering::Acquire) == freshness.epoch
            && self.clock.now() < freshness.servable_until
            && std::time::Instant::now() < freshness.recheck_at
    }

    async fn serve(&self, profile: &str) -> Result<Served, BrokerError> {
        let role = self.resolve(profile)?;
        Ok(role.served(&*self.vended(&role.slot).await?))
    }
}

#[cfg(test)]
mod tests;
