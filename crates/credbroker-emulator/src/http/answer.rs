//! Building answers in each service's format: restJson1 bodies and errors
//! (exception name in `x-amzn-errortype` and `__type`), awsQuery XML, and
//! HTML pages with headers that keep them out of frames and caches.

use super::Answer;
use crate::mint;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Response, StatusCode};

pub(super) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(super) fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Answer {
    let mut answer = Response::new(Full::new(body));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

pub(super) fn json(status: StatusCode, body: &serde_json::Value) -> Answer {
    let mut answer = respond(status, "application/json", Bytes::from(body.to_string()));
    if let Ok(v) = HeaderValue::from_str(&mint::request_id()) {
        answer.headers_mut().insert("x-amzn-requestid", v);
    }
    answer
}

/// A restJson1 error: the exception name in `x-amzn-errortype` (which the
/// SDKs read first) and in the body's `__type`.
pub(super) fn json_error(
    status: StatusCode,
    exception: &str,
    mut body: serde_json::Value,
) -> Answer {
    body["__type"] = serde_json::Value::String(exception.to_owned());
    let mut answer = json(status, &body);
    if let Ok(v) = HeaderValue::from_str(exception) {
        answer.headers_mut().insert("x-amzn-errortype", v);
    }
    answer
}

pub(super) fn xml(status: StatusCode, body: String) -> Answer {
    respond(status, "text/xml", Bytes::from(body))
}

pub(super) fn html(status: StatusCode, body: String) -> Answer {
    let mut answer = respond(status, "text/html; charset=utf-8", Bytes::from(body));
    let headers = answer.headers_mut();
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    answer
}

pub(super) fn text(status: StatusCode, body: &'static str) -> Answer {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

pub(super) fn redirect(location: &str) -> Answer {
    let mut answer = respond(StatusCode::FOUND, "text/plain; charset=utf-8", Bytes::new());
    match HeaderValue::from_str(location) {
        Ok(v) => {
            answer.headers_mut().insert(LOCATION, v);
            answer
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "invalid redirect URI"),
    }
}
