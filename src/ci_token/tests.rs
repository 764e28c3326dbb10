use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// An unsigned JWT with these claims (the sources never verify; STS does).
fn jwt(claims: serde_json::Value) -> String {
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        part(claims),
        URL_SAFE_NO_PAD.encode(b"sig")
    )
}

fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
    EnvSnapshot::from_pairs(pairs.iter().copied())
}

#[test]
fn debug_names_variables_without_values() {
    let e = env(&[("GITLAB_OIDC_TOKEN", "s3cret"), ("EMPTY", "")]);
    let shown = format!("{e:?}");
    assert!(
        shown.contains("GITLAB_OIDC_TOKEN") && !shown.contains("s3cret"),
        "{shown}"
    );
    assert_eq!(e.get("EMPTY"), None);
}

#[tokio::test]
async fn a_one_shot_variable_is_read_until_its_exp_then_refused_with_the_fix() {
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let source = TokenSource::parse("gitlab", None).unwrap();
    let token =
        jwt(serde_json::json!({"exp": now.timestamp() + 3600, "aud": "https://gitlab.com"}));
    let job = env(&[("GITLAB_OIDC_TOKEN", &token)]);
    assert!(!renewable(&source, &job));
    assert_eq!(fetch(&source, &job, now).await.unwrap().expose(), token);
    let notice = lifetime_notice(&source, &job, now).unwrap();
    assert!(
        notice.contains("cannot be renewed") && notice.contains("(in 1h 0m)"),
        "{notice}"
    );
    assert!(notice.contains("timeout:"), "{notice}");
    assert!(!notice.contains(&token));

    let later = now + chrono::Duration::seconds(3601);
    let e = fetch(&source, &job, later).await.unwrap_err().to_string();
    assert!(
        e.contains("expired at") && e.contains("GITLAB_OIDC_TOKEN"),
        "{e}"
    );

    let e = fetch(&source, &env(&[]), now)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("id_tokens:") && e.contains("aud: https://gitlab.com"),
        "{e}"
    );
    let e = fetch(&TokenSource::Bitbucket, &env(&[]), now)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("oidc: true"), "{e}");
}

#[tokio::test]
async fn a_command_runs_with_exactly_the_given_environment() {
    let now = Utc::now();
    let token = jwt(serde_json::json!({"sub": "x"}));
    let job = env(&[("PATH", "/usr/bin:/bin"), ("MY_JWT", &token)]);
    let source = TokenSource::parse("command:printf %s \"$MY_JWT\"", None).unwrap();
    assert!(renewable(&source, &job));
    assert_eq!(fetch(&source, &job, now).await.unwrap().expose(), token);
    assert!(lifetime_notice(&source, &job, now).is_none());

    let source = TokenSource::parse("command:echo not a token", None).unwrap();
    let e = fetch(&source, &job, now).await.unwrap_err().to_string();
    assert!(e.contains("not a JWT"), "{e}");
    let source = TokenSource::parse("command:echo nope >&2; exit 3", None).unwrap();
    let e = fetch(&source, &job, now).await.unwrap_err().to_string();
    assert!(e.contains("failed") && e.contains("nope"), "{e}");
}

#[tokio::test]
async fn buildkite_without_its_agent_says_where_to_run() {
    let source = TokenSource::parse("buildkite", None).unwrap();
    let e = fetch(&source, &env(&[("PATH", "/nonexistent")]), Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("buildkite-agent is not on PATH"), "{e}");
}

#[test]
fn circleci_renews_only_with_its_cli() {
    let source = TokenSource::parse("circleci", None).unwrap();
    assert!(!renewable(&source, &env(&[("PATH", "/nonexistent")])));
    let dir = tempfile::tempdir().unwrap();
    let cli = dir.path().join("circleci");
    std::fs::write(&cli, "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = dir.path().to_string_lossy().into_owned();
    assert!(renewable(&source, &env(&[("PATH", &path)])));
}

#[test]
fn durations_read_as_people_say_them() {
    assert_eq!(human(chrono::Duration::seconds(3900)), "1h 5m");
    assert_eq!(human(chrono::Duration::seconds(240)), "4m");
    assert_eq!(human(chrono::Duration::seconds(30)), "30s");
    assert_eq!(human(chrono::Duration::seconds(-1)), "expired");
}
