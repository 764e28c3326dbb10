//! `credbroker audit [--since 1h] [--json]`: who was handed which role's
//! credentials, read back from the audit log ([`crate::audit`]).
//!
//! The default is a table for people; `--json` prints the records as they
//! are stored (one JSON object per line), for `jq` and log shippers.

use crate::audit::{self, VendRecord};

#[derive(clap::Args, Debug)]
#[command(
    about = "Show who was handed which role's credentials (the audit log)",
    long_about = "Show who was handed which role's credentials.\n\n\
        The daemon records every credentials request, refused ones too, in \
        ~/.local/state/credbroker/audit.log. Each line shows when, the profile and the \
        account and role it stands for, the RESULT (ok, or the error code the client got), \
        VIA (endpoint: the HTTP endpoint; socket: credential_process), the SCOPE of the \
        token presented (all or profile), and the process that asked: its pid and \
        executable (for a socket request, the tool that ran credential_process). Nothing \
        in the log is a secret.",
    after_help = "Examples:\n  \
        credbroker audit --since 1h\n  \
        credbroker audit --json | jq -c 'select(.result != \"ok\")'"
)]
pub struct Args {
    /// Only records from this long ago until now: 90s, 30m, 1h, 7d.
    #[arg(long, value_name = "DURATION", value_parser = audit::parse_since)]
    pub since: Option<chrono::Duration>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: Args, ctx: &crate::context::Context) -> anyhow::Result<()> {
    let path = audit::audit_file(&ctx.paths);
    let records = audit::log::read_all(&path)
        .map_err(|e| anyhow::anyhow!("cannot read the audit log {}: {e}", path.display()))?;
    let records = since(records, args.since, ctx.clock.now());
    if args.json {
        for record in &records {
            println!("{}", serde_json::to_string(record)?);
        }
    } else if records.is_empty() {
        eprintln!(
            "credbroker: no credentials requests recorded in {}",
            path.display()
        );
    } else {
        print!("{}", audit::render_table(&records));
    }
    Ok(())
}

/// The records at or after `now - window` (all of them without a window).
fn since(
    records: Vec<VendRecord>,
    window: Option<chrono::Duration>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<VendRecord> {
    match window {
        Some(window) => records
            .into_iter()
            .filter(|r| r.time >= now - window)
            .collect(),
        None => records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_keeps_the_recent_records() {
        let at = |s: i64| VendRecord {
            time: chrono::DateTime::from_timestamp(s, 0).unwrap(),
            profile: format!("p{s}"),
            account: None,
            role: None,
            chain: None,
            result: "ok".into(),
            status: 200,
            via: Default::default(),
            scope: None,
            caller: Default::default(),
        };
        let now = chrono::DateTime::from_timestamp(10_000, 0).unwrap();
        let records = vec![at(1_000), at(9_000), at(9_999)];
        let kept = since(records.clone(), Some(chrono::Duration::seconds(1_000)), now);
        assert_eq!(kept, [at(9_000), at(9_999)]);
        assert_eq!(since(records.clone(), None, now), records);
    }
}
