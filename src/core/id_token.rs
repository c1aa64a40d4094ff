//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7) and refresh
//! continuity (section 12.2).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::claims::{audience, numeric_date, NoAdditionalClaims, StandardClaims};
use super::jose::{
    AlgorithmPolicy, AsyncSignatureVerifier, JoseError, JwkSet, SignatureVerifier, UnverifiedJws,
    VerifiedJws,
};
use super::random::Nonce;

/// The claims of a validated ID token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned", serialize = "C: Serialize"))]
#[non_exhaustive]
pub struct IdTokenClaims<C = NoAdditionalClaims> {
    /// Issuer.
    pub iss: String,
    /// Audiences.
    #[serde(deserialize_with = "audience")]
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<u64>,
    /// Nonce from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Time of authentication.
    #[serde(default, deserialize_with = "numeric_date")]
    pub auth_time: Option<u64>,
    /// Session ID (front/back-channel logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The standard profile claims.
    #[serde(flatten)]
    pub standard: StandardClaims,
    /// The app's own claims.
    #[serde(flatten)]
    pub additional: C,
}

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token is not a valid JWS, or its signature fails.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The claims are not valid JSON for the expected shape.
    #[error("the ID token claims are malformed: {0}")]
    Malformed(String),
    /// 3.1.3.7 step 2: `iss` must equal the issuer exactly.
    #[error("the ID token issuer `{0}` is not the expected issuer")]
    IssuerMismatch(String),
    /// 3.1.3.7 step 3: `aud` must contain the client ID.
    #[error("the ID token is not issued to this client")]
    AudienceMismatch,
    /// 3.1.3.7 step 3: other audiences must be trusted.
    #[error("the ID token names an untrusted audience `{0}`")]
    UntrustedAudience(String),
    /// 3.1.3.7 steps 4-5: `azp`, when present, must be the client ID.
    #[error("the ID token azp `{0}` is not this client")]
    AzpMismatch(String),
    /// 3.1.3.7 step 9: the token has expired (or has no `exp`).
    #[error("the ID token has expired")]
    Expired,
    /// A required claim is absent.
    #[error("the ID token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// 3.1.3.7 step 10: `iat` is in the future beyond the leeway.
    #[error("the ID token is issued in the future")]
    IssuedInFuture,
    /// 3.1.3.7 step 11: the nonce must equal the one sent.
    #[error("the ID token nonce does not match the sign-in request")]
    NonceMismatch,
    /// Section 12.2: a refreshed ID token must keep `iss`, `sub` and `aud`.
    #[error("the refreshed ID token changed `{0}`")]
    RefreshMismatch(&'static str),
}

/// Validates ID tokens for one client of one issuer.
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    leeway: u64,
    policy: AlgorithmPolicy,
    trusted_audiences: Vec<String>,
}

impl IdTokenValidator {
    /// A validator for `client_id` at `issuer`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway: 60,
            policy: AlgorithmPolicy::default(),
            trusted_audiences: Vec::new(),
        }
    }

    /// Clock leeway in seconds for `exp` and `iat`. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Accepted signature algorithms. Defaults to [`AlgorithmPolicy::default`]
    /// (all asymmetric algorithms; never `none` or HMAC).
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Trusts an additional audience besides the client ID. Defaults to none.
    pub fn trusted_audience(mut self, aud: impl Into<String>) -> Self {
        self.trusted_audiences.push(aud.into());
        self
    }

    /// The accepted signature algorithms.
    pub fn algorithm_policy(&self) -> &AlgorithmPolicy {
        &self.policy
    }

    /// Verifies the signature against `keys` and checks the claims at time `now`.
    /// `nonce` is the one sent in the authorization request (None on refresh).
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl SignatureVerifier,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let verified = UnverifiedJws::parse(token)?.verify(keys, &self.policy, verifier)?;
        self.check_claims(&verified, nonce, now)
    }

    /// As [`validate`](Self::validate), with asynchronous crypto.
    pub async fn validate_async<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl AsyncSignatureVerifier,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let verified = UnverifiedJws::parse(token)?
            .verify_async(keys, &self.policy, verifier)
            .await?;
        self.check_claims(&verified, nonce, now)
    }

    /// Checks the claims of a token whose signature is verified.
    pub fn check_claims<C: DeserializeOwned>(
        &self,
        verified: &VerifiedJws,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let claims: IdTokenClaims<C> = serde_json::from_slice(verified.payload())
            .map_err(|e| IdTokenError::Malformed(e.to_string()))?;
        // Step 2: exact issuer match.
        if claims.iss != self.issuer {
            return Err(IdTokenError::IssuerMismatch(claims.iss));
        }
        // Step 3: the client is an audience; any other audience must be trusted.
        if !claims.aud.iter().any(|a| a == &self.client_id) {
            return Err(IdTokenError::AudienceMismatch);
        }
        if let Some(other) = claims
            .aud
            .iter()
            .find(|a| *a != &self.client_id && !self.trusted_audiences.contains(a))
        {
            return Err(IdTokenError::UntrustedAudience(other.clone()));
        }
        // Steps 4-5: azp, when present (and required with several audiences), is the client.
        match &claims.azp {
            Some(azp) if azp != &self.client_id => {
                return Err(IdTokenError::AzpMismatch(azp.clone()))
            }
            None if claims.aud.len() > 1 => return Err(IdTokenError::MissingClaim("azp")),
            _ => {}
        }
        if claims.standard.sub.is_empty() {
            return Err(IdTokenError::MissingClaim("sub"));
        }
        // Step 9: now must be before exp (with leeway).
        let exp = claims.exp.ok_or(IdTokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(IdTokenError::Expired);
        }
        // Step 10: iat must be present and not in the future.
        let iat = claims.iat.ok_or(IdTokenError::MissingClaim("iat"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(IdTokenError::IssuedInFuture);
        }
        // Step 11: the nonce must equal the one sent (constant-time compare).
        if let Some(expected) = nonce {
            match &claims.nonce {
                Some(n) if expected.matches(n) => {}
                _ => return Err(IdTokenError::NonceMismatch),
            }
        }
        Ok(claims)
    }
}

/// OIDC Core section 12.2: an ID token from a refresh must have the same `iss`, `sub`
/// and `aud` as the original.
pub fn check_refresh_continuity<A, B>(
    original: &IdTokenClaims<A>,
    refreshed: &IdTokenClaims<B>,
) -> Result<(), IdTokenError> {
    if original.iss != refreshed.iss {
        return Err(IdTokenError::RefreshMismatch("iss"));
    }
    if original.standard.sub != refreshed.standard.sub {
        return Err(IdTokenError::RefreshMismatch("sub"));
    }
    if original.aud != refreshed.aud {
        return Err(IdTokenError::RefreshMismatch("aud"));
    }
    Ok(())
}
