//! The authorization-code sign-in with PKCE, as the AWS CLI runs it for
//! sso-session profiles since 2.22: first register (or reuse) a client for
//! the `authorization_code` and `refresh_token` grants, then bind the
//! loopback listener, open the authorize page in a browser (and print it),
//! wait for the browser to come back with a code, and finally exchange the
//! code and the verifier with CreateToken and save the token in the vault.
//!
//! Compared with the device code, the person has no code to compare: the
//! browser on this machine carries the answer back. That is also why it
//! needs a browser here; over SSH the device code is used instead (the
//! choice is the caller's: see `credbroker login`).
//!
//! The registration is cached apart from the device-code one (the key names
//! the grant types), because each registration only serves the grants it
//! asked for. The saved token names its registration (`registration_key`),
//! so renewal uses the client the refresh token was issued to.

use super::callback::{CallbackError, CallbackListener};
use super::classify;
use super::login::{
    save_grant, unless_cancelled, AuthorizePrompt, LoginOptions, LoginUi, TerminalUi,
};
use super::oidc::{self, grant_from, login_error, LoginError, TokenGrant, REFRESH_TOKEN_GRANT};
use super::pkce::{authorize_url, PkceSecrets, AUTHORIZATION_CODE_GRANT, REGISTERED_REDIRECT_URI};
use crate::config::SessionInfo;
use crate::model::{ClientRegistration, Secret, SsoToken};
use crate::sdk::OidcClient as Client;
use crate::store::Vault;
use chrono::{DateTime, Utc};

/// The grant types of a PKCE registration.
pub const PKCE_GRANT_TYPES: [&str; 2] = [AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT];

/// The vault key of the session's PKCE registration: the device-code key
/// plus the grant types.
pub fn pkce_registration_key(session: &SessionInfo) -> String {
    format!(
        "{} grants={}",
        oidc::registration_key(session),
        PKCE_GRANT_TYPES.join(",")
    )
}

/// RegisterClient for the PKCE flow: the loopback redirect URI without a
/// port, and the start URL as issuer (as the AWS CLI registers).
pub async fn register_for_pkce(
    client: &Client,
    session: &SessionInfo,
    now: DateTime<Utc>,
) -> Result<ClientRegistration, LoginError> {
    let mut request = client
        .register_client()
        .client_name(oidc::CLIENT_NAME)
        .client_type("public")
        .redirect_uris(REGISTERED_REDIRECT_URI)
        .issuer_url(&session.start_url);
    for grant in PKCE_GRANT_TYPES {
        request = request.grant_types(grant);
    }
    for scope in &session.registration_scopes {
        request = request.scopes(scope);
    }
    let out = request
        .send()
        .await
        .map_err(|e| login_error(classify(&e).at(client.url())))?;
    let grant_types = PKCE_GRANT_TYPES.iter().map(|g| g.to_string()).collect();
    oidc::registration_from(&out, session, grant_types, now)
}

/// The cached PKCE registration, or a new one (saved) when there is none or
/// it expires within [`oidc::registration_margin`].
async fn registration(
    client: &Client,
    session: &SessionInfo,
    vault: &Vault,
    now: DateTime<Utc>,
) -> Result<ClientRegistration, LoginError> {
    let key = pkce_registration_key(session);
    if let Some(reg) = vault.registration(&key).await? {
        if reg.expires_at > now + oidc::registration_margin() {
            return Ok(reg);
        }
    }
    let reg = register_for_pkce(client, session, now).await?;
    vault.put_registration(&key, &reg).await?;
    Ok(reg)
}

/// CreateToken with the `authorization_code` grant: the code, the redirect
/// URI it was sent to, and the verifier behind its challenge.
pub async fn exchange_code(
    client: &Client,
    reg: &ClientRegistration,
    code: &Secret,
    redirect_uri: &str,
    verifier: &Secret,
) -> Result<TokenGrant, LoginError> {
    let out = client
        .create_token()
        .client_id(&reg.client_id)
        .client_secret(reg.client_secret.expose())
        .grant_type(AUTHORIZATION_CODE_GRANT)
        .code(code.expose())
        .redirect_uri(redirect_uri)
        .code_verifier(verifier.expose())
        .send()
        .await
        .map_err(|e| login_error(classify(&e).at(client.url())))?;
    grant_from(out.access_token(), out.expires_in(), out.refresh_token())
        .ok_or_else(|| LoginError::Unexpected("CreateToken returned no access token".into()))
}

/// Sign `session` in with PKCE, showing the page on the terminal.
pub async fn pkce_login(
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
) -> Result<SsoToken, LoginError> {
    pkce_login_with(session, vault, options, &mut TerminalUi::new()).await
}

/// Sign `session` in with PKCE and save the token under `session.key`. The
/// browser is opened with `options.browser` when `options.open_browser`
/// (whether a browser makes sense here is the caller's decision); the page
/// is shown through `ui` either way.
pub async fn pkce_login_with(
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
    ui: &mut dyn LoginUi,
) -> Result<SsoToken, LoginError> {
    let client = oidc::client(&options.ctx.clients, &session.region);
    let approval = approve(&client, session, vault, options, &mut *ui);
    let Some(result) = unless_cancelled(approval, options.cancel_on_ctrl_c).await else {
        ui.done();
        return Err(LoginError::Cancelled);
    };
    save_grant(
        result?,
        session,
        vault,
        options,
        pkce_registration_key(session),
    )
    .await
}

/// Everything up to a token; registers again once if the cached
/// registration turns out to be dead.
async fn approve(
    client: &Client,
    session: &SessionInfo,
    vault: &Vault,
    options: &LoginOptions,
    ui: &mut dyn LoginUi,
) -> Result<TokenGrant, LoginError> {
    let mut registered_again = false;
    loop {
        let reg = registration(client, session, vault, options.ctx.clock.now()).await?;
        match authorize_once(client, session, &reg, options, ui).await {
            Err(LoginError::InvalidClient(_)) if !registered_again => {
                registered_again = true;
                vault
                    .delete_registration(&pkce_registration_key(session))
                    .await?;
                ui.notice("IAM Identity Center no longer knows credbroker's registration; registering again.");
            }
            other => return other,
        }
    }
}

/// One trip through the browser: listener, page, callback, CreateToken.
async fn authorize_once(
    client: &Client,
    session: &SessionInfo,
    reg: &ClientRegistration,
    options: &LoginOptions,
    ui: &mut dyn LoginUi,
) -> Result<TokenGrant, LoginError> {
    let listener = CallbackListener::bind()
        .await
        .map_err(|e| LoginError::Callback(e.to_string()))?;
    let redirect_uri = listener.redirect_uri();
    let secrets = PkceSecrets::generate();
    let url = authorize_url(
        client.url(),
        &reg.client_id,
        &redirect_uri,
        secrets.state.expose(),
        &secrets.challenge(),
        &session.registration_scopes,
    );
    let opened = options.open_browser && options.browser.open(&url).is_ok();
    ui.show_authorize(&AuthorizePrompt {
        session: &session.key,
        url: &url,
        opened,
        timeout: options.authorize_timeout,
        device_code_command: &format!("{} --device-code", session.login_command),
    });
    ui.waiting();
    let code = listener
        .wait(&secrets.state, options.authorize_timeout)
        .await;
    ui.done();
    let code = code.map_err(|e| match e {
        CallbackError::TimedOut(d) => LoginError::BrowserTimeout(d),
        CallbackError::Refused { error, .. } if error == "access_denied" => LoginError::Denied,
        CallbackError::Refused { error, description } => {
            let detail = match description {
                Some(d) => format!("{error}: {d}"),
                None => error,
            };
            match error_code(&detail) {
                "invalid_client" | "unauthorized_client" => LoginError::InvalidClient(detail),
                _ => LoginError::InvalidRequest(detail),
            }
        }
        CallbackError::Io(e) => LoginError::Callback(e.to_string()),
    })?;
    exchange_code(client, reg, &code, &redirect_uri, &secrets.verifier).await
}

/// The OAuth error code at the start of `error: description`.
fn error_code(detail: &str) -> &str {
    detail.split(':').next().unwrap_or(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionInfo {
        SessionInfo {
            key: "work".into(),
            start_url: "https://example.awsapps.com/start".into(),
            region: "eu-west-1".into(),
            registration_scopes: vec!["sso:account:access".into()],
            legacy: false,
            login_command: "credbroker login --sso-session work".into(),
        }
    }

    #[test]
    fn pkce_registration_is_cached_apart_from_the_device_code_one() {
        let s = session();
        let key = pkce_registration_key(&s);
        assert_ne!(key, oidc::registration_key(&s));
        assert!(key.contains("authorization_code") && key.contains("refresh_token"));
    }
}
