//! # oidc-leptos
//!
//! OpenID Connect sign-in for [Leptos](https://leptos.dev) apps, and offline
//! access-token validation for their Rust backends, in one crate.
//!
//! - [`core`]: the protocol, sans-IO and runtime-agnostic (discovery, PKCE, callback,
//!   token requests, JOSE, ID token and RFC 9068 access-token validation).
//! - The Leptos side (features `csr` / `hydrate` / `ssr`): [`OidcProvider`], the hooks
//!   ([`use_oidc`], [`use_oidc_with_claims`], [`use_user`], [`use_access_token`],
//!   [`use_auto_logout_countdown`], [`use_session_info`]), the guard [`RequireAuth`] and
//!   the [`AutoLogoutWarning`] dialog; [`OidcConfig::mock`] runs all of it with no
//!   provider. The page carries the library's script, [`EARLY_RESTORE_SCRIPT`], inline
//!   in its `index.html`.
//! - [`server`] (feature `server`): a [`server::Validator`] and the axum extractor
//!   [`server::Auth`].
//!
//! # Feature Flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `csr` | Leptos client-side rendering: the browser session, components and hooks |
//! | `hydrate` | as `csr`, for the browser half of an SSR app |
//! | `ssr` | the same components and hooks on the server, rendering the pending state |
//! | `server` | access-token validation (Bearer and DPoP) with discovery and JWKS caching, axum extractor |
//! | `redis` | a DPoP replay store in Redis shared by several API instances (implies `server`) |
//! | `aws-lc-rs` | signature verification with `aws-lc-rs` (enabled by `server`) |
//! | `rust-crypto` | pure-Rust RSA/ECDSA/EdDSA verification (enabled by `server`) |
//!
//! Exactly one of `csr`, `hydrate`, `ssr` per build target. The browser build takes
//! its crypto from WebCrypto, so it carries no RSA or elliptic-curve code.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod core;
mod session;
#[cfg(all(test, feature = "rust-crypto"))]
mod test_support;

#[cfg(feature = "browser")]
mod browser;
#[cfg(any(feature = "csr", feature = "hydrate", feature = "ssr"))]
mod leptos;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

pub use crate::core::{
    AccessToken, IdTokenClaims, NoAdditionalClaims, ProviderMetadata, StandardClaims,
};
pub use session::{
    AuthError, AuthState, LoginOptions, LogoutOptions, MockUser, OidcConfig, RenewalMethod,
    RestoreMode, SessionInfo, SignInMethod, User, EARLY_RESTORE_SCRIPT, SILENT_CALLBACK_HTML,
};

#[cfg(any(feature = "csr", feature = "hydrate", feature = "ssr"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "csr", feature = "hydrate", feature = "ssr")))
)]
pub use crate::leptos::{
    get_access_token, use_access_token, use_auto_logout_countdown, use_oidc, use_oidc_with_claims,
    use_session_info, use_user, use_user_with_claims, AutoLogoutWarning, Oidc, OidcProvider,
    RequireAuth,
};

#[cfg(feature = "browser")]
#[cfg_attr(docsrs, doc(cfg(any(feature = "csr", feature = "hydrate"))))]
pub use crate::browser::add_page_script;

// The README's examples are compiled as doctests, so they cannot rot.
#[cfg(all(doctest, feature = "server", feature = "ssr"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// The names most apps need.
pub mod prelude {
    #[cfg(any(feature = "csr", feature = "hydrate", feature = "ssr"))]
    #[cfg_attr(
        docsrs,
        doc(cfg(any(feature = "csr", feature = "hydrate", feature = "ssr")))
    )]
    pub use crate::{
        get_access_token, use_access_token, use_auto_logout_countdown, use_oidc,
        use_oidc_with_claims, use_session_info, use_user, use_user_with_claims, AutoLogoutWarning,
        Oidc, OidcProvider, RequireAuth,
    };
    pub use crate::{AuthState, LoginOptions, LogoutOptions, MockUser, OidcConfig, User};
}
