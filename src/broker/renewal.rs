//! Background renewal: role credentials and SSO access tokens are replaced
//! before they get close to expiry, so a client never waits on an upstream
//! call and never receives credentials with less than the promised life.
//!
//! Each pass looks at the credentials the broker has served (only those: a
//! role nobody asked for is not fetched) of every kind: SSO roles, web
//! identities and assumed roles. It refreshes the SSO sessions' tokens when
//! due, then renews each slot whose [`lifecycle::renew_at`] has passed; an
//! assumed role is renewed with its source's credentials, fetched first if
//! they are due too.
//! A failed renewal backs off exponentially with jitter (1 s doubling to
//! 60 s) while the old credentials keep being served until they expire.

use super::{Broker, Fetch, RoleSlot};
use crate::config::SessionInfo;
use crate::lifecycle;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

/// The longest the loop sleeps between passes.
const MAX_SLEEP: Duration = Duration::seconds(60);
/// The longest backoff after failed renewals.
const MAX_BACKOFF_SECS: f64 = 60.0;

/// Backoff before the next try after `failures` failures in a row: 1 s
/// doubling to 60 s, each scaled by a random factor in [0.5, 1).
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = 2f64
        .powi(failures.saturating_sub(1).min(16) as i32)
        .min(MAX_BACKOFF_SECS);
    Duration::milliseconds((base * (0.5 + jitter.clamp(0.0, 1.0) / 2.0) * 1000.0) as i64)
}

fn earliest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Broker {
    /// One renewal pass; returns when the next renewal is due, if any.
    pub async fn renew_due(&self) -> Option<DateTime<Utc>> {
        let slots: Vec<Arc<RoleSlot>> = self.roles.lock().unwrap().values().cloned().collect();
        let mut next = None;
        // A sign-in made since a session died is seen here, not only when a
        // request or a refresh happens to look.
        self.sessions.revalidate().await;

        let mut sessions: BTreeMap<String, SessionInfo> = BTreeMap::new();
        for slot in &slots {
            if let Some(Fetch::Sso(target)) = slot.how.lock().unwrap().as_ref() {
                sessions.insert(target.session.key.clone(), target.session.clone());
            }
        }
        for session in sessions.values() {
            let Ok(Some(token)) = self.vault.sso_token(&session.key).await else {
                continue;
            };
            if token.refresh_token.is_none()
                || !lifecycle::token_usable(&token, self.clock.now())
                    && self
                        .sessions
                        .needs_login()
                        .iter()
                        .any(|n| n.session == session.key)
            {
                continue;
            }
            let token = if lifecycle::token_refresh_due(&token, self.clock.now()) {
                match self.sessions.refresh(session, false).await {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        tracing::debug!(session = %session.key, error = %e, "token refresh not done");
                        next = earliest(next, self.clock.now() + crate::session::RETRY_AFTER);
                        continue;
                    }
                }
            } else {
                token
            };
            next = earliest(
                next,
                lifecycle::renew_at(token.expires_at, token.lifetime()),
            );
        }

        for slot in slots {
            let (known, due) = {
                let known = slot.how.lock().unwrap().is_some();
                let current = slot.current.read().unwrap();
                let due = current.as_ref().map(|v| {
                    lifecycle::renew_at(v.credentials.expiration, v.credentials.lifetime())
                });
                (known, due)
            };
            let (true, Some(mut due)) = (known, due) else {
                continue;
            };
            if let (_, Some(retry)) = *slot.backoff.lock().unwrap() {
                due = due.max(retry);
            }
            if self.clock.now() < due {
                next = earliest(next, due);
                continue;
            }
            let _fetching = slot.fetch.lock().await;
            let still_due = slot.current.read().unwrap().as_ref().is_some_and(|v| {
                let c = &v.credentials;
                self.clock.now() >= lifecycle::renew_at(c.expiration, c.lifetime())
            });
            if !still_due {
                continue;
            }
            let before = slot.current.read().unwrap().clone();
            let result = self.fetch_into(&slot, false).await;
            let renewed = matches!((&result, &before), (Ok(new), Some(old)) if new.credentials.access_key_id != old.credentials.access_key_id);
            let mut backoff_state = slot.backoff.lock().unwrap();
            if renewed {
                tracing::debug!(key = ?slot.key, "renewed credentials ahead of expiry");
                *backoff_state = (0, None);
            } else {
                let failures = backoff_state.0 + 1;
                let retry = self.clock.now() + backoff(failures, rand::rng().random());
                if let Err(e) = &result {
                    tracing::warn!(key = ?slot.key, error = %e.summary(), failures, "renewal failed; retrying later");
                }
                *backoff_state = (failures, Some(retry));
                next = earliest(next, retry);
            }
        }
        next
    }

    /// Renew in the background until `shutdown` resolves.
    pub async fn run_renewal(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let next = self.renew_due().await;
            let wait = next
                .map(|at| at - self.clock.now())
                .unwrap_or(MAX_SLEEP)
                .clamp(Duration::milliseconds(250), MAX_SLEEP);
            tokio::select! {
                _ = tokio::time::sleep(wait.to_std().unwrap_or_default()) => {}
                _ = self.renewal_wakeup.notified() => {}
                _ = &mut shutdown => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_with_jitter() {
        assert_eq!(backoff(1, 0.0), Duration::milliseconds(500));
        assert_eq!(backoff(1, 1.0), Duration::milliseconds(1000));
        assert_eq!(backoff(3, 1.0), Duration::seconds(4));
        assert_eq!(backoff(10, 1.0), Duration::seconds(60));
        assert_eq!(backoff(100, 0.0), Duration::seconds(30));
    }
}
