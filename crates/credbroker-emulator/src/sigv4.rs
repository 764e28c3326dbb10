//! Verifying an AWS Signature Version 4 (`AWS4-HMAC-SHA256`) request, the
//! way STS does before it answers.
//!
//! The steps, as the SigV4 specification lays them out: first parse the
//! `Authorization` header (`Credential=AKID/DATE/REGION/SERVICE/aws4_request,
//! SignedHeaders=a;b, Signature=hex`); then rebuild the canonical request
//! (method, canonical URI, sorted canonical query, the signed headers
//! lowercased and trimmed, the signed-header list, the payload hash from
//! `x-amz-content-sha256` or the body); then the string to sign over its
//! SHA-256 and the credential scope; finally derive the signing key from the
//! secret and compare signatures in constant time.
//!
//! Pure functions only: the server hands in the request parts and the secret
//! it issued for the access key id.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of an HTTP request a signature covers. Header names must be
/// lower case (hyper gives them that way); `path` and `query` are raw, as
/// sent on the wire.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The header or the request lacks a part SigV4 needs.
    #[error("{0}")]
    Malformed(String),
    /// Well formed, but signed with another secret or over other bytes.
    #[error("signature does not match")]
    Mismatch,
}

fn malformed(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::Malformed(msg.into())
}

/// Parse an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization, SigV4Error> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| malformed(format!("Authorization header must use {ALGORITHM}")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential =
        credential.ok_or_else(|| malformed("Authorization header requires 'Credential'"))?;
    let signed =
        signed.ok_or_else(|| malformed("Authorization header requires 'SignedHeaders'"))?;
    let signature =
        signature.ok_or_else(|| malformed("Authorization header requires 'Signature'"))?;
    let fields: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, terminator] = fields[..] else {
        return Err(malformed(
            "Credential must be AKID/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if terminator != "aws4_request" || akid.is_empty() || date.len() != 8 {
        return Err(malformed(
            "Credential must be AKID/DATE/REGION/SERVICE/aws4_request",
        ));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("Signature must be 64 hex digits"));
    }
    Ok(Authorization {
        access_key_id: akid.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Check `auth`'s signature over `req` with `secret`.
pub fn verify(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    secret: &str,
) -> Result<(), SigV4Error> {
    let amz_date = req
        .header("x-amz-date")
        .ok_or_else(|| malformed("Request is missing the X-Amz-Date header"))?;
    if !amz_date.starts_with(&auth.date) {
        return Err(malformed("Credential scope date does not match X-Amz-Date"));
    }
    for must in ["host", "x-amz-date"] {
        if !auth.signed_headers.iter().any(|h| h == must) {
            return Err(malformed(format!("'{must}' must be a signed header")));
        }
    }
    let expected = signature(req, auth, secret, amz_date)?;
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SigV4Error::Mismatch)
    }
}

/// The hex signature `secret` gives `req` under `auth`'s scope and headers.
pub fn signature(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    secret: &str,
    amz_date: &str,
) -> Result<String, SigV4Error> {
    let canonical = canonical_request(req, &auth.signed_headers)?;
    let to_sign = string_to_sign(amz_date, &auth.scope(), &canonical);
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    Ok(hex::encode(hmac(&key, to_sign.as_bytes())))
}

/// The canonical request over the listed headers.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[String],
) -> Result<String, SigV4Error> {
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(malformed(format!(
                "signed header '{name}' is not in the request"
            )));
        }
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    let payload_hash = match req.header("x-amz-content-sha256") {
        Some(h) => h.to_owned(),
        None => hex::encode(Sha256::digest(req.body)),
    };
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed_headers.join(";"),
        payload_hash
    ))
}

/// `AWS4-HMAC-SHA256\n{date}\n{scope}\n{hex sha256 of the canonical request}`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Equal bytes, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Services other than S3 normalize the path (no `.`/`..` segments) and
/// encode it again on top of the encoding it arrived with.
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let trailing = path.len() > 1 && path.ends_with('/');
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(
        &segments
            .iter()
            .map(|s| uri_encode(s.as_bytes()))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if trailing && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// Query pairs decoded, re-encoded the SigV4 way, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Every byte but `A-Z a-z 0-9 - _ . ~` as `%XX`, upper-case hex.
fn uri_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` to bytes; `+` stays `+` (SigV4 query strings are not form bodies).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The worked example of the AWS General Reference (IAM ListUsers).
    #[test]
    fn aws_documented_example() {
        let h = headers(&[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("host", "iam.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &h,
            body: b"",
        };
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        )
        .unwrap();
        let canonical = canonical_request(&req, &auth.signed_headers).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            hex::encode(signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        verify(&req, &auth, SECRET).unwrap();
        assert_eq!(
            verify(&req, &auth, "another secret"),
            Err(SigV4Error::Mismatch)
        );
        let tampered = SignedRequest {
            query: "Action=ListUsers&Version=2010-05-09",
            ..req
        };
        assert_eq!(verify(&tampered, &auth, SECRET), Err(SigV4Error::Mismatch));
    }

    /// `get-vanilla` from the AWS SigV4 test suite.
    #[test]
    fn test_suite_get_vanilla() {
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        let auth = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        verify(&req, &auth, SECRET).unwrap();
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c"), "/a/c");
        assert_eq!(canonical_uri("/foo%20bar/"), "/foo%2520bar/");
        assert_eq!(canonical_query("b=2&a=x%2By&a=1&c"), "a=1&a=x%2By&b=2&c=");
        assert_eq!(canonical_query("k=a b"), "k=a%20b");
    }

    #[test]
    fn malformed_headers_are_named() {
        assert!(matches!(
            parse_authorization("AWS4-HMAC-SHA1 x"),
            Err(SigV4Error::Malformed(_))
        ));
        assert!(matches!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=A/B/C, SignedHeaders=host, Signature=00"
            ),
            Err(SigV4Error::Malformed(_))
        ));
        let h = headers(&[("host", "h")]);
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        let auth = parse_authorization(&format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
            "0".repeat(64)
        ))
        .unwrap();
        assert!(
            matches!(verify(&req, &auth, SECRET), Err(SigV4Error::Malformed(m)) if m.contains("X-Amz-Date"))
        );
    }

    #[test]
    fn payload_hash_header_wins_over_body() {
        let h = headers(&[("host", "h"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
        let req = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &h,
            body: b"abc",
        };
        let canonical = canonical_request(&req, &["host".to_owned()]).unwrap();
        assert!(
            canonical.ends_with("\nhost\nUNSIGNED-PAYLOAD"),
            "{canonical}"
        );
    }
}
