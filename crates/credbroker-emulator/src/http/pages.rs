//! The pages people use: the device-code approval page and its two
//! buttons, and the PKCE consent page. Decisions arrive as form posts, and
//! a post from another origin (a web page trying to approve for the user)
//! is refused.

use super::answer::{html, redirect};
use super::{Answer, Call};
use crate::approval;
use crate::oidc::AuthorizeRequest;
use crate::Emulator;
use hyper::StatusCode;

pub(super) fn device_page(emulator: &Emulator, req: &Call) -> Answer {
    let Some(code) = req
        .query_param("user_code")
        .filter(|c| !c.trim().is_empty())
    else {
        return html(StatusCode::OK, approval::device_entry_page(None));
    };
    let pending = emulator
        .state
        .lock()
        .unwrap()
        .oidc
        .pending_approval(&code, emulator.now());
    match pending {
        Some(approval) => html(
            StatusCode::OK,
            approval::device_confirm_page(&approval, &emulator.options.directory.user),
        ),
        None => html(
            StatusCode::NOT_FOUND,
            approval::device_entry_page(Some(
                "That code is unknown, expired, or already used. Check the code in your terminal.",
            )),
        ),
    }
}

/// A browser form post must come from this server's own pages.
fn same_origin(req: &Call) -> bool {
    match (req.header("origin"), req.header("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin == format!("http://{host}"),
        (Some(_), None) => false,
    }
}

pub(super) fn device_decision(emulator: &Emulator, req: &Call, approve: bool) -> Answer {
    if !same_origin(req) {
        return html(
            StatusCode::FORBIDDEN,
            approval::message_page("Refused", "Cross-origin request."),
        );
    }
    let code = req.form_param("user_code").unwrap_or_default();
    let decided = if approve {
        emulator.approve(&code)
    } else {
        emulator.deny(&code)
    };
    let outcome = if approve { "approved" } else { "denied" };
    tracing::info!(outcome, found = decided, "device authorization decided");
    if !decided {
        return html(
            StatusCode::NOT_FOUND,
            approval::device_entry_page(Some("That code is unknown, expired, or already used.")),
        );
    }
    if approve {
        html(
            StatusCode::OK,
            approval::message_page(
                "Request approved",
                "You may close this window and return to your terminal.",
            ),
        )
    } else {
        html(
            StatusCode::OK,
            approval::message_page(
                "Request denied",
                "The application was not given access. You may close this window.",
            ),
        )
    }
}

pub(super) fn authorize_page(emulator: &Emulator, req: &Call) -> Answer {
    let request = AuthorizeRequest::from_query(&req.query_pairs());
    let now = emulator.now();
    let mut state = emulator.state.lock().unwrap();
    match state.oidc.begin_authorize(&request, now) {
        Ok((id, _)) if emulator.options.auto_approve => {
            match state.oidc.decide_authorize(&id, true, now) {
                Some(location) => redirect(&location),
                None => html(
                    StatusCode::BAD_REQUEST,
                    approval::message_page("Expired", "Start the sign-in again."),
                ),
            }
        }
        Ok((id, pending)) => html(
            StatusCode::OK,
            approval::authorize_page(&id, &pending, &emulator.options.directory.user),
        ),
        Err(e) => html(
            StatusCode::BAD_REQUEST,
            approval::message_page(
                "Cannot authorize",
                &format!("{}: {}", e.error(), e.description()),
            ),
        ),
    }
}

pub(super) fn authorize_decision(emulator: &Emulator, req: &Call, approve: bool) -> Answer {
    if !same_origin(req) {
        return html(
            StatusCode::FORBIDDEN,
            approval::message_page("Refused", "Cross-origin request."),
        );
    }
    let id = req.form_param("request").unwrap_or_default();
    let now = emulator.now();
    let location = emulator
        .state
        .lock()
        .unwrap()
        .oidc
        .decide_authorize(&id, approve, now);
    match location {
        Some(location) => redirect(&location),
        None => html(
            StatusCode::NOT_FOUND,
            approval::message_page(
                "Request not found",
                "It expired or was already answered. Start the sign-in again.",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::request;
    use super::*;
    use hyper::Method;

    #[test]
    fn cross_origin_posts_are_refused() {
        let mut req = request(Method::POST, "/device/approve", "");
        req.headers = vec![("host".into(), "127.0.0.1:5".into())];
        assert!(same_origin(&req));
        req.headers
            .push(("origin".into(), "http://127.0.0.1:5".into()));
        assert!(same_origin(&req));
        req.headers[1].1 = "https://evil.example".into();
        assert!(!same_origin(&req));
    }
}
