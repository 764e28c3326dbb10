//! The device-code sign-in a person runs: register (or reuse the cached
//! registration), start a device authorization, show the code, poll until it
//! is approved, and save the token in the vault. The PKCE sign-in
//! ([`super::pkce_login`]) shares the options and the UI defined here.
//!
//! What the person sees goes through [`LoginUi`], so the protocol steps here
//! never print: [`TerminalUi`] draws on stderr (stdout stays free for
//! `--json`), and tests use [`QuietUi`]. Timing decisions come from the pure
//! [`DeviceFlow`]; this module only sleeps and calls.
//!
//! Cancelling (Ctrl-C) is only possible while waiting for approval; the token
//! is saved after that, so a cancelled sign-in leaves nothing half-saved (a
//! client registration made on the way is complete and reused next time).

use super::device::{DeviceFlow, Step, Stopped};
use super::oidc::{self, DeviceAuthorization, LoginError, TokenGrant};
use crate::config::SessionInfo;
use crate::context::Context;
use crate::model::{ClientRegistration, SsoToken};
use crate::store::Vault;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// What the person needs to approve the sign-in.
#[derive(Debug, Clone)]
pub struct CodePrompt<'a> {
    /// The session being signed in (its key: sso-session name or start URL).
    pub session: &'a str,
    pub user_code: &'a str,
    pub verification_uri: &'a str,
    /// The same page with the code filled in, when the service sent one.
    pub verification_uri_complete: Option<&'a str>,
    /// How long the code stays valid.
    pub expires_in: Duration,
    /// Whether to try to open a browser on the page.
    pub open_browser: bool,
}

/// What the person sees of a sign-in. Implementations must not block for long.
pub trait LoginUi: Send {
    /// Show the code and page (and open the browser if `prompt.open_browser`).
    fn show_code(&mut self, prompt: &CodePrompt<'_>);
    /// PKCE: show the authorize page (`opened`: a browser was started on it).
    /// The default shows nothing.
    fn show_authorize(&mut self, prompt: &AuthorizePrompt<'_>) {
        let _ = prompt;
    }
    /// Polling started: show that we are waiting.
    fn waiting(&mut self);
    /// A note while waiting (registering again, a transient failure).
    fn notice(&mut self, message: &str);
    /// Polling ended, however it ended.
    fn done(&mut self);
}

/// What the person needs to approve a PKCE sign-in.
#[derive(Debug, Clone)]
pub struct AuthorizePrompt<'a> {
    pub session: &'a str,
    /// The authorize page (its query holds no secret: the challenge, not the verifier).
    pub url: &'a str,
    /// Whether a browser was started on it.
    pub opened: bool,
    /// How long the listener waits for the browser.
    pub timeout: Duration,
    /// The whole command that signs the same session in with a device code.
    pub device_code_command: &'a str,
}

/// Opens a URL in a browser. The default is the system browser (the
/// `webbrowser` crate, which honours `$BROWSER`); tests put in one that
/// fetches the page with an HTTP client. It must not block for long: it runs
/// on the sign-in's task while the callback listener waits.
#[derive(Clone)]
pub struct BrowserOpener(Arc<OpenUrl>);

type OpenUrl = dyn Fn(&str) -> std::io::Result<()> + Send + Sync;

impl BrowserOpener {
    pub fn new(open: impl Fn(&str) -> std::io::Result<()> + Send + Sync + 'static) -> Self {
        BrowserOpener(Arc::new(open))
    }

    /// The system's browser.
    pub fn system() -> Self {
        Self::new(webbrowser::open)
    }

    pub fn open(&self, url: &str) -> std::io::Result<()> {
        (self.0)(url)
    }
}

impl std::fmt::Debug for BrowserOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrowserOpener")
    }
}

/// How long a PKCE sign-in waits for the browser by default (the service
/// keeps an authorize request for a few minutes; a person may need to type
/// a password and pass MFA first).
pub const DEFAULT_AUTHORIZE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How a sign-in runs.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// Try to open a browser (the device-code flow still skips it when there
    /// is no display; the PKCE flow leaves that choice to its caller).
    pub open_browser: bool,
    /// What opens the PKCE authorize page.
    pub browser: BrowserOpener,
    /// How long the PKCE flow waits for the browser's answer.
    pub authorize_timeout: Duration,
    /// Stop cleanly on Ctrl-C while waiting for approval. Off for library
    /// users that handle signals themselves: tokio keeps the handler
    /// installed for the life of the process once it is registered.
    pub cancel_on_ctrl_c: bool,
    /// The clients, the clock and the environment (is there a display?).
    pub ctx: Context,
}

impl LoginOptions {
    /// Open a browser, wait the default time, leave Ctrl-C alone.
    pub fn new(ctx: Context) -> Self {
        LoginOptions {
            open_browser: true,
            browser: BrowserOpener::system(),
            authorize_timeout: DEFAULT_AUTHORIZE_TIMEOUT,
            cancel_on_ctrl_c: false,
            ctx,
        }
    }

    /// Print the page and code but never open a browser (the demo, SSH).
    pub fn no_browser(ctx: Context) -> Self {
        LoginOptions {
            open_browser: false,
            ..Self::new(ctx)
        }
    }
}

/// Sign `session` in with the device-code flow, showing the code on the
/// terminal ([`TerminalUi`]), and save the token under `session.key`.
pub async fn device_login(
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
) -> Result<SsoToken, LoginError> {
    device_login_with(session, vault, options, &mut TerminalUi::new()).await
}

/// Sign `session` in with the device-code flow and save the token (with its
/// refresh token, when the registration asked for `sso:account:access`)
/// under `session.key`; `ui` shows the code and the wait.
pub async fn device_login_with(
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
    ui: &mut dyn LoginUi,
) -> Result<SsoToken, LoginError> {
    let client = oidc::client(&options.ctx.clients, &session.region);
    let open_browser =
        options.open_browser && can_open_browser(|name| options.ctx.env.var_os(name));
    let approval = approve(&client, session, vault, options, open_browser, &mut *ui);
    let Some(result) = unless_cancelled(approval, options.cancel_on_ctrl_c).await else {
        ui.done();
        return Err(LoginError::Cancelled);
    };
    save_grant(
        result?,
        session,
        vault,
        options,
        oidc::registration_key(session),
    )
    .await
}

/// Wait for `approval`; `None` when Ctrl-C came first (only watched when
/// `cancel_on_ctrl_c`).
pub(crate) async fn unless_cancelled<F: std::future::Future>(
    approval: F,
    cancel_on_ctrl_c: bool,
) -> Option<F::Output> {
    if cancel_on_ctrl_c {
        tokio::select! {
            result = approval => Some(result),
            _ = ctrl_c() => None,
        }
    } else {
        Some(approval.await)
    }
}

/// Store an approved grant as the session's token, tagged with the
/// registration that obtained it (a refresh must use the same client).
pub(crate) async fn save_grant(
    grant: oidc::TokenGrant,
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
    registration_key: String,
) -> Result<SsoToken, LoginError> {
    let mut token = grant.into_token(session, options.ctx.clock.now());
    token.registration_key = Some(registration_key);
    vault.put_sso_token(&session.key, &token).await?;
    Ok(token)
}

/// Resolves on Ctrl-C; never, if the signal cannot be watched.
pub(crate) async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Everything up to an approved token; registers again once if the cached
/// registration turns out to be dead.
async fn approve(
    client: &crate::sdk::OidcClient,
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
    open_browser: bool,
    ui: &mut dyn LoginUi,
) -> Result<TokenGrant, LoginError> {
    let mut registered_again = false;
    loop {
        let reg = oidc::registration(client, session, vault, options.ctx.clock.now()).await?;
        let result = match oidc::start_device_authorization(client, &reg, &session.start_url).await
        {
            Ok(auth) => {
                ui.show_code(&CodePrompt {
                    session: &session.key,
                    user_code: &auth.user_code,
                    verification_uri: &auth.verification_uri,
                    verification_uri_complete: auth.verification_uri_complete.as_deref(),
                    expires_in: Duration::from_secs(auth.expires_in.max(0) as u64),
                    open_browser,
                });
                ui.waiting();
                let result = poll_until_approved(client, &reg, &auth, ui).await;
                ui.done();
                result
            }
            Err(e) => Err(e),
        };
        match result {
            Err(LoginError::InvalidClient(_)) if !registered_again => {
                registered_again = true;
                vault
                    .delete_registration(&oidc::registration_key(session))
                    .await?;
                ui.notice("IAM Identity Center no longer knows credbroker's registration; registering again.");
            }
            other => return other,
        }
    }
}

/// Poll CreateToken as the [`DeviceFlow`] says until it is done or stops.
async fn poll_until_approved(
    client: &crate::sdk::OidcClient,
    reg: &ClientRegistration,
    auth: &DeviceAuthorization,
    ui: &mut dyn LoginUi,
) -> Result<TokenGrant, LoginError> {
    let started = tokio::time::Instant::now();
    let mut flow = DeviceFlow::new(auth.interval, auth.expires_in);
    let mut step = flow.first_step();
    loop {
        match step {
            Step::Wait(wait) => {
                tokio::time::sleep(wait).await;
                let outcome = oidc::poll_device_token(client, reg, &auth.device_code).await;
                if let super::device::PollOutcome::Transient(e) = &outcome {
                    ui.notice(&format!("still waiting; the last check failed: {e}"));
                }
                step = flow.on_poll(outcome, started.elapsed());
            }
            Step::Done(grant) => return Ok(grant),
            Step::Stop(Stopped::CodeExpired) => return Err(LoginError::CodeExpired),
            Step::Stop(Stopped::Denied) => return Err(LoginError::Denied),
            Step::Stop(Stopped::Failed(e)) => return Err(e),
        }
    }
}

/// Whether a browser can be shown here: not over SSH, and on Linux and the
/// BSDs only with a graphical display or a `$BROWSER` the person chose.
/// `env` reads an environment variable.
pub fn can_open_browser(env: impl Fn(&str) -> Option<OsString>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return false;
    }
    if set("BROWSER") {
        return true;
    }
    if cfg!(all(unix, not(target_os = "macos"))) {
        return set("DISPLAY") || set("WAYLAND_DISPLAY");
    }
    true
}

/// The terminal face of a sign-in: the code and page on stderr, a browser
/// when possible, and a spinner while waiting (hidden when stderr is not a
/// terminal, so logs stay clean).
#[derive(Debug)]
pub struct TerminalUi {
    spinner: Option<indicatif::ProgressBar>,
    /// The spinner's text: what the person is being waited on for, set by
    /// the prompt shown (the device code, or the browser sign-in page).
    waiting_for: &'static str,
}

impl Default for TerminalUi {
    fn default() -> Self {
        TerminalUi {
            spinner: None,
            waiting_for: "Waiting for approval (Ctrl-C to cancel)",
        }
    }
}

impl TerminalUi {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the spinner says while waiting.
    pub fn waiting_message(&self) -> &'static str {
        self.waiting_for
    }

    fn say(&self, text: &str) {
        match &self.spinner {
            Some(spinner) => spinner.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }
}

impl LoginUi for TerminalUi {
    fn show_code(&mut self, p: &CodePrompt<'_>) {
        let page = p.verification_uri_complete.unwrap_or(p.verification_uri);
        let minutes = p.expires_in.as_secs().div_ceil(60);
        let mut text = format!("Signing in to IAM Identity Center for '{}'.\n", p.session);
        let opened = p.open_browser && webbrowser::open(page).is_ok();
        if opened {
            text.push_str(
                "A browser window should have opened. If not, open this page yourself:\n",
            );
        } else {
            text.push_str("Open this page in a browser (on any device):\n");
        }
        text.push_str(&format!(
            "\n    {}\n\nand check that it shows the code\n\n    {}\n\n\
             The code is valid for about {minutes} minute(s).",
            p.verification_uri, p.user_code
        ));
        if let Some(complete) = p.verification_uri_complete {
            text.push_str(&format!(" Or open {complete} (code filled in)."));
        }
        self.say(&text);
        self.waiting_for = "Waiting for the code to be approved (Ctrl-C to cancel)";
    }

    fn show_authorize(&mut self, p: &AuthorizePrompt<'_>) {
        let minutes = p.timeout.as_secs().div_ceil(60);
        let how = if p.opened {
            "A browser window should have opened on the sign-in page. If not, open this page yourself:"
        } else {
            "Open this page in a browser on this machine (it answers to 127.0.0.1 here):"
        };
        self.say(&format!(
            "Signing in to IAM Identity Center for '{}'.\n{how}\n\n    {}\n\n\
             Waiting up to {minutes} minute(s). No browser here? Run `{}` instead.",
            p.session, p.url, p.device_code_command
        ));
        self.waiting_for = "Waiting for approval in the browser (Ctrl-C to cancel)";
    }

    fn waiting(&mut self) {
        let spinner = indicatif::ProgressBar::new_spinner();
        if !std::io::stderr().is_terminal() {
            spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        spinner.set_message(self.waiting_for);
        spinner.enable_steady_tick(Duration::from_millis(120));
        self.spinner = Some(spinner);
    }

    fn notice(&mut self, message: &str) {
        self.say(message);
    }

    fn done(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }
}

/// A UI that shows nothing and remembers the codes it was given (tests,
/// callers that present the code their own way).
#[derive(Debug, Default)]
pub struct QuietUi {
    pub user_codes: Vec<String>,
    /// PKCE authorize pages shown.
    pub authorize_urls: Vec<String>,
    pub notices: Vec<String>,
}

impl LoginUi for QuietUi {
    fn show_code(&mut self, prompt: &CodePrompt<'_>) {
        self.user_codes.push(prompt.user_code.to_owned());
    }
    fn show_authorize(&mut self, prompt: &AuthorizePrompt<'_>) {
        self.authorize_urls.push(prompt.url.to_owned());
    }
    fn waiting(&mut self) {}
    fn notice(&mut self, message: &str) {
        self.notices.push(message.to_owned());
    }
    fn done(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::can_open_browser;
    use std::ffi::OsString;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_spinner_names_what_is_waited_on() {
        use super::{AuthorizePrompt, CodePrompt, LoginUi, TerminalUi};
        use std::time::Duration;
        let mut ui = TerminalUi::new();
        ui.show_code(&CodePrompt {
            session: "corp",
            user_code: "ABCD-EFGH",
            verification_uri: "https://device.sso.us-east-1.amazonaws.com/",
            verification_uri_complete: None,
            expires_in: Duration::from_secs(600),
            open_browser: false,
        });
        assert!(ui.waiting_message().contains("code to be approved"));
        assert!(!ui.waiting_message().contains("browser"));
        ui.show_authorize(&AuthorizePrompt {
            session: "corp",
            url: "https://oidc.us-east-1.amazonaws.com/authorize?x",
            opened: false,
            timeout: Duration::from_secs(300),
            device_code_command: "credbroker login --sso-session corp --device-code",
        });
        assert!(ui.waiting_message().contains("in the browser"));
    }

    #[test]
    fn no_browser_over_ssh() {
        assert!(!can_open_browser(env(&[
            ("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22"),
            ("DISPLAY", ":0"),
        ])));
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    #[test]
    fn linux_needs_a_display() {
        assert!(!can_open_browser(env(&[])));
        assert!(!can_open_browser(env(&[("DISPLAY", "")])));
        assert!(can_open_browser(env(&[("DISPLAY", ":0")])));
        assert!(can_open_browser(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert!(can_open_browser(env(&[("BROWSER", "/usr/bin/w3m")])));
    }
}
