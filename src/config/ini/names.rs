//! Which sections and settings of a config file the SDKs keep.
//!
//! - A header is `[KIND NAME]` (split at the first blank, both trimmed) or a
//!   bare `[NAME]`. In the config file a bare header is kept only as
//!   `[default]`; `[dev]` is a credentials-file habit the SDKs skip here.
//! - NAME, and every setting's key, is made of letters, digits and
//!   `-_/.%@:+`; anything else (`[profile my dev]`, `in valid = 1`) is skipped.
//! - When `[profile default]` appears anywhere, every bare `[default]` is
//!   skipped: the prefixed form wins whatever the order.
//!
//! Each skip becomes an [`Ignored`] line that says how to write it instead.

use super::{Ignored, ParsedFile, RawSection, Section, BLANK};
use std::collections::BTreeMap;

/// Letters, digits and `-_/.%@:+`, as the SDKs' identifier rule.
fn is_identifier(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_/.%@:+".contains(c))
}

const NAME_RULE: &str = "a name may hold only letters, digits and `-_/.%@:+`";

/// The kept name of a header (`default` or `KIND NAME`), or why it is skipped.
fn section_name(header: &str) -> Result<String, String> {
    let header = header.trim_matches(BLANK);
    match header.split_once(BLANK) {
        Some((kind, name)) => {
            let name = name.trim_matches(BLANK);
            if is_identifier(name) {
                Ok(format!("{kind} {name}"))
            } else {
                Err(format!(
                    "`[{kind} {name}]` is ignored, as the AWS SDKs ignore it: {NAME_RULE}"
                ))
            }
        }
        None if header == "default" => Ok("default".to_string()),
        None if header.is_empty() => {
            Err("`[]` is ignored: name it, e.g. `[profile dev]`".to_string())
        }
        None if header == "profile" || header == "sso-session" => Err(format!(
            "`[{header}]` is ignored: it has no name; write `[{header} NAME]`"
        )),
        None => Err(format!(
            "`[{header}]` is ignored, as the AWS SDKs ignore it: in the config file every section but `[default]` names its kind; write `[profile {header}]`"
        )),
    }
}

pub(super) fn apply(raw: Vec<RawSection>) -> ParsedFile {
    let mut file = ParsedFile::default();
    for section in raw {
        let name = match section_name(&section.header) {
            Ok(name) => name,
            Err(message) => {
                file.ignored.push(Ignored {
                    line: section.line,
                    message,
                });
                continue;
            }
        };
        let mut settings = BTreeMap::new();
        for s in section.settings {
            if is_identifier(&s.key) {
                settings.insert(s.key, s.value);
            } else {
                file.ignored.push(Ignored {
                    line: s.line,
                    message: format!(
                        "`{}` in `[{name}]` is ignored, as the AWS SDKs ignore it: {NAME_RULE}",
                        s.key
                    ),
                });
            }
        }
        file.sections.push(Section {
            name,
            line: section.line,
            settings,
        });
    }
    let prefixed_default = file
        .sections
        .iter()
        .find(|s| s.name == "profile default")
        .map(|s| s.line);
    if let Some(winner) = prefixed_default {
        file.sections.retain(|s| {
            if s.name != "default" {
                return true;
            }
            file.ignored.push(Ignored {
                line: s.line,
                message: format!(
                    "`[default]` is ignored, as the AWS SDKs ignore it, because `[profile default]` (line {winner}) takes its place; move its settings there"
                ),
            });
            false
        });
        file.ignored.sort_by_key(|i| i.line);
    }
    file
}
