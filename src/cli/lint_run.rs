//! What `trust lint` and `workflow lint` share: finding the files, reading
//! each one so that a bad file becomes a finding instead of the end of the
//! run, printing the report, and the exit status.
//!
//! Exit status: 2 when nothing at all could be read (every file missing or
//! unparsable, or no file found); otherwise 1 when a file could not be read
//! or a finding is at or above `--fail-on`; else 0.

use crate::policy::finding::{self, Finding, Rule, Severity, INPUT_ERROR};
use crate::policy::gitlab_ci;
use crate::policy::input::{self, Extracted, Parsed};
use crate::policy::lint::{self, LintOptions};
use crate::policy::TrustPolicy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Output and exit options shared by the two linters.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Exit 1 when a finding is at or above this severity (or a file could
    /// not be read).
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
    Sarif,
    /// GitHub workflow commands (`::error file=...,line=...::`): annotations
    /// on the job and the pull request.
    Github,
}

/// The findings of a run, and how many files were read or failed.
#[derive(Default)]
pub struct Run {
    pub findings: Vec<Finding>,
    pub read: usize,
    pub failed: usize,
}

impl Run {
    pub fn error(&mut self, file: &str, line: usize, message: String) {
        self.findings
            .push(Finding::input_error(file, line, message));
        self.failed += 1;
    }

    /// Print the report; the exit status.
    pub fn finish(self, rules: &[Rule], args: &ReportArgs, what: &str) -> i32 {
        if self.read == 0 && self.failed == 0 {
            eprintln!("credbroker: no {what} found in the paths given");
            return 2;
        }
        let mut all = rules.to_vec();
        all.push(INPUT_ERROR);
        let text = match args.format {
            ReportFormat::Text => finding::text_report(&self.findings),
            ReportFormat::Json => finding::json_report(&self.findings),
            ReportFormat::Sarif => finding::sarif_report(&self.findings, &all),
            ReportFormat::Github => finding::github_report(&self.findings),
        };
        print!("{text}");
        if self.read == 0 {
            return 2;
        }
        let failing = self
            .findings
            .iter()
            .any(|f| f.rule == INPUT_ERROR.id || f.severity >= args.fail_on);
        i32::from(failing)
    }

    fn read(&mut self, path: &Path) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(&path.display().to_string(), 1, format!("cannot read: {e}"));
                None
            }
        }
    }
}

/// Every file under `dir` that `keep` accepts, sorted, skipping hidden
/// directories (`.git`, `.terraform`) and build output. An unreadable
/// directory is reported and skipped.
fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, run: &mut Run, out: &mut Vec<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return run.error(&dir.display().to_string(), 1, format!("cannot read: {e}")),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "target" {
                walk(&path, keep, run, out);
            }
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// `trust lint PATH...`: every trust policy in every form, files and directories.
pub fn trust_lint(paths: &[PathBuf], options: LintOptions) -> Run {
    let mut run = Run::default();
    let supported = |p: &Path| input::supported(&p.to_string_lossy());
    // Terraform is read a module (a directory's .tf and .tf.json files) at a time.
    let mut modules: BTreeMap<PathBuf, Vec<(String, String, bool)>> = BTreeMap::new();
    for path in paths {
        let (files, named) = if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &supported, &mut run, &mut files);
            (files, false)
        } else {
            (vec![path.clone()], true)
        };
        for file in files {
            let Some(text) = run.read(&file) else {
                continue;
            };
            let name = file.display().to_string();
            if input::terraform::is_module_file(&name) {
                let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
                modules.entry(dir).or_default().push((name, text, named));
                continue;
            }
            match input::extract(&name, &text) {
                Err(e) => run.error(&name, e.line, e.message),
                Ok(Parsed::Other(what)) if named => {
                    run.error(&name, 1, format!("holds no trust policy: {what}"))
                }
                Ok(Parsed::Other(_)) => {}
                Ok(Parsed::Policies(found)) => {
                    run.read += 1;
                    lint_all(&mut run, &found, options);
                }
            }
        }
    }
    for files in modules.values() {
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t, _)| (n.as_str(), t.as_str()))
            .collect();
        let (found, errors) = input::terraform::extract_module(&refs);
        run.read += files.len() - errors.len();
        for (name, e) in errors {
            run.error(&name, e.line, e.message);
        }
        for (name, text, named) in files {
            if *named && !text.contains("aws_iam_role") && !text.contains("aws_iam_policy_document")
            {
                run.error(
                    name,
                    1,
                    "holds no aws_iam_role or aws_iam_policy_document".into(),
                );
            }
        }
        lint_all(&mut run, &found, options);
    }
    run
}

fn lint_all(run: &mut Run, found: &[Extracted], options: LintOptions) {
    for ex in found {
        match lint::lint_extracted(ex, options) {
            Ok(findings) => run.findings.extend(findings),
            Err(e) => {
                let mut f = Finding::input_error(&ex.file, ex.start, e.to_string());
                f.resource = ex.resource.clone();
                run.findings.push(f);
                run.failed += 1;
            }
        }
    }
}

/// The workflow files a path means: a file itself; for a directory, its
/// `.github/workflows` and `.gitlab-ci.yml` when it has either (a
/// repository root), else its own `*.yml` and `*.yaml` (GitHub reads no
/// subdirectories of workflows/).
fn workflow_files(path: &Path, run: &mut Run) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let nested = path.join(".github").join("workflows");
    let gitlab = [".gitlab-ci.yml", ".gitlab-ci.yaml"]
        .iter()
        .map(|n| path.join(n))
        .filter(|p| p.is_file());
    let gitlab: Vec<PathBuf> = gitlab.collect();
    if !nested.is_dir() && !gitlab.is_empty() {
        return gitlab;
    }
    let dir = if nested.is_dir() {
        nested
    } else {
        path.to_path_buf()
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect(),
        Err(e) => {
            run.error(&dir.display().to_string(), 1, format!("cannot read: {e}"));
            return Vec::new();
        }
    };
    files.extend(gitlab);
    if files.is_empty() {
        eprintln!(
            "credbroker: no workflow files (*.yml, *.yaml) in {} or {}",
            path.display(),
            path.join(".github/workflows").display()
        );
    }
    files.sort();
    files
}

/// `workflow lint PATH...`: each file as GitHub or GitLab CI reads it
/// (`ci`, or told by name and content); `policy` checks GitLab jobs' ID
/// token audiences.
/// Which CI's pipeline files `workflow lint` reads (`--ci`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    /// GitHub workflows, and `.gitlab-ci.yml` by its name or content.
    Auto,
    Github,
    Gitlab,
}

pub fn workflow_lint(paths: &[PathBuf], ci: Ci, policy: Option<&TrustPolicy>) -> Run {
    let mut run = Run::default();
    for path in paths {
        for file in workflow_files(path, &mut run) {
            let Some(text) = run.read(&file) else {
                continue;
            };
            let name = file.display().to_string();
            let gitlab = match ci {
                Ci::Github => false,
                Ci::Gitlab => true,
                Ci::Auto => gitlab_ci::looks_like(&name, &text),
            };
            let linted = if gitlab {
                gitlab_ci::lint(&name, &text, policy)
            } else {
                crate::policy::workflow::lint(&name, &text)
            };
            match linted {
                Ok(found) => {
                    run.read += 1;
                    run.findings.extend(found);
                }
                Err((message, line)) => run.error(&name, line, message),
            }
        }
    }
    run
}
