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

mod extract;
mod nonce;
#[cfg(feature = "redis")]
mod redis_store;
mod replay;
mod validator;

pub use extract::{Auth, AuthRejection, RejectionReason};
#[cfg(feature = "redis")]
pub use redis_store::RedisReplayStore;
pub use replay::{
    InMemoryReplayStore, ReplayKey, ReplayStore, ReplayStoreError, DEFAULT_REPLAY_CAPACITY,
};
pub use validator::{ValidationFailure, Validator, ValidatorBuilder, ValidatorError};

#[cfg(test)]
mod dpop_tests;
#[cfg(test)]
mod tests;
