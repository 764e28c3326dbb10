//! Which log lines may be written at all, whatever `RUST_LOG` asks for.
//!
//! The AWS SDK's runtime logs whole HTTP bodies at trace level (device
//! codes, access and refresh tokens, role credentials) and SigV4 logs the
//! canonical request, session token included, at debug. So `RUST_LOG=trace`
//! would print secrets. [`from_env`] reads `RUST_LOG` (or the command's
//! default level) from the environment the CLI took at start (the same
//! [`Env`] its context is built from, so logging reads no variable behind
//! it), and [`caps`] keeps those targets below the levels where
//! they carry secrets. A line is written only when both agree, so a cap
//! only ever lowers what is logged: it wins over a `RUST_LOG` that names
//! the same target, and never turns a quiet target on.

use crate::env::Env;
use std::io::IsTerminal;
use tracing::Level;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Targets whose verbose levels carry secrets, and the most they may log.
pub const SECRET_BEARING: &[(&str, Level)] = &[
    ("aws_smithy_runtime", Level::DEBUG),
    ("aws_smithy_runtime_api", Level::DEBUG),
    ("aws_smithy_http", Level::DEBUG),
    ("aws_smithy_http_client", Level::DEBUG),
    ("aws_smithy_json", Level::INFO),
    ("aws_sigv4", Level::INFO),
    ("aws_config", Level::DEBUG),
    ("hyper", Level::DEBUG),
    ("hyper_util", Level::DEBUG),
    ("reqwest", Level::DEBUG),
    ("h2", Level::INFO),
    ("rustls", Level::INFO),
    ("zbus", Level::INFO),
];

/// Targets whose warnings are about what credbroker itself reads and reports
/// in its own words: the SDK's notes on the shared config files (such as
/// `AWS_CONFIG_FILE` naming a file that onboarding is about to create).
/// Heard at the debug level (`-vv`) and above, or when `RUST_LOG` asks.
pub const QUIET_BY_DEFAULT: &[&str] = &["aws_runtime::env_config"];

/// `RUST_LOG` of `env` (when set, UTF-8 and valid), else `default_level`
/// for everything (with the [`QUIET_BY_DEFAULT`] targets at error unless
/// that level is debug or trace).
pub fn from_env(default_level: &str, env: &Env) -> EnvFilter {
    env.var("RUST_LOG")
        .and_then(|directives| EnvFilter::builder().parse(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(default_directives(default_level)))
}

/// The filter directives used when `RUST_LOG` is unset.
pub fn default_directives(default_level: &str) -> String {
    if matches!(default_level, "debug" | "trace") {
        return default_level.to_owned();
    }
    QUIET_BY_DEFAULT
        .iter()
        .fold(default_level.to_owned(), |d, target| {
            format!("{d},{target}=error")
        })
}

/// The caps: everything passes except the [`SECRET_BEARING`] targets above
/// their level. Combined with [`from_env`] by AND, so a cap only ever
/// lowers what is logged and never turns a quiet target on.
pub fn caps() -> Targets {
    SECRET_BEARING.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, (target, level)| t.with_target(*target, *level),
    )
}

/// Colour only for a person at a terminal: never into a pipe or a file
/// (where escape codes are noise in every log line), nor when `NO_COLOR`
/// is set to anything (<https://no-color.org>).
pub fn colour(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Log to stderr at `default_level` (or `RUST_LOG`), with the caps applied;
/// `RUST_LOG` and `NO_COLOR` come from `env`.
pub fn init(default_level: &str, env: &Env) {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour(
                    std::io::stderr().is_terminal(),
                    env.var_os("NO_COLOR"),
                ))
                .with_filter(from_env(default_level, env).and(caps())),
        )
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_lower_secret_bearing_targets_only() {
        let caps = caps();
        assert!(caps.would_enable("aws_smithy_runtime::client", &Level::DEBUG));
        assert!(!caps.would_enable("aws_smithy_runtime::client", &Level::TRACE));
        assert!(!caps.would_enable("aws_sigv4::http_request", &Level::DEBUG));
        assert!(caps.would_enable("credbroker::broker", &Level::TRACE));
    }

    #[test]
    fn the_sdks_config_file_notes_wait_for_debug() {
        assert_eq!(
            default_directives("warn"),
            "warn,aws_runtime::env_config=error"
        );
        assert_eq!(
            default_directives("info"),
            "info,aws_runtime::env_config=error"
        );
        assert_eq!(default_directives("debug"), "debug");
        assert_eq!(default_directives("trace"), "trace");
    }

    #[test]
    fn rust_log_comes_from_the_env_given() {
        let quiet = from_env("warn", &Env::from_pairs([("RUST_LOG", "credbroker=trace")]));
        assert_eq!(quiet.to_string(), "credbroker=trace");
        let unset = from_env("warn", &Env::empty());
        assert_eq!(
            unset.to_string(),
            EnvFilter::new(default_directives("warn")).to_string()
        );
        let invalid = from_env("info", &Env::from_pairs([("RUST_LOG", "credbroker=loud")]));
        assert_eq!(
            invalid.to_string(),
            EnvFilter::new(default_directives("info")).to_string()
        );
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
