//! JOSE: compact JWS (RFC 7515), JWK and JWK Sets (RFC 7517), thumbprints (RFC 7638),
//! and signature verification through the [`SignatureVerifier`] trait so that each
//! platform brings its own crypto (WebCrypto in the browser, RustCrypto natively).

mod jwk;
mod jws;
#[cfg(feature = "aws-lc-rs")]
mod native_crypto;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;

pub(crate) use jwk::{jwk_from_value, lenient_keys, LenientKeys};
pub use jwk::{Jwk, JwkSet, MIN_RSA_BITS};
pub use jws::{Header, UnverifiedJws, VerifiedJws};
#[cfg(feature = "aws-lc-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-lc-rs")))]
pub use native_crypto::{NativeVerifier, PreparedKeySet, PreparedVerifier};
#[cfg(feature = "rust-crypto")]
#[cfg_attr(docsrs, doc(cfg(feature = "rust-crypto")))]
pub use rust_crypto::RustCryptoVerifier;

use std::future::Future;

use super::b64::Base64Error;

/// Whether a JWS header's `typ` names the media type `application/<subtype>`: with or
/// without the `application/` prefix (RFC 7515 section 4.1.9: a value without `/`
/// reads as if it were there), case-insensitively (media types are).
pub(crate) fn typ_is(typ: &str, subtype: &str) -> bool {
    let named = match typ.split_once('/') {
        Some((top, named)) if top.eq_ignore_ascii_case("application") => named,
        Some(_) => return false,
        None => typ,
    };
    named.eq_ignore_ascii_case(subtype)
}

/// A JWS signature algorithm this library accepts. `none` and the HMAC family are not
/// representable: they are refused at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// EdDSA (Ed25519).
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses an `alg` value. RFC 8725 section 3.1/3.2: `none` and symmetric algorithms
    /// are refused outright, so a public key can never be used as an HMAC secret.
    pub fn parse(alg: &str) -> Result<Self, JoseError> {
        Ok(match alg {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            a if a.eq_ignore_ascii_case("none") => return Err(JoseError::AlgNone),
            a if a.starts_with("HS") => return Err(JoseError::SymmetricAlg(a.to_owned())),
            a => return Err(JoseError::UnsupportedAlg(a.to_owned())),
        })
    }

    /// The JWK key type and curve this algorithm needs.
    pub(crate) fn key_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => ("RSA", None),
            Algorithm::ES256 => ("EC", Some("P-256")),
            Algorithm::ES384 => ("EC", Some("P-384")),
            Algorithm::EdDSA => ("OKP", Some("Ed25519")),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error parsing or verifying a JOSE object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// RFC 7515 section 7.1: compact serialization has exactly three parts.
    #[error("a compact JWS has three dot-separated parts, found {0}")]
    PartCount(usize),
    /// A part is not valid base64url.
    #[error("the JWS {part} is not valid base64url: {source}")]
    Base64 {
        /// Which part (`header`, `payload`, `signature`).
        part: &'static str,
        /// The decoding error.
        #[source]
        source: Base64Error,
    },
    /// The header or payload is not the expected JSON.
    #[error("the JWS {part} is not valid JSON: {message}")]
    Json {
        /// Which part.
        part: &'static str,
        /// The parser's message.
        message: String,
    },
    /// RFC 8725 section 3.2: unsecured JWS is never accepted.
    #[error("alg `none` is not accepted")]
    AlgNone,
    /// RFC 8725 section 3.1: symmetric algorithms are not accepted for these tokens.
    #[error("symmetric alg `{0}` is not accepted")]
    SymmetricAlg(String),
    /// An algorithm this library does not implement.
    #[error("unsupported alg `{0}`")]
    UnsupportedAlg(String),
    /// The algorithm is valid but not in the allow-list for this use.
    #[error("alg `{0}` is not allowed here")]
    AlgNotAllowed(Algorithm),
    /// RFC 7515 section 4.1.11: a `crit` header this library does not understand.
    #[error("unsupported critical header `{0}`")]
    UnsupportedCrit(String),
    /// No key in the set has the token's `kid`.
    #[error("no key with kid `{0}` in the key set")]
    UnknownKid(String),
    /// No key in the set fits the algorithm.
    #[error("no key in the key set fits alg `{0}`")]
    NoMatchingKey(Algorithm),
    /// Several keys fit and the token has no `kid` to choose.
    #[error("the token has no kid and several keys fit")]
    AmbiguousKey,
    /// The key is malformed or unusable with the algorithm.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The signature does not verify.
    #[error("the signature is invalid")]
    InvalidSignature,
    /// The verifier cannot check this algorithm on this platform.
    #[error("this platform cannot verify alg `{0}`")]
    PlatformUnsupported(Algorithm),
}

/// Checks a signature with a platform's crypto.
pub trait SignatureVerifier {
    /// Verifies `signature` over `signing_input` with `key` for `alg`. The key has
    /// already been checked to fit the algorithm's key type.
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError>;
}

/// Checks a signature with asynchronous crypto (WebCrypto in the browser).
pub trait AsyncSignatureVerifier {
    /// As [`SignatureVerifier::verify`].
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<(), JoseError>>;
}

/// The algorithms accepted for one use (ID tokens, access tokens, DPoP proofs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    allowed: Vec<Algorithm>,
}

impl Default for AlgorithmPolicy {
    /// Every asymmetric algorithm in [`Algorithm::ALL`].
    fn default() -> Self {
        Self {
            allowed: Algorithm::ALL.to_vec(),
        }
    }
}

impl AlgorithmPolicy {
    /// Only these algorithms.
    pub fn only(algs: impl IntoIterator<Item = Algorithm>) -> Self {
        Self {
            allowed: algs.into_iter().collect(),
        }
    }

    /// Whether `alg` is allowed.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.allowed.contains(&alg)
    }
}

/// Unverified decoding, for inspection and debugging only: nothing returned here has
/// been authenticated.
pub mod dangerous {
    use super::{JoseError, UnverifiedJws};
    use crate::core::b64;
    use crate::core::json::{read_object, Kind, Members, Parsed};

    /// The time claims of a compact JWT, as numeric dates, unverified.
    #[derive(Default)]
    struct Times {
        exp: Option<u64>,
        iat: Option<u64>,
    }

    impl Members for Times {
        const NAMES: &'static [&'static str] = &["exp", "iat"];
        const KINDS: &'static [Kind] = &[Kind::Date, Kind::Date];
        const NAME: &'static str = "Times";

        fn member(&mut self, index: usize, value: Parsed) {
            if index == 0 {
                self.exp = value.opt_u64();
            } else {
                self.iat = value.opt_u64();
            }
        }
    }

    impl<'de> serde::Deserialize<'de> for Times {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            read_object(d)
        }
    }

    fn insecure_times(token: &str) -> Option<Times> {
        let mut parts = token.trim().split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let bytes = b64::decode(payload).ok()?;
        crate::core::json::from_bytes(&bytes).ok()
    }

    /// Reads the `exp` claim (a numeric date, RFC 7519 section 4.1.4) of a compact
    /// JWT **without checking its signature or algorithm**. For scheduling only, e.g.
    /// when to renew a token the client holds anyway: the value is whatever the token
    /// says and must not be used to decide whether to trust it. `None` when the token is
    /// not a three-part JWT with a JSON object payload whose `exp` is a non-negative
    /// number (opaque tokens, encrypted tokens, a missing or non-numeric `exp`).
    pub fn insecure_jwt_exp(token: &str) -> Option<u64> {
        insecure_times(token)?.exp
    }

    /// Reads the `iat` claim (RFC 7519 section 4.1.6) of a compact JWT **without
    /// checking its signature or algorithm**, as [`insecure_jwt_exp`] does `exp`. For
    /// estimating the provider's clock from a token it just sent over TLS (see
    /// [`ServerTimeOffset`](crate::core::ServerTimeOffset)), before the token is
    /// validated in the provider's time.
    pub fn insecure_jwt_iat(token: &str) -> Option<u64> {
        insecure_times(token)?.iat
    }

    /// A compact JWT's own lifetime, `exp - iat` in seconds, read as
    /// [`insecure_jwt_exp`] reads `exp`: for scheduling only.
    pub(crate) fn insecure_jwt_lifetime(token: &str) -> Option<u64> {
        let times = insecure_times(token)?;
        Some(times.exp?.saturating_sub(times.iat?))
    }

    /// Decodes the claims of a compact JWS without checking its signature.
    pub fn insecure_decode_claims<T: serde::de::DeserializeOwned>(
        token: &str,
    ) -> Result<T, JoseError> {
        let jws = UnverifiedJws::parse(token)?;
        serde_json::from_slice(jws.insecure_payload()).map_err(|e| JoseError::Json {
            part: "payload",
            message: e.to_string(),
        })
    }
}
