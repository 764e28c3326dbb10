//! Desktop notifications, for the one moment the person must act: a
//! session that can no longer be renewed. Best effort: `notify-send` on
//! Linux, `osascript` on macOS; where neither exists nothing happens, and
//! the endpoint's 4xx and `credbroker status` still say it.

use std::process::{Command, Stdio};

/// Show a notification if a notification service exists; never blocks.
pub fn notify(summary: &str, body: &str) {
    let mut command = if cfg!(target_os = "macos") {
        let script = format!(
            "display notification {} with title {}",
            applescript_string(body),
            applescript_string(summary)
        );
        let mut c = Command::new("osascript");
        c.arg("-e").arg(script);
        c
    } else {
        let mut c = Command::new("notify-send");
        c.args(["--app-name=credbroker", summary, body]);
        c
    };
    let spawned = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // Reap it in the background so no zombie is left.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => tracing::debug!(error = %e, "no desktop notification service"),
    }
}

fn applescript_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn applescript_strings_are_escaped() {
        assert_eq!(super::applescript_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
