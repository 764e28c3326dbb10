//! `credbroker status`, with and without a running daemon.

mod support;

use support::{get_credentials, Env};

#[test]
fn status_reports_sessions_roles_endpoint_and_config() {
    let mut env = Env::new("status", &["--auto-approve"]);
    env.write_standard_config();

    // Nothing running, nobody signed in.
    let status = env.status_json();
    assert_eq!(status["format"], 1);
    assert_eq!(status["daemon"]["running"], false);
    assert!(status["endpoint"].is_null());
    assert_eq!(status["sessions"], serde_json::json!([]));
    assert_eq!(status["roles"], serde_json::json!([]));
    assert!(status["config"]["error"].is_null());
    assert!(status["service"]["state"].is_string());
    let human = env.run(&["status"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(human.status.success());
    assert!(text.contains("Daemon    not running"), "{text}");

    env.login();
    let endpoint = env.start_daemon();
    let (code, _) = get_credentials(&endpoint, "dev", &env.token());
    assert_eq!(code, 200);

    let status = env.status_json();
    assert_eq!(status["daemon"]["running"], true);
    assert!(status["daemon"]["pid"].as_u64().is_some());
    assert_eq!(status["endpoint"], endpoint.as_str());
    let sessions = status["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{status}");
    assert_eq!(sessions[0]["name"], "corp");
    assert_eq!(sessions[0]["start_url"], "https://corp.awsapps.com/start");
    assert_eq!(sessions[0]["refreshable"], true);
    assert_eq!(sessions[0]["expired"], false);
    let roles = status["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 1, "{status}");
    assert_eq!(roles[0]["account_id"], "111111111111");
    assert_eq!(roles[0]["role_name"], "ReadOnly");
    assert!(roles[0]["renew_at"].as_str() < roles[0]["expiration"].as_str());
    let text = serde_json::to_string(&status).unwrap();
    assert!(!text.contains("SecretAccessKey") && !text.contains("accessToken"));

    let human = env.run(&["status"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("https://corp.awsapps.com/start"), "{text}");
    assert!(text.contains("111111111111"), "{text}");
    assert!(text.contains(&endpoint), "{text}");

    // Without the daemon, a broken config file is still reported.
    env.kill_daemon();
    env.write_config("[profile broken\n");
    let status = env.status_json();
    assert_eq!(status["daemon"]["running"], false);
    assert!(status["config"]["error"].is_string(), "{status}");
}
