//! Who may ask the endpoint for credentials: the checks made before a
//! request reaches any route.
//!
//! In order:
//! 1. No browser. A request with `Origin` (or `Sec-Fetch-Site`, which
//!    browsers add to every request) comes from a web page; SDK clients never
//!    send either.
//! 2. The `Host` header must name this listener: `127.0.0.1:PORT`,
//!    `localhost:PORT` or `[::1]:PORT` with the bound port. A page that
//!    rebinds its own DNS name to 127.0.0.1 still sends its own name, so this
//!    defeats DNS rebinding even before the token is looked at.
//! 3. `Authorization` must be exactly the daemon's token or a per-profile
//!    token derived from it (no `Bearer `), both compared in constant time
//!    ([`scope::grant`]). What the token may read is returned as a [`Grant`];
//!    whether it covers the profile asked for is decided once the path is
//!    routed.
//!
//! Each check is a pure function of the request head so it can be tested
//! without a socket. The endpoint passes a [`GrantMemo`] per connection: a
//! keep-alive client presents the same `Host` and token on every request,
//! and a scoped token's check costs an HMAC and two base64 decodings, so
//! the connection remembers the last pair that passed (the token compared
//! in constant time and zeroized when the connection ends) and what it was
//! granted. A request presenting exactly that pair, with no absolute-form
//! target, is admitted on the memo; anything else is checked afresh. The
//! browser check runs on every request.

use super::scope::{self, Grant};
use super::token::AuthToken;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST, ORIGIN};
use hyper::{StatusCode, Uri};
use std::sync::Mutex;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// A request refused before routing, with what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

const BROWSER: Refusal = Refusal {
    status: StatusCode::FORBIDDEN,
    code: "BrowserRequestRefused",
    message: "requests from web pages are refused",
};

const WRONG_HOST: Refusal = Refusal {
    status: StatusCode::FORBIDDEN,
    code: "InvalidHost",
    message: "the Host header must name the loopback listener (127.0.0.1:PORT, localhost:PORT or [::1]:PORT)",
};

const BAD_TOKEN: Refusal = Refusal {
    status: StatusCode::UNAUTHORIZED,
    code: "InvalidToken",
    message: "missing or wrong Authorization token; see `credbroker env`",
};

/// A valid token that does not cover the profile in the path.
pub const OUT_OF_SCOPE: Refusal = Refusal {
    status: StatusCode::FORBIDDEN,
    code: "TokenScopeMismatch",
    message: "this token reads another profile only; get one for this profile with `credbroker exec --profile NAME` or `credbroker env --profile NAME`",
};

/// The last `Host` and `Authorization` values that one connection
/// presented and that passed, and their grant.
#[derive(Debug, Default)]
pub struct GrantMemo(Mutex<Option<Passed>>);

#[derive(Debug)]
struct Passed {
    host: Box<[u8]>,
    token: Zeroizing<Vec<u8>>,
    grant: Grant,
}

impl GrantMemo {
    fn recall(&self, host: &HeaderValue, presented: &HeaderValue) -> Option<Grant> {
        let last = self.0.lock().unwrap();
        let passed = last.as_ref()?;
        // Both compared in full: `&` rather than `&&` keeps the token's
        // comparison constant time whatever the Host.
        let same_host = u8::from(&*passed.host == host.as_bytes());
        let same_token = passed
            .token
            .as_slice()
            .ct_eq(presented.as_bytes())
            .unwrap_u8();
        (same_host & same_token == 1).then(|| passed.grant.clone())
    }

    fn remember(&self, host: &HeaderValue, presented: &HeaderValue, grant: &Grant) {
        *self.0.lock().unwrap() = Some(Passed {
            host: host.as_bytes().into(),
            token: Zeroizing::new(presented.as_bytes().to_vec()),
            grant: grant.clone(),
        });
    }
}

/// Run every check; the first that fails decides the answer.
pub fn admit(
    headers: &HeaderMap,
    uri: &Uri,
    port: u16,
    token: &AuthToken,
) -> Result<Grant, Refusal> {
    admit_on(headers, uri, port, token, &GrantMemo::default())
}

/// [`admit`] for a request on a connection with its memo.
pub fn admit_on(
    headers: &HeaderMap,
    uri: &Uri,
    port: u16,
    token: &AuthToken,
    memo: &GrantMemo,
) -> Result<Grant, Refusal> {
    refuse_browsers(headers)?;
    let host = single(headers, HOST).ok_or(WRONG_HOST)?;
    let presented = single(headers, AUTHORIZATION);
    if let (Some(presented), None) = (presented, uri.authority()) {
        if let Some(grant) = memo.recall(host, presented) {
            return Ok(grant);
        }
    }
    check_host(host, uri, port)?;
    let presented = presented.ok_or(BAD_TOKEN)?;
    let grant = scope::grant(token, presented.as_bytes()).ok_or(BAD_TOKEN)?;
    memo.remember(host, presented, &grant);
    Ok(grant)
}

/// The header's value, if it is there exactly once.
fn single(headers: &HeaderMap, name: HeaderName) -> Option<&HeaderValue> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

fn refuse_browsers(headers: &HeaderMap) -> Result<(), Refusal> {
    if headers.contains_key(ORIGIN) || headers.contains_key("sec-fetch-site") {
        return Err(BROWSER);
    }
    Ok(())
}

fn check_host(host: &HeaderValue, uri: &Uri, port: u16) -> Result<(), Refusal> {
    let host = host.to_str().map_err(|_| WRONG_HOST)?;
    if !names_listener(host, port) {
        return Err(WRONG_HOST);
    }
    // An absolute-form request line (`GET http://host/...`) must agree too.
    if let Some(authority) = uri.authority() {
        if !names_listener(authority.as_str(), port) {
            return Err(WRONG_HOST);
        }
    }
    Ok(())
}

/// Whether `host` is `NAME:PORT` for a loopback name and exactly our port.
pub fn names_listener(host: &str, port: u16) -> bool {
    let Some((name, host_port)) = host.rsplit_once(':') else {
        return false;
    };
    let loopback_name =
        name == "127.0.0.1" || name == "[::1]" || name.eq_ignore_ascii_case("localhost");
    // The port exactly as the listener's would print: digits, no leading
    // zero or sign (which `parse` would accept).
    let canonical = !host_port.starts_with(['0', '+']);
    loopback_name && canonical && host_port.parse::<u16>() == Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn head(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_connection_remembers_only_the_token_it_presented() {
        let token = AuthToken::generate();
        let uri: Uri = "/v1/credentials/dev".parse().unwrap();
        let scoped = scope::scoped_token(&token, "dev");
        let memo = GrantMemo::default();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HOST, HeaderValue::from_static("127.0.0.1:1234"));
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            admit_on(&headers, &uri, 1234, &token, &memo)
        };
        let dev = Ok(Grant::Profile("dev".into()));
        assert_eq!(with(scoped.expose()), dev);
        assert_eq!(with(scoped.expose()), dev, "recalled");
        // Anything else is checked afresh; a good one replaces the memo.
        let mut forged = scoped.expose().to_owned();
        forged.pop();
        assert_eq!(with(&forged), Err(BAD_TOKEN));
        assert_eq!(with(token.expose()), Ok(Grant::AllProfiles));
        assert_eq!(with(&format!("{}x", token.expose())), Err(BAD_TOKEN));
        assert_eq!(with(scoped.expose()), dev);
        assert_eq!(with(&format!("Bearer {}", scoped.expose())), Err(BAD_TOKEN));
    }

    #[test]
    fn a_remembered_token_is_refused_with_another_host_or_from_a_browser() {
        let token = AuthToken::generate();
        let scoped = scope::scoped_token(&token, "dev");
        let memo = GrantMemo::default();
        let with = |uri: &str, pairs: &[(&'static str, &str)]| {
            let uri: Uri = uri.parse().unwrap();
            admit_on(&head(pairs), &uri, 1234, &token, &memo)
        };
        let path = "/v1/credentials/dev";
        let good = [
            ("host", "127.0.0.1:1234"),
            ("authorization", scoped.expose()),
        ];
        assert_eq!(with(path, &good), Ok(Grant::Profile("dev".into())));
        // The same token, now with a name that is not the listener's.
        for host in ["evil.example:1234", "127.0.0.1:1235", "localhost:1234x"] {
            let pairs = [("host", host), good[1]];
            assert_eq!(with(path, &pairs), Err(WRONG_HOST), "{host}");
        }
        let absolute = "http://evil.example:1234/v1/credentials/dev";
        assert_eq!(with(absolute, &good), Err(WRONG_HOST));
        let browser = [good[0], good[1], ("sec-fetch-site", "cross-site")];
        assert_eq!(with(path, &browser), Err(BROWSER));
        let two_hosts = [good[0], good[0], good[1]];
        assert_eq!(with(path, &two_hosts), Err(WRONG_HOST));
        // Another good Host for the listener is checked, then remembered.
        let other = [("host", "localhost:1234"), good[1]];
        assert_eq!(with(path, &other), Ok(Grant::Profile("dev".into())));
        assert_eq!(with(path, &good), Ok(Grant::Profile("dev".into())));
    }

    #[test]
    fn host_must_be_a_loopback_name_with_our_port() {
        for ok in [
            "127.0.0.1:9911",
            "localhost:9911",
            "LOCALHOST:9911",
            "[::1]:9911",
        ] {
            assert!(names_listener(ok, 9911), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:9912",
            "127.0.0.1:09911",
            "127.0.0.1:+9911",
            "127.0.0.1: 9911",
            "127.0.0.1:9911 ",
            "127.0.0.1:75447",
            "127.0.0.1:",
            "127.0.0.1:9911:9911",
            "127.0.0.2:9911",
            "evil.example:9911",
            "localhost.evil.example:9911",
            "::1:9911",
            "",
        ] {
            assert!(!names_listener(bad, 9911), "{bad}");
        }
    }

    #[test]
    fn checks_run_in_order_browser_host_token() {
        let token = AuthToken::generate();
        let uri: Uri = "/v1/credentials/dev".parse().unwrap();
        let good = [
            ("host", "127.0.0.1:1234"),
            ("authorization", token.expose()),
        ];
        assert_eq!(
            admit(&head(&good), &uri, 1234, &token),
            Ok(Grant::AllProfiles)
        );
        let dev = scope::scoped_token(&token, "dev");
        let scoped = [good[0], ("authorization", dev.expose())];
        assert_eq!(
            admit(&head(&scoped), &uri, 1234, &token),
            Ok(Grant::Profile("dev".into()))
        );

        let browser = [("origin", "https://evil.example"), good[0], good[1]];
        assert_eq!(admit(&head(&browser), &uri, 1234, &token), Err(BROWSER));

        let rebinding = [("host", "evil.example:1234"), good[1]];
        assert_eq!(
            admit(&head(&rebinding), &uri, 1234, &token),
            Err(WRONG_HOST)
        );

        assert_eq!(admit(&head(&good[..1]), &uri, 1234, &token), Err(BAD_TOKEN));
    }

    #[test]
    fn duplicate_or_missing_headers_are_refused() {
        let token = AuthToken::generate();
        let uri: Uri = "/".parse().unwrap();
        let two_hosts = [
            ("host", "127.0.0.1:1"),
            ("host", "evil:1"),
            ("authorization", token.expose()),
        ];
        assert_eq!(admit(&head(&two_hosts), &uri, 1, &token), Err(WRONG_HOST));
        let no_host = [("authorization", token.expose())];
        assert_eq!(admit(&head(&no_host), &uri, 1, &token), Err(WRONG_HOST));
        let two_tokens = [
            ("host", "127.0.0.1:1"),
            ("authorization", token.expose()),
            ("authorization", token.expose()),
        ];
        assert_eq!(admit(&head(&two_tokens), &uri, 1, &token), Err(BAD_TOKEN));
    }

    #[test]
    fn absolute_form_target_must_name_the_listener_too() {
        let token = AuthToken::generate();
        let uri: Uri = "http://evil.example:1/v1/credentials/dev".parse().unwrap();
        let pairs = [("host", "127.0.0.1:1"), ("authorization", token.expose())];
        assert_eq!(admit(&head(&pairs), &uri, 1, &token), Err(WRONG_HOST));
    }
}
