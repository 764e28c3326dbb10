use super::*;
use crate::model::Secret;

fn creds() -> RoleCredentials {
    RoleCredentials {
        access_key_id: "ASIAEXAMPLE".into(),
        secret_access_key: Secret::new("secret/with+chars="),
        session_token: Secret::new("token&more"),
        expiration: chrono::Utc::now(),
        account_id: None,
        issued_at: None,
    }
}

#[test]
fn each_partition_has_its_own_hosts() {
    assert_eq!(Partition::of_region("eu-west-1"), Partition::Aws);
    assert_eq!(Partition::of_region("us-gov-west-1"), Partition::AwsUsGov);
    assert_eq!(Partition::of_region("cn-north-1"), Partition::AwsCn);
    assert_eq!(
        Partition::AwsCn.federation_url(),
        "https://signin.amazonaws.cn/federation"
    );
    assert_eq!(
        Destination::Service("s3".into())
            .url(Partition::AwsUsGov, "us-gov-west-1")
            .unwrap(),
        "https://console.amazonaws-us-gov.com/s3/home?region=us-gov-west-1"
    );
}

#[test]
fn shortcuts_name_a_page_in_the_region() {
    let url = |name: &str| {
        Destination::Service(name.into())
            .url(Partition::Aws, "eu-west-1")
            .unwrap()
    };
    assert_eq!(
        url("ec2"),
        "https://console.aws.amazon.com/ec2/home?region=eu-west-1"
    );
    assert_eq!(
        url("S3"),
        "https://console.aws.amazon.com/s3/home?region=eu-west-1"
    );
    assert_eq!(
        url("logs"),
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups"
    );
    for required in [
        "s3",
        "ec2",
        "iam",
        "lambda",
        "cloudwatch",
        "cloudformation",
        "ecs",
        "eks",
        "rds",
        "dynamodb",
        "sqs",
        "sns",
        "secretsmanager",
        "ssm",
        "logs",
        "billing",
    ] {
        assert!(SERVICES.iter().any(|(n, _)| *n == required), "{required}");
    }
    let unknown = Destination::Service("nope".into())
        .url(Partition::Aws, "eu-west-1")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("'nope'") && unknown.contains("s3,"),
        "{unknown}"
    );
    assert_eq!(
        Destination::Home.url(Partition::Aws, "us-east-1").unwrap(),
        "https://console.aws.amazon.com/console/home?region=us-east-1"
    );
}

#[test]
fn a_destination_must_be_https() {
    let ok = "https://console.aws.amazon.com/iam/home#/roles";
    assert_eq!(
        Destination::Url(ok.into())
            .url(Partition::Aws, "x")
            .unwrap(),
        ok
    );
    for bad in ["javascript:alert(1)", "http://evil.example/", "not a url"] {
        assert!(
            Destination::Url(bad.into())
                .url(Partition::Aws, "x")
                .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_endpoint_follows_the_sdks_rule() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        federation_endpoint(Partition::Aws, env(&[])),
        "https://signin.aws.amazon.com/federation"
    );
    assert_eq!(
        federation_endpoint(
            Partition::Aws,
            env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")])
        ),
        "http://127.0.0.1:4566/federation"
    );
    assert_eq!(
        federation_endpoint(
            Partition::Aws,
            env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                ("AWS_ENDPOINT_URL_SIGNIN", "http://127.0.0.1:9000"),
            ])
        ),
        "http://127.0.0.1:9000/federation"
    );
    assert_eq!(
        federation_endpoint(
            Partition::AwsCn,
            env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ])
        ),
        "https://signin.amazonaws.cn/federation"
    );
}

#[test]
fn the_session_is_encoded_and_the_login_url_holds_only_the_token() {
    let request = signin_token_request(
        "https://signin.aws.amazon.com/federation",
        &creds(),
        Some(3600),
    );
    assert!(request.starts_with("https://signin.aws.amazon.com/federation?Action=getSigninToken&SessionDuration=3600&Session=%7B"));
    // Every character that means something in a query is escaped.
    assert!(
        !request.contains("token&more") && request.contains("token%26more"),
        "{}",
        *request
    );
    let query = request.split_once('?').unwrap().1;
    let session: String = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "Session")
        .unwrap()
        .1
        .into_owned();
    let session: serde_json::Value = serde_json::from_str(&session).unwrap();
    assert_eq!(session["sessionKey"], "secret/with+chars=");
    assert_eq!(session["sessionToken"], "token&more");

    let url = login_url(
        "https://signin.aws.amazon.com/federation",
        "credbroker",
        "https://console.aws.amazon.com/s3/home?region=eu-west-1",
        "one-time",
    );
    assert_eq!(
        url,
        "https://signin.aws.amazon.com/federation?Action=login&Issuer=credbroker&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2Fs3%2Fhome%3Fregion%3Deu-west-1&SigninToken=one-time"
    );
    assert!(!url.contains("ASIAEXAMPLE") && !url.contains("secret") && !url.contains("more"));
}

#[test]
fn durations_and_answers_are_checked() {
    assert_eq!(check_duration(900), Ok(900));
    assert_eq!(check_duration(43200), Ok(43200));
    assert!(check_duration(899).is_err() && check_duration(43201).is_err());
    assert_eq!(
        parse_signin_token(r#"{"SigninToken":"abc"}"#).as_deref(),
        Some("abc")
    );
    assert_eq!(parse_signin_token(r#"{"SigninToken":""}"#), None);
    assert_eq!(parse_signin_token("<html>"), None);
}
