//! When credentials are fresh enough to serve, and when to renew them.
//!
//! botocore re-fetches on every call once fewer than 15 minutes remain and
//! fails under 10 (protocols.md §1), so the broker never serves role
//! credentials with less than 15 minutes left. Credentials that live under
//! 45 minutes in all (short test lifetimes, mostly) use a third of their
//! lifetime instead, so tests exercise the same path in seconds.
//!
//! Pure: every function takes `now`.

use crate::model::{RoleCredentials, SsoToken};
use chrono::{DateTime, Duration, Utc};

/// The remaining life below which credentials are renewed rather than served.
pub fn renewal_margin(lifetime: Option<Duration>) -> Duration {
    let standard = Duration::minutes(15);
    match lifetime {
        Some(life) if life < Duration::minutes(45) => life / 3,
        _ => standard,
    }
}

/// Whether `creds` may be served at `now` without renewing first.
pub fn is_servable(creds: &RoleCredentials, now: DateTime<Utc>) -> bool {
    creds.expiration - now > renewal_margin(creds.lifetime())
}

/// Whether `creds` have not expired yet (usable as a last resort during an
/// upstream outage).
pub fn is_unexpired(creds: &RoleCredentials, now: DateTime<Utc>) -> bool {
    creds.expiration > now
}

/// Whether an SSO access token can still be used for portal calls.
pub fn token_usable(token: &SsoToken, now: DateTime<Utc>) -> bool {
    token.expires_at - now > Duration::seconds(30)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;
    use chrono::TimeZone;

    fn creds(issued: DateTime<Utc>, life: Duration) -> RoleCredentials {
        RoleCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("s"),
            session_token: Secret::new("t"),
            expiration: issued + life,
            account_id: None,
            issued_at: Some(issued),
        }
    }

    #[test]
    fn hour_long_credentials_renew_at_fifteen_minutes_left() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = creds(t0, Duration::hours(1));
        assert!(is_servable(&c, t0 + Duration::minutes(44)));
        assert!(!is_servable(&c, t0 + Duration::minutes(45)));
    }

    #[test]
    fn short_credentials_use_a_third_of_their_life() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = creds(t0, Duration::seconds(60));
        assert!(is_servable(&c, t0 + Duration::seconds(39)));
        assert!(!is_servable(&c, t0 + Duration::seconds(40)));
        assert!(is_unexpired(&c, t0 + Duration::seconds(59)));
    }

    #[test]
    fn unknown_lifetime_uses_fifteen_minutes() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut c = creds(t0, Duration::minutes(20));
        c.issued_at = None;
        assert!(!is_servable(&c, t0 + Duration::minutes(6)));
        assert!(is_servable(&c, t0 + Duration::minutes(4)));
    }
}
