//! Random protocol values from the operating system's (or browser's) CSPRNG.

/// Error obtaining random bytes from the platform.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the platform random number generator failed: {0}")]
pub struct RandomError(String);

/// Fills `buf` with bytes from the platform CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// A base64url string of `bytes` random bytes.
pub fn random_string(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf)?;
    Ok(super::b64::encode(&buf))
}

macro_rules! random_value {
    ($(#[$doc:meta])* $name:ident) => {
        // Serialized only inside the pending authorization, which must survive the
        // redirect to the provider.
        super::types::secret_string!(
            $(#[$doc])*
            #[derive(serde::Serialize, serde::Deserialize)]
            #[serde(transparent)]
            $name
        );

        impl $name {
            /// A fresh value of 256 bits from the CSPRNG (the protocol asks for at least 128).
            pub fn new_random() -> Result<Self, RandomError> {
                random_string(32).map(Self)
            }
        }
    };
}

random_value!(
    /// The OAuth `state` parameter: binds the callback to the request (RFC 6749 section 10.12).
    State
);
random_value!(
    /// The OpenID Connect `nonce`: binds the ID token to the request (OIDC Core section 15.5.2).
    Nonce
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_long_and_distinct() {
        let a = State::new_random().unwrap();
        let b = State::new_random().unwrap();
        assert_ne!(a.secret(), b.secret());
        // 32 bytes -> 43 base64url characters, at least 128 bits of entropy.
        assert_eq!(a.secret().len(), 43);
        assert!(Nonce::new_random().unwrap().secret().len() >= 22);
    }

    #[test]
    fn debug_is_redacted() {
        let s = State::new("secret-value");
        assert_eq!(format!("{s:?}"), "State([redacted])");
        assert!(s.matches("secret-value"));
        assert!(!s.matches("secret-valuf"));
        assert!(!s.matches("secret"));
    }
}
