//! The `credbroker` binary: parse arguments, set up logging, run the
//! command, and turn its outcome into an exit code. Everything else lives
//! in the library.

use clap::Parser;
use credbroker::cli::{self, Cli};
use credbroker::source::cli_failure;

fn main() {
    // A shell asking for completions (CREDBROKER_COMPLETE set) is answered here.
    cli::completions::complete_from_env();
    let cli = Cli::parse();
    // The process's environment, taken once: logging and the command's
    // context both read this copy.
    let env = credbroker::env::Env::process();
    // RUST_LOG, with the SDK targets that would log secrets capped.
    credbroker::log_filter::init(cli.default_log_level(), &env);

    // credential-process runs once per AWS call: a single-threaded runtime
    // starts faster, and its one request needs no parallelism.
    let runtime = if matches!(cli.command, cli::Command::CredentialProcess(_)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("credbroker: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(cli::run(cli, env)) {
        Ok(code) => code,
        Err(error) => {
            // The message, a `caused by:` line per cause, then the hint.
            let (shown, code) = cli_failure(&error);
            eprintln!("credbroker: {shown}");
            code
        }
    };
    // Leave the runtime without waiting on blocking keychain calls.
    runtime.shutdown_background();
    std::process::exit(code);
}
