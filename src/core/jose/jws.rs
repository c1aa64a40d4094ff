//! Compact JWS parsing (RFC 7515 section 7.1) and the verified/unverified split.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::{
    Algorithm, AlgorithmPolicy, AsyncSignatureVerifier, JoseError, Jwk, JwkSet, SignatureVerifier,
};
use crate::core::b64;
use crate::core::json::{read_object, Kind, Members, Parsed};

/// The protected header of a JWS, with the parameters this library reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// The signature algorithm.
    pub alg: Algorithm,
    /// Key ID.
    pub kid: Option<String>,
    /// Media type of the whole token (`JWT`, `at+jwt`, `dpop+jwt`).
    pub typ: Option<String>,
    /// An embedded public key (used by DPoP proofs).
    pub jwk: Option<Jwk>,
}

#[derive(Default)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    jwk: Option<Jwk>,
    crit: Option<Vec<String>>,
}

impl Members for RawHeader {
    const NAMES: &'static [&'static str] = &["alg", "kid", "typ", "jwk", "crit"];
    const KINDS: &'static [Kind] = &[
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptJwk,
        Kind::OptList,
    ];
    const NAME: &'static str = "RawHeader";

    fn member(&mut self, index: usize, value: Parsed) {
        let slot = match index {
            0 => &mut self.alg,
            1 => &mut self.kid,
            2 => &mut self.typ,
            3 => {
                if let Parsed::OptJwk(jwk) = value {
                    self.jwk = jwk;
                }
                return;
            }
            _ => return self.crit = value.opt_list(),
        };
        *slot = value.opt_str();
    }
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_object(d)
    }
}

/// A parsed JWS whose signature has not been checked. Its claims are not reachable
/// except through [`crate::core::jose::dangerous`]. `Debug` shows the header only.
#[derive(Clone)]
pub struct UnverifiedJws {
    header: Header,
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// A JWS whose signature verified with a trusted key under an allowed algorithm.
/// `Debug` shows the header only.
#[derive(Clone)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl std::fmt::Debug for UnverifiedJws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(test)]
        if crate::core::types::reveal::on() {
            return f
                .debug_struct("UnverifiedJws")
                .field("header", &self.header)
                .field("signing_input", &self.signing_input)
                .field("payload", &String::from_utf8_lossy(&self.payload))
                .field("signature", &self.signature)
                .finish();
        }
        f.debug_struct("UnverifiedJws")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(test)]
        if crate::core::types::reveal::on() {
            return f
                .debug_struct("VerifiedJws")
                .field("header", &self.header)
                .field("payload", &String::from_utf8_lossy(&self.payload))
                .finish();
        }
        f.debug_struct("VerifiedJws")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn decode(part: &'static str, value: &str) -> Result<Vec<u8>, JoseError> {
    b64::decode(value).map_err(|source| JoseError::Base64 { part, source })
}

impl UnverifiedJws {
    /// Parses a compact JWS. Refuses `none`, HMAC, unknown algorithms and any `crit`.
    pub fn parse(token: &str) -> Result<Self, JoseError> {
        let parts: Vec<&str> = token.trim().split('.').collect();
        if parts.len() != 3 {
            return Err(JoseError::PartCount(parts.len()));
        }
        let header_bytes = decode("header", parts[0])?;
        // Native builds (the resource server, where this runs on every request) read
        // the header with serde_json's streaming reader, which builds no value tree
        // first; the browser keeps its one small reader. Both read the same members
        // with the same rules (tested in `core::json`).
        #[cfg(not(target_arch = "wasm32"))]
        let raw = serde_json::from_slice::<RawHeader>(&header_bytes).map_err(|e| e.to_string());
        #[cfg(target_arch = "wasm32")]
        let raw =
            crate::core::json::from_bytes::<RawHeader>(&header_bytes).map_err(|e| e.to_string());
        let raw = raw.map_err(|message| JoseError::Json {
            part: "header",
            message,
        })?;
        let alg = raw.alg.ok_or_else(|| JoseError::Json {
            part: "header",
            message: "missing alg".into(),
        })?;
        let alg = Algorithm::parse(&alg)?;
        // RFC 7515 section 4.1.11: critical extensions we do not implement must be refused.
        if let Some(first) = raw.crit.and_then(|c| c.into_iter().next()) {
            return Err(JoseError::UnsupportedCrit(first));
        }
        let payload = decode("payload", parts[1])?;
        let signature = decode("signature", parts[2])?;
        let signing_input_len = parts[0].len() + 1 + parts[1].len();
        let trimmed = token.trim();
        Ok(Self {
            header: Header {
                alg,
                kid: raw.kid,
                typ: raw.typ,
                jwk: raw.jwk,
            },
            // The parts are base64url (ASCII): the prefix is on a character boundary.
            signing_input: trimmed
                .get(..signing_input_len)
                .unwrap_or_default()
                .to_owned(),
            payload,
            signature,
        })
    }

    /// The protected header (not yet authenticated).
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub(super) fn insecure_payload(&self) -> &[u8] {
        &self.payload
    }

    fn check_alg(&self, policy: &AlgorithmPolicy) -> Result<(), JoseError> {
        if policy.allows(self.header.alg) {
            Ok(())
        } else {
            Err(JoseError::AlgNotAllowed(self.header.alg))
        }
    }

    /// Picks the key from the set: by `kid` when present; otherwise the only key that
    /// fits the algorithm (RFC 7517 section 4.5; a set with several fitting keys needs
    /// a `kid`). The chosen key must pass [`Jwk::check_strength`] (RSA keys of at
    /// least 2048 bits, RFC 7518 section 3.3), whatever crypto verifies it later.
    pub fn select_key<'a>(&self, keys: &'a JwkSet) -> Result<&'a Jwk, JoseError> {
        let key = self.find_key(keys)?;
        key.check_strength()?;
        Ok(key)
    }

    fn find_key<'a>(&self, keys: &'a JwkSet) -> Result<&'a Jwk, JoseError> {
        let alg = self.header.alg;
        match &self.header.kid {
            Some(kid) => {
                let mut with_kid = keys.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let key = with_kid
                    .find(|k| k.fits(alg))
                    .ok_or_else(|| JoseError::UnknownKid(kid.clone()))?;
                Ok(key)
            }
            // RFC 7517 section 5: a key with invalid members is ignored, so it makes
            // no good key ambiguous. Alone, it is selected, for its own clear error.
            None => {
                let fitting = || keys.keys.iter().filter(|k| k.fits(alg));
                let any_usable = fitting().any(Jwk::is_usable);
                let mut candidates = fitting().filter(|k| !any_usable || k.is_usable());
                let first = candidates.next().ok_or(JoseError::NoMatchingKey(alg))?;
                if candidates.next().is_some() {
                    return Err(JoseError::AmbiguousKey);
                }
                Ok(first)
            }
        }
    }

    /// Verifies against a key set.
    pub fn verify(
        self,
        keys: &JwkSet,
        policy: &AlgorithmPolicy,
        verifier: &impl SignatureVerifier,
    ) -> Result<VerifiedJws, JoseError> {
        self.check_alg(policy)?;
        let key = self.select_key(keys)?;
        self.verify_with_key(key, policy, verifier)
    }

    /// Verifies with one given key (for example the `jwk` of a DPoP proof).
    pub fn verify_with_key(
        self,
        key: &Jwk,
        policy: &AlgorithmPolicy,
        verifier: &impl SignatureVerifier,
    ) -> Result<VerifiedJws, JoseError> {
        self.check_alg(policy)?;
        if !key.fits(self.header.alg) {
            return Err(JoseError::NoMatchingKey(self.header.alg));
        }
        key.check_strength()?;
        verifier.verify(
            self.header.alg,
            key,
            self.signing_input.as_bytes(),
            &self.signature,
        )?;
        Ok(self.into_verified())
    }

    /// Verifies against a key set with asynchronous crypto.
    pub async fn verify_async(
        self,
        keys: &JwkSet,
        policy: &AlgorithmPolicy,
        verifier: &impl AsyncSignatureVerifier,
    ) -> Result<VerifiedJws, JoseError> {
        let key = self.key_in(keys, policy)?;
        verifier
            .verify(
                self.header.alg,
                key,
                self.signing_input.as_bytes(),
                &self.signature,
            )
            .await?;
        Ok(self.into_verified())
    }

    /// The steps of [`verify_async`](Self::verify_async) before the signature
    /// check, for a caller that runs that check itself: the algorithm is allowed and
    /// the key is picked ([`select_key`](Self::select_key)).
    pub(crate) fn key_in<'a>(
        &self,
        keys: &'a JwkSet,
        policy: &AlgorithmPolicy,
    ) -> Result<&'a Jwk, JoseError> {
        self.check_alg(policy)?;
        self.select_key(keys)
    }

    /// The signed bytes and the signature, for a caller that checks the signature
    /// itself (after [`key_in`](Self::key_in)).
    #[cfg_attr(not(feature = "browser"), allow(dead_code))]
    pub(crate) fn signed_parts(&self) -> (&[u8], &[u8]) {
        (self.signing_input.as_bytes(), &self.signature)
    }

    /// The token once its signature was found valid by [`key_in`](Self::key_in)'s
    /// key.
    pub(crate) fn into_verified(self) -> VerifiedJws {
        VerifiedJws {
            header: self.header,
            payload: self.payload,
        }
    }
}

impl VerifiedJws {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The authenticated payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload as JSON claims.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.payload).map_err(|e| JoseError::Json {
            part: "payload",
            message: e.to_string(),
        })
    }
}
