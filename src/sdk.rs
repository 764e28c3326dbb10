//! The official SDK clients credbroker calls (IAM Identity Center's portal
//! and OIDC service, STS), each built once per region and endpoint and
//! then reused, so a renewal or a sign-in reuses the client's connections
//! instead of loading a configuration for every call.
//!
//! The service configurations are built explicitly rather than by
//! `aws_config`'s loader, which reads the process environment and the
//! shared config files: the endpoint comes from the context's environment
//! by the SDKs' own rule ([`configured_endpoint`]), so `AWS_ENDPOINT_URL`
//! still points every client at the emulator (or a VPC endpoint) with no
//! special code path. The clients are unsigned (these APIs need no
//! credentials, or take a token in the request); AssumeRole signs with the
//! source's credentials per request ([`SdkClients::sts`] with
//! `config_override`). Timeouts make a dead endpoint fail in seconds rather
//! than hang a sign-in or a fetch; retries are the SDKs' standard mode.

use crate::env::Env;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The endpoint configured for a service by the SDKs' rule:
/// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL` (an empty one
/// counts as unset), none when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`
/// (protocols.md §10). Without a trailing `/`.
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

/// A service credbroker calls: its `AWS_ENDPOINT_URL_<SERVICE>` name and
/// its default URL in a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// The SSO portal (GetRoleCredentials, listing, Logout).
    Portal,
    /// IAM Identity Center OIDC (RegisterClient, device and token grants).
    Oidc,
    Sts,
}

impl Service {
    fn env_name(self) -> &'static str {
        match self {
            Service::Portal => "SSO",
            Service::Oidc => "SSO_OIDC",
            Service::Sts => "STS",
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

type Key = (String, Option<String>);

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

/// The clients, built on first use per region and configured endpoint.
#[derive(Debug)]
pub struct SdkClients {
    env: Env,
    portal: Mutex<HashMap<Key, PortalClient>>,
    oidc: Mutex<HashMap<Key, OidcClient>>,
    sts: Mutex<HashMap<Key, StsClient>>,
    built: Mutex<usize>,
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(45))
        .build()
}

/// A client of one SDK crate with the settings every credbroker client
/// shares: the latest behaviour version, standard retries, the timeouts,
/// and the endpoint the context names (none: the SDK's own). The three
/// crates' config builders are distinct types, hence a macro.
macro_rules! unsigned_client {
    ($sdk:ident, $region:expr, $url:expr) => {{
        let mut conf = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region($region)
            .retry_config(RetryConfig::standard())
            .timeout_config(timeouts());
        conf.set_endpoint_url($url);
        $sdk::Client::from_conf(conf.build())
    }};
}

impl SdkClients {
    pub fn new(env: Env) -> SdkClients {
        SdkClients {
            env,
            portal: Mutex::default(),
            oidc: Mutex::default(),
            sts: Mutex::default(),
            built: Mutex::new(0),
        }
    }

    /// The endpoint configured for `service` in this environment, if any.
    pub fn endpoint(&self, service: Service) -> Option<String> {
        configured_endpoint(service.env_name(), |name| self.env.var(name))
    }

    /// The URL a call to `service` in `region` goes to, for error messages.
    pub fn url(&self, service: Service, region: &str) -> String {
        self.endpoint(service)
            .unwrap_or_else(|| service.default_url(region))
    }

    /// How many clients have been built so far (each is built once).
    pub fn built(&self) -> usize {
        *self.built.lock().unwrap()
    }

    fn cached<C: Clone>(
        &self,
        map: &Mutex<HashMap<Key, Endpointed<C>>>,
        service: Service,
        region: &str,
        build: impl FnOnce(Region, Option<String>) -> C,
    ) -> Endpointed<C> {
        let key = (region.to_owned(), self.endpoint(service));
        let mut map = map.lock().unwrap();
        if let Some(client) = map.get(&key) {
            return client.clone();
        }
        let client = Endpointed {
            client: build(Region::new(key.0.clone()), key.1.clone()),
            url: self.url(service, region),
        };
        *self.built.lock().unwrap() += 1;
        map.insert(key, client.clone());
        client
    }

    /// The SSO portal client for `region`.
    pub fn portal(&self, region: &str) -> PortalClient {
        self.cached(&self.portal, Service::Portal, region, |region, url| {
            unsigned_client!(aws_sdk_sso, region, url)
        })
    }

    /// The IAM Identity Center OIDC client for `region`.
    pub fn oidc(&self, region: &str) -> OidcClient {
        self.cached(&self.oidc, Service::Oidc, region, |region, url| {
            unsigned_client!(aws_sdk_ssooidc, region, url)
        })
    }

    /// The STS client for `region`, with no credentials of its own:
    /// AssumeRoleWithWebIdentity is unsigned, and AssumeRole gives its
    /// signing credentials per request.
    pub fn sts(&self, region: &str) -> StsClient {
        self.cached(&self.sts, Service::Sts, region, |region, url| {
            unsigned_client!(aws_sdk_sts, region, url)
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
