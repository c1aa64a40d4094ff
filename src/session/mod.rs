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
pub use config::{LoginOptions, LogoutOptions, MockUser, OidcConfig, RestoreMode};
#[cfg_attr(not(feature = "browser"), allow(unused_imports))]
pub(crate) use state::RawClaims;
pub use state::{AuthError, AuthState, RenewalMethod, SessionInfo, SignInMethod, User};

/// The page a silent sign-in's hidden iframe lands on: serve it at the
/// [`silent_redirect_uri`](OidcConfig::silent_redirect_uri) (by default
/// `/silent-callback.html`) and register that URI at the provider.
///
/// It hands its address (the authorization response) to the app that opened it, on the
/// app's own origin only, and loads nothing else: no second start of the app. The app
/// usually reads the frame's address before this page has run (as soon as the frame
/// is back on the app's origin); the page's own call into the [`EARLY_RESTORE_SCRIPT`]
/// and its `message` are there when that read comes late (timers are slowed in a hidden
/// tab). The address is only ever taken from the app's own frame.
pub const SILENT_CALLBACK_HTML: &str = "<!doctype html><meta charset=\"utf-8\"><title>Signing in</title><script>var p = window.parent; if (p !== window) { try { p.__oidcLeptosEarly.arrived(window); } catch (e) {} p.postMessage(location.href, location.origin); }</script>\n";

/// An inline script for the app's `index.html` (in `<head>`, before the app's own
/// script) that starts the silent sign-in of a reload while the app is still
/// downloading, so a restore costs about the longer of the two rather than their sum.
///
/// It reads the silent request the app left in session storage (no secrets: the
/// provider's metadata and a request template), makes fresh `state`, `nonce` and PKCE
/// values, and loads the request in a hidden iframe; the app takes the frame over when
/// it starts and checks its answer as any other (state, PKCE, ID token and nonce). The
/// answer is read from the frame as soon as the frame is back at the silent redirect
/// URI (the frame is then removed, once the code exchange below has left: a removal
/// holds up the page for a few milliseconds; its page never runs to the end). A
/// frame that stays on a page of its own (the browser's error page when the provider
/// cannot be reached) is given up after the grace the app stored (a fifth of its
/// silent timeout), and the app starts signed out without waiting for that timeout.
/// Meanwhile it opens the connection the code exchange will take (a
/// `<link rel="preconnect" crossorigin>` to the token endpoint's origin: a request
/// without credentials does not share the frame's connection), so the exchange does
/// not wait on a handshake. It does nothing on a first visit or after an explicit
/// logout.
///
/// It also carries the library's JavaScript, the functions the app's wasm calls for
/// the browser's IO (in the page's `__oidcLeptos` object): inline, they cost no request
/// before the app can start. The app needs it: on a page without it, with a copy from
/// another version of the crate, or under a Content-Security-Policy that does not
/// allow it (allow it by its hash or a nonce), the session fails with
/// [`AuthError::Script`](crate::AuthError::Script), which says so.
///
/// When an authorization response arrives before the app has started (the frame's
/// answer, or the page is a callback), it also starts the code exchange at the
/// provider's token endpoint, once the response's `state` matches the request this
/// tab made, and only for a response the app accepts too (its `iss` as RFC 9207 asks,
/// a code and no error, no repeated parameter as RFC 6749 section 3.1 asks, a pending
/// request not expired): the app uses that answer if, when it gets to
/// the exchange after its own checks, it would send exactly the same request. The
/// code only ever goes to the token endpoint of the stored metadata (recent, as the
/// app would use it), with this tab's verifier. The app takes that answer as received
/// when it came, not when the app asked (the token's times count from then). The
/// answer of a frame the app closed without taking it, of a callback the app refused
/// (or a logout in another tab came first), or one that came after the app's own
/// timeout ran out, leaves the page, and the refresh token it brought is revoked
/// (RFC 7009). Where the
/// script cannot send the exchange, the app sends it itself. A callback page loaded again
/// before the app took it over (a reload, a duplicated tab) does not send its code a
/// second time (the provider may have redeemed it already): the script takes the
/// address back to where the sign-in started, and the app starts as on any load (a
/// silent restore where it can, signed out otherwise).
///
/// ```html
/// <head><script>/* EARLY_RESTORE_SCRIPT */</script> ...</head>
/// ```
///
/// The constant is the script minified; its readable source is `src/session/early.js`
/// in the crate. An `index.html` needs it pasted again after each upgrade of the
/// crate: the app starts only with the script of its own version. (An app that
/// renders the constant into its page from Rust, as an SSR shell does, has the right
/// one by construction.)
pub const EARLY_RESTORE_SCRIPT: &str = include_str!("early.min.js");

/// The version of [`EARLY_RESTORE_SCRIPT`] (a hash of the script built with an empty
/// version, which the script carries): the session starts only with the page's script
/// of this version.
pub(crate) const SCRIPT_VERSION: &str = include_str!("early.version").trim_ascii();
