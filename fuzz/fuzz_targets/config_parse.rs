//! The AWS config parser: any text either parses or is refused with an
//! error, every line number it reports is a line of the file, and every
//! profile of a parsed file resolves (or fails to) without panicking.
#![no_main]

use credbroker::config::{parse_file, parse_sections, AwsConfig};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    let path = Path::new("/fuzz/.aws/config");
    let sections = parse_sections(text, path);
    // Every kept section and every ignored line points at a line of the file.
    if let Ok(file) = parse_file(text, path) {
        let lines = text.lines().count();
        let points = file.sections.iter().map(|s| s.line);
        for line in points.chain(file.ignored.iter().map(|i| i.line)) {
            assert!((1..=lines).contains(&line), "line {line} of {lines}");
        }
    }
    let Ok(config) = AwsConfig::parse(text, path) else {
        return;
    };
    // A file the full parser accepts is one the section reader accepts.
    assert!(
        sections.is_ok(),
        "AwsConfig::parse accepted what parse_sections refused"
    );
    for name in config.profiles.keys() {
        assert!(config.profile(name).is_some());
        let _ = config.session_of_profile(name);
        let _ = config.role_target(name);
    }
    for name in config.sessions.keys() {
        let _ = config.session(name);
    }
});
