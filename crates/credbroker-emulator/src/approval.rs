//! The pages a person sees: the device-code approval page that
//! `verificationUriComplete` points at, and the PKCE consent page behind
//! `GET /authorize`.
//!
//! Each page is plain HTML with one small style block and no script, so it
//! works in any browser and in `curl`. Buttons are forms that POST back
//! (`/device/approve`, `/device/deny`, `/authorize/approve`,
//! `/authorize/deny`), so approving never happens on a GET. Every value is
//! HTML-escaped. Pure string building; the server decides what to show.

use super::oidc::PendingApproval;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f4f5f7;\
margin:0;color:#16191f}main{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem 2.5rem;\
border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:1.3rem;margin-top:0}\
.code{font-family:ui-monospace,monospace;font-size:1.6rem;letter-spacing:.15em;text-align:center;\
padding:.5rem;background:#f4f5f7;border-radius:4px}.muted{color:#5f6b7a;font-size:.9rem}\
form{display:inline}button{font-size:1rem;padding:.55rem 1.4rem;border-radius:4px;border:1px solid #879596;\
background:#fff;cursor:pointer;margin-right:.5rem}button.primary{background:#ec7211;border-color:#ec7211;\
color:#fff}input[type=text]{font-size:1.2rem;padding:.4rem;width:12rem;text-transform:uppercase;\
font-family:ui-monospace,monospace}.error{color:#d13212}ul{padding-left:1.2rem}";

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} - credbroker emulator</title><style>{STYLE}</style></head>\n\
         <body><main>\n{body}\n<p class=\"muted\">credbroker emulator: a local stand-in for \
         IAM Identity Center. Nothing here reaches AWS.</p></main></body></html>\n",
        escape(title)
    )
}

fn scopes_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        return "<p class=\"muted\">No scopes requested.</p>".into();
    }
    let items: String = scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    format!("<p>It asks for:</p><ul>{items}</ul>")
}

/// `GET /device`: ask for the user code (with an error line after a miss).
pub fn device_entry_page(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Authorize request",
        &format!(
            "<h1>Authorize request</h1>\n{error}<p>Enter the code shown in your terminal.</p>\n\
             <form method=\"get\" action=\"/device\"><p><input type=\"text\" name=\"user_code\" \
             placeholder=\"XXXX-XXXX\" autofocus autocomplete=\"off\"></p>\
             <button class=\"primary\" type=\"submit\">Next</button></form>"
        ),
    )
}

/// `GET /device?user_code=..`: show the request and the two buttons.
pub fn device_confirm_page(approval: &PendingApproval, user: &str) -> String {
    let code = escape(&approval.user_code);
    let hidden = format!("<input type=\"hidden\" name=\"user_code\" value=\"{code}\">");
    page(
        "Allow access?",
        &format!(
            "<h1>Allow <q>{}</q> to access your data?</h1>\n\
             <p>Check that this code matches the one in your terminal:</p>\n\
             <p class=\"code\">{code}</p>\n<p>Signing in as <b>{}</b>.</p>\n{}\n\
             <p><form method=\"post\" action=\"/device/approve\">{hidden}\
             <button class=\"primary\" type=\"submit\">Allow access</button></form>\
             <form method=\"post\" action=\"/device/deny\">{hidden}\
             <button type=\"submit\">Deny</button></form></p>",
            escape(&approval.client_name),
            escape(user),
            scopes_list(&approval.scopes)
        ),
    )
}

/// `GET /authorize`: the PKCE consent page for one held request.
pub fn authorize_page(request_id: &str, approval: &PendingApproval, user: &str) -> String {
    let hidden = format!(
        "<input type=\"hidden\" name=\"request\" value=\"{}\">",
        escape(request_id)
    );
    page(
        "Allow access?",
        &format!(
            "<h1>Allow <q>{}</q> to access your data?</h1>\n<p>Signing in as <b>{}</b>.</p>\n{}\n\
             <p><form method=\"post\" action=\"/authorize/approve\">{hidden}\
             <button class=\"primary\" type=\"submit\">Allow access</button></form>\
             <form method=\"post\" action=\"/authorize/deny\">{hidden}\
             <button type=\"submit\">Deny</button></form></p>",
            escape(&approval.client_name),
            escape(user),
            scopes_list(&approval.scopes)
        ),
    )
}

/// The page after a decision, or after an error a person should read.
pub fn message_page(title: &str, message: &str) -> String {
    page(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message)),
    )
}

/// `GET /`: what this server is and how to point tools at it.
pub fn index_page(base_url: &str) -> String {
    let url = escape(base_url);
    page(
        "Emulator",
        &format!(
            "<h1>credbroker emulator</h1>\n<p>Serves sso-oidc, the SSO portal and STS on one port. \
             Point the AWS SDKs at it with:</p>\n<p class=\"code\" style=\"font-size:1rem\">\
             AWS_ENDPOINT_URL={url}</p>\n<ul><li><a href=\"/device\">Approve a sign-in</a></li>\
             <li><a href=\"/_emulator/stats\">Calls served</a></li></ul>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let approval = PendingApproval {
            user_code: "BCDF-GHJK".into(),
            client_name: "<script>x</script>".into(),
            scopes: vec!["sso:account:access".into()],
        };
        let html = device_confirm_page(&approval, "dev@example.com");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("value=\"BCDF-GHJK\""));
        assert!(html.contains("action=\"/device/approve\""));
        assert!(html.contains("action=\"/device/deny\""));
        assert!(device_entry_page(Some("No \"such\" code")).contains("No &quot;such&quot; code"));
    }
}
