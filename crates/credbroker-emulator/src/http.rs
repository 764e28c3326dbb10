//! The socket side: accept loopback connections, read each request (with a
//! bounded body), route it by method and path, count it, apply any armed
//! fault, call the pure service module, and write the answer in that
//! service's wire format.
//!
//! Logs name the operation, the status and the time taken; never a body,
//! a query string or a header value, which may hold tokens or user codes.

mod answer;
mod pages;
mod signin;
mod web_identity;

use super::approval;
use super::assume_role;
use super::faults::{self, Fault};
use super::mint;
use super::oidc::OidcError;
use super::operation::{OidcOperation, Operation, PortalOperation, Protocol};
use super::portal::{self, PortalError};
use super::sigv4::SignedRequest;
use super::sts::{self, StsError};
use super::Emulator;
use answer::{html, json, json_error, respond, status, text, xml};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Request bodies larger than this are refused (413): every real request
/// here is a few hundred bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type Answer = Response<Full<Bytes>>;

/// Returned from the service to make hyper close the connection unanswered
/// (the `drop` fault).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// Accept and serve until `shutdown` changes (or its sender is dropped).
pub(super) async fn serve(
    listener: TcpListener,
    emulator: Arc<Emulator>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let emulator = emulator.clone();
                let mut shutdown = shutdown.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| handle(emulator.clone(), req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        result = conn.as_mut() => {
                            if let Err(e) = result {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        }
                        _ = shutdown.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.abort_all();
    }
    tracing::info!("emulator stopped");
}

/// The parts of a request the handlers look at, with the body read.
struct Call {
    method: Method,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn form_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(&self.body)
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    fn json<T: DeserializeOwned + Default>(&self) -> Result<T, String> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(T::default());
        }
        serde_json::from_slice(&self.body).map_err(|e| format!("invalid request body: {e}"))
    }
}

async fn handle(emulator: Arc<Emulator>, req: Request<Incoming>) -> Result<Answer, DropConnection> {
    let started = tokio::time::Instant::now();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Ok(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            ));
        }
        Err(_) => return Err(DropConnection),
    };
    let request = Call {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let route = route(&request);
    let operation = route.operation();
    if let Some(op) = operation {
        emulator.count(op.name());
        let fault = emulator.faults.lock().unwrap().take(op);
        if let Some(fault) = fault {
            if let Some(answer) = apply_fault(op, &fault).await? {
                log(op.name(), answer.status(), started, true);
                return Ok(answer);
            }
        }
    }
    let answer = dispatch(&emulator, route, &request);
    log(
        operation.map_or(request.path.as_str(), |op| op.name()),
        answer.status(),
        started,
        false,
    );
    Ok(answer)
}

fn log(what: &str, status: StatusCode, started: tokio::time::Instant, fault: bool) {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        operation = what,
        status = status.as_u16(),
        elapsed_ms,
        fault,
        "served"
    );
}

/// Delay, drop, or answer with the fault's status; `None` means carry on.
async fn apply_fault(
    operation: Operation,
    fault: &Fault,
) -> Result<Option<Answer>, DropConnection> {
    if let Some(ms) = fault.latency_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if fault.drop {
        return Err(DropConnection);
    }
    if fault.malformed {
        let (content_type, body) = match operation.protocol() {
            Protocol::Sts => (
                "text/xml",
                format!(
                    "<{0}Response xmlns=\"{1}\"><{0}Result><Cre",
                    operation.name(),
                    sts::NAMESPACE
                ),
            ),
            Protocol::Oidc | Protocol::Portal => (
                "application/json",
                r#"{"roleCredentials":{"accessKeyId":"ASIA"#.to_owned(),
            ),
        };
        return Ok(Some(respond(
            StatusCode::OK,
            content_type,
            Bytes::from(body),
        )));
    }
    let Some(status) = fault.status else {
        return Ok(None);
    };
    let protocol = operation.protocol();
    let code = fault
        .code
        .clone()
        .unwrap_or_else(|| faults::default_code(protocol, status).to_owned());
    let message = format!("injected fault: {code}");
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(Some(match protocol {
        Protocol::Sts => xml(
            status,
            StsError::new(status.as_u16(), code, message).xml(&mint::request_id()),
        ),
        Protocol::Oidc => json_error(
            status,
            &code,
            serde_json::json!({ "error": "server_error", "error_description": message }),
        ),
        Protocol::Portal => json_error(status, &code, serde_json::json!({ "message": message })),
    }))
}

enum Route {
    Oidc(OidcOperation),
    Portal(PortalOperation),
    /// An STS call: its `Action`, or why it names none the emulator knows.
    Sts(Result<sts::Action, StsError>),
    Index,
    DevicePage,
    DeviceDecision(bool),
    AuthorizePage,
    AuthorizeDecision(bool),
    Stats,
    Faults,
    Revoke,
    Github(web_identity::GithubRoute),
    Issuer(web_identity::IssuerRoute),
    Secrets,
    /// The sign-in service's `/federation` (console sign-in).
    Federation,
    /// The stand-in console page a federation sign-in lands on.
    ConsolePage,
    NotFound,
}

impl Route {
    /// The operation counted and faulted for this route; pages and test
    /// routes are none.
    fn operation(&self) -> Option<Operation> {
        match self {
            Route::Oidc(op) => Some(Operation::Oidc(*op)),
            Route::Portal(op) => Some(Operation::Portal(*op)),
            Route::Sts(Ok(action)) => Some(Operation::Sts(*action)),
            Route::Github(g) => g.operation(),
            Route::Issuer(_) => None,
            Route::Sts(Err(_))
            | Route::Index
            | Route::DevicePage
            | Route::DeviceDecision(_)
            | Route::AuthorizePage
            | Route::AuthorizeDecision(_)
            | Route::Stats
            | Route::Faults
            | Route::Revoke
            | Route::Secrets
            | Route::Federation
            | Route::ConsolePage
            | Route::NotFound => None,
        }
    }
}

fn route(req: &Call) -> Route {
    let sts_params = || req.sts_params();
    if let Some(g) = web_identity::GithubRoute::of(&req.method, &req.path) {
        return Route::Github(g);
    }
    if let Some(i) = web_identity::IssuerRoute::of(&req.method, &req.path) {
        return Route::Issuer(i);
    }
    match (&req.method, req.path.as_str()) {
        (&Method::POST, "/client/register") => Route::Oidc(OidcOperation::RegisterClient),
        (&Method::POST, "/device_authorization") => {
            Route::Oidc(OidcOperation::StartDeviceAuthorization)
        }
        (&Method::POST, "/token") => Route::Oidc(OidcOperation::CreateToken),
        (&Method::GET, "/federation/credentials") => {
            Route::Portal(PortalOperation::GetRoleCredentials)
        }
        (&Method::GET, "/assignment/accounts") => Route::Portal(PortalOperation::ListAccounts),
        (&Method::GET, "/assignment/roles") => Route::Portal(PortalOperation::ListAccountRoles),
        (&Method::POST, "/logout") => Route::Portal(PortalOperation::Logout),
        (&Method::POST, "/") => Route::Sts(sts::action(&sts_params())),
        (&Method::GET, "/") if req.query_param("Action").is_some() => {
            Route::Sts(sts::action(&sts_params()))
        }
        (&Method::GET, "/") => Route::Index,
        (&Method::GET, "/device") => Route::DevicePage,
        (&Method::POST, "/device/approve") => Route::DeviceDecision(true),
        (&Method::POST, "/device/deny") => Route::DeviceDecision(false),
        (&Method::GET, "/authorize") => Route::AuthorizePage,
        (&Method::POST, "/authorize/approve") => Route::AuthorizeDecision(true),
        (&Method::POST, "/authorize/deny") => Route::AuthorizeDecision(false),
        (&Method::GET, "/_emulator/stats") => Route::Stats,
        (&Method::POST, "/_emulator/faults") => Route::Faults,
        (&Method::POST, "/_emulator/revoke") => Route::Revoke,
        (&Method::GET, "/_emulator/secrets") => Route::Secrets,
        (&Method::GET, "/federation") => Route::Federation,
        (&Method::GET, "/console") => Route::ConsolePage,
        _ => Route::NotFound,
    }
}

fn dispatch(emulator: &Emulator, route: Route, req: &Call) -> Answer {
    match route {
        Route::Oidc(op) => oidc_operation(emulator, op, req),
        Route::Portal(op) => portal_operation(emulator, op, req),
        Route::Sts(action) => sts_operation(emulator, action, req),
        Route::Index => html(StatusCode::OK, approval::index_page(emulator.base_url())),
        Route::DevicePage => pages::device_page(emulator, req),
        Route::DeviceDecision(approve) => pages::device_decision(emulator, req, approve),
        Route::AuthorizePage => pages::authorize_page(emulator, req),
        Route::AuthorizeDecision(approve) => pages::authorize_decision(emulator, req, approve),
        Route::Stats => json(
            StatusCode::OK,
            &serde_json::to_value(emulator.stats()).unwrap_or_default(),
        ),
        Route::Faults => match faults::Faults::parse(&req.body) {
            Ok(table) => {
                emulator.set_faults(table);
                json(StatusCode::OK, &serde_json::json!({}))
            }
            Err(message) => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "message": message }),
            ),
        },
        Route::Secrets => json(StatusCode::OK, &serde_json::json!(emulator.secrets())),
        Route::Federation => signin::federation(emulator, req),
        Route::ConsolePage => signin::console(emulator, req),
        Route::Github(g) => web_identity::github(emulator, g, req),
        Route::Issuer(i) => web_identity::issuer(emulator, i, req),
        Route::Revoke => {
            emulator.revoke_all_tokens();
            json(StatusCode::OK, &serde_json::json!({}))
        }
        Route::NotFound => json_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            serde_json::json!({ "message": format!("no operation at {} {}", req.method, req.path) }),
        ),
    }
}

fn oidc_operation(emulator: &Emulator, op: OidcOperation, req: &Call) -> Answer {
    let now = emulator.now();
    let options = &emulator.options;
    let result = {
        let mut state = emulator.state.lock().unwrap();
        let oidc = &mut state.oidc;
        match op {
            OidcOperation::RegisterClient => req
                .json()
                .map_err(OidcError::InvalidRequest)
                .and_then(|body| oidc.register_client(body, now, options))
                .map(|r| serde_json::to_value(r).unwrap_or_default()),
            OidcOperation::StartDeviceAuthorization => req
                .json()
                .map_err(OidcError::InvalidRequest)
                .and_then(|body| {
                    oidc.start_device_authorization(body, now, options, emulator.base_url())
                })
                .map(|r| serde_json::to_value(r).unwrap_or_default()),
            OidcOperation::CreateToken => {
                let poll = tokio::time::Instant::now().into_std();
                req.json()
                    .map_err(OidcError::InvalidRequest)
                    .and_then(|body| oidc.create_token(body, now, poll, options))
                    .map(|r| serde_json::to_value(r).unwrap_or_default())
            }
        }
    };
    match result {
        Ok(body) => json(StatusCode::OK, &body),
        Err(e) => json_error(status(e.status()), e.exception(), e.body()),
    }
}

fn portal_operation(emulator: &Emulator, op: PortalOperation, req: &Call) -> Answer {
    let now = emulator.now();
    let directory = &emulator.options.directory;
    let q = |name: &str| req.query_param(name);
    let result: Result<Option<serde_json::Value>, PortalError> = (|| {
        let mut state = emulator.state.lock().unwrap();
        let token = req.header("x-amz-sso_bearer_token");
        portal::authenticate(&state.oidc, token, now)?;
        match op {
            PortalOperation::GetRoleCredentials => state
                .portal
                .get_role_credentials(
                    directory,
                    q("account_id").as_deref(),
                    q("role_name").as_deref(),
                    now,
                    &emulator.options,
                )
                .map(Some),
            PortalOperation::ListAccounts => portal::list_accounts(
                directory,
                q("next_token").as_deref(),
                q("max_result").as_deref(),
            )
            .map(Some),
            PortalOperation::ListAccountRoles => portal::list_account_roles(
                directory,
                q("account_id").as_deref(),
                q("next_token").as_deref(),
                q("max_result").as_deref(),
            )
            .map(Some),
            PortalOperation::Logout => {
                state.oidc.logout(token.unwrap_or_default());
                Ok(None)
            }
        }
    })();
    match result {
        Ok(Some(body)) => json(StatusCode::OK, &body),
        Ok(None) => respond(StatusCode::OK, "application/json", Bytes::new()),
        Err(e) => json_error(status(e.status()), e.exception(), e.body()),
    }
}

fn sts_operation(emulator: &Emulator, action: Result<sts::Action, StsError>, req: &Call) -> Answer {
    let request_id = mint::request_id();
    let result = action.and_then(|action| match action {
        sts::Action::GetCallerIdentity => {
            let state = emulator.state.lock().unwrap();
            sts::get_caller_identity(&req.signed(), &state.portal, emulator.now(), &request_id)
        }
        sts::Action::AssumeRole => assume_role(emulator, req, &request_id),
        sts::Action::AssumeRoleWithWebIdentity => {
            web_identity::assume_role(emulator, req, &request_id)
        }
    });
    let mut answer = match result {
        Ok(body) => xml(StatusCode::OK, body),
        Err(e) => xml(status(e.status), e.xml(&request_id)),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        answer.headers_mut().insert("x-amzn-requestid", v);
    }
    answer
}

impl Call {
    fn signed(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: self.method.as_str(),
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// STS parameters: the query string, then a form body.
    fn sts_params(&self) -> Vec<(String, String)> {
        let mut params = self.query_pairs();
        if self.method == Method::POST {
            params.extend(form_urlencoded::parse(&self.body).into_owned());
        }
        params
    }
}

/// `Action=AssumeRole`: authenticate the caller, decide, record the new
/// session's credentials, all under one lock.
fn assume_role(emulator: &Emulator, req: &Call, request_id: &str) -> Result<String, StsError> {
    let now = emulator.now();
    let max_ttl = chrono::Duration::from_std(emulator.options.credentials_ttl)
        .unwrap_or(chrono::Duration::MAX);
    let mut state = emulator.state.lock().unwrap();
    let caller = sts::authenticate(&req.signed(), &state.portal, now)?;
    let assumed = assume_role::assume_role(
        &req.sts_params(),
        caller,
        &emulator.options.roles,
        now,
        max_ttl,
        request_id,
    )?;
    state.portal.record(assumed.access_key_id, assumed.issued);
    Ok(assumed.xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call as the router sees it; the page tests build theirs with it too.
    pub(super) fn request(method: Method, path: &str, body: &str) -> Call {
        Call {
            method,
            path: path.to_owned(),
            query: String::new(),
            headers: vec![],
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn routes_by_method_and_path() {
        let op = |m, p, b| match route(&request(m, p, b)) {
            Route::Sts(Err(e)) => e.code,
            r if r.operation().is_some() => r.operation().unwrap().name().to_owned(),
            Route::NotFound => "NotFound".into(),
            _ => "page".into(),
        };
        assert_eq!(op(Method::POST, "/token", ""), "CreateToken");
        assert_eq!(op(Method::GET, "/token", ""), "NotFound");
        assert_eq!(op(Method::GET, "/assignment/roles", ""), "ListAccountRoles");
        assert_eq!(
            op(
                Method::POST,
                "/",
                "Action=GetCallerIdentity&Version=2011-06-15"
            ),
            "GetCallerIdentity"
        );
        assert_eq!(
            op(Method::POST, "/", "Action=AssumeRole&Version=2011-06-15"),
            "AssumeRole"
        );
        assert_eq!(
            op(Method::POST, "/", "Action=AssumeRoot&Version=2011-06-15"),
            "InvalidAction"
        );
        assert_eq!(op(Method::GET, "/", ""), "page");
    }
}
