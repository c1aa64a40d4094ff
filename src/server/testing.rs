//! A test identity provider for handler tests: it mints signed access tokens that a
//! validator built from it accepts, with no provider running.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::validator::{Validator, ValidatorBuilder, ValidatorError};
use crate::core::b64;
use crate::core::jose::{Jwk, JwkSet};
use crate::core::{Clock, SystemClock};

/// Why a [`TestIssuer`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestIssuerError {
    /// The platform's random generator or key generation failed.
    #[error("cannot generate a test key")]
    KeyGeneration,
}

/// Mints RFC 9068 access tokens signed with a fresh ES256 key, for testing handlers
/// behind [`Auth`](super::Auth) without a provider:
///
/// ```
/// # use oidc_leptos::server::TestIssuer;
/// let idp = TestIssuer::new("https://idp.test", "todo-api")?;
/// let validator = idp.validator().build_lazy()?;
/// let token = idp.token("alice");                 // send as `Authorization: Bearer ..`
/// let admin = idp.token_with(serde_json::json!({"sub": "bob", "scope": "admin"}));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The key lives only in this value; tokens are valid for five minutes from the
/// issuer's clock (the system clock unless [`clock`](Self::clock) sets another).
pub struct TestIssuer {
    issuer: String,
    audience: String,
    key: EcdsaKeyPair,
    jwk: Jwk,
    clock: Arc<dyn Clock>,
    rng: SystemRandom,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TestIssuer {
    /// A test issuer `issuer` minting tokens for `audience`.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, TestIssuerError> {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| TestIssuerError::KeyGeneration)?;
        let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref())
            .map_err(|_| TestIssuerError::KeyGeneration)?;
        // The public key is the SEC1 uncompressed point: 0x04 || x || y.
        let point = key.public_key().as_ref();
        let (x, y) = point
            .get(1..33)
            .zip(point.get(33..65))
            .ok_or(TestIssuerError::KeyGeneration)?;
        let jwk = serde_json::from_value(json!({
            "kty": "EC", "crv": "P-256", "kid": "test", "use": "sig", "alg": "ES256",
            "x": b64::encode(x), "y": b64::encode(y),
        }))
        .map_err(|_| TestIssuerError::KeyGeneration)?;
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            key,
            jwk,
            clock: Arc::new(SystemClock),
            rng,
        })
    }

    /// The time source for `iat` and `exp`; give the validator the same one.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The public key set.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// A validator builder for this issuer, audience, keys and clock (add options,
    /// then `build_lazy`).
    pub fn validator(&self) -> ValidatorBuilder {
        Validator::discover(&self.issuer)
            .audience(&self.audience)
            .static_keys(self.jwks())
            .clock(Arc::clone(&self.clock))
    }

    /// A valid access token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        self.token_with(json!({ "sub": sub }))
    }

    /// A valid access token whose claims are the defaults (`iss`, `aud`, `sub`, `iat`,
    /// `exp` in five minutes, `jti`, `client_id`) overridden by `claims`; a `null`
    /// value removes a claim.
    pub fn token_with(&self, claims: Value) -> String {
        let now = self.clock.now();
        let mut all = json!({
            "iss": self.issuer, "aud": self.audience, "sub": "test-user",
            "iat": now, "exp": now.saturating_add(300), "client_id": "test-client",
            "jti": b64::encode(&now.to_be_bytes()) + &b64::encode(&rand_bytes(&self.rng)),
        });
        if let (Some(all), Some(extra)) = (all.as_object_mut(), claims.as_object()) {
            for (k, v) in extra {
                if v.is_null() {
                    all.remove(k);
                } else {
                    all.insert(k.clone(), v.clone());
                }
            }
        }
        let header = json!({"alg": "ES256", "kid": "test", "typ": "at+jwt"});
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(all.to_string().as_bytes())
        );
        // Signing with a valid key pair fails only if the random generator does.
        match self.key.sign(&self.rng, input.as_bytes()) {
            Ok(sig) => format!("{input}.{}", b64::encode(sig.as_ref())),
            Err(_) => input,
        }
    }
}

fn rand_bytes(rng: &SystemRandom) -> [u8; 12] {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 12];
    let _ = rng.fill(&mut bytes);
    bytes
}

/// Builds a validator for a test issuer in one call.
impl TryFrom<&TestIssuer> for Validator {
    type Error = ValidatorError;

    fn try_from(issuer: &TestIssuer) -> Result<Self, Self::Error> {
        issuer.validator().build_lazy()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::core::{AccessTokenError, ManualClock, NoAdditionalClaims};
    use crate::server::ValidationFailure;

    #[tokio::test]
    async fn minted_tokens_pass_and_overrides_apply() {
        let clock = ManualClock::new(1_700_000_000);
        let idp = TestIssuer::new("https://idp.test", "api")
            .unwrap()
            .clock(Arc::new(clock.clone()));
        let validator = Validator::try_from(&idp).unwrap();
        let claims = validator
            .validate::<NoAdditionalClaims>(&idp.token("alice"))
            .await
            .unwrap();
        assert_eq!(claims.sub, "alice");
        let scoped = idp.token_with(json!({"scope": "admin"}));
        let claims = validator
            .validate::<NoAdditionalClaims>(&scoped)
            .await
            .unwrap();
        assert!(claims.has_scope("admin"));
        let no_jti = idp.token_with(json!({"jti": null}));
        assert_eq!(
            validator
                .validate::<NoAdditionalClaims>(&no_jti)
                .await
                .unwrap_err(),
            ValidationFailure::Invalid(AccessTokenError::MissingClaim("jti"))
        );
        clock.advance(3600);
        assert_eq!(
            validator
                .validate::<NoAdditionalClaims>(&scoped)
                .await
                .unwrap_err(),
            ValidationFailure::Invalid(AccessTokenError::Expired)
        );
        // Another test issuer's tokens are refused.
        let other = TestIssuer::new("https://idp.test", "api").unwrap();
        assert!(validator
            .validate::<NoAdditionalClaims>(&other.token("mallory"))
            .await
            .is_err());
    }

    /// A clock at the end of time mints a token whose `exp` is the last second, not a
    /// wrapped one (nor a panic).
    #[test]
    fn a_clock_at_the_end_of_time_mints_without_overflow() {
        let idp = TestIssuer::new("https://idp.test", "api")
            .unwrap()
            .clock(Arc::new(ManualClock::new(u64::MAX - 100)));
        let token = idp.token("alice");
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&b64::decode(payload).unwrap()).unwrap();
        assert_eq!(claims["exp"], json!(u64::MAX));
    }
}
