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
use crate::broker::{BrokerError, CredentialSource, Served};
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
pub(super) struct Outcome {
    pub about: About,
    /// What the presented token could read (`all`, `profile`), if it was valid.
    pub scope: Option<&'static str>,
    pub status: u16,
    /// `ok`, or the error code the client got.
    pub result: &'static str,
}

impl Outcome {
    /// What to audit of `response`: about the subject served, or, when
    /// none was, about the profile asked for.
    fn of(
        response: &Response<Full<Bytes>>,
        result: &'static str,
        scope: Option<&'static str>,
        subject: Option<Arc<Subject>>,
        profile: impl Into<Box<str>>,
    ) -> Outcome {
        Outcome {
            about: match subject {
                Some(subject) => About::Served(subject),
                None => About::Profile(profile.into()),
            },
            scope,
            status: response.status().as_u16(),
            result,
        }
    }
}

/// Who a credentials request was about.
#[derive(Debug)]
pub(super) enum About {
    /// The subject the broker served.
    Served(Arc<Subject>),
    /// The profile asked for, when nothing was served.
    Profile(Box<str>),
}

/// How a request is answered, decided from its head.
pub(super) enum Reply {
    /// The response, and what to audit when it asked for a profile's
    /// credentials (admitted or not).
    Ready(Response<Full<Bytes>>, Option<Outcome>),
    /// Admitted for a profile the source has no answer for in memory:
    /// the broker is asked, with [`Fetch::answer`].
    Fetch(Fetch),
}

/// An admitted request the broker must answer.
pub(super) struct Fetch {
    profile: Box<str>,
    /// What the token could read ([`Grant::kind`]).
    scope: &'static str,
}

/// Decide how to answer a request from its head alone, awaiting nothing.
///
/// The caller drops the request as soon as this returns. hyper parses a
/// head into slices of the connection's read buffer, and while the head
/// lives, hyper's look for the next request cannot reuse that buffer: it
/// allocates another and the last slice frees the old one, several KiB
/// allocated and freed per request, and freed in glibc under a lock the
/// workers contend for once a connection's task has moved between them.
pub(super) fn reply<S: CredentialSource>(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    connection: &Connection<S>,
) -> Reply {
    let route = parse_route(uri.path());
    let (response, result, grant, subject) = match decide(method, uri, &route, headers, connection)
    {
        Decision::Answered(answer) => answer,
        Decision::Fetch(fetch) => return Reply::Fetch(fetch),
    };
    let outcome = match route {
        Route::Credentials(profile) => Some(Outcome::of(
            &response,
            result,
            grant.as_ref().map(Grant::kind),
            subject,
            profile,
        )),
        _ => None,
    };
    Reply::Ready(response, outcome)
}

impl Fetch {
    /// Ask the broker, within the endpoint's request timeout.
    pub(super) async fn answer<S: CredentialSource>(
        self,
        connection: &Connection<S>,
    ) -> (Response<Full<Bytes>>, Option<Outcome>) {
        let endpoint = &connection.endpoint;
        // The source's future is large: it is built on the heap, once.
        let serving = Box::pin(endpoint.source.serve(&self.profile));
        let served = tokio::time::timeout(endpoint.limits.request_timeout, serving)
            .await
            .unwrap_or_else(|_| Err(BrokerError::timed_out()));
        let (response, result, subject) = served_answer(served, &self.profile);
        let outcome = Outcome::of(&response, result, Some(self.scope), subject, self.profile);
        (response, Some(outcome))
    }
}

/// What [`decide`] answered: the response, its result (`ok` or the error
/// code), the token's grant, and who was served.
type Answer = (
    Response<Full<Bytes>>,
    &'static str,
    Option<Grant>,
    Option<Arc<Subject>>,
);

enum Decision {
    Answered(Answer),
    Fetch(Fetch),
}

/// Refusals happen before routing, and the broker is consulted only for an
/// admitted, well-formed credentials request the token covers.
fn decide<S: CredentialSource>(
    method: &Method,
    uri: &Uri,
    route: &Route<'_>,
    headers: &HeaderMap,
    connection: &Connection<S>,
) -> Decision {
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
            return Decision::Answered((refused(&refusal), refusal.code, None, None));
        }
    };
    let profile = match route {
        Route::Credentials(profile) => profile.as_ref(),
        Route::InvalidProfile => {
            tracing::debug!(status = 400, "invalid profile name in path");
            let code = "InvalidProfileName";
            let message = "the profile name in the path is empty or not a valid profile name";
            return Decision::Answered((
                error(StatusCode::BAD_REQUEST, code, message),
                code,
                Some(grant),
                None,
            ));
        }
        Route::NotFound => {
            tracing::debug!(status = 404, "unknown path");
            let code = "NotFound";
            let message = "the only path served is /v1/credentials/{profile}";
            return Decision::Answered((
                error(StatusCode::NOT_FOUND, code, message),
                code,
                Some(grant),
                None,
            ));
        }
    };
    if !grant.covers(profile) {
        tracing::debug!(%profile, status = 403, "token scoped to another profile");
        let refusal = auth::OUT_OF_SCOPE;
        return Decision::Answered((refused(&refusal), refusal.code, Some(grant), None));
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
        return Decision::Answered((response, code, Some(grant), None));
    }
    match connection.cached(profile) {
        Some(served) => {
            let (response, result, subject) = served_answer(Ok(served), profile);
            Decision::Answered((response, result, Some(grant), subject))
        }
        None => Decision::Fetch(Fetch {
            profile: profile.into(),
            scope: grant.kind(),
        }),
    }
}

/// The response to what the broker answered for `profile`.
fn served_answer(
    served: Result<Served, BrokerError>,
    profile: &str,
) -> (Response<Full<Bytes>>, &'static str, Option<Arc<Subject>>) {
    let (response, result, subject) = match served {
        Ok(served) => (json(StatusCode::OK, served.body), "ok", served.subject),
        Err(err) => (broker_error(&err), err.code(), None),
    };
    tracing::debug!(%profile, status = response.status().as_u16(), "credentials request");
    (response, result, subject)
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
