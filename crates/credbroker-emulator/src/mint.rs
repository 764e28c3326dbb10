//! Fresh random identifiers in the shapes AWS uses, so that a client that
//! checks a prefix or a length (an access key id starting `ASIA`, a user
//! code like `BCDF-GHJK`) sees what it would see from AWS.

use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;

/// `prefix` followed by `len` random letters and digits.
pub fn token(prefix: &str, len: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    out.push_str(&Alphanumeric.sample_string(&mut rand::rng(), len));
    out
}

fn from_alphabet(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// A temporary access key id: `ASIA` and 16 upper-case letters or digits.
pub fn access_key_id() -> String {
    format!(
        "ASIA{}",
        from_alphabet(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

/// A 40-character secret access key.
pub fn secret_access_key() -> String {
    from_alphabet(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    )
}

/// A user code a person can read aloud: `XXXX-XXXX` without look-alike letters.
pub fn user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    format!(
        "{}-{}",
        from_alphabet(ALPHABET, 4),
        from_alphabet(ALPHABET, 4)
    )
}

/// A request id in UUID layout, for `x-amzn-RequestId` and STS `RequestId`.
pub fn request_id() -> String {
    let hex = from_alphabet(b"0123456789abcdef", 32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let akid = access_key_id();
        assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");
        assert_eq!(secret_access_key().len(), 40);
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert_eq!(request_id().len(), 36);
        assert!(token("aoa", 10).starts_with("aoa"));
        assert_ne!(token("", 32), token("", 32));
    }
}
