//! credbroker: one AWS IAM Identity Center sign-in turned into short-lived
//! role credentials for every tool on the machine.
//!
//! The parts, from the person inward:
//! - [`cli`]: one module per subcommand; the binary only parses and dispatches.
//! - [`sso`]: the device-code sign-in and the portal calls (official SDK clients).
//! - [`store`]: the OS keychain (and an in-memory store for tests and the demo).
//! - [`broker`]: profile -> cached or fresh role credentials, for every kind
//!   of source (SSO role, web identity, roles assumed on those).
//! - [`source`]: what every source shares: its error, interface and served value.
//! - [`server`] and [`daemon`]: the loopback container-credentials endpoint.
//! - [`config`]: the `~/.aws/config` parser (pure).
//! - [`console`]: the AWS web console sign-in URL for a profile (pure).
//! - [`doctor`]: what stands between credbroker and a tool, with the fix (pure).
//! - [`web_identity`]: CI credentials: a GitHub Actions (or file) token traded
//!   with STS AssumeRoleWithWebIdentity, served like SSO credentials.
//! - [`policy`]: IAM trust-policy evaluation, JWTs, and the trust and workflow
//!   linters (pure); the `credbroker-policy` crate.
//! - [`emulator`]: a local IAM Identity Center + STS speaking the AWS wire
//!   formats; the `credbroker-emulator` crate, behind the `emulator` feature.
//! - [`context`]: the one explicit context the CLI builds once: [`paths`],
//!   the [`env`] lookup, the [`clock`], notifications and the [`sdk`] clients.
//! - [`model`], [`clock`], [`paths`]: shared values, time (the
//!   `credbroker-clock` crate, which the emulator shares), and files.
//! - [`onboard`]: a team file turned into profiles in `~/.aws/config`.
//! - [`service`]: the daemon as a systemd user unit or a LaunchAgent.
//! - [`aws_cli_cache`]: the optional export of a token to the AWS CLI cache.
//! - [`binary_path`]: the path of this binary that survives a package upgrade.
//! - [`audit`]: the record of every credentials request and who made it.
//! - [`log_filter`]: the log levels that never print a secret, whatever `RUST_LOG` says.

pub mod audit;
pub mod aws_cli_cache;
pub mod binary_path;
pub mod broker;
pub mod ci_token;
pub mod cli;
pub use credbroker_clock as clock;
pub mod config;
pub mod console;
pub mod context;
pub mod control;
pub mod daemon;
pub mod desktop;
pub mod doctor;
#[cfg(feature = "emulator")]
pub use credbroker_emulator as emulator;
pub mod env;
pub mod lifecycle;
pub mod log_filter;
pub mod model;
pub mod onboard;
pub mod paths;
pub use credbroker_policy as policy;
pub mod sdk;
pub mod server;
pub mod service;
pub mod session;
pub mod source;
pub mod sso;
pub mod status;
pub mod store;
pub mod web_identity;
