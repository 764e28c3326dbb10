//! The JWT decoder: any text decodes or is refused, and every accessor the
//! CLI and the emulator's STS use on a decoded token (times, audiences,
//! claims as condition keys, the GitHub `sub` shape) copes with what it holds.
#![no_main]

use chrono::{DateTime, Duration, Utc};
use credbroker::policy::jwt::{Jwt, Subject};
use credbroker::policy::Claims;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(jwt) = Jwt::decode(text) else {
        return;
    };
    let _ = jwt.claim_str("sub");
    let _ = jwt.audiences();
    for name in ["exp", "nbf", "iat"] {
        let _ = jwt.time(name);
    }
    let now = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("a valid instant");
    let _ = jwt.check_time(now, Duration::seconds(60));
    let claims = Claims::from_token(&jwt.claims);
    let _ = claims.claim("sub");
    if let Some(sub) = jwt.claim_str("sub") {
        if let Some(subject) = Subject::parse(sub) {
            let _ = subject.immutable();
        }
    }
    let _ = format!("{jwt:?}");
});
