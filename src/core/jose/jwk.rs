//! JSON Web Keys (RFC 7517) and thumbprints (RFC 7638).

use serde::de;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::{Algorithm, JoseError};
use crate::core::b64;
use crate::core::json::{required, AnyValue, Kind, Members, ObjectWriter, Parsed, ToJson};

/// A public JSON Web Key. Private members are not modelled and are dropped on parse.
///
/// It deserializes from a JSON object only (RFC 7517 section 4); the members read
/// must be strings (`null` reads as absent, `kty` is required), unknown members are
/// ignored and a repeated member is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP`.
    pub kty: String,
    /// Key ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`, `enc`).
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Intended algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve (`P-256`, `P-384`, `Ed25519`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Curve point x (or the OKP public key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Curve point y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RFC 9449 section 4.3: whether a private member (`d`) is present, only to refuse
    /// keys that carry one where a public key is required.
    #[serde(skip_serializing)]
    has_private: bool,
}

/// A JWK Set (RFC 7517 section 5). Keys of unknown types parse and are never selected;
/// a key that is malformed (a member of the wrong JSON type, not an object) is skipped,
/// so one bad key does not hide the good ones (RFC 7517 section 5: implementations
/// SHOULD ignore JWKs they do not understand). A document that is not JSON or has no
/// `keys` array is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// A JWK Set as read, before its required member is checked.
#[derive(Default)]
struct RawJwkSet {
    keys: Option<Vec<Jwk>>,
}

impl Members for RawJwkSet {
    const NAMES: &'static [&'static str] = &["keys"];
    const KINDS: &'static [Kind] = &[Kind::Keys];
    const NAME: &'static str = "JwkSet";

    fn member(&mut self, _: usize, value: Parsed) {
        if let Parsed::Keys(keys) = value {
            self.keys = Some(keys);
        }
    }
}

crate::core::json::read_through!(JwkSet, RawJwkSet);

impl JwkSet {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawJwkSet) -> Result<Self, E> {
        Ok(JwkSet {
            keys: required(raw.keys, "keys")?,
        })
    }
}

/// The members a JWK is read for; the last, `d`, only for its presence.
const MEMBERS: [&str; 10] = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y", "d"];

/// Reads a JWK from its JSON value: an object whose members read (`MEMBERS`) are
/// strings (`null` reads as absent, `kty` is required); others are ignored and a
/// repeated member is an error.
pub(crate) fn jwk_from_value<E: de::Error>(value: AnyValue) -> Result<Jwk, E> {
    let AnyValue::Map(members) = value else {
        return Err(E::invalid_type(value.unexpected(), &"a JWK object"));
    };
    let mut values: [Option<Option<String>>; 9] = Default::default();
    let mut private = false;
    for (name, value) in members {
        let Some(i) = MEMBERS.iter().position(|m| *m == name) else {
            continue;
        };
        let Some(slot) = values.get_mut(i) else {
            if std::mem::replace(&mut private, true) {
                return Err(E::duplicate_field("d"));
            }
            continue;
        };
        if slot.is_some() {
            return Err(E::duplicate_field(MEMBERS[i]));
        }
        *slot = Some(match value {
            AnyValue::Str(v) => Some(v),
            AnyValue::Null if i > 0 => None,
            other => return Err(E::invalid_type(other.unexpected(), &"a string")),
        });
    }
    let [kty, kid, use_, alg, n, e, crv, x, y] = values;
    Ok(Jwk {
        kty: kty.flatten().ok_or_else(|| E::missing_field("kty"))?,
        kid: kid.flatten(),
        use_: use_.flatten(),
        alg: alg.flatten(),
        n: n.flatten(),
        e: e.flatten(),
        crv: crv.flatten(),
        x: x.flatten(),
        y: y.flatten(),
        has_private: private,
    })
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        jwk_from_value(AnyValue::deserialize(d)?)
    }
}

/// The `keys` of a set. RFC 7517 section 5: keep the keys that parse, skip the others.
pub(crate) struct LenientKeys(pub(crate) Vec<Jwk>);

impl<'de> Deserialize<'de> for LenientKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LenientKeys(lenient_keys(Vec::<AnyValue>::deserialize(d)?)))
    }
}

/// The items of a parsed `keys` array that read as JWKs (see [`LenientKeys`]).
pub(crate) fn lenient_keys(all: Vec<AnyValue>) -> Vec<Jwk> {
    all.into_iter()
        .filter_map(|k| jwk_from_value::<crate::core::json::JsonError>(k).ok())
        .collect()
}

impl JwkSet {
    /// Parses a JWK Set document.
    pub fn from_json(body: &[u8]) -> Result<Self, JoseError> {
        crate::core::json::from_bytes(body).map_err(|e| JoseError::Json {
            part: "jwks",
            message: e.to_string(),
        })
    }
}

impl ToJson for Jwk {
    // As the derived `Serialize` writes it: absent members and `d` left out.
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .str("kty", &self.kty)
            .some_str("kid", self.kid.as_deref())
            .some_str("use", self.use_.as_deref())
            .some_str("alg", self.alg.as_deref())
            .some_str("n", self.n.as_deref())
            .some_str("e", self.e.as_deref())
            .some_str("crv", self.crv.as_deref())
            .some_str("x", self.x.as_deref())
            .some_str("y", self.y.as_deref())
            .end();
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

impl crate::core::json::FromJson for Jwk {
    fn from_value(value: AnyValue) -> Result<Self, crate::core::json::JsonError> {
        jwk_from_value(value)
    }
}

impl Jwk {
    /// Parses one JWK.
    pub fn from_json(body: &[u8]) -> Result<Self, JoseError> {
        crate::core::json::from_bytes(body).map_err(|e| JoseError::Json {
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

    /// Whether the key's members hold a public key of its type: base64url members of
    /// the curve's size, an RSA modulus of at least [`MIN_RSA_BITS`]. A key type
    /// this library does not verify with counts as usable (no algorithm fits it).
    pub(crate) fn is_usable(&self) -> bool {
        let sized = |member: &Option<String>, len| {
            member
                .as_deref()
                .and_then(|v| b64::decode(v).ok())
                .is_some_and(|v| v.len() == len)
        };
        match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => self.decode_member("e").is_ok() && self.check_strength().is_ok(),
            ("EC", Some(crv)) => {
                let len = match crv {
                    "P-256" => 32,
                    "P-384" => 48,
                    "P-521" => 66,
                    _ => return true,
                };
                sized(&self.x, len) && sized(&self.y, len)
            }
            ("OKP", Some("Ed25519")) => sized(&self.x, 32),
            _ => true,
        }
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

    /// Decodes a base64url key member that must be exactly `len` bytes (an
    /// elliptic-curve coordinate, an Ed25519 public key).
    pub fn decode_fixed(&self, name: &'static str, len: usize) -> Result<Vec<u8>, JoseError> {
        let v = self.decode_member(name)?;
        if v.len() != len {
            return Err(JoseError::InvalidKey(format!(
                "`{name}` must be {len} bytes, got {}",
                v.len()
            )));
        }
        Ok(v)
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
