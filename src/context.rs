//! The one explicit context every part of credbroker runs in: where its
//! files are, the environment it was started with, the clock, how to tell
//! the person something, and the SDK clients.
//!
//! The CLI builds it once from the process ([`Context::from_process`]) and
//! hands it down; nothing below reads `std::env` or the wall clock on its
//! own. Tests and the demo build theirs from a map ([`Context::new`] with
//! [`Env::from_pairs`]), so they point a broker at a temp home and the
//! emulator without touching the process's variables, and several brokers
//! can run side by side in one test binary.

use crate::clock::SharedClock;
use crate::paths::Paths;
use crate::sdk::SdkClients;
use std::sync::Arc;

pub use crate::env::Env;

/// Tells the person something that needs them (a session that can no
/// longer be renewed). The CLI's is a desktop notification.
#[derive(Clone)]
pub struct Notifier(Arc<Notify>);

/// Summary, then body.
type Notify = dyn Fn(&str, &str) + Send + Sync;

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier(..)")
    }
}

impl Notifier {
    /// A desktop notification where a notification service exists.
    pub fn desktop() -> Notifier {
        Notifier::from_fn(crate::desktop::notify)
    }

    /// Says nothing (tests, the demo).
    pub fn silent() -> Notifier {
        Notifier::from_fn(|_, _| {})
    }

    pub fn from_fn(f: impl Fn(&str, &str) + Send + Sync + 'static) -> Notifier {
        Notifier(Arc::new(f))
    }

    pub fn notify(&self, summary: &str, body: &str) {
        (self.0)(summary, body)
    }
}

/// Paths, environment, clock, notifications and SDK clients; cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    pub env: Env,
    pub paths: Paths,
    pub clock: SharedClock,
    pub notifier: Notifier,
    /// The SDK clients with the environment's settings, built once per
    /// region and settings ([`SdkClients::for_profile`] for a profile's).
    pub clients: Arc<SdkClients>,
}

impl Context {
    /// The context of a command: the process's environment as it was at
    /// start, the system clock and desktop notifications.
    pub fn from_process() -> Context {
        Context::new(Env::process()).with_notifier(Notifier::desktop())
    }

    /// A context for `env`: its paths and SDK clients follow it; the system
    /// clock; no notifications.
    pub fn new(env: Env) -> Context {
        Context {
            paths: Paths::from_env(&env),
            clients: Arc::new(SdkClients::new(env.clone())),
            env,
            clock: crate::clock::system(),
            notifier: Notifier::silent(),
        }
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Context {
        self.clock = clock;
        self
    }

    pub fn with_notifier(mut self, notifier: Notifier) -> Context {
        self.notifier = notifier;
        self
    }

    /// This context with its SDK clients seen with `profile`'s settings in
    /// `config` (a sign-in for a profile calls as that profile would).
    pub fn for_profile(
        &self,
        config: &crate::config::AwsConfig,
        profile: &str,
    ) -> Result<Context, crate::sdk::SettingsError> {
        let clients = self.clients.for_profile(config, profile)?;
        Ok(Context {
            clients: Arc::new(clients),
            ..self.clone()
        })
    }

    /// The keychain service name `CREDBROKER_KEYCHAIN_SERVICE` asks for.
    pub fn keychain_service(&self) -> Option<String> {
        self.env.non_empty(crate::store::keychain::SERVICE_ENV)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_follows_its_own_environment() {
        let ctx = Context::new(Env::from_pairs([
            ("HOME", "/tmp/h"),
            ("CREDBROKER_KEYCHAIN_SERVICE", "kc-test"),
        ]));
        assert_eq!(
            ctx.paths.aws_config_file,
            std::path::Path::new("/tmp/h/.aws/config")
        );
        assert_eq!(ctx.keychain_service().as_deref(), Some("kc-test"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let ctx = ctx.with_notifier(Notifier::from_fn(move |s, b| {
            sink.lock().unwrap().push(format!("{s}: {b}"))
        }));
        ctx.notifier.notify("sign in", "the session ended");
        assert_eq!(*seen.lock().unwrap(), ["sign in: the session ended"]);
    }
}
