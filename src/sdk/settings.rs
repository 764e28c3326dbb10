//! The standard SDK settings a client of credbroker's is built with, read
//! from the context's environment and the served profile the way the AWS
//! SDKs read them (protocols.md §10), so a person's `AWS_MAX_ATTEMPTS`,
//! FIPS choice or `[services ...]` endpoints apply to credbroker's calls as
//! they do to the AWS CLI's. Pure: a variable lookup and a parsed config in,
//! settings or a clear error out.
//!
//! - Retries: `AWS_MAX_ATTEMPTS`, then the profile's `max_attempts` (a whole
//!   number of 1 or more; 3 when unset), and `AWS_RETRY_MODE`, then
//!   `retry_mode` (`standard`, `adaptive`; `legacy`, which the Rust SDK has
//!   not, is read as `standard`). Each field on its own.
//! - `AWS_USE_FIPS_ENDPOINT` / `use_fips_endpoint` and
//!   `AWS_USE_DUALSTACK_ENDPOINT` / `use_dualstack_endpoint`: `true` or
//!   `false`, handed to the SDK's endpoint resolver for a service with no
//!   configured endpoint (one configured overrides them).
//! - Endpoints, per service, highest first: `AWS_ENDPOINT_URL_<SERVICE>`,
//!   `AWS_ENDPOINT_URL`, the `endpoint_url` under the service's key in the
//!   `[services NAME]` section the profile's `services` names, then the
//!   profile's own `endpoint_url`. `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
//!   (else `ignore_configured_endpoint_urls`) = `true` turns all of them off.
//!
//! An empty variable counts as unset. A bad value is an error naming the
//! variable, or the key, the profile and the file; never a silent default.

use super::Service;
use crate::config::{AwsConfig, Profile};
use std::fmt;

/// How the SDK retries a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryMode {
    Standard,
    Adaptive,
}

/// The retry settings of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Retry {
    pub mode: RetryMode,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for Retry {
    /// The SDKs' standard mode: three attempts.
    fn default() -> Retry {
        Retry {
            mode: RetryMode::Standard,
            max_attempts: 3,
        }
    }
}

/// Everything that makes one client of `service` differ from another in
/// the same region: its cache key, with the region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceSettings {
    /// The configured endpoint, without a trailing `/`; none: the SDK's own.
    pub endpoint: Option<String>,
    pub retry: Retry,
    pub use_fips: bool,
    pub use_dual_stack: bool,
}

/// The settings of every service credbroker calls, for one profile (or the
/// environment alone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSettings {
    pub retry: Retry,
    pub use_fips: bool,
    pub use_dual_stack: bool,
    /// Portal, OIDC, STS, in [`Service::ALL`]'s order.
    endpoints: [Option<String>; 3],
}

impl ClientSettings {
    /// The settings a client of `service` is built with.
    ///
    /// A configured endpoint replaces the public one the FIPS and
    /// dual-stack flags choose between, so with one the flags are off: the
    /// SDKs' guide says the endpoint overrides them (and botocore calls the
    /// endpoint), where the Rust SDK's endpoint rules would refuse the pair.
    pub fn service(&self, service: Service) -> ServiceSettings {
        let endpoint = self.endpoint(service).map(str::to_owned);
        let public = endpoint.is_none();
        ServiceSettings {
            endpoint,
            retry: self.retry,
            use_fips: self.use_fips && public,
            use_dual_stack: self.use_dual_stack && public,
        }
    }

    /// The endpoint configured for `service`, if any.
    pub fn endpoint(&self, service: Service) -> Option<&str> {
        self.endpoints[service.index()].as_deref()
    }
}

/// A setting with a value the SDKs would refuse (or silently drop); the
/// message names where it was written and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    message: String,
}

/// The served profile and the file it is in.
#[derive(Clone, Copy)]
pub struct ProfileSource<'a> {
    pub config: &'a AwsConfig,
    pub profile: &'a Profile,
}

/// Where a value was read: a variable, or a key of a profile.
enum Origin<'a> {
    Env(&'a str),
    Profile {
        key: &'a str,
        at: ProfileSource<'a>,
    },
    Services {
        section: &'a str,
        service: &'a str,
        at: ProfileSource<'a>,
    },
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(name) => write!(f, "{name}"),
            Origin::Profile { key, at } => write!(
                f,
                "`{key}` in profile '{}' ({})",
                at.profile.name,
                at.config.path.display()
            ),
            Origin::Services {
                section,
                service,
                at,
            } => write!(
                f,
                "`endpoint_url` under `{service} =` in [services {section}] (named by profile '{}', {})",
                at.profile.name,
                at.config.path.display()
            ),
        }
    }
}

fn bad(origin: &Origin<'_>, value: &str, expected: &str) -> SettingsError {
    SettingsError {
        message: format!("{origin} is `{value}`, which the AWS SDKs do not accept: {expected}"),
    }
}

/// Reads settings: variables first, then the profile.
struct Reader<'a, F> {
    env: F,
    profile: Option<ProfileSource<'a>>,
}

impl<'a, F: Fn(&str) -> Option<String>> Reader<'a, F> {
    /// The first of the variable `var` and the profile key `key` that is set.
    fn read(&self, var: &'a str, key: &'a str) -> Option<(String, Origin<'a>)> {
        if let Some(v) = (self.env)(var).filter(|v| !v.trim().is_empty()) {
            return Some((v.trim().to_owned(), Origin::Env(var)));
        }
        let at = self.profile?;
        let v = at.profile.settings.get(key)?.trim();
        (!v.is_empty()).then(|| (v.to_owned(), Origin::Profile { key, at }))
    }

    fn flag(&self, var: &'a str, key: &'a str) -> Result<bool, SettingsError> {
        match self.read(var, key) {
            None => Ok(false),
            Some((v, _)) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some((v, _)) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some((v, origin)) => Err(bad(&origin, &v, "write `true` or `false`")),
        }
    }

    fn retry(&self) -> Result<Retry, SettingsError> {
        let mut retry = Retry::default();
        if let Some((v, origin)) = self.read("AWS_MAX_ATTEMPTS", "max_attempts") {
            retry.max_attempts = match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(bad(
                        &origin,
                        &v,
                        "it counts every attempt, the first included; write a whole number of 1 or more (3 is the default)",
                    ))
                }
            };
        }
        if let Some((v, origin)) = self.read("AWS_RETRY_MODE", "retry_mode") {
            retry.mode = match v.to_ascii_lowercase().as_str() {
                "standard" | "legacy" => RetryMode::Standard,
                "adaptive" => RetryMode::Adaptive,
                _ => {
                    return Err(bad(
                        &origin,
                        &v,
                        "write `standard` (the default), `adaptive` or `legacy`",
                    ))
                }
            };
        }
        Ok(retry)
    }

    /// The endpoint of one service by the SDKs' order (module docs).
    fn endpoint(&self, service: Service) -> Result<Option<String>, SettingsError> {
        let env_specific = format!("AWS_ENDPOINT_URL_{}", service.env_name());
        if let Some(v) = (self.env)(&env_specific).filter(|v| !v.trim().is_empty()) {
            return url(&v, &Origin::Env(&env_specific)).map(Some);
        }
        if let Some(v) = (self.env)("AWS_ENDPOINT_URL").filter(|v| !v.trim().is_empty()) {
            return url(&v, &Origin::Env("AWS_ENDPOINT_URL")).map(Some);
        }
        let Some(at) = self.profile else {
            return Ok(None);
        };
        if let Some(section) = at.profile.settings.get("services").map(|s| s.trim()) {
            if !section.is_empty() {
                let Some(services) = at.config.services.get(section) else {
                    return Err(SettingsError {
                        message: format!(
                            "profile '{}' in {} has `services = {section}`, but the file has no [services {section}] section; add it, or remove the key",
                            at.profile.name,
                            at.config.path.display()
                        ),
                    });
                };
                let key = service.profile_key();
                let found = services
                    .get(key)
                    .map(|v| crate::config::sub_settings(v))
                    .and_then(|sub| sub.get("endpoint_url").cloned())
                    .filter(|v| !v.trim().is_empty());
                if let Some(v) = found {
                    let origin = Origin::Services {
                        section,
                        service: key,
                        at,
                    };
                    return url(&v, &origin).map(Some);
                }
            }
        }
        match at.profile.settings.get("endpoint_url") {
            Some(v) if !v.trim().is_empty() => url(
                v,
                &Origin::Profile {
                    key: "endpoint_url",
                    at,
                },
            )
            .map(Some),
            _ => Ok(None),
        }
    }
}

/// An endpoint URL as the SDKs take it: a scheme and a host, maybe a path.
fn url(value: &str, origin: &Origin<'_>) -> Result<String, SettingsError> {
    let value = value.trim();
    let host = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(bad(
            origin,
            value,
            "write a URL with its scheme and host, such as `https://sts.eu-west-1.amazonaws.com` or `http://127.0.0.1:4566`",
        )),
    }
}

/// The settings for the environment `env` and, when given, the served
/// profile (see the module docs for the order).
pub fn resolve(
    env: impl Fn(&str) -> Option<String>,
    profile: Option<ProfileSource<'_>>,
) -> Result<ClientSettings, SettingsError> {
    let reader = Reader { env, profile };
    let retry = reader.retry()?;
    let use_fips = reader.flag("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint")?;
    let use_dual_stack = reader.flag("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint")?;
    let ignored = reader.flag(
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "ignore_configured_endpoint_urls",
    )?;
    let mut endpoints: [Option<String>; 3] = Default::default();
    if !ignored {
        for service in Service::ALL {
            endpoints[service.index()] = reader.endpoint(service)?;
        }
    }
    Ok(ClientSettings {
        retry,
        use_fips,
        use_dual_stack,
        endpoints,
    })
}

#[cfg(test)]
mod tests;
