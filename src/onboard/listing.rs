//! Every account and role a person holds: ListAccounts, then
//! ListAccountRoles for each account.
//!
//! First the accounts (all pages, one after another: each page needs the
//! previous page's token), then the roles of each account with at most
//! [`Listing::concurrency`] calls in flight, so an organisation with
//! hundreds of accounts is listed in seconds without tripping IAM Identity
//! Center's rate limit. The SDK already retries a throttled call a few
//! times; on top of that a call that still fails transiently (429, 5xx,
//! timeouts) is retried after an exponentially growing, jittered pause
//! ([`Backoff`]), because a burst of parallel calls is exactly what gets
//! throttled. Anything else (the token was refused, a bad request) stops
//! the listing at once.

use super::plan::Assignment;
use crate::model::SsoToken;
use crate::sso::portal::{self, PortalError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often and how long to wait before retrying a transient failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Attempts in all, the first one included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(250),
            max: Duration::from_secs(8),
            attempts: 7,
        }
    }
}

impl Backoff {
    /// The pause before retry number `retry` (1-based): doubling from
    /// `first`, capped at `max`, scaled by `jitter` in [0.5, 1.0] so parallel
    /// callers do not retry in lockstep.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let doubled = self.first.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(self.max).mul_f64(jitter.clamp(0.5, 1.0))
    }

    /// Run `call` until it succeeds, fails for good, or runs out of attempts.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, PortalError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortalError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(PortalError::Transient(detail)) if attempt < self.attempts => {
                    let pause = self.delay(attempt, rand::random_range(0.5..=1.0));
                    tracing::debug!(attempt, ?pause, %detail, "transient portal failure; backing off");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// How to list: parallel calls and the retry policy.
#[derive(Clone, Debug)]
pub struct Listing {
    pub concurrency: usize,
    pub backoff: Backoff,
}

impl Default for Listing {
    fn default() -> Self {
        Listing {
            concurrency: 8,
            backoff: Backoff::default(),
        }
    }
}

impl Listing {
    /// Every account×role `token` may use, sorted by account id and role name.
    pub async fn assignments(
        &self,
        clients: &crate::sdk::SdkClients,
        token: &SsoToken,
    ) -> Result<Vec<Assignment>, PortalError> {
        let client = portal::client(clients, token);
        let accounts = self
            .backoff
            .run(|| portal::list_accounts_with(&client, token))
            .await?;
        let permits = Arc::new(tokio::sync::Semaphore::new(self.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for account in accounts {
            let (client, token, backoff, permits) = (
                client.clone(),
                token.clone(),
                self.backoff.clone(),
                permits.clone(),
            );
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let roles = backoff
                    .run(|| portal::list_account_roles_with(&client, &token, &account.account_id))
                    .await?;
                Ok::<_, PortalError>((account, roles))
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (account, roles) = joined
                .map_err(|e| PortalError::Other(format!("listing task failed: {e}").into()))??;
            let account_name = account.account_name.unwrap_or_default();
            out.extend(roles.into_iter().map(|role_name| Assignment {
                account_id: account.account_id.clone(),
                account_name: account_name.clone(),
                role_name,
            }));
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
            attempts: 10,
        };
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(2, 1.0), Duration::from_millis(200));
        assert_eq!(b.delay(4, 1.0), Duration::from_millis(800));
        assert_eq!(b.delay(5, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(60, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 0.5), Duration::from_millis(100));
        assert_eq!(b.delay(2, 0.0), Duration::from_millis(100));
    }

    fn quick(attempts: u32) -> Backoff {
        Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(2),
            attempts,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_given_up() {
        let calls = AtomicU32::new(0);
        let result = quick(5)
            .run(|| async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err(PortalError::Transient("429".into()))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(result.unwrap(), 3);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = quick(3)
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(PortalError::Transient("429".into()))
            })
            .await;
        assert!(matches!(result, Err(PortalError::Transient(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = quick(5)
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(PortalError::Unauthorized("401".into()))
            })
            .await;
        assert!(matches!(result, Err(PortalError::Unauthorized(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
