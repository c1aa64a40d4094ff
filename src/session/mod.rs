//! The client session, independent of any framework or browser: configuration, the
//! observable [`AuthState`], and the engine that drives login, callback, token use and
//! logout through a platform abstraction.

mod config;
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) mod engine;
mod state;

#[cfg(all(test, feature = "rust-crypto"))]
mod tests;

pub use config::{LoginOptions, LogoutOptions, OidcConfig};
#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use state::RawClaims;
pub use state::{AuthError, AuthState, User};
