//! The resolution table: which source wins for each setting, what the
//! ignore flag turns off, and the errors bad values get.

use super::*;
use std::path::Path;

const CONFIG: &str = "\
[profile all]
endpoint_url = http://profile-global
services = local
max_attempts = 7
retry_mode = adaptive

[profile global-only]
endpoint_url = http://profile-global/

[profile services-only]
services = local

[profile ignoring]
endpoint_url = http://profile-global
services = local
ignore_configured_endpoint_urls = true

[profile not-ignoring]
ignore_configured_endpoint_urls = false
endpoint_url = http://profile-global

[profile missing-services]
services = nowhere

[profile fips]
use_fips_endpoint = true
use_dualstack_endpoint = TRUE

[profile fips-and-url]
use_fips_endpoint = true
endpoint_url = http://profile-global

[profile legacy]
retry_mode = legacy

[profile bad-mode]
retry_mode = fast

[profile bad-attempts]
max_attempts = 0

[profile bad-flag]
use_fips_endpoint = yes

[profile bad-url]
endpoint_url = localhost:4566

[services local]
sts =
  endpoint_url = http://services-sts
sso =
  endpoint_url = http://services-sso/
";

fn config() -> AwsConfig {
    AwsConfig::parse(CONFIG, Path::new("/home/u/.aws/config")).unwrap()
}

fn resolved(env: &[(&str, &str)], profile: Option<&str>) -> Result<ClientSettings, SettingsError> {
    let config = config();
    let source = profile.map(|name| ProfileSource {
        config: &config,
        profile: config.profile(name).expect("a profile of CONFIG"),
    });
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve(
        |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        source,
    )
}

fn endpoints(env: &[(&str, &str)], profile: Option<&str>) -> [Option<String>; 3] {
    let s = resolved(env, profile).unwrap();
    Service::ALL.map(|svc| s.endpoint(svc).map(str::to_owned))
}

fn some(url: &str) -> Option<String> {
    Some(url.to_owned())
}

/// Variables, the served profile, and the portal, OIDC and STS endpoints.
type Case<'a> = (
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    [Option<String>; 3],
);

#[test]
fn endpoint_precedence_per_service() {
    let service_env = ("AWS_ENDPOINT_URL_STS", "http://env-sts/");
    let global_env = ("AWS_ENDPOINT_URL", "http://env-global");
    // Columns: portal (sso), OIDC (sso_oidc), STS.
    let table: &[Case] = &[
        // 1. AWS_ENDPOINT_URL_<SERVICE> beats everything for its service.
        (
            &[service_env, global_env],
            Some("all"),
            [
                some("http://env-global"),
                some("http://env-global"),
                some("http://env-sts"),
            ],
        ),
        // 2. AWS_ENDPOINT_URL beats the file.
        (
            &[global_env],
            Some("all"),
            [
                some("http://env-global"),
                some("http://env-global"),
                some("http://env-global"),
            ],
        ),
        // 3. The services section beats the profile's endpoint_url, which
        //    covers the services the section does not name (sso_oidc).
        (
            &[],
            Some("all"),
            [
                some("http://services-sso"),
                some("http://profile-global"),
                some("http://services-sts"),
            ],
        ),
        (
            &[],
            Some("services-only"),
            [
                some("http://services-sso"),
                None,
                some("http://services-sts"),
            ],
        ),
        // 4. The profile's endpoint_url alone.
        (
            &[],
            Some("global-only"),
            [
                some("http://profile-global"),
                some("http://profile-global"),
                some("http://profile-global"),
            ],
        ),
        // An empty variable is unset; the file still applies.
        (
            &[("AWS_ENDPOINT_URL", " ")],
            Some("global-only"),
            [
                some("http://profile-global"),
                some("http://profile-global"),
                some("http://profile-global"),
            ],
        ),
        // The environment alone (a sign-in with --sso-session).
        (&[service_env], None, [None, None, some("http://env-sts")]),
        (&[], None, [None, None, None]),
    ];
    for (env, profile, expected) in table {
        assert_eq!(&endpoints(env, *profile), expected, "{env:?} {profile:?}");
    }
}

#[test]
fn the_ignore_flag_turns_every_configured_endpoint_off() {
    let env_urls = [
        ("AWS_ENDPOINT_URL", "http://env-global"),
        ("AWS_ENDPOINT_URL_STS", "http://env-sts"),
    ];
    let none = [None, None, None];
    let mut ignoring = env_urls.to_vec();
    ignoring.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "True"));
    assert_eq!(endpoints(&ignoring, Some("all")), none);
    assert_eq!(endpoints(&ignoring, None), none);
    // From the profile, it turns off the variables too.
    assert_eq!(endpoints(&env_urls, Some("ignoring")), none);
    // The variable wins over the profile's key, both ways.
    assert_eq!(
        endpoints(
            &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")],
            Some("ignoring")
        ),
        [
            some("http://services-sso"),
            some("http://profile-global"),
            some("http://services-sts")
        ]
    );
    assert_eq!(
        endpoints(
            &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")],
            Some("not-ignoring")
        ),
        none
    );
    assert_eq!(
        endpoints(&[], Some("not-ignoring")),
        [
            some("http://profile-global"),
            some("http://profile-global"),
            some("http://profile-global")
        ]
    );
}

#[test]
fn retries_field_by_field() {
    let standard = Retry::default();
    assert_eq!(standard.max_attempts, 3);
    assert_eq!(standard.mode, RetryMode::Standard);
    assert_eq!(resolved(&[], None).unwrap().retry, standard);
    assert_eq!(
        resolved(&[], Some("all")).unwrap().retry,
        Retry {
            mode: RetryMode::Adaptive,
            max_attempts: 7
        }
    );
    // The variable wins for its own field; the profile keeps the other.
    assert_eq!(
        resolved(&[("AWS_MAX_ATTEMPTS", "1")], Some("all"))
            .unwrap()
            .retry,
        Retry {
            mode: RetryMode::Adaptive,
            max_attempts: 1
        }
    );
    assert_eq!(
        resolved(&[("AWS_RETRY_MODE", "STANDARD")], Some("all"))
            .unwrap()
            .retry,
        Retry {
            mode: RetryMode::Standard,
            max_attempts: 7
        }
    );
    // legacy, which the Rust SDK lacks, is read as standard.
    assert_eq!(resolved(&[], Some("legacy")).unwrap().retry, standard);
    assert_eq!(
        resolved(&[("AWS_RETRY_MODE", "legacy")], None)
            .unwrap()
            .retry,
        standard
    );
}

#[test]
fn fips_and_dual_stack_flags() {
    let s = resolved(&[], Some("fips")).unwrap();
    assert!(s.use_fips && s.use_dual_stack);
    let s = resolved(&[("AWS_USE_FIPS_ENDPOINT", "false")], Some("fips")).unwrap();
    assert!(!s.use_fips && s.use_dual_stack);
    let s = resolved(&[("AWS_USE_DUALSTACK_ENDPOINT", "true")], None).unwrap();
    assert!(!s.use_fips && s.use_dual_stack);
    assert!(s.service(Service::Sts).use_dual_stack);
}

fn error(env: &[(&str, &str)], profile: Option<&str>) -> String {
    resolved(env, profile).unwrap_err().to_string()
}

#[test]
fn bad_values_name_the_variable_or_the_key_profile_and_file() {
    for (value, fix) in [("0", "1 or more"), ("x", "1 or more"), ("-2", "1 or more")] {
        let e = error(&[("AWS_MAX_ATTEMPTS", value)], None);
        assert!(
            e.starts_with(&format!("AWS_MAX_ATTEMPTS is `{value}`")) && e.contains(fix),
            "{e}"
        );
    }
    let e = error(&[("AWS_RETRY_MODE", "fast")], None);
    assert!(
        e.starts_with("AWS_RETRY_MODE is `fast`") && e.contains("`adaptive`"),
        "{e}"
    );
    let e = error(&[], Some("bad-mode"));
    assert!(
        e.starts_with("`retry_mode` in profile 'bad-mode' (/home/u/.aws/config) is `fast`"),
        "{e}"
    );
    let e = error(&[], Some("bad-attempts"));
    assert!(
        e.starts_with("`max_attempts` in profile 'bad-attempts' (/home/u/.aws/config) is `0`"),
        "{e}"
    );
    // A good variable hides the profile's bad key, as the SDKs read it.
    assert!(resolved(&[("AWS_MAX_ATTEMPTS", "2")], Some("bad-attempts")).is_ok());
    let e = error(&[], Some("bad-flag"));
    assert!(
        e.contains("`use_fips_endpoint` in profile 'bad-flag'") && e.contains("`true` or `false`"),
        "{e}"
    );
    let e = error(&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "1")], None);
    assert!(
        e.starts_with("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is `1`"),
        "{e}"
    );
    let e = error(&[], Some("bad-url"));
    assert!(
        e.contains("`endpoint_url` in profile 'bad-url'") && e.contains("scheme and host"),
        "{e}"
    );
    let e = error(&[("AWS_ENDPOINT_URL_SSO_OIDC", "oidc.local")], None);
    assert!(
        e.starts_with("AWS_ENDPOINT_URL_SSO_OIDC is `oidc.local`"),
        "{e}"
    );
    let e = error(&[], Some("missing-services"));
    assert!(
        e.contains("`services = nowhere`") && e.contains("no [services nowhere] section"),
        "{e}"
    );
}

#[test]
fn a_configured_endpoint_overrides_fips_and_dual_stack_for_its_service() {
    let s = resolved(&[], Some("fips-and-url")).unwrap();
    assert!(s.use_fips);
    let sts = s.service(Service::Sts);
    assert_eq!(sts.endpoint.as_deref(), Some("http://profile-global"));
    assert!(!sts.use_fips && !sts.use_dual_stack);
    let s = resolved(
        &[
            ("AWS_USE_DUALSTACK_ENDPOINT", "true"),
            ("AWS_ENDPOINT_URL_STS", "http://x"),
        ],
        None,
    )
    .unwrap();
    assert!(!s.service(Service::Sts).use_dual_stack);
    assert!(s.service(Service::Portal).use_dual_stack);
    // With the endpoints ignored, FIPS stands.
    let s = resolved(
        &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")],
        Some("fips-and-url"),
    )
    .unwrap();
    let sts = s.service(Service::Sts);
    assert!(sts.use_fips && sts.endpoint.is_none());
}

#[test]
fn the_services_section_in_the_parsed_file() {
    let c = config();
    assert!(c.services["local"].contains_key("sts"));
    assert!(!c.profiles.contains_key("services local"));
}
