//! Signature verification with `ring` (feature `ring`, enabled by `server`): several
//! times faster than the pure-Rust crates on the server's hot path, and already in the
//! build through the HTTP client's TLS, so it costs no extra compilation.

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use super::{Algorithm, JoseError, Jwk, JwkSet, SignatureVerifier};

/// RFC 7518 section 3.3: RSA keys of 2048 bits or more (`ring` enforces it too).
const MIN_RSA_BYTES: usize = 2048 / 8;

/// A key's material, decoded once.
#[derive(Debug, Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// SEC1 uncompressed point (`0x04 || x || y`) of the curve `len` bytes wide.
    Ec {
        point: Vec<u8>,
        len: usize,
    },
    Ed25519 {
        x: Vec<u8>,
    },
    /// The key cannot be used (malformed); verifying with it fails with this error.
    Unusable(JoseError),
}

fn coordinate(key: &Jwk, name: &'static str, len: usize) -> Result<Vec<u8>, JoseError> {
    let v = key.decode_member(name)?;
    if v.len() != len {
        return Err(JoseError::InvalidKey(format!(
            "`{name}` must be {len} bytes, got {}",
            v.len()
        )));
    }
    Ok(v)
}

fn decode(key: &Jwk) -> Material {
    let material = || -> Result<Material, JoseError> {
        Ok(match (key.kty.as_str(), key.crv.as_deref()) {
            ("RSA", _) => {
                let n = key.decode_member("n")?;
                // Leading zero bytes are not part of the modulus.
                let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                let n = n[start..].to_vec();
                if n.len() < MIN_RSA_BYTES {
                    return Err(JoseError::InvalidKey(format!(
                        "RSA key of {} bits is below 2048",
                        n.len() * 8
                    )));
                }
                Material::Rsa {
                    n,
                    e: key.decode_member("e")?,
                }
            }
            ("EC", Some(crv)) => {
                let len = match crv {
                    "P-256" => 32,
                    "P-384" => 48,
                    other => {
                        return Err(JoseError::InvalidKey(format!(
                            "unsupported curve `{other}`"
                        )))
                    }
                };
                let mut point = vec![4];
                point.extend(coordinate(key, "x", len)?);
                point.extend(coordinate(key, "y", len)?);
                Material::Ec { point, len }
            }
            ("OKP", Some("Ed25519")) => Material::Ed25519 {
                x: coordinate(key, "x", 32)?,
            },
            (kty, _) => {
                return Err(JoseError::InvalidKey(format!(
                    "unsupported key type `{kty}`"
                )))
            }
        })
    };
    material().unwrap_or_else(Material::Unusable)
}

fn verify(alg: Algorithm, material: &Material, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    let bad = |_| JoseError::InvalidSignature;
    match (alg, material) {
        (_, Material::Unusable(e)) => Err(e.clone()),
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            Material::Rsa { n, e },
        ) => {
            // RFC 7518 section 3.5: PSS with MGF1 of the same hash, salt as long as it.
            let params: &signature::RsaParameters = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, input, sig)
                .map_err(bad)
        }
        (Algorithm::ES256, Material::Ec { point, len: 32 }) => {
            // RFC 7518 section 3.4: the signature is R || S.
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input, sig)
                .map_err(bad)
        }
        (Algorithm::ES384, Material::Ec { point, len: 48 }) => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                .verify(input, sig)
                .map_err(bad)
        }
        (Algorithm::EdDSA, Material::Ed25519 { x }) => {
            UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(input, sig)
                .map_err(bad)
        }
        (alg, _) => Err(JoseError::NoMatchingKey(alg)),
    }
}

/// Verifies RS*, PS*, ES256, ES384 and EdDSA signatures with `ring`, decoding the key
/// on each call (for one-off keys such as a DPoP proof's).
#[derive(Debug, Clone, Copy, Default)]
pub struct RingVerifier;

impl SignatureVerifier for RingVerifier {
    fn verify(&self, alg: Algorithm, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        verify(alg, &decode(key), input, sig)
    }
}

/// A JWK Set with every key decoded once, when the set is loaded: verifying with one
/// of its keys skips the base64 and big-number decoding.
#[derive(Debug, Clone, Default)]
pub struct PreparedKeySet {
    keys: JwkSet,
    material: Vec<Material>,
}

impl PreparedKeySet {
    /// Decodes every key of `keys` (a malformed key only fails when it is used).
    pub fn new(keys: JwkSet) -> Self {
        let material = keys.keys.iter().map(decode).collect();
        Self { keys, material }
    }

    /// The keys.
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }

    /// A verifier that uses the decoded material for this set's keys (and decodes any
    /// other key on the fly).
    pub fn verifier(&self) -> PreparedVerifier<'_> {
        PreparedVerifier { set: self }
    }
}

/// The verifier of a [`PreparedKeySet`].
#[derive(Debug, Clone, Copy)]
pub struct PreparedVerifier<'a> {
    set: &'a PreparedKeySet,
}

impl SignatureVerifier for PreparedVerifier<'_> {
    fn verify(&self, alg: Algorithm, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        // The key selected from the set is a reference into it: find it by address.
        let index = self.set.keys.keys.iter().position(|k| std::ptr::eq(k, key));
        match index.and_then(|i| self.set.material.get(i)) {
            Some(material) => verify(alg, material, input, sig),
            None => RingVerifier.verify(alg, key, input, sig),
        }
    }
}

#[cfg(all(test, feature = "rust-crypto"))]
mod tests {
    //! The same signatures as the RustCrypto backend accepts, and the same refusals.
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::core::b64;
    use crate::core::jose::{AlgorithmPolicy, UnverifiedJws};
    use crate::test_support::{rsa_jwk, rsa_sign, set, EcKey};

    fn check(token: &str, keys: &JwkSet) -> Result<(), JoseError> {
        let prepared = PreparedKeySet::new(keys.clone());
        let policy = AlgorithmPolicy::default();
        let a = UnverifiedJws::parse(token)?
            .verify(keys, &policy, &RingVerifier)
            .map(|_| ());
        let b = UnverifiedJws::parse(token)?
            .verify(prepared.keys(), &policy, &prepared.verifier())
            .map(|_| ());
        assert_eq!(a, b);
        a
    }

    #[test]
    fn rsa_and_ecdsa_verify_and_tampering_fails() {
        let claims = json!({"sub": "x"});
        let rsa = set(&[rsa_jwk("r")]);
        for alg in ["RS256", "PS256"] {
            let token = rsa_sign(alg, "r", &claims);
            assert_eq!(check(&token, &rsa), Ok(()), "{alg}");
            let tampered = format!("{}x", &token[..token.len() - 1]);
            assert!(check(&tampered, &rsa).is_err());
        }
        let ec = EcKey::new(1, "e");
        let keys = set(&[ec.jwk()]);
        let token = ec.jwt(None, &claims);
        assert_eq!(check(&token, &keys), Ok(()));
        let forged = EcKey::new(2, "e").jwt(None, &claims);
        assert_eq!(check(&forged, &keys), Err(JoseError::InvalidSignature));
        // r = s = 0.
        let zero = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            b64::encode(&[0; 64])
        );
        assert_eq!(check(&zero, &keys), Err(JoseError::InvalidSignature));
    }

    #[test]
    fn malformed_and_short_keys_fail_cleanly() {
        let ec = EcKey::new(1, "e");
        let token = ec.jwt(None, &json!({"sub": "x"}));
        let mut jwk = serde_json::to_value(ec.jwk()).unwrap();
        jwk["x"] = json!(b64::encode(&[1; 31]));
        let bad: Jwk = serde_json::from_value(jwk).unwrap();
        assert!(matches!(
            check(&token, &set(&[bad])),
            Err(JoseError::InvalidKey(_))
        ));
        let short: Jwk = serde_json::from_value(json!({
            "kty": "RSA", "kid": "r", "n": b64::encode(&[0xff; 128]), "e": "AQAB"
        }))
        .unwrap();
        let token = rsa_sign("RS256", "r", &json!({"sub": "x"}));
        assert!(matches!(
            check(&token, &set(&[short])),
            Err(JoseError::InvalidKey(_))
        ));
    }
}
