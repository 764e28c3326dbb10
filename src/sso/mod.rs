//! SKELETON (to be completed): IAM Identity Center sign-in and the portal.
//!
//! `device.rs` is the device-code flow as a pure state machine; `oidc.rs`
//! makes the `aws-sdk-ssooidc` calls; `portal.rs` makes the `aws-sdk-sso`
//! calls. Clients are built from `aws-config` with the session's region and
//! no credentials, so the standard `AWS_ENDPOINT_URL*` variables apply.

pub mod portal;
