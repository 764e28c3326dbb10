use super::*;
use crate::portal::IssuedCredentials;
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap()
}

fn portal() -> Portal {
    let mut portal = Portal::default();
    portal.record(
        "ASIAISSUED".into(),
        IssuedCredentials {
            secret_access_key: "the-secret".into(),
            session_token: "the-token".into(),
            account_id: "111111111111".into(),
            role_name: "Admin".into(),
            user: "ana@example.com".into(),
            expires_at: now() + Duration::hours(1),
        },
    );
    portal
}

fn session(key: &str) -> String {
    serde_json::json!({"sessionId": "ASIAISSUED", "sessionKey": key, "sessionToken": "the-token"})
        .to_string()
}

const DESTINATION: &str = "https://console.aws.amazon.com/s3/home?region=eu-west-1";

#[test]
fn an_issued_session_gets_a_token_that_signs_in_once() {
    let (portal, mut signin) = (portal(), Signin::default());
    let token = signin
        .get_signin_token(&portal, Some(&session("the-secret")), Some("3600"), now())
        .unwrap();
    let cookie = signin
        .login(Some(&token), Some(DESTINATION), Some("credbroker"), now())
        .unwrap();
    let console = signin
        .session(Some(&format!("other=1; {COOKIE}={cookie}")))
        .unwrap();
    assert_eq!(
        console.principal.arn,
        "arn:aws:sts::111111111111:assumed-role/Admin/ana@example.com"
    );
    assert_eq!(console.region, "eu-west-1");
    let page = console_page(console);
    assert!(
        page.contains("assumed-role/Admin") && page.contains("s3/home"),
        "{page}"
    );

    let again = signin
        .login(Some(&token), Some(DESTINATION), None, now())
        .unwrap_err();
    assert!(again.reason.contains("already been used"), "{again:?}");
    assert!(signin.session(Some("credbroker-console=forged")).is_none());
}

#[test]
fn a_token_lives_fifteen_minutes() {
    let (portal, mut signin) = (portal(), Signin::default());
    let token = signin
        .get_signin_token(&portal, Some(&session("the-secret")), None, now())
        .unwrap();
    let late = now() + TOKEN_LIFETIME + Duration::seconds(1);
    let refusal = signin
        .login(Some(&token), Some(DESTINATION), None, late)
        .unwrap_err();
    assert!(refusal.reason.contains("expired"), "{refusal:?}");
}

#[test]
fn sessions_it_did_not_issue_or_that_expired_are_refused() {
    let (portal, mut signin) = (portal(), Signin::default());
    let mut ask = |json: Option<&str>, duration: Option<&str>, at| {
        signin
            .get_signin_token(&portal, json, duration, at)
            .unwrap_err()
    };
    assert!(ask(Some(&session("wrong")), None, now())
        .reason
        .contains("not valid"));
    assert!(ask(None, None, now()).reason.contains("missing"));
    assert!(ask(Some("{}"), None, now()).reason.contains("sessionId"));
    assert!(ask(Some(&session("the-secret")), Some("60"), now())
        .reason
        .contains("900"));
    let later = now() + Duration::hours(2);
    assert!(ask(Some(&session("the-secret")), None, later)
        .reason
        .contains("expired"));
}

#[test]
fn pages_escape_what_they_show() {
    let page = error_page(&Refusal {
        status: 400,
        reason: "<script>x</script>".into(),
    });
    assert!(!page.contains("<script>x") && page.contains("&lt;script&gt;"));
    let refusal = Signin::default()
        .login(Some("t"), Some("javascript:alert(1)"), None, now())
        .unwrap_err();
    assert!(refusal.reason.contains("Destination"));
}
