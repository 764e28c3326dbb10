//! Keeps IAM Identity Center sessions alive: the access token of each
//! session, refreshed with its refresh token before it expires.
//!
//! First the keychain is read (so a `credbroker login` made while the daemon
//! runs is seen at once); then, when the token is due (see
//! [`crate::lifecycle::token_refresh_due`]) and has a refresh token, one
//! `refresh_token` CreateToken is made, at most one at a time per session
//! and no sooner than [`RETRY_AFTER`] after a failed attempt. A rotated
//! refresh token replaces the old one in a single keychain write.
//!
//! When the refresh token or its client registration is dead the person
//! must sign in again. That is said once: a desktop notification, a line
//! in `credbroker status`, and then a quiet 403 naming the command on each
//! request, until a new sign-in replaces the token.

use crate::config::SessionInfo;
use crate::context::Context;
use crate::lifecycle;
use crate::model::SsoToken;
use crate::source::{BrokerError, ErrorKind};
use crate::sso::oidc::{self, RefreshError};
use crate::store::Vault;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The least time between two failed refresh attempts of one session.
pub const RETRY_AFTER: Duration = Duration::seconds(10);

/// A session that can no longer be renewed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NeedsLogin {
    pub session: String,
    pub reason: String,
    pub command: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct SessionSlot {
    refreshing: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    last_failure: Option<DateTime<Utc>>,
    /// Set when the refresh token died; holds the token it died with, so a
    /// new sign-in (a different token) clears it, and the error (with the
    /// refusal as its cause) every request gets until then.
    needs_login: Option<(NeedsLogin, SsoToken, BrokerError)>,
}

/// The access tokens of every session, refreshed ahead of expiry.
#[derive(Debug)]
pub struct SessionKeeper {
    vault: Vault,
    ctx: Context,
    slots: Mutex<HashMap<String, Arc<SessionSlot>>>,
    /// Home directory whose `~/.aws/sso/cache` gets each refreshed token.
    export_home: Mutex<Option<std::path::PathBuf>>,
}

impl SessionKeeper {
    pub fn new(vault: Vault, ctx: Context) -> Self {
        SessionKeeper {
            vault,
            ctx,
            slots: Mutex::new(HashMap::new()),
            export_home: Mutex::new(None),
        }
    }

    /// Write the AWS CLI token cache under `home` after every refresh.
    pub fn export_aws_cli_cache_to(&self, home: std::path::PathBuf) {
        *self.export_home.lock().unwrap() = Some(home);
    }

    fn slot(&self, key: &str) -> Arc<SessionSlot> {
        self.slots
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Sessions that need a new sign-in, for `credbroker status`.
    pub fn needs_login(&self) -> Vec<NeedsLogin> {
        let slots: Vec<Arc<SessionSlot>> = self.slots.lock().unwrap().values().cloned().collect();
        let mut out: Vec<NeedsLogin> = slots
            .iter()
            .filter_map(|s| {
                s.state
                    .lock()
                    .unwrap()
                    .needs_login
                    .as_ref()
                    .map(|(n, _, _)| n.clone())
            })
            .collect();
        out.sort_by(|a, b| a.session.cmp(&b.session));
        out
    }

    /// Forget what is known of the sessions `gone` says were signed out.
    pub fn forget(&self, gone: impl Fn(&str) -> bool) {
        self.slots.lock().unwrap().retain(|key, _| !gone(key));
    }

    /// Clear "needs a new sign-in" for every session whose keychain token is
    /// no longer the one that died: a `credbroker login` (or `logout`) made
    /// since. A keychain that does not answer changes nothing.
    pub async fn revalidate(&self) {
        let slots: Vec<(String, Arc<SessionSlot>)> = self
            .slots
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, slot) in slots {
            let dead = match &slot.state.lock().unwrap().needs_login {
                Some((_, dead, _)) => dead.access_token.clone(),
                None => continue,
            };
            let Ok(stored) = self.vault.sso_token(&key).await else {
                continue;
            };
            if stored.is_none_or(|t| t.access_token != dead) {
                tracing::info!(session = %key, "new sign-in found; renewing again");
                let mut state = slot.state.lock().unwrap();
                state.needs_login = None;
                state.last_failure = None;
            }
        }
    }

    async fn stored(&self, session: &SessionInfo) -> Result<Option<SsoToken>, BrokerError> {
        self.vault.sso_token(&session.key).await.map_err(|e| {
            BrokerError::keychain(format!(
                "cannot read the sign-in of SSO session '{}' from the keychain",
                session.key
            ))
            .with_source(e)
        })
    }

    /// A usable access token for `session`, refreshed first when due.
    pub async fn token(&self, session: &SessionInfo) -> Result<SsoToken, BrokerError> {
        let token = self.stored(session).await?.ok_or_else(|| {
            BrokerError::login_required(
                format!("not signed in to SSO session '{}'", session.key),
                session.login_command.clone(),
            )
        })?;
        let now = self.ctx.clock.now();
        // A refresh that failed for a passing reason (IdP down, keychain
        // busy) is reported as such: the session is not dead, so a 4xx
        // "sign in" would make clients give up for nothing.
        let mut transient = None;
        let token = if lifecycle::token_refresh_due(&token, now) && token.refresh_token.is_some() {
            match self.refresh(session, false).await {
                Ok(fresh) => fresh,
                Err(e) if e.is(ErrorKind::Upstream) || e.is(ErrorKind::Keychain) => {
                    transient = Some(e);
                    token
                }
                Err(_) => token,
            }
        } else {
            token
        };
        if lifecycle::token_usable(&token, self.ctx.clock.now()) {
            return Ok(token);
        }
        if let Some(e) = transient {
            return Err(e);
        }
        let dead = self
            .slot(&session.key)
            .state
            .lock()
            .unwrap()
            .needs_login
            .as_ref()
            .map(|(_, _, e)| e.clone());
        Err(dead.unwrap_or_else(|| {
            BrokerError::login_required(
                format!("the SSO session '{}' has expired", session.key),
                session.login_command.clone(),
            )
        }))
    }

    /// Refresh `session`'s access token now (`force`: even when not yet due,
    /// as after the portal rejected it). Returns the token now stored.
    pub async fn refresh(
        &self,
        session: &SessionInfo,
        force: bool,
    ) -> Result<SsoToken, BrokerError> {
        let slot = self.slot(&session.key);
        let _one_at_a_time = slot.refreshing.lock().await;
        let login_required =
            |reason: String| BrokerError::login_required(reason, session.login_command.clone());
        let token = self.stored(session).await?.ok_or_else(|| {
            login_required(format!("not signed in to SSO session '{}'", session.key))
        })?;
        let now = self.ctx.clock.now();
        {
            let mut state = slot.state.lock().unwrap();
            if let Some((_, dead, error)) = &state.needs_login {
                if dead.access_token == token.access_token {
                    return Err(error.clone());
                }
                tracing::info!(session = %session.key, "new sign-in found; renewing again");
                state.needs_login = None;
                state.last_failure = None;
            }
            if !force && !lifecycle::token_refresh_due(&token, now) {
                // Someone else refreshed while we waited for the lock.
                return Ok(token);
            }
            if state.last_failure.is_some_and(|at| now - at < RETRY_AFTER) {
                return Err(BrokerError::upstream(
                    "token refresh failed recently; waiting before the next attempt",
                ));
            }
        }
        let Some(refresh_token) = token.refresh_token.clone() else {
            return Err(login_required(format!(
                "the SSO session '{}' has no refresh token (add sso:account:access to its sso_registration_scopes to stay signed in)",
                session.key
            )));
        };
        let registration_key = token
            .registration_key
            .clone()
            .unwrap_or_else(|| oidc::registration_key(session));
        let registration = self
            .vault
            .registration(&registration_key)
            .await
            .map_err(|e| {
                BrokerError::keychain(format!(
                    "cannot read the client registration of SSO session '{}' from the keychain",
                    session.key
                ))
                .with_source(e)
            })?;
        let outcome = match &registration {
            Some(reg) if reg.expires_at > now => {
                let refresh_session = SessionInfo {
                    start_url: token.start_url.clone(),
                    region: token.region.clone(),
                    ..session.clone()
                };
                oidc::refresh(
                    &self.ctx.clients,
                    &refresh_session,
                    reg,
                    &refresh_token,
                    now,
                )
                .await
            }
            Some(_) => Err(RefreshError::NeedsLogin(
                "credbroker's client registration has expired".into(),
            )),
            None => Err(RefreshError::NeedsLogin(
                "credbroker's client registration is gone from the keychain".into(),
            )),
        };
        match outcome {
            Ok(mut fresh) => {
                fresh.registration_key = Some(registration_key);
                self.vault
                    .put_sso_token(&session.key, &fresh)
                    .await
                    .map_err(|e| {
                        BrokerError::keychain(format!(
                            "cannot save the renewed sign-in of SSO session '{}' in the keychain",
                            session.key
                        ))
                        .with_source(e)
                    })?;
                slot.state.lock().unwrap().last_failure = None;
                let export_home = self.export_home.lock().unwrap().clone();
                if let Some(home) = export_home {
                    match crate::aws_cli_cache::export_aws_cli_cache(
                        session,
                        &fresh,
                        registration.as_ref(),
                        &home,
                    ) {
                        Ok(path) => {
                            tracing::debug!(path = %path.display(), "exported the AWS CLI token cache")
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not write the AWS CLI token cache")
                        }
                    }
                }
                tracing::info!(session = %session.key, expires = %fresh.expires_at, "refreshed the SSO access token");
                Ok(fresh)
            }
            Err(RefreshError::NeedsLogin(why)) => {
                let needs = NeedsLogin {
                    session: session.key.clone(),
                    reason: format!(
                        "the SSO session '{}' can no longer be renewed ({why})",
                        session.key
                    ),
                    command: session.login_command.clone(),
                    since: now,
                };
                // Info: the daemon's log (at info) keeps it, and a one-shot
                // command prints the error below instead of a second line.
                tracing::info!(session = %session.key, reason = %why, command = %needs.command, "sign-in needed");
                self.ctx.notifier.notify(
                    "AWS sign-in needed",
                    &format!("Session '{}' expired. Run: {}", session.key, needs.command),
                );
                let error = login_required(format!(
                    "the SSO session '{}' can no longer be renewed",
                    session.key
                ))
                .with_source(why);
                slot.state.lock().unwrap().needs_login = Some((needs, token, error.clone()));
                Err(error)
            }
            Err(failed) => {
                tracing::warn!(session = %session.key, error = %failed, "token refresh failed; will retry");
                slot.state.lock().unwrap().last_failure = Some(now);
                Err(BrokerError::upstream(format!(
                    "cannot renew the sign-in of SSO session '{}'",
                    session.key
                ))
                .with_source(failed))
            }
        }
    }
}
