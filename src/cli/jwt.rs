//! `credbroker jwt inspect [TOKEN | -]`: what a token says, how long it has
//! left, which CI issued it (GitHub, GitLab, CircleCI, Buildkite,
//! Bitbucket, or another issuer) and who it says the job is, with `sub`
//! broken into that issuer's named parts.
//! With `--jwks FILE|URL` the RS256 signature is checked too.
//!
//! Reads the token from the argument, or from stdin for `-` or no argument
//! (safer: arguments show in the process list). Exit status: 0, 1 when a
//! signature was checked and failed, 2 on bad input.

use crate::policy::claims::provider_of_issuer;
use crate::policy::issuer::{IssuerKind, Parts};
use crate::policy::jwt::{Jwks, Jwt, Subject, SubjectContext};
use anyhow::Context as _;
use std::io::Read as _;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: JwtCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum JwtCommand {
    /// Decode a JWT: header, claims, time left, and `sub` in parts.
    Inspect(InspectArgs),
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The token, or `-` (or nothing) to read it from stdin.
    pub token: Option<String>,
    /// Verify the signature against this JWKS (a file, or an http(s) URL).
    #[arg(long, value_name = "FILE|URL")]
    pub jwks: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub async fn run(args: Args) -> anyhow::Result<i32> {
    let JwtCommand::Inspect(args) = args.command;
    let token = match read_token(args.token.as_deref()) {
        Ok(t) => t,
        Err(e) => return bad_input(e),
    };
    let jwt = match Jwt::decode(&token) {
        Ok(jwt) => jwt,
        Err(e) => return bad_input(e.into()),
    };
    let verified = match &args.jwks {
        None => None,
        Some(source) => match load_jwks(source).await {
            Ok(jwks) => Some(jwt.verify(&jwks).map_err(|e| e.to_string())),
            Err(e) => return bad_input(e),
        },
    };
    let now = crate::clock::system().now();
    let subject = jwt.claim_str("sub").and_then(Subject::parse);
    let kind = IssuerKind::recognise(
        provider_of_issuer(jwt.claim_str("iss").unwrap_or_default()),
        jwt.claim_str("sub"),
    );
    let parts = jwt.claim_str("sub").and_then(|s| kind.split(s));
    let seconds_left = jwt.time("exp").map(|exp| (exp - now).num_seconds());
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "header": jwt.header,
                "claims": jwt.claims,
                "seconds_left": seconds_left,
                "subject": subject,
                "issuer": {"id": kind.id, "name": kind.name},
                "subject_parts": parts.as_ref().map(|p| p
                    .iter()
                    .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
                    .collect::<Vec<_>>()),
                "signature": match &verified {
                    None => serde_json::json!({"checked": false}),
                    Some(Ok(kid)) => serde_json::json!({"checked": true, "valid": true, "kid": kid}),
                    Some(Err(e)) => serde_json::json!({"checked": true, "valid": false, "error": e}),
                },
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => print!(
            "{}",
            text(
                &jwt,
                (kind, parts.as_ref()),
                subject.as_ref(),
                seconds_left,
                &verified
            )
        ),
    }
    Ok(if matches!(verified, Some(Err(_))) {
        1
    } else {
        0
    })
}

fn bad_input(e: anyhow::Error) -> anyhow::Result<i32> {
    eprintln!("credbroker: {e:#}");
    Ok(2)
}

pub(super) fn read_token(arg: Option<&str>) -> anyhow::Result<String> {
    match arg {
        Some(t) if t != "-" => Ok(t.trim().to_string()),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the token from stdin")?;
            Ok(text.trim().to_string())
        }
    }
}

/// A JWKS from a file or an http(s) URL.
pub(crate) async fn load_jwks(source: &str) -> anyhow::Result<Jwks> {
    let text = if source.starts_with("https://") || source.starts_with("http://") {
        reqwest::get(source)
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("cannot fetch the JWKS from {source}"))?
            .text()
            .await?
    } else {
        std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?
    };
    Ok(Jwks::parse(&text)?)
}

fn duration(secs: i64) -> String {
    let s = secs.abs();
    let text = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    };
    if secs >= 0 {
        format!("{text} left")
    } else {
        format!("expired {text} ago")
    }
}

fn text(
    jwt: &Jwt,
    (kind, parts): (&IssuerKind, Option<&Parts>),
    subject: Option<&Subject>,
    seconds_left: Option<i64>,
    verified: &Option<Result<String, String>>,
) -> String {
    let mut out = String::new();
    let h = &jwt.header;
    out.push_str(&format!(
        "header:     alg={} kid={} typ={}\n",
        h.alg,
        h.kid.as_deref().unwrap_or("-"),
        h.typ.as_deref().unwrap_or("-")
    ));
    for name in ["iss", "aud", "sub"] {
        if let Some(v) = jwt.claims.get(name) {
            let shown = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            out.push_str(&format!("{:<11} {shown}\n", format!("{name}:")));
        }
    }
    out.push_str(&format!("issuer:     {}\n", kind.name));
    if let (false, Some(parts)) = (kind.id == "github", parts) {
        for (name, value) in parts {
            out.push_str(&format!("  {name}: {value}\n"));
        }
    }
    if let Some(s) = subject.filter(|_| kind.id == "github") {
        out.push_str(&format!(
            "  repository: {} (owner {}, name {})\n",
            s.repository, s.owner, s.name
        ));
        if s.immutable() {
            out.push_str(&format!(
                "  immutable ids: owner {}, repository {}\n",
                s.owner_id.as_deref().unwrap_or("-"),
                s.repo_id.as_deref().unwrap_or("-")
            ));
        }
        out.push_str(&match &s.context {
            SubjectContext::Environment(e) => format!("  environment: {e}\n"),
            SubjectContext::Ref(r) => format!("  ref: {r}\n"),
            SubjectContext::PullRequest => "  pull request\n".to_string(),
            SubjectContext::Other(o) => format!("  context: {o}\n"),
        });
    }
    for name in ["iat", "nbf", "exp"] {
        if let Some(t) = jwt.time(name) {
            out.push_str(&format!(
                "{:<11} {}\n",
                format!("{name}:"),
                crate::model::format_time(t)
            ));
        }
    }
    if let Some(secs) = seconds_left {
        out.push_str(&format!("time:       {}\n", duration(secs)));
    }
    out.push_str(&match verified {
        None => "signature:  not checked (give --jwks FILE|URL)\n".to_string(),
        Some(Ok(kid)) => format!("signature:  valid (key {kid})\n"),
        Some(Err(e)) => format!("signature:  INVALID: {e}\n"),
    });
    out.push_str("claims:\n");
    let pretty = serde_json::to_string_pretty(&jwt.claims).unwrap_or_default();
    for line in pretty.lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(42), "42s left");
        assert_eq!(duration(125), "2m 5s left");
        assert_eq!(duration(-7200), "expired 2h 0m ago");
    }
}
