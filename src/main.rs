//! The `credbroker` binary: parse arguments, set up logging, run the
//! command, and turn its outcome into an exit code. Everything else lives
//! in the library.

use clap::Parser;
use credbroker::broker::BrokerError;
use credbroker::cli::{self, Cli};

/// Exit status when the person must sign in first.
const EXIT_LOGIN_REQUIRED: i32 = 3;

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cli.default_log_level()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credbroker: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("credbroker: {error:#}");
            match error.downcast_ref::<BrokerError>() {
                Some(BrokerError::LoginRequired { .. }) => EXIT_LOGIN_REQUIRED,
                _ => 1,
            }
        }
    };
    // Leave the runtime without waiting on blocking keychain calls.
    runtime.shutdown_background();
    std::process::exit(code);
}
