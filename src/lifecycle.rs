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

/// When the background renewal replaces something that expires at
/// `expiration`: half a margin before it stops being servable, so clients
/// never wait on an upstream call.
pub fn renew_at(expiration: DateTime<Utc>, lifetime: Option<Duration>) -> DateTime<Utc> {
    expiration - renewal_margin(lifetime) * 3 / 2
}

/// Whether `creds` may be served at `now` without renewing first.
pub fn is_servable(creds: &RoleCredentials, now: DateTime<Utc>) -> bool {
    now < servable_until(creds)
}

/// The first instant at which `creds` are no longer servable: before it,
/// [`is_servable`] holds.
pub fn servable_until(creds: &RoleCredentials) -> DateTime<Utc> {
    creds.expiration - renewal_margin(creds.lifetime())
}

/// Whether `creds` have not expired yet (usable as a last resort during an
/// upstream outage).
pub fn is_unexpired(creds: &RoleCredentials, now: DateTime<Utc>) -> bool {
    creds.expiration > now
}

/// Whether an SSO access token is due for a refresh at `now`.
pub fn token_refresh_due(token: &SsoToken, now: DateTime<Utc>) -> bool {
    now >= renew_at(token.expires_at, token.lifetime())
}

/// Whether an SSO access token can still be used for portal calls.
/// Half a minute of slack covers a portal call; tokens that live only
/// seconds (test lifetimes) get a quarter of their renewal margin.
pub fn token_usable(token: &SsoToken, now: DateTime<Utc>) -> bool {
    let slack = Duration::seconds(30).min(renewal_margin(token.lifetime()) / 4);
    token.expires_at - now > slack
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
        let until = servable_until(&c);
        assert_eq!(until, t0 + Duration::minutes(45));
        assert!(is_servable(&c, until - Duration::milliseconds(1)));
        assert!(!is_servable(&c, until));
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
    fn background_renewal_comes_before_the_serving_limit() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = creds(t0, Duration::seconds(60));
        // Margin 20 s: renewed at 30 s left, still servable until 20 s left.
        assert_eq!(
            renew_at(c.expiration, c.lifetime()),
            t0 + Duration::seconds(30)
        );
        let hour = creds(t0, Duration::hours(1));
        let at = renew_at(hour.expiration, hour.lifetime());
        assert_eq!(at, t0 + Duration::seconds(3600 - 1350));
        assert!(is_servable(&hour, at));
    }

    #[test]
    fn tokens_are_refreshed_ahead_of_expiry() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let token = SsoToken {
            start_url: "https://x".into(),
            region: "us-east-1".into(),
            access_token: Secret::new("a"),
            expires_at: t0 + Duration::seconds(90),
            refresh_token: None,
            issued_at: Some(t0),
            registration_key: None,
        };
        assert!(!token_refresh_due(&token, t0 + Duration::seconds(44)));
        assert!(token_refresh_due(&token, t0 + Duration::seconds(45)));
        // Margin 30 s, so 7.5 s of slack.
        assert!(token_usable(&token, t0 + Duration::seconds(82)));
        assert!(!token_usable(&token, t0 + Duration::seconds(83)));
        let long = SsoToken {
            expires_at: t0 + Duration::hours(8),
            ..token
        };
        assert!(token_usable(
            &long,
            t0 + Duration::hours(8) - Duration::seconds(31)
        ));
        assert!(!token_usable(
            &long,
            t0 + Duration::hours(8) - Duration::seconds(30)
        ));
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
