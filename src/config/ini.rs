//! The INI dialect of `~/.aws/config`, read the way the AWS SDKs read it
//! (their shared profile-parser cases are our test table, in
//! [`sdk_cases`]; the grammar is written out in docs/protocols.md §11).
//!
//! First each line is classified (blank or comment, section header,
//! setting, or indented continuation) and the raw sections are collected
//! with their settings and line numbers; then [`names`] drops what the SDKs
//! drop (invalid section and setting names, sections without a kind,
//! `[default]` when `[profile default]` exists) and notes each drop as an
//! [`Ignored`] line, so a missing profile can be explained.
//!
//! - `#` or `;` at the start of a line make it a comment. After a section
//!   header they start a comment anywhere (`[profile a] # prod`); after a
//!   value only when a blank precedes them (`x = a#b` keeps `a#b`), as the
//!   SDKs' cases say; the AWS CLI alone keeps even `x = a # b` whole.
//! - `key = value`: the first `=` splits, keys are lower-cased, key and
//!   value trimmed of blanks. `key: value` is refused, as the SDKs refuse it.
//! - An indented line continues the setting above it: the value gains a
//!   newline and the trimmed line. When that setting's own value was empty
//!   (`s3 =`), every continuation must itself be `key = value`
//!   (sub-properties, read back with [`crate::config::Profile::sub_settings`]).
//!
//! Pure: text in, sections out, and every error names the line and the fix.

use super::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;

mod names;
#[cfg(test)]
mod sdk_cases;

/// One section kept after the SDKs' rules, with its settings; a header that
/// appears twice gives two sections, merged by the caller in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// `default`, or `KIND NAME` with one space (`profile dev`, `sso-session corp`).
    pub name: String,
    pub line: usize,
    pub settings: BTreeMap<String, String>,
}

/// A section or setting the SDKs skip, so credbroker skips it too; kept so
/// a caller can say why a profile or a setting seems to be missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A whole file: the sections kept and the lines ignored, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub sections: Vec<Section>,
    pub ignored: Vec<Ignored>,
}

/// A header as written, before the SDKs' naming rules are applied.
struct RawSection {
    /// The text between `[` and `]`.
    header: String,
    line: usize,
    settings: Vec<RawSetting>,
}

struct RawSetting {
    key: String,
    value: String,
    line: usize,
    /// Its first line had an empty value, so continuations are sub-properties.
    nested: bool,
}

/// The blanks the SDKs trim and indent with (not every Unicode space).
const BLANK: &[char] = &[' ', '\t'];
const COMMENT: &[char] = &['#', ';'];

/// Parse a config file, keeping only the sections the SDKs keep.
pub fn parse_sections(text: &str, path: &Path) -> Result<Vec<Section>, ConfigError> {
    parse_file(text, path).map(|file| file.sections)
}

/// Parse a config file: the sections kept and the lines ignored.
pub fn parse_file(text: &str, path: &Path) -> Result<ParsedFile, ConfigError> {
    let raw = read_lines(text).map_err(|(line, message)| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    })?;
    Ok(names::apply(raw))
}

type LineError = (usize, String);

fn read_lines(text: &str) -> Result<Vec<RawSection>, LineError> {
    let mut sections: Vec<RawSection> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_matches(BLANK);
        if trimmed.is_empty() || trimmed.starts_with(COMMENT) {
            continue;
        }
        if line.starts_with(BLANK) {
            continuation(sections.last_mut(), trimmed, number)?;
        } else if line.starts_with('[') {
            sections.push(RawSection {
                header: header(line).map_err(|m| (number, m))?,
                line: number,
                settings: Vec::new(),
            });
        } else {
            let Some(section) = sections.last_mut() else {
                return Err((
                    number,
                    format!(
                        "{} comes before any section; put settings under a header such as `[profile dev]` or `[sso-session my-sso]`",
                        quoted(trimmed)
                    ),
                ));
            };
            let (key, value) = setting(trimmed).map_err(|m| (number, m))?;
            section.settings.push(RawSetting {
                nested: value.is_empty(),
                key,
                value: value.to_string(),
                line: number,
            });
        }
    }
    Ok(sections)
}

/// `[ ... ]` with an optional comment after it: the text inside.
fn header(line: &str) -> Result<String, String> {
    let written = line.trim_matches(BLANK);
    let code = written
        .find(COMMENT)
        .map_or(written, |at| &written[..at])
        .trim_matches(BLANK);
    let inner = &code[1..];
    match inner.strip_suffix(']') {
        Some(name) => Ok(name.to_string()),
        None if !inner.contains(']') && written.contains(']') => Err(format!(
            "in section header `{written}` the `#` or `;` starts a comment, so the header has no closing `]`; a name holds only letters, digits and `-_/.%@:+`"
        )),
        None if inner.contains(']') => Err(format!(
            "section header `{written}` has text after its closing `]`; remove it, or start it with `#` to make it a comment"
        )),
        None => {
            let name = inner.trim_matches(BLANK);
            let name = if name.is_empty() { "profile NAME" } else { name };
            Err(format!(
                "section header `{written}` has no closing `]`; write it as `[{name}]`"
            ))
        }
    }
}

/// `key = value` (comment stripped): the lower-cased key and the value.
fn setting(trimmed: &str) -> Result<(String, &str), String> {
    let code = strip_value_comment(trimmed);
    let Some((key, value)) = code.split_once('=') else {
        return Err(if code.contains(':') {
            format!(
                "{} uses `:`, which the AWS SDKs do not read; write `key = value`",
                quoted(trimmed)
            )
        } else {
            format!("{} is not a setting; write `key = value`", quoted(trimmed))
        });
    };
    let key = key.trim_matches(BLANK);
    if key.is_empty() {
        return Err(
            "a line starting with `=` has no key before it; write `key = value`".to_string(),
        );
    }
    Ok((key.to_ascii_lowercase(), value.trim_matches(BLANK)))
}

/// Key names whose values must not reach a message or a log.
const SECRET_WORDS: &[&str] = &["secret", "token", "password", "passwd", "key", "credential"];

fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// A line as an error shows it: whole, unless its first word names a
/// secret (`aws_secret_access_key: ...`), then that word and `…`, so a
/// mistyped key line never prints the secret to a terminal or a log.
fn quoted(line: &str) -> String {
    let end = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
    let (word, rest) = line.split_at(end);
    if !looks_secret(word) {
        return format!("`{line}`");
    }
    match rest.trim_start_matches(BLANK).chars().next() {
        None => format!("`{word}`"),
        Some(sep @ ('=' | ':')) => format!("`{word} {sep} …`"),
        Some(_) => format!("`{word} …`"),
    }
}

/// Cut a `#` or `;` comment that follows a blank; keep `a#b`.
fn strip_value_comment(text: &str) -> &str {
    let mut after_blank = false;
    for (at, c) in text.char_indices() {
        if after_blank && COMMENT.contains(&c) {
            return text[..at].trim_matches(BLANK);
        }
        after_blank = c.is_whitespace();
    }
    text
}

/// An indented line: more of the setting above it in the same section.
fn continuation(
    section: Option<&mut RawSection>,
    trimmed: &str,
    number: usize,
) -> Result<(), LineError> {
    let Some(section) = section else {
        return Err((
            number,
            format!(
                "{} comes before any section (an indented line continues the setting above it); put settings under a header such as `[profile dev]`",
                quoted(trimmed)
            ),
        ));
    };
    let Some(above) = section.settings.last_mut() else {
        return Err((
            number,
            format!(
                "{} is indented, so it continues the setting above it, but `[{}]` (line {}) has no setting before it; remove the leading blanks",
                quoted(trimmed),
                section.header.trim_matches(BLANK),
                section.line
            ),
        ));
    };
    if above.nested {
        let code = strip_value_comment(trimmed);
        match code.split_once('=') {
            None => {
                return Err((
                    number,
                    format!(
                        "{} is indented under `{} =`, so it must be a `key = value` sub-setting; write it so, or remove the leading blanks",
                        if looks_secret(&above.key) { "`…`".to_string() } else { quoted(trimmed) },
                        above.key
                    ),
                ))
            }
            Some((key, _)) if key.trim_matches(BLANK).is_empty() => {
                return Err((
                    number,
                    format!(
                        "a line under `{} =` starts with `=`, so it has no key; write `key = value`",
                        above.key
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    above.value.push('\n');
    above.value.push_str(trimmed);
    Ok(())
}

/// The `key = value` lines of a nested value such as `s3 =`'s, as the SDKs
/// split them: first `=`, both sides trimmed, blank lines skipped.
pub fn sub_settings(value: &str) -> BTreeMap<String, String> {
    value
        .split('\n')
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| {
            (
                k.trim_matches(BLANK).to_string(),
                v.trim_matches(BLANK).to_string(),
            )
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

impl super::Profile {
    /// The sub-settings under `key` (`s3 =` and the indented lines after
    /// it); `None` when the profile has no such setting.
    pub fn sub_settings(&self, key: &str) -> Option<BTreeMap<String, String>> {
        self.settings.get(key).map(|value| sub_settings(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Section>, ConfigError> {
        parse_sections(text, Path::new("/home/u/.aws/config"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn sections_keys_and_values() {
        let s = parse("# top\n[profile dev]\nRegion = eu-west-1\nsso_session= corp \n\n; c\n[default]\noutput = json\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "profile dev");
        assert_eq!(s[0].settings["region"], "eu-west-1");
        assert_eq!(s[0].settings["sso_session"], "corp");
        assert_eq!(s[1].settings["output"], "json");
    }

    #[test]
    fn nested_blocks_are_kept_as_sub_settings() {
        let text = "[profile a]\ns3 =\n  max_concurrent_requests = 10\n  # tuning\n  Addressing_Style = path\nregion = us-east-1\n";
        let s = parse(text).unwrap();
        assert_eq!(
            s[0].settings["s3"],
            "\nmax_concurrent_requests = 10\nAddressing_Style = path"
        );
        assert_eq!(s[0].settings["region"], "us-east-1");
        assert!(!s[0].settings.contains_key("max_concurrent_requests"));

        let config = crate::config::AwsConfig::parse(text, Path::new("/c")).unwrap();
        let s3 = config.profile("a").unwrap().sub_settings("s3").unwrap();
        assert_eq!(s3["max_concurrent_requests"], "10");
        assert_eq!(s3["Addressing_Style"], "path");
        assert_eq!(config.profile("a").unwrap().sub_settings("nope"), None);
    }

    #[test]
    fn crlf_and_inline_hash_kept() {
        let s = parse(
            "[profile a]\r\nregion = us-east-1\r\nx = a#b\r\nurl = https://h/start#/ # note\r\n",
        )
        .unwrap();
        assert_eq!(s[0].settings["region"], "us-east-1");
        assert_eq!(s[0].settings["x"], "a#b");
        assert_eq!(s[0].settings["url"], "https://h/start#/");
    }

    #[test]
    fn a_comment_after_a_header_keeps_the_file() {
        let s = parse("[profile prod] # careful\nregion = eu-west-1\n[profile dev] ; sandbox\nregion = us-east-1\n[sso-session corp]#x\n").unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["profile prod", "profile dev", "sso-session corp"]);
        assert_eq!(s[0].settings["region"], "eu-west-1");
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = error("[profile a]\nregion us-east-1\n");
        assert!(e.starts_with("/home/u/.aws/config:2:"), "{e}");
        assert!(e.contains("key = value"), "{e}");

        let e = error("region = x\n");
        assert!(e.contains(":1:") && e.contains("before any section"), "{e}");

        let e = error("\n[profile a\n");
        assert!(e.contains(":2:") && e.contains("closing `]`"), "{e}");
        assert!(e.contains("`[profile a]`"), "{e}");

        let e = error("[\n");
        assert!(e.contains("`[profile NAME]`"), "{e}");

        let e = error("[profile a#b]\n");
        assert!(e.contains("starts a comment"), "{e}");

        let e = error("[profile a] x\n");
        assert!(
            e.contains(":1:") && e.contains("text after its closing"),
            "{e}"
        );

        let e = error("[a]\n= v\n");
        assert!(e.contains("no key"), "{e}");

        let e = error("[profile a]\nregion : us-east-1\n");
        assert!(
            e.contains(":2:") && e.contains("uses `:`") && e.contains("key = value"),
            "{e}"
        );

        let e = error("[profile a]\n  region = us-east-1\n");
        assert!(
            e.contains(":2:") && e.contains("indented") && e.contains("line 1"),
            "{e}"
        );

        let e = error("[profile a]\naws_secret_access_key: wJalrXUtnFEMI\n");
        assert!(e.contains("`aws_secret_access_key : …` uses `:`"), "{e}");
        assert!(!e.contains("wJalr"), "{e}");
        let e = error("aws_session_token = IQoJb3JpZ2lu\n[profile a]\n");
        assert!(
            e.contains("before any section") && !e.contains("IQoJb"),
            "{e}"
        );
        let e = error("[a]\n= IQoJb3JpZ2lu\n");
        assert!(!e.contains("IQoJb"), "{e}");
        let e = error("[a]\naws_secret_access_key =\n  IQoJb3JpZ2lu\n");
        assert!(e.contains(":3:") && !e.contains("IQoJb"), "{e}");
        let e = error("[profile a]\ns3 =\n  bogus\n");
        assert!(e.contains(":3:") && e.contains("under `s3 =`"), "{e}");
    }

    #[test]
    fn ignored_lines_say_why() {
        let file = parse_file(
            "[]\n[profile in valid]\n[dev]\n[profile ok]\nbad key = 1\n[default]\n[profile default]\n[profile]\n",
            Path::new("/c"),
        )
        .unwrap();
        let names: Vec<_> = file.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["profile ok", "profile default"]);
        let lines: Vec<_> = file.ignored.iter().map(|i| i.line).collect();
        assert_eq!(lines, [1, 2, 3, 5, 6, 8]);
        let text: Vec<_> = file.ignored.iter().map(ToString::to_string).collect();
        assert!(text[0].contains("name it"), "{text:?}");
        assert!(text[1].contains("letters, digits"), "{text:?}");
        assert!(text[2].contains("`[profile dev]`"), "{text:?}");
        assert!(
            text[3].starts_with("line 5:") && text[3].contains("`bad key`"),
            "{text:?}"
        );
        assert!(text[4].contains("line 7"), "{text:?}");
        assert!(text[5].contains("`[profile NAME]`"), "{text:?}");
    }
}
