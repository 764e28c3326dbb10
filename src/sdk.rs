//! The official SDK clients credbroker calls (IAM Identity Center's portal
//! and OIDC service, STS), each built once per region and settings and
//! then reused, so a renewal or a sign-in reuses the client's connections
//! instead of loading a configuration for every call.
//!
//! The service configurations are built explicitly rather than by
//! `aws_config`'s loader, which reads the process environment and the
//! shared config files behind the context's back. The standard settings
//! the loader would honour are read here instead, by the SDKs' own rules
//! ([`settings`], protocols.md §10), from the context's environment and
//! the profile being served ([`SdkClients::for_profile`]): retries
//! (`AWS_MAX_ATTEMPTS`, `retry_mode`), FIPS and dual-stack endpoints, and
//! the endpoint URLs (`AWS_ENDPOINT_URL*`, a profile's `endpoint_url` and
//! its `[services ...]` section), so the emulator, a VPC endpoint or a
//! person's retry budget need no special code path. A client is cached
//! under its region and everything in [`ServiceSettings`], so two profiles
//! with different settings never share one and equal settings always do.
//!
//! The clients are unsigned (these APIs need no credentials, or take a
//! token in the request); AssumeRole signs with the source's credentials
//! per request ([`SdkClients::sts`] with `config_override`). Timeouts make
//! a dead endpoint fail in seconds rather than hang a sign-in or a fetch.

use crate::config::AwsConfig;
use crate::env::Env;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod settings;
pub use settings::{ClientSettings, Retry, RetryMode, ServiceSettings, SettingsError};

/// The endpoint configured for a service by the environment alone:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL` (an empty one
/// counts as unset), none when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`
/// (protocols.md §10). Without a trailing `/`. For a service credbroker
/// makes no SDK client of (the console's sign-in service).
pub fn configured_endpoint(service: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let ignored =
        set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if ignored {
        return None;
    }
    set(&format!("AWS_ENDPOINT_URL_{service}"))
        .or_else(|| set("AWS_ENDPOINT_URL"))
        .map(|url| url.trim().trim_end_matches('/').to_owned())
}

/// A service credbroker calls: its `AWS_ENDPOINT_URL_<SERVICE>` name, its
/// key in a `[services ...]` section and its default URL in a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// The SSO portal (GetRoleCredentials, listing, Logout).
    Portal,
    /// IAM Identity Center OIDC (RegisterClient, device and token grants).
    Oidc,
    Sts,
}

impl Service {
    const ALL: [Service; 3] = [Service::Portal, Service::Oidc, Service::Sts];

    fn index(self) -> usize {
        self as usize
    }

    /// The SDK service id as the environment writes it (`SSO_OIDC`).
    fn env_name(self) -> &'static str {
        match self {
            Service::Portal => "SSO",
            Service::Oidc => "SSO_OIDC",
            Service::Sts => "STS",
        }
    }

    /// The SDK service id as a `[services ...]` section writes it (`sso_oidc`).
    fn profile_key(self) -> &'static str {
        match self {
            Service::Portal => "sso",
            Service::Oidc => "sso_oidc",
            Service::Sts => "sts",
        }
    }

    fn default_url(self, region: &str) -> String {
        match self {
            Service::Portal => format!("https://portal.sso.{region}.amazonaws.com"),
            Service::Oidc => format!("https://oidc.{region}.amazonaws.com"),
            Service::Sts => format!("https://sts.{region}.amazonaws.com"),
        }
    }
}

/// A client's cache key: its region and every setting it is built with.
type Key = (String, ServiceSettings);

/// An SDK client with the URL it calls, which errors with no answer name
/// (the SDK's error does not carry it). Derefs to the client.
#[derive(Clone, Debug)]
pub struct Endpointed<C> {
    client: C,
    url: String,
}

impl<C> Endpointed<C> {
    /// The URL the client calls.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl<C> std::ops::Deref for Endpointed<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.client
    }
}

pub type PortalClient = Endpointed<aws_sdk_sso::Client>;
pub type OidcClient = Endpointed<aws_sdk_ssooidc::Client>;
pub type StsClient = Endpointed<aws_sdk_sts::Client>;

/// The clients built so far, shared by every view of one context.
#[derive(Debug, Default)]
struct Cache {
    portal: Mutex<HashMap<Key, PortalClient>>,
    oidc: Mutex<HashMap<Key, OidcClient>>,
    sts: Mutex<HashMap<Key, StsClient>>,
    built: Mutex<usize>,
}

/// The clients of one context, seen with one set of settings: the
/// environment's ([`SdkClients::new`]) or a served profile's
/// ([`SdkClients::for_profile`]). Views share one cache; cheap to clone.
#[derive(Clone, Debug)]
pub struct SdkClients {
    cache: Arc<Cache>,
    env: Env,
    settings: ClientSettings,
    /// Why the environment's own settings are unusable, if they are.
    invalid: Option<SettingsError>,
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(45))
        .build()
}

fn retry_config(retry: Retry) -> RetryConfig {
    match retry.mode {
        RetryMode::Standard => RetryConfig::standard(),
        RetryMode::Adaptive => RetryConfig::adaptive(),
    }
    .with_max_attempts(retry.max_attempts)
}

/// A client of one SDK crate with the settings every credbroker client
/// shares (the latest behaviour version, the timeouts) and the ones
/// resolved for it (retries, FIPS, dual-stack, the endpoint; none: the
/// SDK's own). The three crates' config builders are distinct types, hence
/// a macro.
macro_rules! unsigned_client {
    ($sdk:ident, $region:expr, $settings:expr) => {{
        let s: &ServiceSettings = $settings;
        let mut conf = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region($region)
            .retry_config(retry_config(s.retry))
            .timeout_config(timeouts())
            .use_fips(s.use_fips)
            .use_dual_stack(s.use_dual_stack);
        conf.set_endpoint_url(s.endpoint.clone());
        $sdk::Client::from_conf(conf.build())
    }};
}

impl SdkClients {
    /// The clients of a context whose environment is `env`, with the
    /// environment's settings. A bad value there is kept, not defaulted:
    /// [`SdkClients::check`] and every [`SdkClients::for_profile`] report it.
    pub fn new(env: Env) -> SdkClients {
        let (settings, invalid) = match settings::resolve(|name| env.var(name), None) {
            Ok(settings) => (settings, None),
            Err(e) => (ClientSettings::default(), Some(e)),
        };
        SdkClients {
            cache: Arc::default(),
            env,
            settings,
            invalid,
        }
    }

    /// Whether the environment's settings are usable (the CLI asks before
    /// any command runs, so none runs on a silent default).
    pub fn check(&self) -> Result<(), SettingsError> {
        match &self.invalid {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The same clients seen with the settings of `profile` in `config`
    /// (the environment first, then the profile, as the SDKs read them); a
    /// profile not in the file gets the environment's.
    pub fn for_profile(
        &self,
        config: &AwsConfig,
        profile: &str,
    ) -> Result<SdkClients, SettingsError> {
        let source = config
            .profile(profile)
            .map(|profile| settings::ProfileSource { config, profile });
        let settings = settings::resolve(|name| self.env.var(name), source)?;
        Ok(SdkClients {
            cache: self.cache.clone(),
            env: self.env.clone(),
            settings,
            invalid: None,
        })
    }

    /// The settings these clients are built with.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The endpoint configured for `service`, if any.
    pub fn endpoint(&self, service: Service) -> Option<String> {
        self.settings.endpoint(service).map(str::to_owned)
    }

    /// The URL a call to `service` in `region` goes to, for error messages.
    pub fn url(&self, service: Service, region: &str) -> String {
        self.endpoint(service)
            .unwrap_or_else(|| service.default_url(region))
    }

    /// How many clients have been built so far, in every view (each is
    /// built once).
    pub fn built(&self) -> usize {
        *self.cache.built.lock().unwrap()
    }

    fn cached<C: Clone>(
        &self,
        map: &Mutex<HashMap<Key, Endpointed<C>>>,
        service: Service,
        region: &str,
        build: impl FnOnce(Region, &ServiceSettings) -> C,
    ) -> Endpointed<C> {
        let key = (region.to_owned(), self.settings.service(service));
        let mut map = map.lock().unwrap();
        if let Some(client) = map.get(&key) {
            return client.clone();
        }
        let client = Endpointed {
            client: build(Region::new(key.0.clone()), &key.1),
            url: self.url(service, region),
        };
        *self.cache.built.lock().unwrap() += 1;
        map.insert(key, client.clone());
        client
    }

    /// The SSO portal client for `region`.
    pub fn portal(&self, region: &str) -> PortalClient {
        self.cached(&self.cache.portal, Service::Portal, region, |region, s| {
            unsigned_client!(aws_sdk_sso, region, s)
        })
    }

    /// The IAM Identity Center OIDC client for `region`.
    pub fn oidc(&self, region: &str) -> OidcClient {
        self.cached(&self.cache.oidc, Service::Oidc, region, |region, s| {
            unsigned_client!(aws_sdk_ssooidc, region, s)
        })
    }

    /// The STS client for `region`, with no credentials of its own:
    /// AssumeRoleWithWebIdentity is unsigned, and AssumeRole gives its
    /// signing credentials per request.
    pub fn sts(&self, region: &str) -> StsClient {
        self.cached(&self.cache.sts, Service::Sts, region, |region, s| {
            unsigned_client!(aws_sdk_sts, region, s)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_built_once_per_region_and_endpoint_from_the_given_env() {
        let clients = SdkClients::new(Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1/"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
        ]));
        let a = clients.portal("eu-west-1");
        let _ = clients.portal("eu-west-1");
        assert_eq!(clients.built(), 1);
        let _ = clients.portal("us-east-1");
        let _ = clients.sts("us-east-1");
        let _ = clients.oidc("us-east-1");
        let _ = clients.sts("us-east-1");
        assert_eq!(clients.built(), 4);
        assert_eq!(a.config().region().unwrap().as_ref(), "eu-west-1");
        assert_eq!(a.url(), "http://127.0.0.1:1");
        assert_eq!(clients.url(Service::Portal, "x"), "http://127.0.0.1:1");
        assert_eq!(clients.url(Service::Sts, "x"), "http://127.0.0.1:2");
        let oidc = SdkClients::new(Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://a"),
            ("AWS_ENDPOINT_URL_SSO_OIDC", "http://b/"),
        ]));
        assert_eq!(oidc.oidc("x").url(), "http://b");
        assert_eq!(oidc.portal("x").url(), "http://a");
        let plain = SdkClients::new(Env::empty());
        assert_eq!(
            plain.url(Service::Oidc, "eu-west-1"),
            "https://oidc.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn profiles_share_a_client_only_when_every_setting_agrees() {
        let config = AwsConfig::parse(
            "[profile a]\nregion = eu-west-1\n\
             [profile same-as-a]\nregion = us-east-1\n\
             [profile retries]\nmax_attempts = 1\n\
             [profile fips]\nuse_fips_endpoint = true\n\
             [profile dual]\nuse_dualstack_endpoint = true\n\
             [profile adaptive]\nretry_mode = adaptive\n\
             [profile local]\nservices = local\n\
             [services local]\nsts =\n  endpoint_url = http://127.0.0.1:9/\n",
            std::path::Path::new("/c"),
        )
        .unwrap();
        let base = SdkClients::new(Env::empty());
        let view = |p: &str| base.for_profile(&config, p).unwrap();
        let a = view("a").sts("eu-west-1");
        let _ = view("same-as-a").sts("eu-west-1");
        let _ = view("unknown-profile").sts("eu-west-1");
        let _ = base.sts("eu-west-1");
        assert_eq!(base.built(), 1, "equal settings share one client");
        assert_eq!(a.url(), "https://sts.eu-west-1.amazonaws.com");
        let retries = view("retries").sts("eu-west-1");
        let fips = view("fips").sts("eu-west-1");
        let dual = view("dual").sts("eu-west-1");
        let _ = view("adaptive").sts("eu-west-1");
        let local = view("local").sts("eu-west-1");
        assert_eq!(base.built(), 6, "each differing setting has its own client");
        // The local profile's services section names STS only.
        let _ = view("local").portal("eu-west-1");
        let _ = base.portal("eu-west-1");
        assert_eq!(base.built(), 7);
        assert_eq!(local.url(), "http://127.0.0.1:9");
        assert_eq!(retries.config().retry_config().unwrap().max_attempts(), 1);
        assert_eq!(a.config().retry_config().unwrap().max_attempts(), 3);
        assert_eq!(
            view("adaptive")
                .sts("eu-west-1")
                .config()
                .retry_config()
                .unwrap()
                .mode(),
            aws_smithy_types::retry::RetryMode::Adaptive
        );
        // The flags sit in the config's layer, which only Debug shows.
        let set = |c: &StsClient, flag: &str| format!("{:?}", c.config()).contains(flag);
        assert!(set(&fips, "UseFips(true)") && set(&fips, "UseDualStack(false)"));
        assert!(set(&dual, "UseDualStack(true)") && set(&dual, "UseFips(false)"));
        assert!(set(&a, "UseFips(false)") && set(&a, "UseDualStack(false)"));
    }

    #[test]
    fn a_bad_environment_is_kept_for_check_and_every_profile() {
        let clients = SdkClients::new(Env::from_pairs([("AWS_MAX_ATTEMPTS", "0")]));
        let e = clients.check().unwrap_err().to_string();
        assert!(e.starts_with("AWS_MAX_ATTEMPTS is `0`"), "{e}");
        let config = AwsConfig::parse("[profile a]\n", std::path::Path::new("/c")).unwrap();
        assert!(clients.for_profile(&config, "a").is_err());
        assert!(SdkClients::new(Env::empty()).check().is_ok());
    }

    #[test]
    fn the_sdks_endpoint_rule() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            configured_endpoint("STS", env(&[("AWS_ENDPOINT_URL", "http://a/")])).as_deref(),
            Some("http://a")
        );
        assert_eq!(
            configured_endpoint(
                "STS",
                env(&[
                    ("AWS_ENDPOINT_URL", "http://a"),
                    ("AWS_ENDPOINT_URL_STS", " ")
                ])
            )
            .as_deref(),
            Some("http://a")
        );
        assert_eq!(
            configured_endpoint(
                "STS",
                env(&[
                    ("AWS_ENDPOINT_URL", "http://a"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE")
                ])
            ),
            None
        );
    }
}
