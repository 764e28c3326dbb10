//! How a [`BrokerError`] and its chain of causes are shown, in one place:
//! one line per distinct cause ([`BrokerError::causes`]), one line for a
//! client that shows only one ([`BrokerError::summary`], the endpoint's
//! JSON `message`), the lines the CLI prints ([`cli_failure`]), and the
//! causes rebuilt from their texts on the client side of the socket
//! ([`BrokerError::with_cause_texts`]). Only `Display` texts are read: an
//! SDK error's `Debug` holds the raw response.

use super::BrokerError;

impl BrokerError {
    /// The same error with `causes` (texts, outermost first) as its chain
    /// of sources: the causes a daemon rendered, carried over the socket, so
    /// the rebuilt error shows as the daemon's did.
    pub fn with_cause_texts(self, causes: Vec<String>) -> Self {
        let chain = causes.into_iter().rev().fold(None, |next, text| {
            Some(CauseText {
                text,
                next: next.map(Box::new),
            })
        });
        match chain {
            Some(chain) => self.with_source(chain),
            None => self,
        }
    }

    /// Every cause under this error, outermost first, each on one line.
    fn cause_texts(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::successors(std::error::Error::source(self), |e| e.source())
            .map(|e| one_line(&e.to_string()))
    }

    /// The causes as shown, outermost first: one line each, and a cause
    /// whose text a line above (the message included) already holds left
    /// out. Only `Display` texts: an SDK error's `Debug`, which
    /// holds the raw response, is never used.
    pub fn causes(&self) -> Vec<String> {
        distinct(&self.message, self.cause_texts())
    }

    /// The error on one line, for a client that shows only one (the
    /// endpoint's JSON `message`, which is all an SDK prints): the message,
    /// its first cause, then the hint.
    pub fn summary(&self) -> String {
        let mut line = self.message.clone();
        if let Some(first) = self.causes().into_iter().next() {
            line.push_str(": ");
            line.push_str(&first);
        }
        if let Some(hint) = &self.hint {
            line.push_str(&format!("; run `{hint}`"));
        }
        line
    }
}

/// What the CLI prints for a failed command, and its exit code.
///
/// The first line is the chain down to the first [`BrokerError`] (the
/// contexts the command added, then the error's message), joined by ": ";
/// then one `caused by:` line per distinct cause under it
/// ([`BrokerError::causes`]; a cause whose text a line above holds is left
/// out); then the hint. An error with no [`BrokerError`] in it is shown
/// on one line, its chain joined by ": " as anyhow's `{:#}` does.
pub fn cli_failure(error: &anyhow::Error) -> (String, i32) {
    let mut head = String::new();
    for link in error.chain() {
        if !head.is_empty() {
            head.push_str(": ");
        }
        if let Some(broker) = link.downcast_ref::<BrokerError>() {
            head.push_str(broker.message());
            return (
                render(&head, broker.cause_texts(), broker.hint()),
                broker.kind.exit_code(),
            );
        }
        head.push_str(&link.to_string());
    }
    (head, 1)
}

/// `head`, a `caused by:` line per distinct cause, then the hint: the
/// lines [`cli_failure`] prints.
fn render(head: &str, causes: impl Iterator<Item = String>, hint: Option<&str>) -> String {
    let mut shown = head.to_string();
    for cause in distinct(head, causes) {
        shown.push_str("\n  caused by: ");
        shown.push_str(&cause);
    }
    if let Some(hint) = hint {
        shown.push_str(&format!("\n  hint: run `{hint}`"));
    }
    shown
}

/// The texts of `causes` that say something new: an empty one, or one whose
/// text a line above (`first`, or a cause kept before it) already holds, is
/// left out. Errors often repeat their source's text (an SDK's wrapper
/// around the service's message, `tcp connect error: Connection refused`
/// above `Connection refused`); each text is shown once.
fn distinct(first: &str, causes: impl Iterator<Item = String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for cause in causes {
        let said = std::iter::once(first)
            .chain(kept.iter().map(String::as_str))
            .any(|line| line.contains(&cause));
        if !cause.is_empty() && !said {
            kept.push(cause);
        }
    }
    kept
}

/// `text` on one line: control characters (a newline in a server's message
/// included) escaped, so no cause can forge a line of output or drive the
/// terminal.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A cause known by its text only: what a daemon rendered of its error's
/// chain, rebuilt on the client side of the socket.
#[derive(Debug)]
struct CauseText {
    text: String,
    next: Option<Box<CauseText>>,
}

impl std::fmt::Display for CauseText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for CauseText {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.next
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    type StsError = aws_sdk_sts::error::SdkError<
        aws_sdk_sts::operation::assume_role::AssumeRoleError,
        aws_sdk_sts::config::http::HttpResponse,
    >;

    /// A service error's raw response (headers, body) is in its `Debug`
    /// only: neither the error's `Debug`, its causes nor what the CLI and
    /// the endpoint show may hold it.
    #[test]
    fn a_service_errors_raw_response_is_never_shown() {
        use aws_sdk_sts::config::http::HttpResponse;
        use aws_smithy_types::body::SdkBody;
        let mut raw = HttpResponse::new(
            400.try_into().unwrap(),
            SdkBody::from(r#"{"secret":"raw-body-s3cr3t"}"#),
        );
        raw.headers_mut().insert("x-echo", "raw-header-s3cr3t");
        let modelled = aws_sdk_sts::operation::assume_role::AssumeRoleError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized to perform sts:AssumeRole")
                .build(),
        );
        let sdk = StsError::service_error(modelled, raw);
        assert!(
            format!("{sdk:?}").contains("raw-body-s3cr3t"),
            "the test's premise"
        );
        let err = BrokerError::upstream("cannot assume role Deploy").with_source(sdk);
        let (shown, _) = cli_failure(&anyhow::Error::new(err.clone()));
        for text in [
            format!("{err:?}"),
            err.summary(),
            shown,
            format!("{:#}", anyhow::Error::new(err.clone())),
        ] {
            assert!(!text.contains("s3cr3t"), "{text}");
        }
        assert!(err.summary().contains("service error"), "{}", err.summary());
    }

    #[test]
    fn the_cli_shows_the_message_then_each_distinct_cause_then_the_hint() {
        #[derive(Debug, thiserror::Error)]
        #[error("tcp connect error: Connection refused (os error 111)")]
        struct Connect(#[source] std::io::Error);
        let io = std::io::Error::from_raw_os_error(111);
        // Its inner error's text is in it: left out.
        let connect = Connect(io);
        let err =
            BrokerError::login_required("the sign-in could not be renewed", "credbroker login")
                .with_source(connect);
        let wrapped = anyhow::Error::new(err).context("cannot serve profile 'dev'");
        let (shown, code) = cli_failure(&wrapped);
        assert_eq!(
            shown,
            "cannot serve profile 'dev': the sign-in could not be renewed\n  \
             caused by: tcp connect error: Connection refused (os error 111)\n  \
             hint: run `credbroker login`"
        );
        assert_eq!(code, 3);
        let other = anyhow::anyhow!("plain").context("above");
        assert_eq!(cli_failure(&other), ("above: plain".to_string(), 1));
    }

    #[test]
    fn a_cause_a_line_above_holds_is_left_out_and_others_kept() {
        let causes =
            |texts: &[&str]| distinct("keychain: locked", texts.iter().map(|t| t.to_string()));
        // The message holds it, an empty one says nothing, a repeat is left out.
        assert_eq!(
            causes(&["locked", "", "io: refused", "refused", "tls"]),
            ["io: refused", "tls"]
        );
        // Nor is one a line further up holds (an SDK's wrapper between a
        // service's message and the same message).
        assert_eq!(
            causes(&["Denied: no", "no", "service error", "Denied: no", "dns"]),
            ["Denied: no", "service error", "dns"]
        );
        let err = BrokerError::keychain("cannot read the sign-in")
            .with_source(std::io::Error::other("the keychain is locked"));
        assert_eq!(err.causes(), ["the keychain is locked"]);
        assert_eq!(
            err.summary(),
            "cannot read the sign-in: the keychain is locked"
        );
        let login = BrokerError::login_required("expired", "credbroker login");
        assert_eq!(login.summary(), "expired; run `credbroker login`");
        assert_eq!(
            cli_failure(&anyhow::Error::new(login)).0,
            "expired\n  hint: run `credbroker login`"
        );
    }

    #[test]
    fn a_cause_cannot_forge_a_line_of_output() {
        let err = BrokerError::upstream("cannot get credentials")
            .with_source(std::io::Error::other("bad\n  hint: run `evil`\u{1b}[2J"));
        let (shown, _) = cli_failure(&anyhow::Error::new(err.clone()));
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert_eq!(err.causes(), ["bad\\n  hint: run `evil`\\u{1b}[2J"]);
    }

    #[test]
    fn causes_carried_as_text_show_as_the_original_did() {
        let original = BrokerError::upstream("cannot get credentials for profile 'dev'")
            .with_source(std::io::Error::other("connection refused"));
        let rebuilt = BrokerError::upstream(original.message()).with_cause_texts(original.causes());
        assert_eq!(rebuilt.causes(), original.causes());
        assert_eq!(rebuilt.summary(), original.summary());
        let (a, b) = (
            cli_failure(&anyhow::Error::new(original)),
            cli_failure(&anyhow::Error::new(rebuilt.clone())),
        );
        assert_eq!(a, b);
        assert!(BrokerError::upstream("x")
            .with_cause_texts(vec![])
            .source()
            .is_none());
    }
}
