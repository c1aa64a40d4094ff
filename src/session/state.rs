//! The observable session state.

use std::any::{Any, TypeId};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::core::{
    jose::JoseError, CallbackError, DiscoveryError, IdTokenClaims, IdTokenError,
    NoAdditionalClaims, RandomError, StandardClaims, TokenError,
};

/// The signed-in user: the validated ID token claims.
#[derive(Debug, Clone, PartialEq)]
pub struct User<C = NoAdditionalClaims> {
    /// Shared: a user is cloned into every state published and read.
    claims: Arc<IdTokenClaims<C>>,
    /// The validated claims as JSON, from which the app's claims type is read.
    payload: Arc<str>,
}

impl<C> User<C> {
    pub(crate) fn new(claims: IdTokenClaims<C>, payload: Arc<str>) -> Self {
        Self {
            claims: Arc::new(claims),
            payload,
        }
    }

    /// The subject identifier.
    pub fn sub(&self) -> &str {
        &self.claims.standard.sub
    }

    /// A name to show (name, preferred username, e-mail, or subject).
    pub fn display_name(&self) -> &str {
        self.claims.standard.display_name()
    }

    /// The standard profile claims.
    pub fn standard(&self) -> &StandardClaims {
        &self.claims.standard
    }

    /// The app's own claims.
    pub fn additional(&self) -> &C {
        &self.claims.additional
    }

    /// All ID token claims.
    pub fn claims(&self) -> &IdTokenClaims<C> {
        &self.claims
    }

    /// The validated ID token claims read as `T` (e.g. the app's own claims type, for a
    /// role check in a guard). A mismatch is [`AuthError::Claims`].
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, AuthError> {
        serde_json::from_str(&self.payload).map_err(|e| AuthError::Claims(e.to_string()))
    }

    /// Whether `self` and `other` hold the same validated claims.
    #[cfg_attr(
        not(any(feature = "csr", feature = "hydrate", feature = "ssr")),
        allow(dead_code)
    )]
    pub(crate) fn same_claims<D>(&self, other: &User<D>) -> bool {
        self.payload == other.payload
    }

    /// Whether `other` (from a renewed ID token) tells the same of the user as
    /// `self`: every claim alike but those each token has anew (times, ids, hashes,
    /// nonce). The app's own claims count: a role taken away shows at the renewal,
    /// and so does a new `auth_time` (the user signed in again; a refresh keeps it,
    /// OIDC Core 12.2).
    pub(crate) fn same_user_claims<D>(&self, other: &User<D>) -> bool {
        const PER_TOKEN: [&str; 11] = [
            "iat", "exp", "nbf", "jti", "nonce", "at_hash", "c_hash", "s_hash",
            // Entra ID's per-token values.
            "uti", "rh", "aio",
        ];
        let lasting = |payload: &str| match crate::core::json::parse_value(payload.as_bytes()) {
            Ok(crate::core::json::AnyValue::Map(members)) => Some(
                members
                    .into_iter()
                    .filter(|(name, _)| !PER_TOKEN.contains(&name.as_str()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        self.payload == other.payload || lasting(&self.payload) == lasting(&other.payload)
    }
}

/// The session keeps only the standard claims typed (and the validated JSON); hooks
/// read the app's own type from the JSON.
pub(crate) type RawClaims = NoAdditionalClaims;

#[cfg_attr(
    not(any(feature = "csr", feature = "hydrate", feature = "ssr")),
    allow(dead_code)
)]
impl User<RawClaims> {
    /// Gives the additional claims the app's type.
    pub(crate) fn typed<C: DeserializeOwned + 'static>(&self) -> Result<User<C>, AuthError> {
        // The session's own claims type (the default) needs no second parse: the same
        // JSON gave these claims.
        if TypeId::of::<C>() == TypeId::of::<RawClaims>() {
            let same: Box<dyn Any> = Box::new(self.clone());
            return same
                .downcast::<User<C>>()
                .map(|user| *user)
                .map_err(|_| AuthError::Claims("the claims type is not the session's".into()));
        }
        // The app's type reads the whole payload: it may name standard claims too.
        let additional: C =
            serde_json::from_str(&self.payload).map_err(|e| AuthError::Claims(e.to_string()))?;
        let claims = IdTokenClaims::clone(&self.claims).with_additional(additional);
        Ok(User::new(claims, Arc::clone(&self.payload)))
    }
}

/// Where the session stands.
// One value lives in a signal: boxing the user would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum AuthState<C = NoAdditionalClaims> {
    /// Starting up, or completing a sign-in.
    Pending,
    /// Nobody is signed in.
    LoggedOut,
    /// A user is signed in.
    LoggedIn(User<C>),
    /// Sign-in failed; the app can offer to log in again.
    Failed(AuthError),
}

impl<C> AuthState<C> {
    /// The user, when signed in.
    pub fn user(&self) -> Option<&User<C>> {
        match self {
            AuthState::LoggedIn(u) => Some(u),
            _ => None,
        }
    }

    /// Whether a user is signed in.
    pub fn is_logged_in(&self) -> bool {
        matches!(self, AuthState::LoggedIn(_))
    }

    /// Whether the state is still being determined.
    pub fn is_pending(&self) -> bool {
        matches!(self, AuthState::Pending)
    }

    /// Whether two states show the same thing: users compared by their validated
    /// claims (one comparison of the ID token's JSON, not claim by claim), errors by
    /// their message.
    pub(crate) fn same_as<D>(&self, other: &AuthState<D>) -> bool {
        match (self, other) {
            (AuthState::Pending, AuthState::Pending)
            | (AuthState::LoggedOut, AuthState::LoggedOut) => true,
            (AuthState::LoggedIn(a), AuthState::LoggedIn(b)) => a.same_claims(b),
            (AuthState::Failed(a), AuthState::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

#[cfg_attr(
    not(any(feature = "csr", feature = "hydrate", feature = "ssr")),
    allow(dead_code)
)]
impl AuthState<RawClaims> {
    /// Gives the claims the app's type; a mismatch is a failed state.
    pub(crate) fn typed<C: DeserializeOwned + 'static>(&self) -> AuthState<C> {
        match self {
            AuthState::Pending => AuthState::Pending,
            AuthState::LoggedOut => AuthState::LoggedOut,
            AuthState::Failed(e) => AuthState::Failed(e.clone()),
            AuthState::LoggedIn(u) => match u.typed() {
                Ok(u) => AuthState::LoggedIn(u),
                Err(e) => AuthState::Failed(e),
            },
        }
    }
}

/// Why sign-in or a token operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The provider's metadata could not be loaded or is invalid.
    #[error("cannot use the identity provider: {0}")]
    Discovery(#[from] DiscoveryError),
    /// The redirect back from the provider is invalid.
    #[error("sign-in callback rejected: {0}")]
    Callback(#[from] CallbackError),
    /// The token endpoint refused or answered badly.
    #[error("token request failed: {0}")]
    Token(#[from] TokenError),
    /// The ID token is invalid.
    #[error("ID token rejected: {0}")]
    IdToken(#[from] IdTokenError),
    /// The provider's keys could not be loaded.
    #[error("cannot load the provider's keys: {0}")]
    Keys(JoseError),
    /// The network request failed (offline, CORS, DNS...).
    #[error("network error: {0}")]
    Network(String),
    /// Browser storage is unavailable.
    #[error("storage error: {0}")]
    Storage(String),
    /// The platform's random number generator failed.
    #[error("{0}")]
    Random(String),
    /// The user's claims do not fit the app's claims type.
    #[error("the user's claims do not match the expected type: {0}")]
    Claims(String),
    /// Nobody is signed in.
    #[error("not signed in")]
    NotLoggedIn,
    /// The access token expired and could not be renewed yet.
    #[error("the access token expired and could not be renewed")]
    TokenExpired,
    /// The page lacks the library's script of this version
    /// ([`EARLY_RESTORE_SCRIPT`](crate::EARLY_RESTORE_SCRIPT)), or cannot run it: the
    /// session cannot start.
    #[error("the page lacks oidc-leptos's script of this version ({}): put EARLY_RESTORE_SCRIPT (again, after an upgrade) in the <head> of index.html, and allow it in a Content-Security-Policy", crate::session::SCRIPT_VERSION)]
    Script,
}

impl From<RandomError> for AuthError {
    fn from(e: RandomError) -> Self {
        AuthError::Random(e.to_string())
    }
}

/// How the current session was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInMethod {
    /// The user signed in at the provider (a redirect and the callback).
    Interactive,
    /// Restored silently in a hidden iframe (`prompt=none`).
    Frame,
    /// Restored silently by a top-level `prompt=none` redirect.
    Redirect,
    /// Mock mode: no provider.
    Mock,
}

/// How the access token was last renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalMethod {
    /// The refresh-token grant.
    Refresh,
    /// A silent sign-in in a hidden iframe.
    Frame,
}

/// What the session is doing, for a status display: all times are wall-clock
/// milliseconds since the Unix epoch. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// How the session was obtained; `None` when signed out.
    pub signed_in_via: Option<SignInMethod>,
    /// When the access token expires (client clock).
    pub access_token_expires_at: Option<u64>,
    /// When the access token was last renewed, and how.
    pub last_renewal: Option<(u64, RenewalMethod)>,
    /// Renewals since sign-in.
    pub renewals: u32,
    /// After how long without activity the user is logged out (ms), if ever.
    pub idle_timeout_ms: Option<u64>,
    /// Whether the last logout was the idle timeout's.
    pub idle_logged_out: bool,
    /// Whether the last session ended at the provider: a renewal, in this tab or
    /// another, was refused (`invalid_grant`, or `login_required` from the silent
    /// frame), so the user must sign in again.
    pub session_lost: bool,
}
