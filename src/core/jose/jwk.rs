//! JSON Web Keys (RFC 7517) and thumbprints (RFC 7638).

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::{Algorithm, JoseError};
use crate::core::b64;
use crate::core::json::{ObjectWriter, ToJson};

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    #[serde(deserialize_with = "lenient_keys")]
    pub keys: Vec<Jwk>,
}

/// The members a JWK is read for; the last, `d`, only for its presence.
const MEMBERS: [&str; 10] = ["kty", "kid", "use", "alg", "n", "e", "crv", "x", "y", "d"];

/// A member name, as its index in [`MEMBERS`] (`None`: a member not read).
struct Member(Option<usize>);

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWK member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
                Ok(Member(MEMBERS.iter().position(|m| *m == v)))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A member's value: a string, `null`, or something else (named for errors).
enum Loose {
    Str(String),
    Null,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
                Ok(Loose::Str(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
                Loose::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose, E> {
                Ok(Loose::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose, E> {
                Ok(Loose::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
                Ok(Loose::Other("a number"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a JWK object. `strict`: a malformed key is an error; otherwise it reads as
/// `None` (the rest of the object is still consumed).
struct JwkVisitor {
    strict: bool,
}

impl<'de> Visitor<'de> for JwkVisitor {
    type Value = Option<Jwk>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWK object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Jwk>, A::Error> {
        let mut values: [Option<Option<String>>; 9] = Default::default();
        let mut private = false;
        let mut problem: Option<A::Error> = None;
        while let Some(Member(index)) = map.next_key()? {
            let Some(i) = index else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let duplicate = match values.get_mut(i) {
                None => std::mem::replace(&mut private, true),
                Some(slot) => {
                    let duplicate = slot.is_some();
                    match map.next_value::<Loose>()? {
                        Loose::Str(v) => *slot = Some(Some(v)),
                        Loose::Null if i > 0 => *slot = Some(None),
                        Loose::Null => {
                            problem.get_or_insert(de::Error::invalid_type(
                                Unexpected::Unit,
                                &"a string",
                            ));
                        }
                        Loose::Other(what) => {
                            problem.get_or_insert(de::Error::invalid_type(
                                Unexpected::Other(what),
                                &"a string",
                            ));
                        }
                    }
                    duplicate
                }
            };
            if i == 9 {
                map.next_value::<IgnoredAny>()?;
            }
            if duplicate {
                problem.get_or_insert(de::Error::duplicate_field(MEMBERS[i]));
            }
            if problem.is_some() && self.strict {
                break;
            }
        }
        let [kty, kid, use_, alg, n, e, crv, x, y] = values;
        let kty = kty.flatten();
        if kty.is_none() {
            problem.get_or_insert(de::Error::missing_field("kty"));
        }
        match (problem, kty) {
            (Some(error), _) if self.strict => Err(error),
            (None, Some(kty)) => Ok(Some(Jwk {
                kty,
                kid: kid.flatten(),
                use_: use_.flatten(),
                alg: alg.flatten(),
                n: n.flatten(),
                e: e.flatten(),
                crv: crv.flatten(),
                x: x.flatten(),
                y: y.flatten(),
                has_private: private,
            })),
            _ => Ok(None),
        }
    }

    // Anything but an object is not a JWK.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Jwk>, A::Error> {
        if self.strict {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Str(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Float(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Jwk>, E> {
        self.other(Unexpected::Unit)
    }
}

impl JwkVisitor {
    fn other<E: de::Error>(self, unexpected: Unexpected<'_>) -> Result<Option<Jwk>, E> {
        if self.strict {
            Err(E::invalid_type(unexpected, &self))
        } else {
            Ok(None)
        }
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JwkVisitor { strict: true })?
            .ok_or_else(|| de::Error::custom("invalid JWK"))
    }
}

/// One element of a set's `keys`: a JWK, or `None` for anything malformed.
struct MaybeJwk(Option<Jwk>);

impl<'de> Deserialize<'de> for MaybeJwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JwkVisitor { strict: false })
            .map(MaybeJwk)
    }
}

/// RFC 7517 section 5: keep the keys that parse, skip the others.
fn lenient_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Jwk>, D::Error> {
    let all = Vec::<MaybeJwk>::deserialize(d)?;
    Ok(all.into_iter().filter_map(|k| k.0).collect())
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

impl ToJson for JwkSet {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"keys\":[");
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            key.write_json(out);
        }
        out.push_str("]}");
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
