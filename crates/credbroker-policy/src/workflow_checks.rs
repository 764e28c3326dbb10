//! The value-level checks of the workflow linter: which `${{ }}` contexts
//! an outsider controls, and which literal values are AWS credentials.
//!
//! The untrusted contexts are the ones GitHub's security hardening guide
//! ("Understanding the risk of script injections") lists, plus the other
//! event fields an outsider writes (review comments, discussions, the
//! branch of a `workflow_run`), which zizmor treats the same way. A `*`
//! stands for one segment: an array index or an object key.

/// Contexts whose text an outsider chooses (issue and pull request
/// authors, committers, commenters, branch namers).
pub const UNTRUSTED_CONTEXTS: &[&str] = &[
    "github.event.issue.title",
    "github.event.issue.body",
    "github.event.pull_request.title",
    "github.event.pull_request.body",
    "github.event.comment.body",
    "github.event.review.body",
    "github.event.review_comment.body",
    "github.event.pages.*.page_name",
    "github.event.commits.*.message",
    "github.event.commits.*.author.email",
    "github.event.commits.*.author.name",
    "github.event.head_commit.message",
    "github.event.head_commit.author.email",
    "github.event.head_commit.author.name",
    "github.event.pull_request.head.ref",
    "github.event.pull_request.head.label",
    "github.event.pull_request.head.repo.default_branch",
    "github.event.discussion.title",
    "github.event.discussion.body",
    "github.event.workflow_run.head_branch",
    "github.event.workflow_run.head_commit.message",
    "github.event.workflow_run.head_commit.author.email",
    "github.event.workflow_run.head_commit.author.name",
    "github.head_ref",
];

/// The untrusted contexts used inside the `${{ }}` expressions of `text`,
/// as written (`github.event.pull_request.title`), in order, without repeats.
pub fn untrusted_contexts(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("${{") {
        let after = &rest[open + 3..];
        let close = after.find("}}").unwrap_or(after.len());
        for token in context_tokens(&after[..close]) {
            if is_untrusted(&normalize(token)) && !found.iter().any(|f| f == token) {
                found.push(token.to_string());
            }
        }
        rest = &after[close..];
    }
    found
}

/// Runs of characters that can make up a context path.
fn context_tokens(expression: &str) -> impl Iterator<Item = &str> {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_.-*[]'\"".contains(c)))
        .filter(|t| t.starts_with("github."))
}

/// `github.event.commits[0]['message']` -> `github.event.commits.*.message`.
fn normalize(token: &str) -> String {
    let mut out = String::new();
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                let mut inside = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inside.push(c);
                }
                let key = inside.trim_matches(|c| c == '\'' || c == '"');
                if key.chars().all(|c| c.is_ascii_digit()) || key == "*" {
                    out.push_str(".*");
                } else {
                    out.push('.');
                    out.push_str(key);
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// A path at or below an untrusted context, or a whole object holding one
/// (`toJSON(github.event.pull_request)`).
fn is_untrusted(path: &str) -> bool {
    let segments: Vec<&str> = path.split('.').collect();
    UNTRUSTED_CONTEXTS.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        let n = segments.len().min(pattern.len());
        let same = segments[..n]
            .iter()
            .zip(&pattern[..n])
            .all(|(s, p)| *p == "*" || s == p);
        same
    })
}

/// Is this an AWS access key id (`AKIA...` long-term, `ASIA...` temporary)
/// written out? Returns the kind, for the message.
pub fn access_key_id(value: &str) -> Option<&'static str> {
    let bytes = value.as_bytes();
    (0..bytes.len().saturating_sub(19)).find_map(|i| {
        let word = &bytes[i..i + 20];
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let ends_word = bytes.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric());
        let body = word[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !(starts_word && ends_word && body) {
            return None;
        }
        match &word[..4] {
            b"AKIA" => Some("long-term access key id (AKIA...)"),
            b"ASIA" => Some("temporary access key id (ASIA...)"),
            _ => None,
        }
    })
}

/// Does a literal value under this key look like an AWS secret? The AWS
/// secret and session token names with any literal value, or a 40-character
/// secret-key-shaped value under any name that says secret, key or token.
pub fn secret_value(key: &str, value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || value.contains("${{") {
        return false;
    }
    let key = key.to_ascii_lowercase().replace('-', "_");
    if matches!(key.as_str(), "aws_secret_access_key" | "aws_session_token") {
        return true;
    }
    let shaped = value.len() == 40
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
        && value
            .chars()
            .any(|c| c.is_ascii_digit() || c == '/' || c == '+')
        && value.chars().any(|c| c.is_ascii_lowercase())
        && value.chars().any(|c| c.is_ascii_uppercase());
    shaped
        && ["secret", "key", "token", "password"]
            .iter()
            .any(|w| key.contains(w))
}

/// `AKIA************WXYZ`: enough to find the key in IAM, not enough to use it.
pub fn masked(value: &str) -> String {
    let v = value.trim();
    if v.len() >= 8 && v.is_ascii() {
        format!(
            "{}{}{}",
            &v[..4],
            "*".repeat(v.len() - 8),
            &v[v.len() - 4..]
        )
    } else {
        "****".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_contexts_are_found_in_any_spelling() {
        assert_eq!(
            untrusted_contexts(
                "echo \"${{ github.event.pull_request.title }}\" ${{github.head_ref}}"
            ),
            vec!["github.event.pull_request.title", "github.head_ref"]
        );
        assert_eq!(
            untrusted_contexts(
                "${{ github.event.commits[0].message }} ${{ toJSON(github.event.pull_request) }}"
            ),
            vec![
                "github.event.commits[0].message",
                "github.event.pull_request"
            ]
        );
        assert_eq!(
            untrusted_contexts("${{ github.event['issue']['body'] }}"),
            vec!["github.event['issue']['body']"]
        );
        assert!(untrusted_contexts(
            "${{ github.event.pull_request.number }} ${{ github.sha }} $TITLE"
        )
        .is_empty());
        assert!(untrusted_contexts("github.event.issue.title without braces").is_empty());
    }

    #[test]
    fn literal_keys_and_secrets() {
        assert!(access_key_id("AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(access_key_id("key=ASIAIOSFODNN7EXAMPLE;")
            .unwrap()
            .starts_with("temporary"));
        assert!(access_key_id("XAKIAIOSFODNN7EXAMPLE").is_none());
        assert!(access_key_id("AKIAIOSFODNN7EXAMPL").is_none());
        assert!(secret_value("AWS_SECRET_ACCESS_KEY", "anything"));
        assert!(!secret_value("AWS_SECRET_ACCESS_KEY", "${{ secrets.K }}"));
        assert!(secret_value(
            "MY_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        ));
        assert!(!secret_value(
            "NAME",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        ));
        assert_eq!(masked("AKIAIOSFODNN7EXAMPLE"), "AKIA************MPLE");
    }
}
