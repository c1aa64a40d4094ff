//! The protocol core: runtime-agnostic and sans-IO. It builds requests and parses and
//! validates responses; the caller moves the bytes. No framework, browser or async
//! runtime is involved, so it compiles for native targets and for `wasm32`.

mod access_token;
mod authorize;
pub(crate) mod b64;
mod claims;
mod clock;
mod discovery;
mod dpop;
pub(crate) mod form;
mod http;
mod id_token;
pub mod jose;
pub(crate) mod json;
mod pkce;
mod random;
mod token;
mod types;

#[cfg(test)]
pub(crate) use types::reveal;

#[cfg(all(test, feature = "rust-crypto"))]
mod tests;

pub use access_token::{
    AccessTokenClaims, AccessTokenError, AccessTokenValidator, Confirmation, TokenBinding,
    DEFAULT_MAX_TOKEN_SIZE,
};
pub use authorize::{
    sanitize_return_path, AuthorizationRequest, CallbackError, CallbackParams,
    PendingAuthorization, CALLBACK_PARAMS, PENDING_MAX_AGE,
};
pub use b64::Base64Error;
pub use claims::{NoAdditionalClaims, StandardClaims};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock, ServerTimeOffset};
pub use discovery::{
    discovery_request, discovery_url, is_secure_url, DiscoveryError, ProviderMetadata,
};
pub use dpop::{
    access_token_hash, normalize_htu, DpopError, DpopProofValidator, ProofRequest, VerifiedProof,
    DEFAULT_MAX_PROOF_SIZE,
};
pub use http::{HttpRequest, HttpResponse, Method};
pub use id_token::{check_refresh_continuity, IdTokenClaims, IdTokenError, IdTokenValidator};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use random::{Nonce, RandomError, State};
pub use token::{
    authorization_code_request, refresh_request, revocation_request, OAuthError, TokenError,
    TokenResponse, TokenType,
};
pub use types::{AccessToken, AuthorizationCode, IdToken, RefreshToken};

/// Compares two byte strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where `needle` first occurs in `haystack`. A plain byte scan: the strings searched
/// are short, and the general substring searcher is large in a wasm build.
pub(crate) fn find_str(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// `haystack.split_once(needle)`, with [`find_str`].
pub(crate) fn split_once_str<'a>(haystack: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find_str(haystack, needle)?;
    Some((haystack.get(..i)?, haystack.get(i + needle.len()..)?))
}

/// `haystack.rsplit_once(byte)` for an ASCII separator, without the reverse character
/// searcher.
pub(crate) fn rsplit_once_byte(haystack: &str, byte: u8) -> Option<(&str, &str)> {
    let i = haystack.bytes().rposition(|b| b == byte)?;
    Some((haystack.get(..i)?, haystack.get(i + 1..)?))
}
