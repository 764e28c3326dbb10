//! One module per subcommand. Each has an `Args` (clap) and a `run`.

pub mod credential_process;
pub mod daemon;
pub mod demo;
pub mod emulator;
pub mod env;
pub mod exec;
pub mod login;
pub mod logout;

mod app;
pub use app::{run, Cli, Command};
