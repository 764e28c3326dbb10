//! What the linters report, and the ways to print it: text for people,
//! JSON for scripts, SARIF 2.1.0 for GitHub code scanning, and GitHub
//! workflow commands (`::error file=...,line=...::`) for annotations in a
//! job's log and on the pull request.
//!
//! Every finding carries a severity, the file and line, the resource (role,
//! job) it came from, a one-line reason and the fix. A file that could not
//! be read or parsed is a finding too ([`INPUT_ERROR`]), so one bad file
//! never hides the findings of the others. The exit decision (`--fail-on`) compares severities, so they
//! are ordered from `info` to `critical`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// SARIF `level`.
    fn sarif_level(self) -> &'static str {
        match self {
            Severity::Info | Severity::Low => "note",
            Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }

    /// GitHub's `security-severity` property (CVSS-like, 0-10).
    fn security_severity(self) -> &'static str {
        match self {
            Severity::Info => "1.0",
            Severity::Low => "3.0",
            Severity::Medium => "5.5",
            Severity::High => "8.0",
            Severity::Critical => "9.5",
        }
    }
}

/// A kind of finding: its id, what it means, and the usual fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub help: &'static str,
}

/// A file that could not be read or parsed: its own finding, so the run goes on.
pub const INPUT_ERROR: Rule = Rule {
    id: "input-error",
    title: "a file could not be read or parsed",
    help:
        "Fix the file (the message gives the parser's reason and line), or leave it out of the run.",
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    /// 1-based; 1 when no better line is known.
    pub line: usize,
    /// The role or job the finding is about (`aws_iam_role.deploy`,
    /// `AWS::IAM::Role DeployRole`, `job 'deploy'`); none for a bare policy file.
    pub resource: Option<String>,
    pub reason: String,
    pub fix: String,
}

/// The first line (1-based) of `text` containing `needle`, else 1.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

impl Finding {
    /// The finding for a file that could not be read or parsed.
    pub fn input_error(file: &str, line: usize, message: String) -> Finding {
        Finding {
            rule: INPUT_ERROR.id,
            severity: Severity::High,
            file: file.to_string(),
            line: line.max(1),
            resource: None,
            reason: message,
            fix: INPUT_ERROR.help.to_string(),
        }
    }

    /// `aws_iam_role.deploy: ` or nothing.
    fn resource_prefix(&self) -> String {
        self.resource
            .as_ref()
            .map_or_else(String::new, |r| format!("{r}: "))
    }
}

pub fn text_report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}:{}: {} [{}] {}{}\n    fix: {}\n",
            f.file,
            f.line,
            f.severity.name(),
            f.rule,
            f.resource_prefix(),
            f.reason,
            f.fix
        ));
    }
    out.push_str(&match findings.len() {
        0 => "no findings\n".to_string(),
        1 => "1 finding\n".to_string(),
        n => format!("{n} findings\n"),
    });
    out
}

pub fn json_report(findings: &[Finding]) -> String {
    let mut out = serde_json::to_string_pretty(&serde_json::json!({ "findings": findings }))
        .unwrap_or_default();
    out.push('\n');
    out
}

/// A SARIF 2.1.0 log with one run: every rule of `rules`, then the results.
pub fn sarif_report(findings: &[Finding], rules: &[Rule]) -> String {
    let rule_entries: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| {
            let severity = findings
                .iter()
                .filter(|f| f.rule == r.id)
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Medium);
            serde_json::json!({
                "id": r.id,
                "name": r.id,
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": r.title },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": severity.sarif_level() },
                "properties": { "security-severity": severity.security_severity(), "tags": ["security"] },
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "ruleId": f.rule,
                "ruleIndex": rules.iter().position(|r| r.id == f.rule).unwrap_or(0),
                "level": f.severity.sarif_level(),
                "message": { "text": format!("{}{} Fix: {}", f.resource_prefix(), f.reason, f.fix) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file.trim_start_matches("./") },
                        "region": { "startLine": f.line.max(1) },
                    }
                }],
                "properties": { "severity": f.severity.name() },
            })
        })
        .collect();
    let log = serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "credbroker",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/credbroker/credbroker",
                "rules": rule_entries,
            }},
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

/// GitHub workflow commands, one per finding: `::error` for high and
/// critical, `::warning` for medium, `::notice` below, each with the file,
/// line and a title. Everything taken from the input is escaped as the
/// runner unescapes it (`%`, CR and LF in the message; also `:` and `,` in
/// properties), so a hostile file name or policy value cannot start a
/// command of its own.
pub fn github_report(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let command = match f.severity {
            Severity::High | Severity::Critical => "error",
            Severity::Medium => "warning",
            Severity::Info | Severity::Low => "notice",
        };
        let title = format!("{} {}", f.severity.name(), f.rule);
        let message = format!("{}{} Fix: {}", f.resource_prefix(), f.reason, f.fix);
        out.push_str(&format!(
            "::{command} file={},line={},title={}::{}\n",
            escape_property(f.file.trim_start_matches("./")),
            f.line.max(1),
            escape_property(&title),
            escape_data(&message)
        ));
    }
    out
}

/// A workflow command's message: `%`, CR and LF percent-encoded.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &[Rule] = &[Rule {
        id: "r1",
        title: "t",
        help: "h",
    }];

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule: "r1",
            resource: None,
            severity,
            file: "./a.json".into(),
            line: 3,
            reason: "why".into(),
            fix: "how".into(),
        }
    }

    #[test]
    fn sarif_has_the_required_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&sarif_report(&[finding(Severity::High)], RULES)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "r1");
        let result = &run["results"][0];
        assert_eq!(result["level"], "error");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "a.json"
        );
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
    }

    #[test]
    fn text_names_severity_rule_reason_and_fix() {
        let text = text_report(&[finding(Severity::Low)]);
        assert!(
            text.starts_with("./a.json:3: low [r1] why\n    fix: how\n"),
            "{text}"
        );
        assert!(Severity::Critical > Severity::High && Severity::Info < Severity::Low);
        assert_eq!(line_of("a\nb \"x\"\n", "\"x\""), 2);
    }

    #[test]
    fn github_commands_cannot_be_injected() {
        let mut f = finding(Severity::Critical);
        f.file = "a,b:c%\n::warning::x.json".into();
        f.reason = "sub \"x\r\n::add-mask::y\" 100%".into();
        f.resource = Some("aws_iam_role.r".into());
        let out = github_report(&[f]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with("::error file=a%2Cb%3Ac%25%0A%3A%3Awarning%3A%3Ax.json,line=3,title=critical r1::aws_iam_role.r: sub \"x%0D%0A::add-mask::y\" 100%25 Fix: how\n"),
            "{out}"
        );
        assert!(github_report(&[finding(Severity::Medium)]).starts_with("::warning "));
        assert!(github_report(&[finding(Severity::Info)]).starts_with("::notice "));
    }
}
