//! The PKCE sign-in with a real browser: `credbroker login --sso-session
//! corp` runs as a child process against an emulator that does NOT approve
//! by itself; its `$BROWSER` (which the `webbrowser` crate honours) is a
//! script that hands the authorize URL to this test; a headless Chromium
//! (Debian's `chromium`, installed by `scripts/test.sh`) opens it, the test
//! clicks "Allow access" through the DevTools protocol, Chromium follows the
//! redirect to credbroker's loopback listener, and the login completes.
//!
//! The test fails, never skips, when Chromium is missing.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Env;
use tokio_tungstenite::tungstenite::Message;

const APPROVE_BUTTON: &str = "form[action=\"/authorize/approve\"] button";

/// A headless Chromium with its DevTools endpoint on a loopback port, in a
/// fresh profile directory.
struct Chromium {
    child: Child,
    profile: tempfile::TempDir,
}

impl Chromium {
    fn launch() -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(support::chromium_binary())
            .args(support::CHROMIUM_FLAGS)
            .args([
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            // Not on the test D-Bus session either (its accessibility bus).
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        Chromium { child, profile }
    }

    /// The DevTools port, from the file Chromium writes once it listens.
    fn devtools_port(&mut self) -> u16 {
        let file = self.profile.path().join("DevToolsActivePort");
        let port = wait_for(Duration::from_secs(30), "Chromium's DevTools port", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromium exited early: {status}");
            }
            std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
        });
        port
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `probe` every 100 ms until it gives a value, or fail naming `what`.
fn wait_for<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal DevTools-protocol client over one page's WebSocket.
struct Page {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    async fn connect(port: u16) -> Page {
        let targets: Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://127.0.0.1:{port}/json/list"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page target in {targets}"))
            .to_owned();
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Page { ws, next_id: 1 }
    }

    /// Send a command and wait for its result (events in between are skipped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Send a command; its result, or the error DevTools answered with.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(text)).await.unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("DevTools connection open")
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                return match v.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    /// Evaluate an expression; its value, or the error DevTools gave when
    /// the page navigated away while it ran ("Inspected target navigated or
    /// closed").
    async fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let r = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await?;
        Ok(r["result"]["value"].clone())
    }

    /// Evaluate `expression` until it is true. A page that is navigating
    /// (its context torn down under the evaluation) is simply not there yet.
    async fn wait_until(&mut self, expression: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.try_eval(expression).await != Ok(Value::Bool(true)) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; page: {}",
                self.try_eval(
                    "location.href + ' | ' + (document.body ? document.body.innerText : '')"
                )
                .await
                .unwrap_or_else(|error| error)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The login child, stopped if the test fails half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `$BROWSER` script that writes the URL it is given to `out`.
fn url_catcher(dir: &Path, out: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("catch-url");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}.tmp'\nmv '{0}.tmp' '{0}'\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_sign_in_completes_in_headless_chromium() {
    support::chromium_binary();
    let env = Env::new("pkce-browser", &[]);
    env.write_standard_config();
    let url_file = env.home.path().join("authorize-url");
    let browser = url_catcher(env.home.path(), &url_file);
    let mut login = KillOnDrop(
        env.command()
            .args(["login", "--sso-session", "corp"])
            .env("BROWSER", &browser)
            .env_remove("SSH_CONNECTION")
            .env_remove("SSH_TTY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let login = &mut login.0;

    let url = wait_for(Duration::from_secs(30), "the authorize URL", || {
        if let Ok(Some(status)) = login.try_wait() {
            let out = login.stderr.take().map(std::io::read_to_string);
            panic!("login exited before opening a browser: {status} {out:?}");
        }
        std::fs::read_to_string(&url_file).ok()
    });
    assert!(
        url.starts_with(&format!("{}/authorize?response_type=code&", env.base_url)),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    let mut chromium = Chromium::launch();
    let port = chromium.devtools_port();
    let mut page = Page::connect(port).await;
    page.call("Page.navigate", json!({ "url": url })).await;
    page.wait_until(
        &format!(
            "document.readyState === 'complete' && !!document.querySelector('{APPROVE_BUTTON}')"
        ),
        "the consent page",
    )
    .await;
    // Clicked from a timer, so the evaluation has answered before the
    // form's navigation tears its context down.
    let clicked = page
        .try_eval(&format!(
            "setTimeout(() => document.querySelector('{APPROVE_BUTTON}').click(), 0); true"
        ))
        .await;
    assert_eq!(clicked, Ok(Value::Bool(true)));
    page.wait_until(
        "location.href.startsWith('http://127.0.0.1:') && location.pathname === '/oauth/callback' \
         && document.body.innerText.includes('close this tab')",
        "the callback page",
    )
    .await;
    drop(chromium);

    let status = wait_for(Duration::from_secs(30), "the login to finish", || {
        login.try_wait().unwrap()
    });
    let stderr = std::io::read_to_string(login.stderr.take().unwrap()).unwrap();
    assert!(status.success(), "login failed: {stderr}");
    assert!(stderr.contains("Signed in to 'corp'"), "{stderr}");
    assert!(stderr.contains("renewed automatically"), "{stderr}");
    assert!(!stderr.contains("user code") && !stderr.contains("check that it shows the code"));
    assert_eq!(env.stat("StartDeviceAuthorization"), 0);
    assert_eq!(env.stat("CreateToken"), 1);

    // The token in the keychain works: role credentials through it.
    let out = env.run(&["credential-process", "--profile", "dev"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
