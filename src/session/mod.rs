//! The client session, independent of any framework or browser: configuration, the
//! observable [`AuthState`], and the state machine that drives login, callback, silent
//! restore, renewal, logout and the tabs' agreement. The machine does no IO: a driver
//! (the browser's, in `browser`) carries out its commands.

#[cfg_attr(not(feature = "browser"), allow(dead_code))]
mod client;
mod config;
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) mod machine;
mod state;

#[cfg(all(test, feature = "rust-crypto"))]
mod tests;

#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use client::{Client, Slot};
pub use config::{LoginOptions, LogoutOptions, OidcConfig, RestoreMode};
#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use state::RawClaims;
pub use state::{AuthError, AuthState, User};

/// The page a silent sign-in's hidden iframe lands on: serve it at the
/// [`silent_redirect_uri`](OidcConfig::silent_redirect_uri) (by default
/// `/silent-callback.html`) and register that URI at the provider.
///
/// It hands its address (the authorization response) to the app that opened it, on the
/// app's own origin only, and loads nothing else: no second start of the app.
pub const SILENT_CALLBACK_HTML: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signing in</title><script>if (window.parent !== window) window.parent.postMessage(window.location.href, window.location.origin);</script>\n";
