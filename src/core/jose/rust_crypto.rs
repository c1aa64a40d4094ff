//! Pure-Rust signature verification (RustCrypto), for native clients and servers.

use super::{Algorithm, JoseError, Jwk, SignatureVerifier};

/// Verifies RS*, PS*, ES256, ES384 and EdDSA signatures with RustCrypto crates.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoVerifier;

/// RFC 7518 section 3.3: RSA keys of 2048 bits or more.
const MIN_RSA_BITS: usize = 2048;

fn rsa_key(key: &Jwk) -> Result<rsa::RsaPublicKey, JoseError> {
    let n = key.decode_member("n")?;
    let e = key.decode_member("e")?;
    let n = rsa::BigUint::from_bytes_be(&n);
    let e = rsa::BigUint::from_bytes_be(&e);
    if n.bits() < MIN_RSA_BITS {
        return Err(JoseError::InvalidKey(format!(
            "RSA key of {} bits is below {MIN_RSA_BITS}",
            n.bits()
        )));
    }
    rsa::RsaPublicKey::new(n, e).map_err(|e| JoseError::InvalidKey(e.to_string()))
}

fn bad<E>(_: E) -> JoseError {
    JoseError::InvalidSignature
}

/// SEC1 uncompressed point: `0x04 || x || y`.
fn sec1(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + x.len() + y.len());
    p.push(4);
    p.extend_from_slice(x);
    p.extend_from_slice(y);
    p
}

impl SignatureVerifier for RustCryptoVerifier {
    fn verify(&self, alg: Algorithm, key: &Jwk, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        use sha2::{Digest, Sha256, Sha384, Sha512};
        match alg {
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
                let k = rsa_key(key)?;
                let (scheme, hash) = match alg {
                    Algorithm::RS256 => (
                        rsa::Pkcs1v15Sign::new::<Sha256>(),
                        Sha256::digest(input).to_vec(),
                    ),
                    Algorithm::RS384 => (
                        rsa::Pkcs1v15Sign::new::<Sha384>(),
                        Sha384::digest(input).to_vec(),
                    ),
                    _ => (
                        rsa::Pkcs1v15Sign::new::<Sha512>(),
                        Sha512::digest(input).to_vec(),
                    ),
                };
                k.verify(scheme, &hash, sig).map_err(bad)
            }
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
                let k = rsa_key(key)?;
                // RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash.
                let (scheme, hash) = match alg {
                    Algorithm::PS256 => (rsa::Pss::new::<Sha256>(), Sha256::digest(input).to_vec()),
                    Algorithm::PS384 => (rsa::Pss::new::<Sha384>(), Sha384::digest(input).to_vec()),
                    _ => (rsa::Pss::new::<Sha512>(), Sha512::digest(input).to_vec()),
                };
                k.verify(scheme, &hash, sig).map_err(bad)
            }
            Algorithm::ES256 => {
                use p256::ecdsa::signature::Verifier;
                let x = key.decode_fixed("x", 32)?;
                let y = key.decode_fixed("y", 32)?;
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&x, &y))
                    .map_err(|_| JoseError::InvalidKey("not a P-256 point".into()))?;
                // RFC 7518 section 3.4: the signature is R || S, 64 bytes.
                let s = p256::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(input, &s).map_err(bad)
            }
            Algorithm::ES384 => {
                use p384::ecdsa::signature::Verifier;
                let x = key.decode_fixed("x", 48)?;
                let y = key.decode_fixed("y", 48)?;
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&x, &y))
                    .map_err(|_| JoseError::InvalidKey("not a P-384 point".into()))?;
                let s = p384::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(input, &s).map_err(bad)
            }
            Algorithm::EdDSA => {
                let x = key.decode_fixed("x", 32)?;
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(&x);
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| JoseError::InvalidKey("not an Ed25519 key".into()))?;
                let s = ed25519_dalek::Signature::from_slice(sig).map_err(bad)?;
                vk.verify_strict(input, &s).map_err(bad)
            }
        }
    }
}
