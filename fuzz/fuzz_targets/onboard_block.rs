//! The onboarding block writer: splicing the managed block into any config
//! text either fails with an error or yields text that parses, holds every
//! profile that was not skipped, and is a fixed point (running onboarding
//! again changes nothing).
#![no_main]

use credbroker::config::AwsConfig;
use credbroker::onboard::block::{splice, BlockSpec};
use credbroker::onboard::PlannedProfile;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fn profile(name: &str, account: &str, role: &str) -> PlannedProfile {
    PlannedProfile {
        name: name.into(),
        account_id: account.into(),
        account_name: "acme".into(),
        role_name: role.into(),
        region: "eu-west-1".into(),
    }
}

fuzz_target!(|text: &str| {
    let path = Path::new("/fuzz/.aws/config");
    let spec = BlockSpec {
        session_name: "acme",
        start_url: "https://acme.awsapps.com/start",
        region: "eu-west-1",
        command: "/usr/local/bin/credbroker credential-process --profile",
    };
    let profiles = [
        profile("acme-dev", "111111111111", "Developer"),
        profile("acme-prod", "222222222222", "ReadOnly"),
    ];
    let Ok(first) = splice(text, &spec, &profiles, path) else {
        return;
    };
    let config = AwsConfig::parse(&first.text, path).expect("spliced text parses");
    for p in &profiles {
        if !first.skipped.contains(&p.name) {
            assert!(config.profile(&p.name).is_some(), "{} missing", p.name);
        }
    }
    let second = splice(&first.text, &spec, &profiles, path).expect("splices again");
    assert_eq!(second.text, first.text, "a second run changed the file");
});
