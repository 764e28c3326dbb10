//! The sign-in service's federation endpoint and the stand-in console page
//! over HTTP ([`crate::signin`] holds the rules).

use super::answer::{html, redirect, respond, status};
use super::{Answer, Call};
use crate::signin::{self, COOKIE};
use crate::Emulator;
use bytes::Bytes;
use hyper::header::{HeaderValue, SET_COOKIE};
use hyper::StatusCode;

/// `GET /federation?Action=getSigninToken|login`.
pub(super) fn federation(emulator: &Emulator, req: &Call) -> Answer {
    let now = emulator.now();
    let q = |name: &str| req.query_param(name);
    match q("Action").as_deref() {
        Some("getSigninToken") => {
            emulator.count("GetSigninToken");
            let mut state = emulator.state.lock().unwrap();
            let state = &mut *state;
            let answer = state.signin.get_signin_token(
                &state.portal,
                q("Session").as_deref(),
                q("SessionDuration").as_deref(),
                now,
            );
            match answer {
                Ok(token) => respond(
                    StatusCode::OK,
                    "application/json",
                    Bytes::from(serde_json::json!({ "SigninToken": token }).to_string()),
                ),
                Err(refusal) => plain(status(refusal.status), refusal.reason),
            }
        }
        Some("login") => {
            emulator.count("ConsoleLogin");
            let cookie = emulator.state.lock().unwrap().signin.login(
                q("SigninToken").as_deref(),
                q("Destination").as_deref(),
                q("Issuer").as_deref(),
                now,
            );
            match cookie {
                Ok(cookie) => {
                    let mut answer = redirect("/console");
                    let value = format!("{COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Lax");
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        answer.headers_mut().insert(SET_COOKIE, v);
                    }
                    answer
                }
                Err(refusal) => html(status(refusal.status), signin::error_page(&refusal)),
            }
        }
        _ => plain(
            StatusCode::BAD_REQUEST,
            "Action must be getSigninToken or login.".into(),
        ),
    }
}

/// `GET /console`: who the browser is signed in as.
pub(super) fn console(emulator: &Emulator, req: &Call) -> Answer {
    let state = emulator.state.lock().unwrap();
    match state.signin.session(req.header("cookie")) {
        Some(session) => html(StatusCode::OK, signin::console_page(session)),
        None => html(StatusCode::UNAUTHORIZED, signin::signed_out_page()),
    }
}

fn plain(status: StatusCode, text: String) -> Answer {
    respond(status, "text/plain; charset=utf-8", Bytes::from(text))
}
