//! The INI dialect of `~/.aws/config`, as botocore's parser accepts it.
//!
//! - `[section]` headers; `#` and `;` start a comment line;
//! - `key = value` (or `key: value`), keys lower-cased, values trimmed,
//!   inline `#` kept as part of the value, as botocore keeps it;
//! - an indented line continues the key above it (nested settings such as
//!   `s3 =` blocks); credbroker reads no nested settings, so they are skipped.
//!
//! Pure: text in, sections out, and every error names the line and the fix.

use super::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;

/// One `[name]` section with its settings, in file order of first appearance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub settings: BTreeMap<String, String>,
}

pub fn parse_sections(text: &str, path: &Path) -> Result<Vec<Section>, ConfigError> {
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key_line: Option<usize> = None;
    let error = |line: usize, message: String| ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        message,
    };

    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if indented && last_key_line.is_some() && !trimmed.starts_with('[') {
            // A continuation of the setting above (a nested block).
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                error(
                    number,
                    format!(
                        "section header `{trimmed}` has no closing `]`; write it as `[{}]`",
                        rest.trim_end_matches(']')
                    ),
                )
            })?;
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            if name.is_empty() {
                return Err(error(
                    number,
                    "empty section header `[]`; name it, e.g. `[profile dev]`".into(),
                ));
            }
            sections.push(Section {
                name,
                line: number,
                settings: BTreeMap::new(),
            });
            last_key_line = None;
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(error(
                number,
                format!(
                    "`{trimmed}` comes before any section; put settings under a header such as `[profile dev]` or `[sso-session my-sso]`"
                ),
            ));
        };
        let Some(split) = trimmed.find(['=', ':']) else {
            return Err(error(
                number,
                format!("`{trimmed}` is not a setting; write `key = value`"),
            ));
        };
        let key = trimmed[..split].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(error(
                number,
                format!("`{trimmed}` has no key before `=`; write `key = value`"),
            ));
        }
        let value = trimmed[split + 1..].trim().to_string();
        section.settings.insert(key, value);
        last_key_line = Some(number);
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Section>, ConfigError> {
        parse_sections(text, Path::new("/home/u/.aws/config"))
    }

    #[test]
    fn sections_keys_and_values() {
        let s = parse("# top\n[profile dev]\nRegion = eu-west-1\nsso_session= corp \n\n; c\n[default]\noutput: json\n").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "profile dev");
        assert_eq!(s[0].settings["region"], "eu-west-1");
        assert_eq!(s[0].settings["sso_session"], "corp");
        assert_eq!(s[1].settings["output"], "json");
    }

    #[test]
    fn nested_blocks_are_skipped() {
        let s = parse("[profile a]\ns3 =\n  max_concurrent_requests = 10\nregion = us-east-1\n")
            .unwrap();
        assert_eq!(s[0].settings["s3"], "");
        assert_eq!(s[0].settings["region"], "us-east-1");
        assert!(!s[0].settings.contains_key("max_concurrent_requests"));
    }

    #[test]
    fn crlf_and_inline_hash_kept() {
        let s = parse("[profile a]\r\nregion = us-east-1\r\nx = a#b\r\n").unwrap();
        assert_eq!(s[0].settings["region"], "us-east-1");
        assert_eq!(s[0].settings["x"], "a#b");
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = parse("[profile a]\nregion us-east-1\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("/home/u/.aws/config:2:"), "{text}");
        assert!(text.contains("key = value"), "{text}");

        let e = parse("region = x\n").unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("before any section"), "{e}");

        let e = parse("\n[profile a\n").unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("closing `]`"), "{e}");

        let e = parse("[]\n").unwrap_err().to_string();
        assert!(e.contains("empty section"), "{e}");

        let e = parse("[a]\n= v\n").unwrap_err().to_string();
        assert!(e.contains("no key"), "{e}");
    }
}
