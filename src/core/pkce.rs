//! Proof Key for Code Exchange (RFC 7636), S256 only.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::random::RandomError;

/// Error building a code verifier from a given string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// RFC 7636 section 4.1: the verifier is 43 to 128 characters long.
    #[error("code_verifier must be 43 to 128 characters, got {0}")]
    Length(usize),
    /// RFC 7636 section 4.1: only unreserved characters `[A-Z] [a-z] [0-9] - . _ ~`.
    #[error("code_verifier contains a character outside the unreserved set")]
    Charset,
}

/// The PKCE `code_verifier`, kept by the client until the token request. Serialized
/// only inside the pending authorization; `Debug` prints `[redacted]`; no `==`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// A fresh verifier: 32 random bytes, base64url (43 characters, RFC 7636 section 4.1).
    pub fn new_random() -> Result<Self, RandomError> {
        super::random::random_string(32).map(Self)
    }

    /// Validates a verifier given by the caller (RFC 7636 section 4.1 rules).
    pub fn new(value: impl Into<String>) -> Result<Self, PkceError> {
        let value = value.into();
        if !(43..=128).contains(&value.len()) {
            return Err(PkceError::Length(value.len()));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err(PkceError::Charset);
        }
        Ok(Self(value))
    }

    /// The verifier as sent in the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The S256 challenge: `BASE64URL(SHA256(ASCII(code_verifier)))` (RFC 7636 section 4.2).
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(super::b64::encode(&Sha256::digest(self.0.as_bytes())))
    }
}

impl TryFrom<String> for CodeVerifier {
    type Error = PkceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<CodeVerifier> for String {
    fn from(v: CodeVerifier) -> Self {
        v.0
    }
}

impl std::fmt::Debug for CodeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(test)]
        if super::types::reveal::on() {
            return write!(f, "CodeVerifier({:?})", self.0);
        }
        f.write_str("CodeVerifier([redacted])")
    }
}

/// The PKCE `code_challenge` sent in the authorization request (method `S256`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// The challenge value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The method; only `S256` is produced (RFC 7636 section 7.2 recommends it).
    pub fn method(&self) -> &'static str {
        "S256"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        let v = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            v.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(v.challenge().method(), "S256");
    }

    #[test]
    fn random_verifier_is_valid() {
        let v = CodeVerifier::new_random().unwrap();
        assert!(CodeVerifier::new(v.secret()).is_ok());
        assert_ne!(v.secret(), CodeVerifier::new_random().unwrap().secret());
    }

    #[test]
    fn rejects_short_long_and_bad_charset() {
        assert_eq!(
            CodeVerifier::new("a".repeat(42)).unwrap_err(),
            PkceError::Length(42)
        );
        assert_eq!(
            CodeVerifier::new("a".repeat(129)).unwrap_err(),
            PkceError::Length(129)
        );
        assert!(CodeVerifier::new("a".repeat(128)).is_ok());
        assert_eq!(
            CodeVerifier::new(format!("{}+", "a".repeat(43))).unwrap_err(),
            PkceError::Charset
        );
    }

    #[test]
    fn debug_is_redacted() {
        let v = CodeVerifier::new_random().unwrap();
        assert_eq!(format!("{v:?}"), "CodeVerifier([redacted])");
    }
}
