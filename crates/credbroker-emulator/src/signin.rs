//! The AWS sign-in service's federation endpoint and a stand-in console, so
//! `credbroker console` can be followed to the end in a real browser.
//!
//! - `GET /federation?Action=getSigninToken&Session=JSON[&SessionDuration=S]`
//!   checks that the session (`sessionId`, `sessionKey`, `sessionToken`) is
//!   one the emulator issued and still valid, and answers
//!   `{"SigninToken": ...}`. A token is good once, within 15 minutes.
//! - `GET /federation?Action=login&SigninToken=&Destination=&Issuer=` spends
//!   the token, sets a session cookie and redirects to the console page.
//! - `GET /console` shows who is signed in: the assumed-role ARN, the
//!   account, the region and the destination.
//!
//! Refusals are what the real service gives a browser or a script: an HTTP
//! 400 with a short plain-text reason for `getSigninToken`, an error page
//! for a `login` with a spent or expired token. Pure state; the HTTP layer
//! (`http.rs`) does the I/O.

use super::approval::{escape, page};
use super::portal::Portal;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// How long a sign-in token may wait for its one use.
pub const TOKEN_LIFETIME: Duration = Duration::minutes(15);
/// The console session cookie.
pub const COOKIE: &str = "credbroker-console";

/// Who a sign-in token or console session stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub account: String,
}

#[derive(Debug)]
struct Pending {
    principal: Principal,
    expires_at: DateTime<Utc>,
}

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub principal: Principal,
    pub destination: String,
    pub region: String,
    pub issuer: String,
}

/// Sign-in tokens waiting for their use, and the console sessions made.
#[derive(Debug, Default)]
pub struct Signin {
    tokens: HashMap<String, Pending>,
    sessions: HashMap<String, ConsoleSession>,
}

/// A refusal: the HTTP status and the reason shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        reason: reason.into(),
    }
}

impl Signin {
    /// `Action=getSigninToken`: a token for the session in `session_json`.
    pub fn get_signin_token(
        &mut self,
        portal: &Portal,
        session_json: Option<&str>,
        session_duration: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let session: serde_json::Value = session_json
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| refuse("The Session parameter is missing or is not valid JSON."))?;
        let field = |name: &str| session.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let (id, key, token) = (
            field("sessionId"),
            field("sessionKey"),
            field("sessionToken"),
        );
        if id.is_empty() || key.is_empty() || token.is_empty() {
            return Err(refuse(
                "The Session parameter needs sessionId, sessionKey and sessionToken.",
            ));
        }
        if let Some(seconds) = session_duration {
            let valid = seconds
                .parse::<u32>()
                .is_ok_and(|s| (900..=43200).contains(&s));
            if !valid {
                return Err(refuse(
                    "SessionDuration must be between 900 and 43200 seconds.",
                ));
            }
        }
        let issued = portal
            .credentials(id)
            .filter(|c| {
                super::sigv4::constant_time_eq(c.secret_access_key.as_bytes(), key.as_bytes())
                    && super::sigv4::constant_time_eq(c.session_token.as_bytes(), token.as_bytes())
            })
            .ok_or_else(|| refuse("The session credentials are not valid."))?;
        if now >= issued.expires_at {
            return Err(refuse("The session credentials have expired."));
        }
        self.tokens.retain(|_, p| p.expires_at > now);
        let signin_token = super::mint::token("", 96);
        self.tokens.insert(
            signin_token.clone(),
            Pending {
                principal: Principal {
                    arn: super::sts::session_arn(issued),
                    account: issued.account_id.clone(),
                },
                expires_at: now + TOKEN_LIFETIME,
            },
        );
        Ok(signin_token)
    }

    /// `Action=login`: spend `signin_token`; the new session's cookie value.
    pub fn login(
        &mut self,
        signin_token: Option<&str>,
        destination: Option<&str>,
        issuer: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let destination = destination
            .filter(|d| d.starts_with("https://") || d.starts_with("http://127.0.0.1"))
            .ok_or_else(|| {
                refuse("The Destination parameter is missing or is not a console URL.")
            })?;
        let pending = signin_token
            .and_then(|t| self.tokens.remove(t))
            .ok_or_else(|| {
                refuse("This sign-in link has already been used or is not valid. Sign in again.")
            })?;
        if now >= pending.expires_at {
            return Err(refuse("This sign-in link has expired. Sign in again."));
        }
        let region = url::Url::parse(destination)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "region")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_else(|| "us-east-1".to_owned());
        let cookie = super::mint::token("", 48);
        self.sessions.insert(
            cookie.clone(),
            ConsoleSession {
                principal: pending.principal,
                destination: destination.to_owned(),
                region,
                issuer: issuer.unwrap_or("").to_owned(),
            },
        );
        Ok(cookie)
    }

    /// The session behind a `Cookie` header, if any.
    pub fn session(&self, cookie_header: Option<&str>) -> Option<&ConsoleSession> {
        let value = cookie_header?.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })?;
        self.sessions.get(value)
    }
}

/// The stand-in console's page for `session`.
pub fn console_page(session: &ConsoleSession) -> String {
    page(
        "AWS Management Console",
        &format!(
            "<h1>AWS Management Console (emulated)</h1>\n<dl>\
             <dt>Signed in as</dt><dd id=\"arn\">{}</dd>\
             <dt>Account</dt><dd id=\"account\">{}</dd>\
             <dt>Region</dt><dd id=\"region\">{}</dd>\
             <dt>Destination</dt><dd id=\"destination\">{}</dd>\
             <dt>Issuer</dt><dd id=\"issuer\">{}</dd></dl>",
            escape(&session.principal.arn),
            escape(&session.principal.account),
            escape(&session.region),
            escape(&session.destination),
            escape(&session.issuer),
        ),
    )
}

/// The error page a browser sees for a refused sign-in.
pub fn error_page(refusal: &Refusal) -> String {
    page(
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1>\n<p class=\"error\" id=\"error\">{}</p>",
            escape(&refusal.reason)
        ),
    )
}

/// The page for `/console` without a session cookie.
pub fn signed_out_page() -> String {
    page(
        "Signed out",
        "<h1>Not signed in</h1>\n<p class=\"error\" id=\"error\">Sign in with \
         <code>credbroker console</code>.</p>",
    )
}

#[cfg(test)]
mod tests;
