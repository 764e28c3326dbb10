//! The profile when none is named: on a terminal, a fuzzy picker of the AWS
//! config's profiles, most recently used first; with no terminal, a clear
//! error that says to pass `--profile`.
//!
//! The recently used list is `recent-profiles` in the state directory, one
//! name a line, newest first. It holds profile names only, which are not
//! secret, and is rewritten whole (through a temp file) on each use.

use crate::config::AwsConfig;
use std::io::IsTerminal as _;

/// How many names the recently used list keeps.
const RECENT_KEPT: usize = 50;
const RECENT_FILE: &str = "recent-profiles";

/// `given`, or the profile picked on the terminal for `command`. Either
/// way it is recorded as the most recently used.
pub fn profile_or_pick(
    given: Option<String>,
    command: &str,
    paths: &crate::paths::Paths,
) -> anyhow::Result<String> {
    let profile = match given {
        Some(name) => name,
        None => pick(command, paths)?,
    };
    record_use(&profile, paths);
    Ok(profile)
}

fn pick(command: &str, paths: &crate::paths::Paths) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        anyhow::bail!(
            "name the profile: `credbroker {command} --profile NAME` (there is no terminal here to choose one on)"
        );
    }
    let config = AwsConfig::load_default(paths)?;
    let names: Vec<String> = config.profiles.keys().cloned().collect();
    if names.is_empty() {
        anyhow::bail!(
            "{} has no profiles to choose from; `credbroker onboard` writes them",
            config.path.display()
        );
    }
    let names = most_recent_first(names, &read_recent(paths));
    let chosen = dialoguer::FuzzySelect::new()
        .with_prompt("Profile (type to filter, Enter to choose, Esc to cancel)")
        .items(&names)
        .default(0)
        .interact_on_opt(&dialoguer::console::Term::stderr())?;
    match chosen {
        Some(i) => Ok(names[i].clone()),
        None => anyhow::bail!("no profile chosen"),
    }
}

/// `names` with the recently used ones first (newest first), then the rest
/// in their own order.
pub fn most_recent_first(names: Vec<String>, recent: &[String]) -> Vec<String> {
    let mut out: Vec<String> = recent
        .iter()
        .filter(|r| names.contains(r))
        .cloned()
        .collect();
    out.extend(names.into_iter().filter(|n| !recent.contains(n)));
    out
}

/// `recent` with `name` moved to the front, at most [`RECENT_KEPT`] long.
pub fn with_use(recent: &[String], name: &str) -> Vec<String> {
    std::iter::once(name.to_owned())
        .chain(recent.iter().filter(|r| *r != name).cloned())
        .take(RECENT_KEPT)
        .collect()
}

fn recent_path(paths: &crate::paths::Paths) -> std::path::PathBuf {
    paths.state_dir.join(RECENT_FILE)
}

fn read_recent(paths: &crate::paths::Paths) -> Vec<String> {
    std::fs::read_to_string(recent_path(paths))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Remember `name` as the most recently used; a failure only costs the order.
fn record_use(name: &str, paths: &crate::paths::Paths) {
    if name.is_empty() || name.contains(['\n', '\r']) {
        return;
    }
    let list = with_use(&read_recent(paths), name);
    let path = recent_path(paths);
    let written = path
        .parent()
        .map_or(Ok(()), crate::paths::ensure_private_dir)
        .and_then(|()| {
            crate::paths::write_private_file(&path, (list.join("\n") + "\n").as_bytes())
        });
    if let Err(e) = written {
        tracing::debug!(error = %e, "could not record the recently used profile");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recently_used_come_first_newest_first() {
        let all = names(&["admin", "dev", "prod", "sandbox"]);
        let recent = names(&["prod", "gone", "dev"]);
        assert_eq!(
            most_recent_first(all, &recent),
            names(&["prod", "dev", "admin", "sandbox"])
        );
    }

    #[test]
    fn a_use_moves_to_the_front_and_the_list_is_bounded() {
        assert_eq!(
            with_use(&names(&["a", "b", "c"]), "c"),
            names(&["c", "a", "b"])
        );
        let long: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
        let list = with_use(&long, "new");
        assert_eq!(list.len(), RECENT_KEPT);
        assert_eq!(list[0], "new");
    }
}
