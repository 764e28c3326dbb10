//! The AWS web console for a profile: the federation sign-in flow, as pure
//! functions (docs/protocols.md, "The console sign-in").
//!
//! 1. The role's credentials go to the sign-in service's `getSigninToken`
//!    as the `Session` JSON (`sessionId`, `sessionKey`, `sessionToken`).
//! 2. The `SigninToken` it answers goes into an `Action=login` URL with an
//!    `Issuer` and a `Destination`.
//! 3. The browser opens that URL. The one-time token is the only secret in
//!    it: it is good for one sign-in, within 15 minutes, and nothing else.
//!
//! Each partition has its own sign-in and console hosts. The sign-in
//! endpoint follows the SDKs' endpoint rule, `AWS_ENDPOINT_URL_SIGNIN` then
//! `AWS_ENDPOINT_URL`, so the emulator can answer.

use crate::model::RoleCredentials;

/// The AWS partitions, each with its own hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    AwsUsGov,
    AwsCn,
}

impl Partition {
    /// The partition a region belongs to.
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    /// The federation endpoint of the sign-in service.
    pub fn federation_url(self) -> &'static str {
        match self {
            Partition::Aws => "https://signin.aws.amazon.com/federation",
            Partition::AwsUsGov => "https://signin.amazonaws-us-gov.com/federation",
            Partition::AwsCn => "https://signin.amazonaws.cn/federation",
        }
    }

    /// The console's host.
    pub fn console_host(self) -> &'static str {
        match self {
            Partition::Aws => "console.aws.amazon.com",
            Partition::AwsUsGov => "console.amazonaws-us-gov.com",
            Partition::AwsCn => "console.amazonaws.cn",
        }
    }
}

/// Service shortcuts for `--service`: name, console path.
pub const SERVICES: &[(&str, &str)] = &[
    ("billing", "billing/home"),
    ("cloudformation", "cloudformation/home"),
    ("cloudfront", "cloudfront/v4/home"),
    ("cloudtrail", "cloudtrail/home"),
    ("cloudwatch", "cloudwatch/home"),
    ("dynamodb", "dynamodbv2/home"),
    ("ec2", "ec2/home"),
    ("ecr", "ecr/home"),
    ("ecs", "ecs/v2/home"),
    ("eks", "eks/home"),
    ("iam", "iam/home"),
    ("kms", "kms/home"),
    ("lambda", "lambda/home"),
    ("logs", "cloudwatch/home#logsV2:log-groups"),
    ("organizations", "organizations/v2/home"),
    ("rds", "rds/home"),
    ("route53", "route53/v2/home"),
    ("s3", "s3/home"),
    ("secretsmanager", "secretsmanager/home"),
    ("sns", "sns/v3/home"),
    ("sqs", "sqs/v3/home"),
    ("ssm", "systems-manager/home"),
    ("sso", "singlesignon/home"),
    ("vpc", "vpc/home"),
];

/// Where the console opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The console's home page.
    Home,
    /// A service shortcut (one of [`SERVICES`]).
    Service(String),
    /// Any console URL, as given.
    Url(String),
}

/// Why a console URL cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    #[error("no console shortcut named '{0}'; use one of {list}, or --destination URL", list = service_names())]
    UnknownService(String),
    #[error("--destination must be an https:// console URL, not '{0}'")]
    BadDestination(String),
    #[error("--session-duration must be between 900 and 43200 seconds (15 minutes to 12 hours), not {0}")]
    BadDuration(u32),
}

fn service_names() -> String {
    SERVICES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Destination {
    /// The console URL for this destination in `region`.
    pub fn url(&self, partition: Partition, region: &str) -> Result<String, ConsoleError> {
        let host = partition.console_host();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("region", region)
            .finish();
        match self {
            Destination::Home => Ok(format!("https://{host}/console/home?{query}")),
            Destination::Service(name) => {
                let (_, path) = SERVICES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .ok_or_else(|| ConsoleError::UnknownService(name.clone()))?;
                // A fragment (logs) goes after the query.
                Ok(match path.split_once('#') {
                    Some((path, fragment)) => format!("https://{host}/{path}?{query}#{fragment}"),
                    None => format!("https://{host}/{path}?{query}"),
                })
            }
            Destination::Url(url) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|_| ConsoleError::BadDestination(url.clone()))?;
                if parsed.scheme() != "https" && !is_loopback(&parsed) {
                    return Err(ConsoleError::BadDestination(url.clone()));
                }
                Ok(url.clone())
            }
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// The federation endpoint: `AWS_ENDPOINT_URL_SIGNIN`, then
/// `AWS_ENDPOINT_URL` (with `/federation` added), else the partition's;
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns the variables off, as
/// in the SDKs.
pub fn federation_endpoint(partition: Partition, env: impl Fn(&str) -> Option<String>) -> String {
    match crate::sso::configured_endpoint("SIGNIN", env) {
        Some(base) => format!("{base}/federation"),
        None => partition.federation_url().to_owned(),
    }
}

/// The `Session` parameter: the role credentials as the sign-in service
/// reads them.
pub fn session_json(creds: &RoleCredentials) -> zeroize::Zeroizing<String> {
    zeroize::Zeroizing::new(
        serde_json::json!({
            "sessionId": creds.access_key_id,
            "sessionKey": creds.secret_access_key.expose(),
            "sessionToken": creds.session_token.expose(),
        })
        .to_string(),
    )
}

/// The `getSigninToken` request URL. It carries the role's secret: it is
/// sent, never shown or logged.
pub fn signin_token_request(
    endpoint: &str,
    creds: &RoleCredentials,
    session_duration: Option<u32>,
) -> zeroize::Zeroizing<String> {
    let session = session_json(creds);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("Action", "getSigninToken");
    if let Some(seconds) = session_duration {
        query.append_pair("SessionDuration", &seconds.to_string());
    }
    query.append_pair("Session", &session);
    zeroize::Zeroizing::new(format!("{endpoint}?{}", query.finish()))
}

/// Check a `--session-duration`: the sign-in service takes 900..=43200.
pub fn check_duration(seconds: u32) -> Result<u32, ConsoleError> {
    if (900..=43200).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ConsoleError::BadDuration(seconds))
    }
}

/// The `Action=login` URL the browser opens.
pub fn login_url(endpoint: &str, issuer: &str, destination: &str, signin_token: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "login")
        .append_pair("Issuer", issuer)
        .append_pair("Destination", destination)
        .append_pair("SigninToken", signin_token)
        .finish();
    format!("{endpoint}?{query}")
}

/// The `SigninToken` of a `getSigninToken` answer.
pub fn parse_signin_token(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value
        .get("SigninToken")?
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests;
