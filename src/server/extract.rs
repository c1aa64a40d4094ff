//! The axum extractor and its rejection (RFC 6750 section 3).

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::validator::{ValidationFailure, Validator};
use crate::core::jose::JoseError;
use crate::core::{AccessTokenClaims, AccessTokenError, NoAdditionalClaims};

/// The validated claims of the request's access token; use it as a handler argument.
/// The router state must give a [`Validator`] (`FromRef`).
#[derive(Debug, Clone)]
pub struct Auth<C = NoAdditionalClaims>(pub AccessTokenClaims<C>);

/// Why a request was refused. The response never repeats any part of the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// RFC 6750 section 3.1: no credentials; the challenge carries no error code.
    #[error("no access token")]
    Missing,
    /// RFC 6750 section 3.1: `invalid_request` (malformed Authorization header).
    #[error("malformed Authorization header")]
    Malformed,
    /// RFC 6750 section 3.1: `invalid_token`.
    #[error("invalid access token: {0}")]
    Invalid(AccessTokenError),
    /// The provider's keys are unreachable: the token cannot be checked now.
    #[error("token validation is unavailable")]
    Unavailable,
}

impl AuthRejection {
    /// A fixed description per cause; nothing from the token is echoed.
    fn description(&self) -> &'static str {
        match self {
            AuthRejection::Missing => "no access token",
            AuthRejection::Malformed => "malformed Authorization header",
            AuthRejection::Unavailable => "token validation is temporarily unavailable",
            AuthRejection::Invalid(e) => match e {
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
                AccessTokenError::Jose(JoseError::InvalidSignature) => {
                    "the token signature is invalid"
                }
                AccessTokenError::Jose(_) | AccessTokenError::Malformed(_) => {
                    "the token is malformed"
                }
            },
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (status, challenge, error) = match &self {
            AuthRejection::Missing => (StatusCode::UNAUTHORIZED, "Bearer".to_owned(), None),
            AuthRejection::Malformed => (
                StatusCode::BAD_REQUEST,
                format!(
                    r#"Bearer error="invalid_request", error_description="{}""#,
                    self.description()
                ),
                Some("invalid_request"),
            ),
            AuthRejection::Unavailable => {
                let body = serde_json::json!({"error": "temporarily_unavailable", "error_description": self.description()});
                return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            }
            _ => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer error="invalid_token", error_description="{}""#,
                    self.description()
                ),
                Some("invalid_token"),
            ),
        };
        let body = serde_json::json!({
            "error": error.unwrap_or("unauthorized"),
            "error_description": self.description(),
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// Takes the token from `Authorization: Bearer <token>` (RFC 6750 section 2.1; the
/// scheme is case-insensitive).
fn bearer_token(parts: &Parts) -> Result<&str, AuthRejection> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthRejection::Missing);
    };
    // RFC 6750 section 3.1: more than one credential is `invalid_request`.
    if values.next().is_some() {
        return Err(AuthRejection::Malformed);
    }
    let value = value.to_str().map_err(|_| AuthRejection::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthRejection::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthRejection::Missing);
    }
    let token = token.trim();
    // RFC 6750 section 2.1: b64token characters only.
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    if valid {
        Ok(token)
    } else {
        Err(AuthRejection::Malformed)
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
        let validator = Validator::from_ref(state);
        let token = bearer_token(parts)?;
        let claims = validator.validate::<C>(token).await.map_err(|e| match e {
            ValidationFailure::Invalid(e) => AuthRejection::Invalid(e),
            ValidationFailure::Unavailable(e) => {
                tracing::warn!(error = %e, "cannot load the provider's keys");
                AuthRejection::Unavailable
            }
        })?;
        Ok(Auth(claims))
    }
}
