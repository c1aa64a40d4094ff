//! Keys and token signing for tests.
#![allow(clippy::unwrap_used)]

use p256::ecdsa::signature::Signer;
use rsa::pkcs1v15::SigningKey as RsaSigningKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};

use crate::core::b64;
use crate::core::jose::{Jwk, JwkSet};

/// A P-256 test key with a `kid`.
pub(crate) struct EcKey {
    pub sk: p256::ecdsa::SigningKey,
    pub kid: String,
}

impl EcKey {
    pub fn new(seed: u8, kid: &str) -> Self {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        Self {
            sk: p256::ecdsa::SigningKey::from_slice(&bytes).unwrap(),
            kid: kid.into(),
        }
    }

    pub fn jwk(&self) -> Jwk {
        let point = self.sk.verifying_key().to_encoded_point(false);
        let v = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
            "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap()),
        });
        serde_json::from_value(v).unwrap()
    }

    pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.to_string().as_bytes()),
            b64::encode(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = self.sk.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(&sig.to_bytes()))
    }

    /// Signs with `alg: ES256` and this key's `kid`, plus `typ` if given.
    pub fn jwt(&self, typ: Option<&str>, claims: &serde_json::Value) -> String {
        let mut h = serde_json::json!({"alg": "ES256", "kid": self.kid});
        if let Some(t) = typ {
            h["typ"] = t.into();
        }
        self.sign(&h, claims)
    }
}

pub(crate) fn set(keys: &[Jwk]) -> JwkSet {
    JwkSet {
        keys: keys.to_vec(),
    }
}

/// An RSA test key (generated once per test binary).
pub(crate) fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: std::sync::OnceLock<rsa::RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap())
}

pub(crate) fn rsa_jwk(kid: &str) -> Jwk {
    use rsa::traits::PublicKeyParts;
    let k = rsa_key().to_public_key();
    serde_json::from_value(serde_json::json!({
        "kty": "RSA", "kid": kid,
        "n": b64::encode(&k.n().to_bytes_be()), "e": b64::encode(&k.e().to_bytes_be()),
    }))
    .unwrap()
}

/// Signs with RS256 or PS256; an empty `kid` is left out of the header.
pub(crate) fn rsa_sign(alg: &str, kid: &str, claims: &serde_json::Value) -> String {
    let mut header = serde_json::json!({"alg": alg, "kid": kid});
    if kid.is_empty() {
        header = serde_json::json!({ "alg": alg });
    }
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let sig = match alg {
        "RS256" => RsaSigningKey::<sha2::Sha256>::new(rsa_key().clone())
            .sign(input.as_bytes())
            .to_vec(),
        "PS256" => rsa::pss::SigningKey::<sha2::Sha256>::new(rsa_key().clone())
            .sign_with_rng(&mut rand::thread_rng(), input.as_bytes())
            .to_vec(),
        _ => unreachable!(),
    };
    format!("{input}.{}", b64::encode(&sig))
}
