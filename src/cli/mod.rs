//! One module per subcommand. Each has an `Args` (clap) and a `run`.

pub mod audit;
pub mod ci;
pub mod completions;
pub mod console;
pub mod credential_process;
pub mod daemon;
#[cfg(feature = "emulator")]
pub mod demo;
pub mod doctor;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod env;
pub mod exec;
pub mod jwt;
mod lint_run;
pub mod login;
pub mod logout;
pub mod man;
pub mod onboard;
pub mod pick;
pub mod service;
pub mod status;
pub mod trust;
pub mod workflow;

mod app;
pub use app::{run, Cli, Command};
