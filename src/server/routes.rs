//! What the endpoint answers once a request is admitted.
//!
//! One route: `GET /v1/credentials/{profile}`, where `{profile}` is one
//! percent-encoded path segment. Success is the container-credentials body of
//! protocols.md §1; every failure is `{"code","message"}` with a status that
//! tells clients whether to retry (5xx) or give up (4xx). All responses are
//! JSON and `Cache-Control: no-store`: credentials must not sit in a cache.
//!
//! A per-profile token ([`super::scope`]) that names another profile gets
//! 403 `TokenScopeMismatch`; the broker is never asked.
//!
//! Only the request head is read. A body sent with GET is never read, so it
//! costs the server nothing but the header limits already in force.

use super::auth;
use super::connection::Connection;
use super::scope::Grant;
use crate::audit::Subject;
use crate::broker::{BrokerError, CredentialSource};
use crate::model;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode, Uri};
use std::borrow::Cow;
use std::sync::Arc;

/// The path prefix of the one route.
pub const CREDENTIALS_PATH: &str = "/v1/credentials/";

use crate::config::is_profile_name;
#[cfg(test)]
use crate::config::MAX_PROFILE_LEN;

/// What the audit trail is told about a credentials request.
#[derive(Debug)]
pub(super) struct Outcome<'a> {
    pub profile: Cow<'a, str>,
    /// What the presented token could read (`all`, `profile`), if it was valid.
    pub scope: Option<&'static str>,
    pub status: u16,
    /// `ok`, or the error code the client got.
    pub result: &'static str,
    /// Who it was about, when the broker served the profile.
    pub subject: Option<Arc<Subject>>,
}

/// Answer one request, and say what to audit when it asked for a profile's
/// credentials (admitted or not).
pub(super) async fn respond<'a, S: CredentialSource>(
    method: &Method,
    uri: &'a Uri,
    headers: &HeaderMap,
    connection: &Connection<S>,
) -> (Response<Full<Bytes>>, Option<Outcome<'a>>) {
    let route = parse_route(uri.path());
    let (response, result, grant, subject) = answer(method, uri, &route, headers, connection).await;
    let outcome = match route {
        Route::Credentials(profile) => Some(Outcome {
            profile,
            scope: grant.as_ref().map(Grant::kind),
            status: response.status().as_u16(),
            result,
            subject,
        }),
        _ => None,
    };
    (response, outcome)
}

/// What [`answer`] returns: the response, its result (`ok` or the error
/// code), the token's grant, and who was served.
type Answer = (
    Response<Full<Bytes>>,
    &'static str,
    Option<Grant>,
    Option<Arc<Subject>>,
);

/// Refusals happen before routing, and the broker is consulted only for an
/// admitted, well-formed credentials request the token covers.
async fn answer<S: CredentialSource>(
    method: &Method,
    uri: &Uri,
    route: &Route<'_>,
    headers: &HeaderMap,
    connection: &Connection<S>,
) -> Answer {
    let endpoint = &connection.endpoint;
    let grant = match auth::admit_on(
        headers,
        uri,
        endpoint.port,
        &endpoint.token,
        &connection.grants,
    ) {
        Ok(grant) => grant,
        Err(refusal) => {
            tracing::debug!(
                status = refusal.status.as_u16(),
                code = refusal.code,
                "request refused"
            );
            return (refused(&refusal), refusal.code, None, None);
        }
    };
    let profile = match route {
        Route::Credentials(profile) => profile.as_ref(),
        Route::InvalidProfile => {
            tracing::debug!(status = 400, "invalid profile name in path");
            let code = "InvalidProfileName";
            let message = "the profile name in the path is empty or not a valid profile name";
            return (
                error(StatusCode::BAD_REQUEST, code, message),
                code,
                Some(grant),
                None,
            );
        }
        Route::NotFound => {
            tracing::debug!(status = 404, "unknown path");
            let code = "NotFound";
            let message = "the only path served is /v1/credentials/{profile}";
            return (
                error(StatusCode::NOT_FOUND, code, message),
                code,
                Some(grant),
                None,
            );
        }
    };
    if !grant.covers(profile) {
        tracing::debug!(%profile, status = 403, "token scoped to another profile");
        let refusal = auth::OUT_OF_SCOPE;
        return (refused(&refusal), refusal.code, Some(grant), None);
    }
    if method != Method::GET {
        tracing::debug!(%profile, %method, status = 405, "method not allowed");
        let code = "MethodNotAllowed";
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            code,
            "credentials are read with GET",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return (response, code, Some(grant), None);
    }
    let answer = match connection.cached(profile) {
        Some(served) => Ok(Ok(served)),
        // A miss builds the source's (large) future on the heap, once.
        None => {
            let serving = Box::pin(endpoint.source.serve(profile));
            tokio::time::timeout(endpoint.limits.request_timeout, serving).await
        }
    };
    let (response, result, subject) = match answer.unwrap_or_else(|_| Err(BrokerError::timed_out()))
    {
        Ok(served) => (json(StatusCode::OK, served.body), "ok", served.subject),
        Err(err) => (broker_error(&err), err.code(), None),
    };
    tracing::debug!(%profile, status = response.status().as_u16(), "credentials request");
    (response, result, Some(grant), subject)
}

fn refused(refusal: &auth::Refusal) -> Response<Full<Bytes>> {
    error(refusal.status, refusal.code, refusal.message)
}

/// The SDKs show only the body's `message`: it holds the first cause too.
fn broker_error(err: &BrokerError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, err.code(), &err.summary())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, Bytes::from(model::error_body(code, message)))
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where a path leads. The profile is borrowed from the path unless it
/// had escapes to decode.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Credentials(Cow<'a, str>),
    InvalidProfile,
    NotFound,
}

/// Route a request path (without query). The profile segment is
/// percent-decoded; a segment containing `/`, or decoding to nothing, to
/// invalid UTF-8, to control characters or to `/`, is refused.
pub fn parse_route(path: &str) -> Route<'_> {
    let Some(segment) = path.strip_prefix(CREDENTIALS_PATH) else {
        return Route::NotFound;
    };
    if segment.contains('/') {
        return Route::NotFound;
    }
    match percent_decode(segment) {
        Some(profile) if is_profile_name(&profile) => Route::Credentials(profile),
        _ => Route::InvalidProfile,
    }
}

/// Decode `%XX` escapes; `None` for a broken escape or invalid UTF-8.
/// (`+` stays `+`: that rule belongs to query strings, not paths.)
fn percent_decode(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(name: &str) -> Route<'_> {
        Route::Credentials(name.into())
    }

    #[test]
    fn routes_the_credentials_path_and_decodes_the_profile() {
        assert_eq!(parse_route("/v1/credentials/dev"), creds("dev"));
        assert_eq!(parse_route("/v1/credentials/team%20dev"), creds("team dev"));
        assert_eq!(parse_route("/v1/credentials/a+b"), creds("a+b"));
        assert_eq!(parse_route("/v1/credentials/caf%C3%A9"), creds("café"));
        assert_eq!(
            parse_route("/v1/credentials/prod.admin-1_x@y"),
            creds("prod.admin-1_x@y")
        );
    }

    #[test]
    fn other_paths_are_not_found() {
        for path in [
            "/",
            "/v1/credentials",
            "/v1/credentials/a/b",
            "/v2/credentials/dev",
            "/v1/credentials/dev/",
        ] {
            assert_eq!(parse_route(path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn odd_profile_names_are_invalid() {
        for path in [
            "/v1/credentials/",
            "/v1/credentials/%",
            "/v1/credentials/%4",
            "/v1/credentials/%zz",
            "/v1/credentials/%FF",
            "/v1/credentials/a%2Fb",
            "/v1/credentials/%00",
            "/v1/credentials/a%0Ab",
            "/v1/credentials/..",
            "/v1/credentials/%20dev",
        ] {
            assert_eq!(parse_route(path), Route::InvalidProfile, "{path}");
        }
        let long = format!("/v1/credentials/{}", "a".repeat(MAX_PROFILE_LEN + 1));
        assert_eq!(parse_route(&long), Route::InvalidProfile);
    }
}
