//! The loopback listener that receives the browser after a PKCE approval.
//!
//! It binds `127.0.0.1` only (never a wildcard address: the code must not
//! be reachable from the network) on a port the OS picks, so two sign-ins
//! never collide. It then serves HTTP until exactly one callback carrying
//! the expected `state` arrives, answering the browser with a short page
//! ("you can close this tab"). Requests for other paths (a `favicon.ico`)
//! get a 404, and a callback with a wrong or missing `state` gets a 400 and
//! is otherwise ignored: it is not an answer to this sign-in, and the real
//! one may still come. If none comes before the timeout, the wait fails.
//!
//! Deciding what a callback means is [`super::pkce::check_callback`]; this
//! module only moves bytes.

use super::pkce::{check_callback, redirect_uri, CallbackOutcome, CALLBACK_PATH};
use crate::model::Secret;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Why no code came back.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("no answer from the browser within {} seconds", .0.as_secs())]
    TimedOut(Duration),
    /// The authorize page answered with an error (`access_denied`, ...).
    #[error("the sign-in page answered {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in callback listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A listener bound and waiting to be pointed at.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    /// Bind `127.0.0.1` on a free port.
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let port = listener.local_addr()?.port();
        Ok(CallbackListener { listener, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/oauth/callback`.
    pub fn redirect_uri(&self) -> String {
        redirect_uri(self.port)
    }

    /// Serve until a callback with `state` arrives; its code, or why not.
    pub async fn wait(self, state: &Secret, timeout: Duration) -> Result<Secret, CallbackError> {
        let (tx, mut rx) = mpsc::channel::<CallbackOutcome>(1);
        // Once one answer is taken, later requests are told the sign-in is over.
        let answered = Arc::new(Mutex::new(false));
        let state = state.clone();
        let accept = async {
            loop {
                let stream = match self.listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => return e,
                };
                let (tx, state, answered) = (tx.clone(), state.clone(), answered.clone());
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let response = answer(&req, &state, &answered, &tx);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        let outcome = tokio::select! {
            e = accept => return Err(CallbackError::Io(e)),
            outcome = tokio::time::timeout(timeout, rx.recv()) => outcome,
        };
        match outcome {
            Ok(Some(CallbackOutcome::Code(code))) => Ok(code),
            Ok(Some(CallbackOutcome::Refused { error, description })) => {
                Err(CallbackError::Refused { error, description })
            }
            Ok(Some(CallbackOutcome::Foreign)) | Ok(None) | Err(_) => {
                Err(CallbackError::TimedOut(timeout))
            }
        }
    }
}

/// The browser's answer for one request; hands a decided callback to `tx`.
fn answer(
    req: &Request<Incoming>,
    state: &Secret,
    answered: &Mutex<bool>,
    tx: &mpsc::Sender<CallbackOutcome>,
) -> Response<Full<Bytes>> {
    if req.uri().path() != CALLBACK_PATH {
        return page(StatusCode::NOT_FOUND, "Not found", "Nothing here.");
    }
    let outcome = check_callback(req.uri().query().unwrap_or(""), state);
    let mut done = answered.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return page(
            StatusCode::CONFLICT,
            "Sign-in already finished",
            "This sign-in was already answered. You can close this tab.",
        );
    }
    let response = match &outcome {
        CallbackOutcome::Foreign => {
            return page(
                StatusCode::BAD_REQUEST,
                "Not this sign-in",
                "This answer does not belong to the sign-in credbroker is waiting for \
                 (its state does not match). Start the sign-in again from the terminal if it does not finish.",
            )
        }
        CallbackOutcome::Code(_) => page(
            StatusCode::OK,
            "Signed in",
            "credbroker received the approval. You can close this tab and return to the terminal.",
        ),
        CallbackOutcome::Refused { .. } => page(
            StatusCode::OK,
            "Sign-in refused",
            "The sign-in was not approved; nothing was saved. You can close this tab.",
        ),
    };
    *done = true;
    // Capacity 1 and only one answer is ever sent, so this cannot fail for
    // lack of room; a closed channel means the wait already ended.
    let _ = tx.try_send(outcome);
    response
}

fn page(status: StatusCode, title: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// GET `path` from the listener on `port`; (status, body).
    async fn get(port: u16, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        (status, text)
    }

    #[tokio::test]
    async fn binds_loopback_and_takes_the_matching_callback() {
        let listener = CallbackListener::bind().await.unwrap();
        assert_eq!(
            listener.listener.local_addr().unwrap().ip(),
            std::net::IpAddr::from(Ipv4Addr::LOCALHOST)
        );
        let port = listener.port();
        assert_eq!(
            listener.redirect_uri(),
            format!("http://127.0.0.1:{port}/oauth/callback")
        );
        let state = Secret::new("s1");
        let wait =
            tokio::spawn(async move { listener.wait(&state, Duration::from_secs(10)).await });
        assert_eq!(get(port, "/favicon.ico").await.0, 404);
        let (status, body) = get(port, "/oauth/callback?code=c1&state=wrong").await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = get(port, "/oauth/callback?code=c2&state=s1").await;
        assert_eq!(status, 200);
        assert!(body.contains("close this tab"), "{body}");
        assert_eq!(wait.await.unwrap().unwrap(), Secret::new("c2"));
    }

    #[tokio::test]
    async fn denial_is_reported() {
        let listener = CallbackListener::bind().await.unwrap();
        let port = listener.port();
        let state = Secret::new("s1");
        let wait =
            tokio::spawn(async move { listener.wait(&state, Duration::from_secs(10)).await });
        get(port, "/oauth/callback?error=access_denied&state=s1").await;
        let err = wait.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, CallbackError::Refused { error, .. } if error == "access_denied"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn times_out_without_an_answer() {
        let listener = CallbackListener::bind().await.unwrap();
        let err = listener
            .wait(&Secret::new("s"), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, CallbackError::TimedOut(_)), "{err}");
    }
}
