//! JWT access-token validation for resource servers (RFC 9068 section 4).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::claims::{audience, numeric_date, NoAdditionalClaims};
use super::jose::{AlgorithmPolicy, JoseError, JwkSet, SignatureVerifier, UnverifiedJws};

/// Confirmation claim (RFC 7800), used by DPoP-bound tokens (RFC 9449 section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// JWK SHA-256 thumbprint of the DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

/// The claims of a validated access token (RFC 9068 section 2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned", serialize = "C: Serialize"))]
#[non_exhaustive]
pub struct AccessTokenClaims<C = NoAdditionalClaims> {
    /// Issuer.
    pub iss: String,
    /// Subject.
    #[serde(default)]
    pub sub: String,
    /// Audiences.
    #[serde(default, deserialize_with = "audience")]
    pub aud: Vec<String>,
    /// Expiry.
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<u64>,
    /// Token ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Proof-of-possession confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The app's own claims.
    #[serde(flatten)]
    pub additional: C,
}

impl<C> AccessTokenClaims<C> {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenError {
    /// Not a valid JWS, or the signature fails.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The claims are not valid JSON for the expected shape.
    #[error("the access token claims are malformed: {0}")]
    Malformed(String),
    /// RFC 9068 section 4: `typ` must be `at+jwt`.
    #[error("the token is not a JWT access token (typ `{0}`)")]
    WrongType(String),
    /// RFC 9068 section 4: `iss` must equal the issuer exactly.
    #[error("the token issuer is not trusted")]
    IssuerMismatch,
    /// RFC 9068 section 4: `aud` must contain this resource server.
    #[error("the token is not intended for this resource")]
    AudienceMismatch,
    /// RFC 9068 section 4: the token has expired.
    #[error("the token has expired")]
    Expired,
    /// RFC 7519 section 4.1.5: not valid yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// RFC 9068 section 2.2: a required claim is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
}

/// Validates RFC 9068 access tokens for one resource server.
#[derive(Debug, Clone)]
pub struct AccessTokenValidator {
    issuer: String,
    audiences: Vec<String>,
    leeway: u64,
    policy: AlgorithmPolicy,
}

impl AccessTokenValidator {
    /// A validator for tokens from `issuer` for the resource `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            leeway: 60,
            policy: AlgorithmPolicy::default(),
        }
    }

    /// Accepts one more audience value for this resource.
    pub fn also_audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Clock leeway in seconds for `exp`, `nbf` and `iat`. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Accepted algorithms. Defaults to every asymmetric algorithm (RFC 9068 section 4:
    /// never `none`).
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates a token at time `now`.
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl SignatureVerifier,
        now: u64,
    ) -> Result<AccessTokenClaims<C>, AccessTokenError> {
        let jws = UnverifiedJws::parse(token)?;
        // RFC 9068 section 4: typ must be `at+jwt` (or `application/at+jwt`); media types
        // compare case-insensitively (RFC 7515 section 4.1.9).
        let typ = jws.header().typ.clone().unwrap_or_default();
        let typ_ok =
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt");
        if !typ_ok {
            return Err(AccessTokenError::WrongType(typ));
        }
        let verified = jws.verify(keys, &self.policy, verifier)?;
        let claims: AccessTokenClaims<C> = serde_json::from_slice(verified.payload())
            .map_err(|e| AccessTokenError::Malformed(e.to_string()))?;
        if claims.iss != self.issuer {
            return Err(AccessTokenError::IssuerMismatch);
        }
        if !claims.aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(AccessTokenError::AudienceMismatch);
        }
        let exp = claims.exp.ok_or(AccessTokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(AccessTokenError::Expired);
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now.saturating_add(self.leeway) {
                return Err(AccessTokenError::NotYetValid);
            }
        }
        let iat = claims.iat.ok_or(AccessTokenError::MissingClaim("iat"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(AccessTokenError::NotYetValid);
        }
        if claims.sub.is_empty() {
            return Err(AccessTokenError::MissingClaim("sub"));
        }
        Ok(claims)
    }
}
