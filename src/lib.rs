//! credbroker: one AWS IAM Identity Center sign-in turned into short-lived
//! role credentials for every tool on the machine.
//!
//! The parts, from the person inward:
//! - [`cli`]: one module per subcommand; the binary only parses and dispatches.
//! - [`sso`]: the device-code sign-in and the portal calls (official SDK clients).
//! - [`store`]: the OS keychain (and an in-memory store for tests and the demo).
//! - [`broker`]: profile -> cached or fresh role credentials.
//! - [`server`] and [`daemon`]: the loopback container-credentials endpoint.
//! - [`config`]: the `~/.aws/config` parser (pure).
//! - [`emulator`]: a local IAM Identity Center + STS speaking the AWS wire formats.
//! - [`model`], [`clock`], [`paths`]: shared values, time, and files.
//! - [`onboard`]: a team file turned into profiles in `~/.aws/config`.
//! - [`service`]: the daemon as a systemd user unit or a LaunchAgent.
//! - [`aws_cli_cache`]: the optional export of a token to the AWS CLI cache.

pub mod aws_cli_cache;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
pub mod desktop;
pub mod emulator;
pub mod lifecycle;
pub mod model;
pub mod onboard;
pub mod paths;
pub mod policy;
pub mod server;
pub mod service;
pub mod session;
pub mod sso;
pub mod status;
pub mod store;
pub mod web_identity;
