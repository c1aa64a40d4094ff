//! Resource-server validation of JWT access tokens (RFC 9068) with an axum extractor.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use oidc_leptos::server::{Auth, Validator};
//!
//! async fn me(Auth(claims): Auth) -> String {
//!     claims.sub
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = Validator::discover("https://idp.example.com")
//!     .audience("https://api.example.com")
//!     .build()
//!     .await?;
//! let app: Router = Router::new().route("/api/me", get(me)).with_state(validator);
//! # Ok(()) }
//! ```
//!
//! [`Auth`] accepts `Authorization: Bearer` (unbound tokens) and `Authorization: DPoP`
//! with a `DPoP` proof (tokens bound by `cnf.jkt`, RFC 9449); `Option<Auth>` makes
//! authentication optional; [`RequireScope`] also demands a scope (403
//! `insufficient_scope` otherwise). Rejections are [`AuthRejection`]s: status and
//! `WWW-Authenticate` per RFC 6750 / RFC 9449, never an echo of the token.
//!
//! # A whole router
//!
//! Protect every route of a router with axum's extractor middleware:
//!
//! ```no_run
//! # use axum::{routing::get, Router};
//! # use oidc_leptos::server::{Auth, Validator};
//! # fn routes(validator: Validator) -> Router {
//! Router::new()
//!     .route("/api/todos", get(|| async { "..." }))
//!     .route_layer(axum::middleware::from_extractor_with_state::<Auth, _>(
//!         validator.clone(),
//!     ))
//!     .with_state(validator)
//! # }
//! ```
//!
//! # WebSocket
//!
//! Browsers cannot set headers on a WebSocket upgrade. Either authenticate the upgrade
//! request with a token carried another way, or accept the upgrade and read the
//! credentials from the first message: the access token and, for a DPoP-bound token, a
//! proof made for `GET` and the endpoint's `https` URL (the proof's `htu`). Then call
//! [`Validator::validate`] (bearer) or [`Validator::validate_dpop`] with that method and
//! URL, and close the socket unless it succeeds. Both run every check the extractor
//! runs, binding and replay included.

mod extract;
mod nonce;
#[cfg(feature = "redis")]
mod redis_store;
mod replay;
mod testing;
mod validator;

pub use extract::{Auth, AuthRejection, RejectionReason, RequireScope, ScopeName};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::RedisReplayStore;
pub use replay::{
    InMemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreError, DEFAULT_REPLAY_CAPACITY,
};
pub use testing::{TestIssuer, TestIssuerError};
pub use validator::{ValidationFailure, Validator, ValidatorBuilder, ValidatorError};

#[cfg(test)]
mod dpop_tests;
#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod tests;
