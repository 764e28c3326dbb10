//! `credbroker completions SHELL`: the shell completion script.
//!
//! The script is clap_complete's dynamic kind: a few lines that hand the
//! words typed so far back to `credbroker` itself (with
//! [`COMPLETE_VAR`] set), which answers from the same command definition
//! it parses with. So completions never drift from the binary, and values
//! that live in files are completed too: `--profile` offers the profiles of
//! the current AWS config file (`$AWS_CONFIG_FILE` or `~/.aws/config`) and
//! `--sso-session` its `[sso-session]` sections, read at the moment Tab is
//! pressed.
//!
//! The scripts call `credbroker` by name (found on `PATH`), so one file
//! serves every install location; the Debian package ships them in the
//! shells' vendor directories (`scripts/package-deb.sh`).

use crate::config::AwsConfig;
use clap::CommandFactory as _;
use clap_complete::env::EnvCompleter;
use clap_complete::{ArgValueCandidates, CompletionCandidate};

/// The variable that turns a `credbroker` run into a completion request.
/// Not clap_complete's generic `COMPLETE`, which another tool may set.
pub const COMPLETE_VAR: &str = "CREDBROKER_COMPLETE";

/// The name the scripts register and call.
const BIN: &str = "credbroker";

#[derive(clap::Args, Debug)]
#[command(
    about = "Print the shell completion script for bash, zsh, fish, PowerShell or elvish",
    long_about = "Print the shell completion script for bash, zsh, fish, PowerShell or elvish.\n\n\
The script asks `credbroker` (on PATH) for the candidates each time Tab is pressed, so \
`--profile` completes the profiles of the current AWS config file and `--sso-session` its \
[sso-session] sections. The Debian package installs the bash, zsh and fish scripts already.",
    after_help = "\
Examples:
    credbroker completions bash > ~/.local/share/bash-completion/completions/credbroker
    credbroker completions zsh > ~/.zfunc/_credbroker     # with fpath+=(~/.zfunc) before compinit
    credbroker completions fish > ~/.config/fish/completions/credbroker.fish
    credbroker completions powershell >> $PROFILE
    credbroker completions elvish >> ~/.config/elvish/rc.elv"
)]
pub struct Args {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

impl Shell {
    fn completer(self) -> &'static dyn EnvCompleter {
        use clap_complete::env;
        match self {
            Shell::Bash => &env::Bash,
            Shell::Zsh => &env::Zsh,
            Shell::Fish => &env::Fish,
            Shell::Powershell => &env::Powershell,
            Shell::Elvish => &env::Elvish,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    use std::io::Write as _;
    let script = script(args.shell)?;
    std::io::stdout().write_all(script.as_bytes())?;
    Ok(())
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> std::io::Result<String> {
    let mut buf = Vec::new();
    shell
        .completer()
        .write_registration(COMPLETE_VAR, BIN, BIN, BIN, &mut buf)?;
    let script = String::from_utf8_lossy(&buf).into_owned();
    Ok(match shell {
        Shell::Zsh => autoloadable(script),
        _ => script,
    })
}

/// The zsh script as a file `compinit` can autoload from `fpath` (where
/// the package puts `_credbroker`): loaded that way, its body runs as the
/// function `_credbroker` on the first Tab, which must then complete
/// instead of only registering itself for the next one. Sourced, it
/// registers, as before.
fn autoloadable(script: String) -> String {
    let register = format!("compdef _clap_dynamic_completer_{BIN} {BIN}");
    let either = format!(
        "if [ \"${{funcstack[1]}}\" = \"_{BIN}\" ]; then\n    \
         _clap_dynamic_completer_{BIN} \"$@\"\nelse\n    {register}\nfi"
    );
    script.replacen(&register, &either, 1)
}

/// Answer a completion request and exit when [`COMPLETE_VAR`] is set;
/// return at once otherwise (one environment lookup).
pub fn complete_from_env() {
    clap_complete::CompleteEnv::with_factory(command)
        .var(COMPLETE_VAR)
        .bin(BIN)
        .completer(BIN)
        .complete();
}

/// The command line definition with the value completers attached: every
/// `--profile` and `--sso-session`, in whichever subcommand.
pub fn command() -> clap::Command {
    with_candidates(super::Cli::command())
}

fn with_candidates(mut cmd: clap::Command) -> clap::Command {
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = match id.as_str() {
            "profile" => cmd.mut_arg(id, |a| a.add(ArgValueCandidates::new(profile_candidates))),
            "sso_session" => {
                cmd.mut_arg(id, |a| a.add(ArgValueCandidates::new(session_candidates)))
            }
            _ => cmd,
        };
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, with_candidates);
    }
    cmd
}

fn profile_candidates() -> Vec<CompletionCandidate> {
    // A completer is called by clap with no arguments: this is the CLI's
    // entry point for it, so it builds the context here.
    AwsConfig::load_default(&crate::context::Context::from_process().paths)
        .map(|config| profile_names(&config))
        .unwrap_or_default()
}

fn session_candidates() -> Vec<CompletionCandidate> {
    // A completer is called by clap with no arguments: this is the CLI's
    // entry point for it, so it builds the context here.
    AwsConfig::load_default(&crate::context::Context::from_process().paths)
        .map(|config| session_names(&config))
        .unwrap_or_default()
}

/// The profiles of `config`, each with the role it stands for as help.
fn profile_names(config: &AwsConfig) -> Vec<CompletionCandidate> {
    config
        .profiles
        .values()
        .map(|profile| {
            let setting = |keys: [&str; 2]| {
                keys.iter()
                    .find_map(|k| profile.settings.get(*k))
                    .map(String::as_str)
            };
            let account = setting(["credbroker_account_id", "sso_account_id"]);
            let role = setting(["credbroker_role_name", "sso_role_name"]);
            let help = match (account, role) {
                (Some(account), Some(role)) => Some(format!("{role} in {account}").into()),
                _ => None,
            };
            CompletionCandidate::new(&profile.name).help(help)
        })
        .collect()
}

fn session_names(config: &AwsConfig) -> Vec<CompletionCandidate> {
    config
        .sessions
        .values()
        .map(|session| {
            let help = (!session.start_url.is_empty()).then(|| session.start_url.clone().into());
            CompletionCandidate::new(&session.name).help(help)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn complete(line: &[&str], config: &AwsConfig) -> Vec<String> {
        // The engine's own entry point, with the candidates of `config`
        // instead of the file on this machine.
        let owned = config.clone();
        let mut cmd = super::super::Cli::command().mut_subcommand("exec", move |c| {
            c.mut_arg("profile", move |a| {
                let config = owned.clone();
                a.add(ArgValueCandidates::new(move || profile_names(&config)))
            })
        });
        let args = line
            .iter()
            .map(std::ffi::OsString::from)
            .collect::<Vec<_>>();
        clap_complete::engine::complete(&mut cmd, args, line.len() - 1, None)
            .unwrap()
            .into_iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn profile_values_come_from_the_config() {
        let config = AwsConfig::parse(
            "[profile dev]\ncredbroker_account_id = 111111111111\ncredbroker_role_name = ReadOnly\n\
             [profile prod]\nsso_session = corp\n[default]\nregion = eu-west-1\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n",
            Path::new("config"),
        )
        .unwrap();
        assert_eq!(
            complete(&["credbroker", "exec", "--profile", ""], &config),
            ["default", "dev", "prod"]
        );
        assert_eq!(
            complete(&["credbroker", "exec", "--profile", "d"], &config),
            ["default", "dev"]
        );
        let dev = profile_names(&config)
            .into_iter()
            .find(|c| c.get_value() == "dev")
            .unwrap();
        assert_eq!(
            dev.get_help().unwrap().to_string(),
            "ReadOnly in 111111111111"
        );
        let sessions = session_names(&config);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].get_value(), "corp");
    }

    #[test]
    fn every_profile_and_session_flag_gets_candidates() {
        fn walk(cmd: &clap::Command, found: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "profile" || id == "sso_session" {
                    assert!(
                        arg.get::<ArgValueCandidates>().is_some(),
                        "{} --{id}",
                        cmd.get_name()
                    );
                    found.push(format!("{} {id}", cmd.get_name()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, found);
            }
        }
        let mut found = Vec::new();
        walk(&command(), &mut found);
        for expected in [
            "exec profile",
            "env profile",
            "credential-process profile",
            "login sso_session",
        ] {
            assert!(found.iter().any(|f| f == expected), "{expected}: {found:?}");
        }
    }

    #[test]
    fn subcommands_complete() {
        let names = complete(&["credbroker", "cre"], &AwsConfig::default());
        assert_eq!(names, ["credential-process"]);
    }

    #[test]
    fn scripts_call_credbroker_with_its_variable() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Powershell,
            Shell::Elvish,
        ] {
            let text = script(shell).unwrap();
            assert!(text.contains(COMPLETE_VAR), "{shell:?}: {text}");
            assert!(text.contains("credbroker"), "{shell:?}: {text}");
        }
        let zsh = script(Shell::Zsh).unwrap();
        assert!(zsh.starts_with("#compdef credbroker\n"), "{zsh}");
        assert!(zsh.contains("if [ \"${funcstack[1]}\" = \"_credbroker\" ]; then\n    _clap_dynamic_completer_credbroker \"$@\"\nelse\n    compdef _clap_dynamic_completer_credbroker credbroker\nfi"), "{zsh}");
    }
}
