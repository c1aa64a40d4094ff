//! The axum extractor and its rejection (RFC 6750 section 3, RFC 9449 section 7.1).

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts, OriginalUri};
use axum::http::header::{AUTHORIZATION, HOST, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::validator::{ValidationFailure, Validator};
use crate::core::jose::{Algorithm, JoseError};
use crate::core::{AccessTokenClaims, AccessTokenError, DpopError, NoAdditionalClaims};

/// The `DPoP` request and response header names (RFC 9449 sections 4.1 and 8).
const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// The validated claims of the request's access token; use it as a handler argument.
/// Accepts `Authorization: Bearer <token>` (unbound tokens) and
/// `Authorization: DPoP <token>` with a `DPoP` proof header (bound tokens). The router
/// state must give a [`Validator`] (`FromRef`).
#[derive(Debug, Clone)]
pub struct Auth<C = NoAdditionalClaims>(pub AccessTokenClaims<C>);

/// Why a request was refused, as a category.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionReason {
    /// RFC 6750 section 3.1: no credentials; the challenge carries no error code.
    Missing,
    /// RFC 6750 section 3.1: `invalid_request` (malformed or repeated `Authorization`).
    Malformed,
    /// RFC 6750 section 3.1: `invalid_token`.
    Invalid(AccessTokenError),
    /// RFC 9449 section 7.1: `invalid_dpop_proof`.
    InvalidProof(DpopError),
    /// RFC 9449 section 8: `use_dpop_nonce`; the response carries a fresh `DPoP-Nonce`.
    UseDpopNonce,
    /// The provider's keys or the replay store are unreachable: 503, the token cannot
    /// be checked now.
    Unavailable,
    /// RFC 6750 section 3.1: `insufficient_scope` (403); the token is valid but does not
    /// grant this scope.
    InsufficientScope(&'static str),
}

/// The scheme a request used (or, when it sent none, `Bearer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

/// Why a request was refused, with what the response needs: status, the
/// `WWW-Authenticate` challenges (RFC 6750 / RFC 9449) and a `DPoP-Nonce` when one is
/// required. The response never repeats any part of the token or proof.
///
/// It implements [`IntoResponse`] with a small JSON body (`error`,
/// `error_description`); an app that wants its own body uses
/// [`status`](Self::status), [`headers`](Self::headers) or
/// [`into_response_with`](Self::into_response_with).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.description())]
pub struct AuthRejection {
    reason: RejectionReason,
    scheme: Scheme,
    bearer_allowed: bool,
    algs: String,
    nonce: Option<String>,
}

impl AuthRejection {
    fn new(reason: RejectionReason, scheme: Scheme, validator: &Validator) -> Self {
        let algs = Algorithm::ALL
            .iter()
            .filter(|a| validator.dpop_algorithms().allows(**a))
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            reason,
            scheme,
            bearer_allowed: !validator.requires_dpop(),
            algs,
            nonce: None,
        }
    }

    /// Why the request was refused.
    pub fn reason(&self) -> &RejectionReason {
        &self.reason
    }

    /// The HTTP status: 400 for `invalid_request`, 503 when validation is unavailable,
    /// 401 otherwise.
    pub fn status(&self) -> StatusCode {
        match self.reason {
            RejectionReason::Malformed => StatusCode::BAD_REQUEST,
            RejectionReason::InsufficientScope(_) => StatusCode::FORBIDDEN,
            RejectionReason::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The OAuth error code, if any (`invalid_request`, `invalid_token`,
    /// `invalid_dpop_proof`, `use_dpop_nonce`, `temporarily_unavailable`).
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.reason {
            RejectionReason::Missing => None,
            RejectionReason::Malformed => Some("invalid_request"),
            RejectionReason::Invalid(_) => Some("invalid_token"),
            RejectionReason::InvalidProof(DpopError::TokenNotBound) => Some("invalid_token"),
            RejectionReason::InvalidProof(_) => Some("invalid_dpop_proof"),
            RejectionReason::UseDpopNonce => Some("use_dpop_nonce"),
            RejectionReason::Unavailable => Some("temporarily_unavailable"),
            RejectionReason::InsufficientScope(_) => Some("insufficient_scope"),
        }
    }

    /// A fixed description per cause; nothing from the token or proof is echoed.
    pub fn description(&self) -> &'static str {
        match &self.reason {
            RejectionReason::Missing => "no access token",
            RejectionReason::Malformed => "malformed Authorization header",
            RejectionReason::Unavailable => "token validation is temporarily unavailable",
            RejectionReason::UseDpopNonce => "a DPoP nonce is required",
            RejectionReason::Invalid(e) => token_description(e),
            RejectionReason::InvalidProof(e) => proof_description(e),
            RejectionReason::InsufficientScope(_) => "the token does not grant the required scope",
        }
    }

    /// The nonce the client must use in its next proof, if one is required.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The response headers: one `WWW-Authenticate` per accepted scheme (none for
    /// 503), and `DPoP-Nonce` when a nonce is required.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.reason == RejectionReason::Unavailable {
            return headers;
        }
        let error = self.error_code().map(|code| {
            let mut e = format!(
                r#"error="{code}", error_description="{}""#,
                self.description()
            );
            if let RejectionReason::InsufficientScope(scope) = self.reason {
                e.push_str(&format!(r#", scope="{scope}""#));
            }
            e
        });
        let mut challenges = Vec::new();
        if self.bearer_allowed {
            match (&error, self.scheme) {
                (Some(e), Scheme::Bearer) => challenges.push(format!("Bearer {e}")),
                _ => challenges.push("Bearer".to_owned()),
            }
        }
        let algs = format!(r#"algs="{}""#, self.algs);
        match (&error, self.scheme) {
            (Some(e), Scheme::Dpop) => challenges.push(format!("DPoP {e}, {algs}")),
            (Some(e), Scheme::Bearer) if !self.bearer_allowed => {
                challenges.push(format!("DPoP {e}, {algs}"));
            }
            _ => challenges.push(format!("DPoP {algs}")),
        }
        for c in challenges {
            if let Ok(v) = HeaderValue::from_str(&c) {
                headers.append(WWW_AUTHENTICATE, v);
            }
        }
        if let Some(v) = self
            .nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            headers.insert(DPOP_NONCE, v);
        }
        headers
    }

    /// The response with the app's own body, keeping status and headers.
    pub fn into_response_with(self, body: impl IntoResponse) -> Response {
        let mut response = body.into_response();
        *response.status_mut() = self.status();
        response.headers_mut().extend(self.headers());
        response
    }
}

fn token_description(e: &AccessTokenError) -> &'static str {
    match e {
        AccessTokenError::Expired => "the token has expired",
        AccessTokenError::NotYetValid => "the token is not valid yet",
        AccessTokenError::AudienceMismatch => "the token is not intended for this API",
        AccessTokenError::IssuerMismatch => "the token issuer is not trusted",
        AccessTokenError::WrongType(_) => "the token is not a JWT access token",
        AccessTokenError::MissingClaim(_) => "the token misses a required claim",
        AccessTokenError::TooLarge(_) => "the token is too large",
        AccessTokenError::MissingKid => "the token does not name its key",
        AccessTokenError::InvalidTimes => "the token's time claims are inconsistent",
        AccessTokenError::BoundToKey => "DPoP-bound token presented as bearer",
        AccessTokenError::UnsupportedConfirmation => {
            "the token is bound to a key this API cannot verify"
        }
        AccessTokenError::Jose(JoseError::InvalidSignature) => "the token signature is invalid",
        AccessTokenError::Jose(_) | AccessTokenError::Malformed(_) => "the token is malformed",
    }
}

fn proof_description(e: &DpopError) -> &'static str {
    match e {
        DpopError::ProofCount => "exactly one DPoP proof is required",
        DpopError::TooLarge(_) => "the DPoP proof is too large",
        DpopError::Jose(JoseError::InvalidSignature) => "the DPoP proof signature is invalid",
        DpopError::Jose(JoseError::AlgNotAllowed(_)) => "the DPoP proof algorithm is not allowed",
        DpopError::Jose(_) | DpopError::Malformed(_) => "the DPoP proof is malformed",
        DpopError::Missing(_) => "the DPoP proof misses a required member",
        DpopError::WrongType => "the DPoP proof is not typed dpop+jwt",
        DpopError::PrivateKey => "the DPoP proof key must be a public key",
        DpopError::MethodMismatch => "the DPoP proof is for another method",
        DpopError::UrlMismatch => "the DPoP proof is for another URL",
        DpopError::Expired => "the DPoP proof is too old",
        DpopError::IssuedInFuture => "the DPoP proof is issued in the future",
        DpopError::TokenHashMismatch => "the DPoP proof is for another access token",
        DpopError::KeyMismatch => "the DPoP proof key is not the token's key",
        DpopError::TokenNotBound => "the token is not DPoP-bound",
        DpopError::NonceRequired => "a DPoP nonce is required",
        DpopError::Replayed => "the DPoP proof was already used",
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error_code().unwrap_or("unauthorized"),
            "error_description": self.description(),
        });
        self.into_response_with(axum::Json(body))
    }
}

/// The credentials of a request.
enum Credentials<'a> {
    Bearer(&'a str),
    Dpop { token: &'a str, proof: &'a str },
}

/// RFC 6750 section 2.1 `b64token` (also RFC 9449 section 7.1).
fn is_b64token(token: &str) -> bool {
    let allowed = |b: u8| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
    };
    !token.is_empty() && token.bytes().all(allowed)
}

/// Reads the `Authorization` header (exactly one; schemes compare case-insensitively)
/// and, for the `DPoP` scheme, the one `DPoP` header.
fn credentials(parts: &Parts) -> Result<Credentials<'_>, (RejectionReason, Scheme)> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err((RejectionReason::Missing, Scheme::Bearer));
    };
    // RFC 6750 section 3.1: more than one credential is `invalid_request`.
    if values.next().is_some() {
        return Err((RejectionReason::Malformed, Scheme::Bearer));
    }
    let malformed = (RejectionReason::Malformed, Scheme::Bearer);
    let value = value.to_str().map_err(|_| malformed.clone())?;
    let (scheme, token) = value.split_once(' ').ok_or(malformed.clone())?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return Err((RejectionReason::Missing, Scheme::Bearer));
    };
    let token = token.trim();
    if !is_b64token(token) {
        return Err((RejectionReason::Malformed, scheme));
    }
    match scheme {
        Scheme::Bearer => Ok(Credentials::Bearer(token)),
        Scheme::Dpop => {
            // RFC 9449 section 4.3 check 1: exactly one DPoP header.
            let mut proofs = parts.headers.get_all(DPOP).iter();
            let not_one = || (RejectionReason::InvalidProof(DpopError::ProofCount), scheme);
            let proof = proofs.next().ok_or_else(not_one)?;
            if proofs.next().is_some() {
                return Err(not_one());
            }
            let proof = proof.to_str().map_err(|_| not_one())?;
            Ok(Credentials::Dpop { token, proof })
        }
    }
}

fn first_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    let value = parts.headers.get(name)?.to_str().ok()?;
    value
        .split(',')
        .next()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The URL the client addressed: the configured public URL (or the forwarded or `Host`
/// header's origin) followed by the request's original path.
fn request_url(validator: &Validator, parts: &Parts) -> String {
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |u| u.0.path());
    if let Some(base) = validator.public_url() {
        return format!("{base}{path}");
    }
    let forwarded = validator.trusts_forwarded_headers();
    let scheme = forwarded
        .then(|| first_value(parts, "x-forwarded-proto"))
        .flatten()
        .or(parts.uri.scheme_str())
        .unwrap_or("http");
    let host = forwarded
        .then(|| first_value(parts, "x-forwarded-host"))
        .flatten()
        .or_else(|| parts.headers.get(HOST).and_then(|h| h.to_str().ok()))
        .or(parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// Authenticates a request: the credentials, then the validator's checks.
async fn authenticate<S, C>(
    parts: &Parts,
    state: &S,
) -> Result<(AccessTokenClaims<C>, Scheme, Validator), AuthRejection>
where
    Validator: FromRef<S>,
    C: DeserializeOwned,
{
    let validator = Validator::from_ref(state);
    let (result, scheme) = match credentials(parts) {
        Err((reason, scheme)) => return Err(AuthRejection::new(reason, scheme, &validator)),
        Ok(Credentials::Bearer(token)) => (validator.validate::<C>(token).await, Scheme::Bearer),
        Ok(Credentials::Dpop { token, proof }) => {
            let url = request_url(&validator, parts);
            let method = parts.method.as_str();
            let result = validator
                .validate_dpop::<C>(token, proof, method, &url)
                .await;
            (result, Scheme::Dpop)
        }
    };
    match result {
        Ok(claims) => Ok((claims, scheme, validator)),
        Err(failure) => {
            let mut nonce = None;
            let reason = match failure {
                ValidationFailure::Invalid(e) => RejectionReason::Invalid(e),
                ValidationFailure::InvalidProof(e) => RejectionReason::InvalidProof(e),
                ValidationFailure::UseDpopNonce { nonce: n } => {
                    nonce = Some(n);
                    RejectionReason::UseDpopNonce
                }
                ValidationFailure::Unavailable(e) => {
                    tracing::warn!(error = %e, "token validation unavailable");
                    RejectionReason::Unavailable
                }
            };
            let mut rejection = AuthRejection::new(reason, scheme, &validator);
            rejection.nonce = nonce;
            Err(rejection)
        }
    }
}

impl<S, C> FromRequestParts<S> for Auth<C>
where
    Validator: FromRef<S>,
    S: Send + Sync,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        authenticate(parts, state)
            .await
            .map(|(claims, _, _)| Auth(claims))
    }
}

/// `Option<Auth<C>>`: `None` when the request carries no credentials (optional
/// authentication); credentials that fail are still refused.
impl<S, C> OptionalFromRequestParts<S> for Auth<C>
where
    Validator: FromRef<S>,
    S: Send + Sync,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match authenticate(parts, state).await {
            Ok((claims, _, _)) => Ok(Some(Auth(claims))),
            Err(r) if r.reason == RejectionReason::Missing => Ok(None),
            Err(r) => Err(r),
        }
    }
}

/// A scope that a route requires, for [`RequireScope`].
///
/// ```
/// use oidc_leptos::server::ScopeName;
/// struct WriteTodos;
/// impl ScopeName for WriteTodos {
///     const NAME: &'static str = "todos:write";
/// }
/// ```
pub trait ScopeName {
    /// The scope, as it appears in the token's `scope` claim.
    const NAME: &'static str;
}

/// As [`Auth`], and the token must grant the scope `S`: otherwise 403 with
/// `error="insufficient_scope"` and `scope` in the challenge (RFC 6750 section 3.1).
/// Use it as `RequireScope(claims, _): RequireScope<WriteTodos>`.
pub struct RequireScope<S, C = NoAdditionalClaims>(
    pub AccessTokenClaims<C>,
    pub PhantomData<fn() -> S>,
);

impl<S, C: std::fmt::Debug> std::fmt::Debug for RequireScope<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireScope").field(&self.0).finish()
    }
}

impl<St, S, C> FromRequestParts<St> for RequireScope<S, C>
where
    Validator: FromRef<St>,
    St: Send + Sync,
    S: ScopeName,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let (claims, scheme, validator) = authenticate::<St, C>(parts, state).await?;
        if claims.has_scope(S::NAME) {
            Ok(RequireScope(claims, PhantomData))
        } else {
            let reason = RejectionReason::InsufficientScope(S::NAME);
            Err(AuthRejection::new(reason, scheme, &validator))
        }
    }
}
