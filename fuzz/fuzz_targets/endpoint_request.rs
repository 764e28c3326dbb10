//! The endpoint's request head handling: a raw HTTP/1.1 head is parsed the
//! way hyper parses it (httparse), then run through [`auth::admit`] and
//! [`routes::parse_route`]. Nothing may panic, and nothing may be admitted
//! unless it carries the daemon's token or the scoped token of the profile
//! it asks for.
#![no_main]

use credbroker::model::Secret;
use credbroker::server::auth::admit;
use credbroker::server::routes::{parse_route, Route};
use credbroker::server::scope::{scoped_token, Grant};
use credbroker::server::AuthToken;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use hyper::Uri;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The token the seed corpus uses, so the fuzzer starts past the token check.
const TOKEN: &str = "cb_fuzz_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
const PORT: u16 = 41234;

fn token() -> &'static AuthToken {
    static TOKEN_CELL: OnceLock<AuthToken> = OnceLock::new();
    TOKEN_CELL.get_or_init(|| AuthToken::from_value(Secret::new(TOKEN)).expect("valid token"))
}

fuzz_target!(|data: &[u8]| {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut slots);
    let Ok(httparse::Status::Complete(_)) = request.parse(data) else {
        return;
    };
    let Some(Ok(uri)) = request.path.map(|p| p.parse::<Uri>()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for header in request.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(header.value),
        ) else {
            return;
        };
        headers.append(name, value);
    }
    let route = parse_route(uri.path());
    let Ok(grant) = admit(&headers, &uri, PORT, token()) else {
        return;
    };
    let presented = headers
        .get(AUTHORIZATION)
        .expect("admitted without a token");
    match &grant {
        Grant::AllProfiles => assert_eq!(presented.as_bytes(), TOKEN.as_bytes()),
        Grant::Profile(profile) => {
            let scoped = scoped_token(token(), profile);
            assert_eq!(presented.as_bytes(), scoped.expose().as_bytes());
        }
    }
    if let Route::Credentials(profile) = route {
        assert!(!profile.is_empty() && !profile.contains('/'));
        let _ = grant.covers(&profile);
    }
});
