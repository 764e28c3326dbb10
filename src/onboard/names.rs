//! The one naming rule the team file and the plan share (a leaf: the team
//! file names its session with it, the plan its profiles, and neither
//! imports the other for it).

/// Lower-case `raw` and keep it safe in a section header and a shell word:
/// runs of anything outside `[a-z0-9._-]` become one `-`, with no `-` at
/// either end.
pub fn safe_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("Prod EU (Main)"), "prod-eu-main");
        assert_eq!(safe_name("--A__b..c--"), "a__b..c");
        assert_eq!(safe_name("ÄÖ"), "");
        assert_eq!(safe_name("x]y[z=w"), "x-y-z-w");
    }
}
