//! JSON Web Keys (RFC 7517) and thumbprints (RFC 7638).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Algorithm, JoseError};
use crate::core::b64;

/// A public JSON Web Key. Private members are not modelled and are dropped on parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP`.
    pub kty: String,
    /// Key ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`, `enc`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Intended algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve (`P-256`, `P-384`, `Ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Curve point x (or the OKP public key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Curve point y.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RFC 9449 section 4.3: whether a private member (`d`) is present, only to refuse
    /// keys that carry one where a public key is required.
    #[serde(default, rename = "d", deserialize_with = "present", skip_serializing)]
    has_private: bool,
}

/// A JWK Set (RFC 7517 section 5). Keys of unknown types parse and are never selected;
/// a key that is malformed (a member of the wrong JSON type, not an object) is skipped,
/// so one bad key does not hide the good ones (RFC 7517 section 5: implementations
/// SHOULD ignore JWKs they do not understand). A document that is not JSON or has no
/// `keys` array is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    #[serde(deserialize_with = "lenient_keys")]
    pub keys: Vec<Jwk>,
}

/// RFC 7517 section 5: keep the keys that parse, skip the others.
fn lenient_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Jwk>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum MaybeJwk {
        Key(Box<Jwk>),
        Other(serde::de::IgnoredAny),
    }
    let all = Vec::<MaybeJwk>::deserialize(d)?;
    Ok(all
        .into_iter()
        .filter_map(|k| match k {
            MaybeJwk::Key(k) => Some(*k),
            MaybeJwk::Other(_) => None,
        })
        .collect())
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl JwkSet {
    /// Parses a JWK Set document.
    pub fn from_json(body: &[u8]) -> Result<Self, JoseError> {
        serde_json::from_slice(body).map_err(|e| JoseError::Json {
            part: "jwks",
            message: e.to_string(),
        })
    }
}

/// The smallest RSA modulus accepted, in bits (RFC 7518 section 3.3: "A key of size
/// 2048 bits or larger MUST be used"). Enforced in key selection, so every platform's
/// verifier (WebCrypto included) refuses smaller keys alike.
pub const MIN_RSA_BITS: usize = 2048;

fn member<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, JoseError> {
    value
        .as_deref()
        .ok_or_else(|| JoseError::InvalidKey(format!("missing `{name}`")))
}

impl Jwk {
    /// Parses one JWK.
    pub fn from_json(body: &[u8]) -> Result<Self, JoseError> {
        serde_json::from_slice(body).map_err(|e| JoseError::Json {
            part: "jwk",
            message: e.to_string(),
        })
    }

    /// Whether this key carries private material.
    pub fn is_private(&self) -> bool {
        self.has_private
    }

    /// Whether the key can verify signatures made with `alg`: same key type and curve,
    /// `use` absent or `sig`, `alg` absent or equal.
    pub fn fits(&self, alg: Algorithm) -> bool {
        let (kty, crv) = alg.key_type();
        self.kty == kty
            && crv.is_none_or(|c| self.crv.as_deref() == Some(c))
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    /// The size in bits of an RSA key's modulus `n` (leading zero bytes ignored).
    pub fn rsa_modulus_bits(&self) -> Result<usize, JoseError> {
        let n = self.decode_member("n")?;
        let Some(first) = n.iter().position(|&b| b != 0) else {
            return Ok(0);
        };
        let top = n[first];
        Ok((n.len() - first - 1) * 8 + (8 - top.leading_zeros() as usize))
    }

    /// Refuses keys too weak to trust: RSA moduli under [`MIN_RSA_BITS`]. Other key
    /// types have a fixed size and always pass.
    pub fn check_strength(&self) -> Result<(), JoseError> {
        if self.kty != "RSA" {
            return Ok(());
        }
        let bits = self.rsa_modulus_bits()?;
        if bits < MIN_RSA_BITS {
            return Err(JoseError::InvalidKey(format!(
                "RSA key of {bits} bits is below {MIN_RSA_BITS}"
            )));
        }
        Ok(())
    }

    /// Decodes a base64url key member.
    pub fn decode_member(&self, name: &'static str) -> Result<Vec<u8>, JoseError> {
        let value = match name {
            "n" => &self.n,
            "e" => &self.e,
            "x" => &self.x,
            "y" => &self.y,
            _ => &None,
        };
        b64::decode(member(value, name)?)
            .map_err(|e| JoseError::InvalidKey(format!("`{name}` is not base64url: {e}")))
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        // RFC 7638 section 3.2: required members only, lexicographic order, no whitespace.
        // Built by hand: a JSON map type may not keep keys sorted.
        let q = |v: &str| serde_json::Value::from(v).to_string();
        let text = match self.kty.as_str() {
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                q(member(&self.e, "e")?),
                q(member(&self.n, "n")?)
            ),
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                q(member(&self.crv, "crv")?),
                q(member(&self.x, "x")?),
                q(member(&self.y, "y")?)
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                q(member(&self.crv, "crv")?),
                q(member(&self.x, "x")?)
            ),
            other => return Err(JoseError::InvalidKey(format!("unsupported kty `{other}`"))),
        };
        Ok(b64::encode(&Sha256::digest(text.as_bytes())))
    }
}
