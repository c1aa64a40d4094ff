//! DPoP proof verification (RFC 9449 section 4.3), sans-IO: the caller supplies the
//! request's method and URL, the access token, the time and the crypto; replay and
//! nonce state live with the caller (see `server`).

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::b64;
use super::constant_time_eq;
use super::jose::{AlgorithmPolicy, JoseError, SignatureVerifier, UnverifiedJws};

/// Largest accepted DPoP proof by default, in bytes (an RSA-4096 key fits easily).
pub const DEFAULT_MAX_PROOF_SIZE: usize = 8 * 1024;

/// Why a DPoP proof was refused. Messages never repeat the proof's or token's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// RFC 9449 section 4.3 check 1: no `DPoP` header, or more than one.
    #[error("exactly one DPoP proof is required")]
    ProofCount,
    /// The proof is longer than the configured maximum.
    #[error("the DPoP proof is longer than {0} bytes")]
    TooLarge(usize),
    /// Check 2 and 5-6: not a well-formed JWS, alg not allowed, or the signature fails.
    #[error("invalid DPoP proof: {0}")]
    Jose(#[from] JoseError),
    /// Check 3: the proof's claims are not the expected JSON.
    #[error("the DPoP proof claims are malformed: {0}")]
    Malformed(String),
    /// Check 3: a required header parameter or claim is absent.
    #[error("the DPoP proof has no `{0}`")]
    Missing(&'static str),
    /// Check 4: `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ is not dpop+jwt")]
    WrongType,
    /// Check 7: the embedded `jwk` carries a private key.
    #[error("the DPoP proof's jwk contains a private key")]
    PrivateKey,
    /// Check 8: `htm` is not the request's method.
    #[error("the DPoP proof was made for another HTTP method")]
    MethodMismatch,
    /// Check 9: `htu` is not the request's URL.
    #[error("the DPoP proof was made for another URL")]
    UrlMismatch,
    /// Check 11: `iat` is too old.
    #[error("the DPoP proof is too old")]
    Expired,
    /// Check 11: `iat` is in the future beyond the leeway.
    #[error("the DPoP proof is issued in the future")]
    IssuedInFuture,
    /// Check 12: `ath` is not the hash of the presented access token.
    #[error("the DPoP proof is not for this access token")]
    TokenHashMismatch,
    /// Check 12: the proof's key is not the key the token is bound to (`cnf.jkt`).
    #[error("the DPoP proof is signed by another key than the token is bound to")]
    KeyMismatch,
    /// The access token presented with the DPoP scheme is not bound to a key.
    #[error("the access token is not DPoP-bound")]
    TokenNotBound,
    /// Check 10: the proof has no valid server nonce (answered with a fresh one).
    #[error("the DPoP proof needs a fresh server nonce")]
    NonceRequired,
    /// The proof's `jti` was seen before within the proof window (replay).
    #[error("the DPoP proof was already used")]
    Replayed,
}

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The HTTP method, as sent (`GET`, `POST`...).
    pub method: &'a str,
    /// The request URL as the client addressed it (scheme, host, port, path; any
    /// query or fragment is ignored).
    pub url: &'a str,
    /// The access token sent with the proof (its hash must be the proof's `ath`).
    pub access_token: &'a str,
    /// The RFC 7638 thumbprint the token is bound to (`cnf.jkt`).
    pub jkt: &'a str,
}

/// A proof that passed every stateless check. The caller still checks the nonce (if it
/// uses nonces) and records `jti` against replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (equal to the token's `cnf.jkt`).
    pub jkt: String,
    /// The proof's unique identifier.
    pub jti: String,
    /// When the proof was made.
    pub iat: u64,
    /// The server nonce the proof carries, if any.
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    #[serde(default, deserialize_with = "integer_date")]
    iat: Option<u64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// `iat` as a JSON number; strings and negative values are refused.
fn integer_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<f64>::deserialize(d)?;
    match v {
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        Some(_) => Err(serde::de::Error::custom("invalid NumericDate")),
        None => Ok(None),
    }
}

/// The stateless checks of a DPoP proof (RFC 9449 section 4.3).
///
/// Defaults: every asymmetric algorithm; proofs at most 60 seconds old and at most 30
/// seconds in the future (client clock skew); proofs of at most 8 KiB.
#[derive(Debug, Clone)]
pub struct DpopProofValidator {
    algorithms: AlgorithmPolicy,
    max_age: u64,
    leeway: u64,
    max_size: usize,
}

impl Default for DpopProofValidator {
    fn default() -> Self {
        Self {
            algorithms: AlgorithmPolicy::default(),
            max_age: 60,
            leeway: 30,
            max_size: DEFAULT_MAX_PROOF_SIZE,
        }
    }
}

/// The `ath` value for an access token: base64url SHA-256 of its ASCII text.
pub fn access_token_hash(token: &str) -> String {
    b64::encode(&Sha256::digest(token.as_bytes()))
}

impl DpopProofValidator {
    /// Accepted proof algorithms (asymmetric only: `none` and HMAC never parse).
    /// Defaults to every asymmetric algorithm this library verifies.
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.algorithms = policy;
        self
    }

    /// The accepted algorithms.
    pub fn algorithm_policy(&self) -> &AlgorithmPolicy {
        &self.algorithms
    }

    /// How old (by `iat`) a proof may be, in seconds. Defaults to 60.
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age = secs;
        self
    }

    /// How far in the future `iat` may be, in seconds (client clock skew). Defaults
    /// to 30.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// The largest accepted proof, in bytes. Defaults to [`DEFAULT_MAX_PROOF_SIZE`].
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// How long a proof stays acceptable after it was received: a replay store must
    /// remember its `jti` this long (`max_age` + `leeway`).
    pub fn window(&self) -> u64 {
        self.max_age.saturating_add(self.leeway)
    }

    /// Runs the stateless checks of RFC 9449 section 4.3 (all but the nonce and the
    /// replay check, which need state) on `proof` for `request` at time `now`.
    pub fn verify(
        &self,
        proof: &str,
        request: &ProofRequest<'_>,
        verifier: &impl SignatureVerifier,
        now: u64,
    ) -> Result<VerifiedProof, DpopError> {
        if proof.len() > self.max_size {
            return Err(DpopError::TooLarge(self.max_size));
        }
        // Check 2: a well-formed JWS (`none`, HMAC and `crit` are refused by the parser).
        let jws = UnverifiedJws::parse(proof)?;
        let header = jws.header();
        // Check 4: typ.
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| crate::core::jose::typ_is(t, "dpop+jwt"));
        if !typ_ok {
            return Err(DpopError::WrongType);
        }
        // Check 3 and 7: a public key in the header, never a private one.
        let jwk = header.jwk.clone().ok_or(DpopError::Missing("jwk"))?;
        if jwk.is_private() {
            return Err(DpopError::PrivateKey);
        }
        // Checks 5 and 6: an allowed asymmetric alg that fits the key, and the signature.
        let verified = jws.verify_with_key(&jwk, &self.algorithms, verifier)?;
        let claims: ProofClaims = serde_json::from_slice(verified.payload())
            .map_err(|e| DpopError::Malformed(e.to_string()))?;
        let jti = claims.jti.filter(|j| !j.is_empty());
        let jti = jti.ok_or(DpopError::Missing("jti"))?;
        let htm = claims.htm.ok_or(DpopError::Missing("htm"))?;
        let htu = claims.htu.ok_or(DpopError::Missing("htu"))?;
        let iat = claims.iat.ok_or(DpopError::Missing("iat"))?;
        let ath = claims.ath.ok_or(DpopError::Missing("ath"))?;
        // Check 8: the method, compared exactly (methods are case-sensitive).
        if htm != request.method {
            return Err(DpopError::MethodMismatch);
        }
        // Check 9: the URL without query and fragment, after normalization.
        match (normalize_htu(&htu), normalize_htu(request.url)) {
            (Some(a), Some(b)) if a == b => {}
            _ => return Err(DpopError::UrlMismatch),
        }
        // Check 11: iat within the window.
        if iat > now.saturating_add(self.leeway) {
            return Err(DpopError::IssuedInFuture);
        }
        if iat.saturating_add(self.max_age) < now {
            return Err(DpopError::Expired);
        }
        // Check 12: the proof is for this token, and made with the key it is bound to.
        let expected_ath = access_token_hash(request.access_token);
        if !constant_time_eq(ath.as_bytes(), expected_ath.as_bytes()) {
            return Err(DpopError::TokenHashMismatch);
        }
        let jkt = jwk.thumbprint()?;
        if !constant_time_eq(jkt.as_bytes(), request.jkt.as_bytes()) {
            return Err(DpopError::KeyMismatch);
        }
        Ok(VerifiedProof {
            jkt,
            jti,
            iat,
            nonce: claims.nonce,
        })
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Normalizes an `htu` (RFC 9449 section 4.3 check 9, RFC 3986 sections 6.2.2 and
/// 6.2.3): scheme and host lowercased, the default port dropped, an empty path made
/// `/`, percent-encodings uppercased (unreserved ones decoded), query and fragment
/// removed. `None` for anything that is not an absolute `http(s)` URL without user
/// information.
pub fn normalize_htu(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // The port follows the last ':' unless that is inside an IPv6 literal.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p),
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = format!("{scheme}://{}", host.to_ascii_lowercase());
    let port = port.trim_start_matches('0');
    if !port.is_empty() && port != default_port {
        out.push(':');
        out.push_str(port);
    }
    if path.is_empty() {
        out.push('/');
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex)?;
            let lo = bytes.get(i + 2).copied().and_then(hex)?;
            let decoded = hi * 16 + lo;
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            i += 3;
        } else {
            out.push(char::from(b));
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn htu_normalization() {
        let n = |u: &str| normalize_htu(u);
        let base = Some("https://api.example.com/todos".to_owned());
        assert_eq!(n("https://api.example.com/todos"), base);
        assert_eq!(n("HTTPS://API.Example.COM:443/todos"), base);
        assert_eq!(n("https://api.example.com/todos?x=1#frag"), base);
        assert_eq!(n("https://api.example.com/%74odos"), base);
        assert_eq!(
            n("https://api.example.com"),
            Some("https://api.example.com/".into())
        );
        assert_eq!(
            n("http://127.0.0.1:80/a%2fb"),
            Some("http://127.0.0.1/a%2Fb".into())
        );
        assert_eq!(n("http://[::1]:8080/x"), Some("http://[::1]:8080/x".into()));
        // Paths stay case-sensitive; ports other than the default stay.
        assert_ne!(n("https://api.example.com/Todos"), base);
        assert_ne!(n("https://api.example.com:8443/todos"), base);
        assert_ne!(n("http://api.example.com/todos"), base);
        for bad in [
            "api.example.com/todos",
            "ftp://api.example.com/",
            "https://user@api.example.com/",
            "https:///todos",
            "https://api.example.com:x/",
            "https://api.example.com/%zz",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    /// RFC 9449 section 7.1, figure 13: a proof made by the RFC's authors (an
    /// implementation other than ours) for a request to a protected resource.
    #[cfg(feature = "rust-crypto")]
    const RFC_PROOF: &str = concat!(
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.",
        "eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9.",
        "2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
    );
    /// RFC 9449 section 7.1: the access token that proof is for.
    #[cfg(feature = "rust-crypto")]
    const RFC_TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    /// RFC 9449 section 6.1: the thumbprint of the example key.
    #[cfg(feature = "rust-crypto")]
    const RFC_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
    #[cfg(feature = "rust-crypto")]
    const RFC_IAT: u64 = 1_562_262_618;

    #[cfg(feature = "rust-crypto")]
    fn rfc_request(url: &str) -> ProofRequest<'_> {
        ProofRequest {
            method: "GET",
            url,
            access_token: RFC_TOKEN,
            jkt: RFC_JKT,
        }
    }

    #[cfg(feature = "rust-crypto")]
    #[test]
    fn rfc_9449_example_proof_verifies() {
        use crate::core::jose::RustCryptoVerifier;
        let v = DpopProofValidator::default();
        let url = "https://resource.example.org/protectedresource";
        let proof = v
            .verify(
                RFC_PROOF,
                &rfc_request(url),
                &RustCryptoVerifier,
                RFC_IAT + 5,
            )
            .unwrap();
        assert_eq!(proof.jkt, RFC_JKT);
        assert_eq!(proof.jti, "e1j3V_bKic8-LAEB");
        assert_eq!(proof.iat, RFC_IAT);
        // The same proof against another URL, method, token, key or time.
        let check =
            |req: &ProofRequest<'_>, now| v.verify(RFC_PROOF, req, &RustCryptoVerifier, now);
        let other_port = "https://resource.example.org:8443/protectedresource";
        assert_eq!(
            check(&rfc_request(other_port), RFC_IAT),
            Err(DpopError::UrlMismatch)
        );
        let other_path = "https://resource.example.org/other";
        assert_eq!(
            check(&rfc_request(other_path), RFC_IAT),
            Err(DpopError::UrlMismatch)
        );
        let post = ProofRequest {
            method: "POST",
            ..rfc_request(url)
        };
        assert_eq!(check(&post, RFC_IAT), Err(DpopError::MethodMismatch));
        let lower = ProofRequest {
            method: "get",
            ..rfc_request(url)
        };
        assert_eq!(check(&lower, RFC_IAT), Err(DpopError::MethodMismatch));
        let token = ProofRequest {
            access_token: "another",
            ..rfc_request(url)
        };
        assert_eq!(check(&token, RFC_IAT), Err(DpopError::TokenHashMismatch));
        let key = ProofRequest {
            jkt: "another",
            ..rfc_request(url)
        };
        assert_eq!(check(&key, RFC_IAT), Err(DpopError::KeyMismatch));
        assert_eq!(
            check(&rfc_request(url), RFC_IAT + 61),
            Err(DpopError::Expired)
        );
        assert_eq!(
            check(&rfc_request(url), RFC_IAT - 31),
            Err(DpopError::IssuedInFuture)
        );
        // A query string or fragment on the request URL does not matter.
        let query = "https://resource.example.org/protectedresource?page=2";
        assert!(check(&rfc_request(query), RFC_IAT).is_ok());
    }

    // RFC 9449 section 7.1 (example): the ath of the example access token.
    #[test]
    fn access_token_hash_matches_rfc_9449_example() {
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
