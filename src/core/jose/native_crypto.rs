//! Signature verification with `aws-lc-rs` (feature `aws-lc-rs`, enabled by
//! `server`): the server's hot path. The keys of a JWK Set are parsed once, when the
//! set loads, into the library's own key objects, so a verification does no base64,
//! no big-number decoding and no Montgomery set-up; a one-off key (a DPoP proof's) is
//! parsed for its single use.

use aws_lc_rs::signature::{
    self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey,
    VerificationAlgorithm,
};

use super::{Algorithm, JoseError, Jwk, JwkSet, SignatureVerifier};

/// RFC 7518 section 3.3: RSA keys of 2048 bits or more (`aws-lc-rs` enforces it too).
const MIN_RSA_BYTES: usize = 2048 / 8;

/// The verification parameters of an RSA algorithm. RFC 7518 section 3.5: PSS with
/// MGF1 of the same hash, the salt as long as the hash.
fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// The verification algorithm of an elliptic-curve or EdDSA algorithm. RFC 7518
/// section 3.4: an ECDSA signature is `R || S`.
fn curve_algorithm(alg: Algorithm) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

/// A key's material, decoded from its JWK.
#[derive(Debug, Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// SEC1 uncompressed point (`0x04 || x || y`) of a curve `len` bytes wide.
    Ec {
        point: Vec<u8>,
        len: usize,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

fn decode(key: &Jwk) -> Result<Material, JoseError> {
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
            point.extend(key.decode_fixed("x", len)?);
            point.extend(key.decode_fixed("y", len)?);
            Material::Ec { point, len }
        }
        ("OKP", Some("Ed25519")) => Material::Ed25519 {
            x: key.decode_fixed("x", 32)?,
        },
        (kty, _) => {
            return Err(JoseError::InvalidKey(format!(
                "unsupported key type `{kty}`"
            )))
        }
    })
}

/// Whether `material` is a key of the type and size `alg` needs.
fn fits(alg: Algorithm, material: &Material) -> bool {
    match material {
        Material::Rsa { .. } => rsa_parameters(alg).is_some(),
        Material::Ec { len: 32, .. } => alg == Algorithm::ES256,
        Material::Ec { len: 48, .. } => alg == Algorithm::ES384,
        Material::Ec { .. } => false,
        Material::Ed25519 { .. } => alg == Algorithm::EdDSA,
    }
}

/// Verifies once with a key decoded for this call.
fn verify_once(
    alg: Algorithm,
    material: &Material,
    input: &[u8],
    sig: &[u8],
) -> Result<(), JoseError> {
    if !fits(alg, material) {
        return Err(JoseError::NoMatchingKey(alg));
    }
    let bad = |_| JoseError::InvalidSignature;
    match (material, rsa_parameters(alg), curve_algorithm(alg)) {
        (Material::Rsa { n, e }, Some(params), _) => RsaPublicKeyComponents { n, e }
            .verify(params, input, sig)
            .map_err(bad),
        (
            Material::Ec { point: bytes, .. } | Material::Ed25519 { x: bytes },
            _,
            Some(algorithm),
        ) => UnparsedPublicKey::new(algorithm, bytes)
            .verify(input, sig)
            .map_err(bad),
        _ => Err(JoseError::NoMatchingKey(alg)),
    }
}

/// Verifies RS*, PS*, ES256, ES384 and EdDSA signatures with `aws-lc-rs`, decoding
/// the key on each call (for one-off keys such as a DPoP proof's).
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeVerifier;

impl SignatureVerifier for NativeVerifier {
    fn verify(&self, alg: Algorithm, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        verify_once(alg, &decode(key)?, input, sig)
    }
}

/// A key of a set, parsed for every algorithm it can verify.
#[derive(Debug, Clone)]
enum Parsed {
    /// An RSA key, parsed for each RSA algorithm.
    Rsa(Vec<(Algorithm, ParsedPublicKey)>),
    /// A curve key, for its one algorithm.
    Curve(Algorithm, ParsedPublicKey),
    /// The key cannot be used (malformed); verifying with it fails with this error.
    Unusable(JoseError),
}

fn parse(key: &Jwk) -> Parsed {
    let rejected = || JoseError::InvalidKey("the key was rejected".to_owned());
    let curve = |alg: Algorithm, bytes: &[u8]| -> Result<Parsed, JoseError> {
        let algorithm = curve_algorithm(alg).ok_or(JoseError::NoMatchingKey(alg))?;
        let parsed = ParsedPublicKey::new(algorithm, bytes).map_err(|_| rejected())?;
        Ok(Parsed::Curve(alg, parsed))
    };
    let parsed = match decode(key) {
        Ok(Material::Rsa { n, e }) => {
            let components = RsaPublicKeyComponents { n: &n, e: &e };
            Algorithm::ALL
                .iter()
                .filter_map(|alg| rsa_parameters(*alg).map(|params| (*alg, params)))
                .map(|(alg, params)| {
                    let parsed = components.to_parsed_public_key(params);
                    parsed.map(|p| (alg, p)).map_err(|_| rejected())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Parsed::Rsa)
        }
        Ok(Material::Ec { point, len: 32 }) => curve(Algorithm::ES256, &point),
        Ok(Material::Ec { point, .. }) => curve(Algorithm::ES384, &point),
        Ok(Material::Ed25519 { x }) => curve(Algorithm::EdDSA, &x),
        Err(e) => Err(e),
    };
    parsed.unwrap_or_else(Parsed::Unusable)
}

fn verify_parsed(alg: Algorithm, key: &Parsed, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    let parsed = match key {
        Parsed::Unusable(e) => return Err(e.clone()),
        Parsed::Rsa(keys) => keys.iter().find(|(a, _)| *a == alg).map(|(_, p)| p),
        Parsed::Curve(key_alg, parsed) => (*key_alg == alg).then_some(parsed),
    };
    parsed
        .ok_or(JoseError::NoMatchingKey(alg))?
        .verify_sig(input, sig)
        .map_err(|_| JoseError::InvalidSignature)
}

/// A JWK Set with every key parsed once, when the set is loaded: verifying with one
/// of its keys skips the base64, big-number and key set-up work.
#[derive(Debug, Clone, Default)]
pub struct PreparedKeySet {
    keys: JwkSet,
    parsed: Vec<Parsed>,
}

impl PreparedKeySet {
    /// Parses every key of `keys` (a malformed key only fails when it is used).
    pub fn new(keys: JwkSet) -> Self {
        let parsed = keys.keys.iter().map(parse).collect();
        Self { keys, parsed }
    }

    /// The keys.
    pub fn keys(&self) -> &JwkSet {
        &self.keys
    }

    /// A verifier that uses the parsed keys for this set's keys (and decodes any
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
        match index.and_then(|i| self.set.parsed.get(i)) {
            Some(parsed) => verify_parsed(alg, parsed, input, sig),
            None => NativeVerifier.verify(alg, key, input, sig),
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
            .verify(keys, &policy, &NativeVerifier)
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
