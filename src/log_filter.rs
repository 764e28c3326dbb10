//! Which log lines may be written at all, whatever `RUST_LOG` asks for.
//!
//! The AWS SDK's runtime logs whole HTTP bodies at trace level (device
//! codes, access and refresh tokens, role credentials) and SigV4 logs the
//! canonical request, session token included, at debug. So `RUST_LOG=trace`
//! would print secrets. [`from_env`] reads `RUST_LOG` (or the command's
//! default level) and then caps those targets below the levels where they
//! carry secrets; the caps are added last, so they win over a `RUST_LOG`
//! that names the same targets.

use tracing_subscriber::EnvFilter;

/// Targets whose verbose levels carry secrets, and the most they may log.
pub const SECRET_BEARING: &[&str] = &[
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http=debug",
    "aws_smithy_http_client=debug",
    "aws_smithy_json=info",
    "aws_sigv4=info",
    "aws_config=debug",
    "hyper=debug",
    "hyper_util=debug",
    "reqwest=debug",
    "h2=info",
    "rustls=info",
    "zbus=info",
];

/// `RUST_LOG` (else `default_level`), with [`SECRET_BEARING`] capped.
pub fn from_env(default_level: &str) -> EnvFilter {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    cap(filter)
}

fn cap(mut filter: EnvFilter) -> EnvFilter {
    for directive in SECRET_BEARING {
        filter = filter.add_directive(directive.parse().expect("static directive parses"));
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_win_over_a_trace_everything_filter() {
        let filter = cap(EnvFilter::new("trace,aws_smithy_runtime=trace"));
        let text = filter.to_string();
        assert!(text.contains("aws_smithy_runtime=debug"), "{text}");
        assert!(!text.contains("aws_smithy_runtime=trace"), "{text}");
        assert!(text.contains("aws_sigv4=info"), "{text}");
    }
}
