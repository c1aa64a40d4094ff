//! Client configuration and the options of login and logout.

use std::time::Duration;

/// How a reload restores the session without stored tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestoreMode {
    /// A hidden iframe when the provider is same-site with the app (its cookies reach
    /// it), otherwise a top-level `prompt=none` redirect when this browser was signed
    /// in recently. The default.
    #[default]
    Auto,
    /// Always the hidden iframe (the provider's cookies must reach a frame).
    Iframe,
    /// Always the top-level `prompt=none` redirect, and only after a recent sign-in.
    Redirect,
    /// Never restore: every reload starts signed out.
    Off,
}

/// How the app talks to its OpenID Provider.
///
/// ```
/// use oidc_leptos::OidcConfig;
/// let config = OidcConfig::new("https://idp.example.com/realms/acme", "my-spa")
///     .scopes(["profile", "email"]);
/// assert_eq!(config.client_id(), "my-spa");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) post_logout_redirect_uri: Option<String>,
    pub(crate) leeway: u64,
    pub(crate) extra_params: Vec<(String, String)>,
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) silent_redirect_uri: Option<String>,
    pub(crate) restore: RestoreMode,
    pub(crate) renew_margin: Duration,
    pub(crate) renew_ahead: bool,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) silent_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) storage_namespace: Option<String>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) auto_logout: bool,
    pub(crate) auto_logout_warning: Duration,
    pub(crate) auto_logout_to: Option<String>,
    pub(crate) mock: Option<MockUser>,
}

impl OidcConfig {
    /// A public client `client_id` at `issuer` (the exact issuer identifier).
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            scopes: Vec::new(),
            redirect_uri: None,
            post_logout_redirect_uri: None,
            leeway: 60,
            extra_params: Vec::new(),
            trusted_audiences: Vec::new(),
            silent_redirect_uri: None,
            restore: RestoreMode::Auto,
            renew_margin: Duration::from_secs(30),
            renew_ahead: true,
            keep_alive: None,
            silent_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            storage_namespace: None,
            max_age: None,
            idle_timeout: None,
            auto_logout: true,
            auto_logout_warning: Duration::from_secs(60),
            auto_logout_to: None,
            mock: None,
        }
    }

    /// Log the user out after this long without activity (pointer, keys, touch,
    /// scroll, focus) in any tab of the app. Defaults to the provider session's idle
    /// lifetime as the tokens tell it (`refresh_expires_in`, or a JWT refresh token's
    /// `exp`), else [`keep_alive`](Self::keep_alive); with none of them known there is
    /// no idle timeout.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Whether the idle timeout logs the user out. Defaults to true; false keeps
    /// the session until it ends at the provider, whatever the user does.
    pub fn auto_logout(mut self, on: bool) -> Self {
        self.auto_logout = on;
        self
    }

    /// How long before the idle logout the countdown runs
    /// ([`use_auto_logout_countdown`](crate::use_auto_logout_countdown)). Defaults to
    /// 60 s (at most the idle timeout).
    pub fn auto_logout_warning(mut self, warning: Duration) -> Self {
        self.auto_logout_warning = warning;
        self
    }

    /// The app path to show after an idle logout. Defaults to none: the current page
    /// stays, signed out.
    ///
    /// An idle logout ends the session in every tab, revokes the refresh token at
    /// the provider (RFC 7009, when it has a revocation endpoint; an offline tab does
    /// it when the browser is back online), and, like an explicit logout, keeps the
    /// session from being restored silently: the next login asks for the user.
    pub fn auto_logout_to(mut self, path: impl Into<String>) -> Self {
        self.auto_logout_to = Some(path.into());
        self
    }

    /// Mock mode: no provider is contacted; the session signs in as `user` (see
    /// [`MockUser`]). For tests, demos and deployments without sign-in. Every hook,
    /// guard and the idle countdown behave as with a provider. The page needs
    /// [`EARLY_RESTORE_SCRIPT`](crate::EARLY_RESTORE_SCRIPT) as with a provider: a
    /// test page without it (`wasm-bindgen-test` makes its own) gets it from
    /// `add_page_script()` (features `csr`, `hydrate`).
    pub fn mock(mut self, user: MockUser) -> Self {
        self.mock = Some(user);
        self
    }

    /// Whether this is a mock configuration.
    pub fn is_mock(&self) -> bool {
        self.mock.is_some()
    }

    /// Asks the provider to authenticate the user again when their last
    /// authentication is older than this (OIDC Core 3.1.2.1 `max_age`); the ID token's
    /// `auth_time` is then required and checked. Defaults to none (not sent).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// An audience besides the client that ID tokens may name (OIDC Core 3.1.3.7 step
    /// 3), e.g. an API the provider adds to `aud`. Defaults to none: an ID token with an
    /// untrusted extra audience is rejected.
    pub fn trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// The page the hidden iframe of a silent sign-in lands on: a small static page
    /// that hands its address to the app (see [`SILENT_CALLBACK_HTML`](crate::SILENT_CALLBACK_HTML)).
    /// It must be registered at the provider as a redirect URI. Defaults to the app's
    /// origin + `/silent-callback.html`.
    pub fn silent_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.silent_redirect_uri = Some(uri.into());
        self
    }

    /// How a reload restores the session. Defaults to [`RestoreMode::Auto`].
    pub fn restore(mut self, mode: RestoreMode) -> Self {
        self.restore = mode;
        self
    }

    /// Renew the access token when less than this is left (at most half its
    /// lifetime). Defaults to 30 s. While the renewal is under way, a caller gets
    /// the current token at once until half the margin is left, and waits for the
    /// new one after that.
    pub fn renew_margin(mut self, margin: Duration) -> Self {
        self.renew_margin = margin;
        self
    }

    /// Renew the access token ahead of expiry while the user is active in the tab, so
    /// that API calls never wait on the network. Defaults to true; an idle or hidden
    /// tab renews only when a token is asked for.
    pub fn renew_ahead(mut self, on: bool) -> Self {
        self.renew_ahead = on;
        self
    }

    /// The provider session's idle lifetime, when the tokens do not tell it (no
    /// `refresh_expires_in`, no JWT refresh token). While the user works, the session
    /// is renewed before it idles out. Defaults to none (renewal follows the access
    /// token only); zero is none too.
    pub fn keep_alive(mut self, idle_lifetime: Duration) -> Self {
        self.keep_alive = Some(idle_lifetime);
        self
    }

    /// How long a silent sign-in in a hidden iframe may take before the app counts
    /// as signed out. Defaults to 10 s. A frame that stops on a page of its own (the
    /// browser's error page when the provider cannot be reached, or a provider page
    /// that ignores `prompt=none`) fails a fifth of this time (2 s by default) after
    /// that page loaded, without waiting for the rest: the time left for a scripted
    /// redirect to leave such a page.
    pub fn silent_timeout(mut self, timeout: Duration) -> Self {
        self.silent_timeout = timeout;
        self
    }

    /// Timeout of each request to the provider. Defaults to 15 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Prefix of the storage keys and the tab channel's name. Defaults to one derived
    /// from the issuer and client ID, so two apps (or two providers) never mix.
    pub fn storage_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.storage_namespace = Some(namespace.into());
        self
    }

    /// Scopes besides `openid`. Defaults to none.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The redirect URI registered at the provider. Defaults to the app's origin + `/`.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Where the provider sends the browser after logout. Defaults to the redirect URI.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// Clock leeway in seconds for token times. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// An extra authorization parameter sent on every login (e.g. `audience` for Auth0).
    pub fn extra_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((key.into(), value.into()));
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// Options of one login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOptions {
    pub(crate) return_to: Option<String>,
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) replace: bool,
}

impl LoginOptions {
    /// The same-origin path to show after sign-in. Defaults to the current path.
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// An extra authorization parameter, e.g. `("ui_locales", "fr")`.
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    /// Leave for the provider in place of the current history entry
    /// (`location.replace`), so that Back from its page skips the current one. For a
    /// sign-in the app starts by itself, from a page that only sends the user on
    /// (as [`RequireAuth`](crate::RequireAuth) does): with a new entry, Back would land
    /// there and be sent to the provider again. Defaults to false.
    pub fn replace_history(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }
}

/// Options of one logout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutOptions {
    pub(crate) local_only: bool,
}

impl LogoutOptions {
    /// End the session in this app only, without visiting the provider. Defaults to
    /// false (RP-initiated logout at the provider).
    pub fn local_only(mut self, local_only: bool) -> Self {
        self.local_only = local_only;
        self
    }
}

/// The user of a [mock](OidcConfig::mock) session: ID token claims, and the access
/// token a backend in mock mode accepts.
///
/// ```
/// use oidc_leptos::{MockUser, OidcConfig};
/// let config = OidcConfig::new("https://idp.example.com", "my-spa")
///     .mock(MockUser::new("alice").name("Alice").claim("roles", ["admin"]));
/// assert!(config.is_mock());
/// ```
///
/// The access token is an unsigned JWT (`alg` `none`) naming the mock user, the
/// configured issuer and [`audience`](Self::audience): only a backend validator built
/// for mock mode accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    pub(crate) sub: String,
    /// Each claim's name and its value as JSON text (written once, here: the session
    /// only copies them).
    pub(crate) claims: Vec<(String, String)>,
    pub(crate) audience: Option<String>,
    pub(crate) signed_in: bool,
    /// How the session signs this user in: named here, so that an app that never
    /// makes a mock user carries none of that code.
    pub(crate) sign_in: MockSignIn,
}

/// The session's mock sign-in: `Machine::mock_sign_in`, named by [`MockUser::new`].
#[derive(Clone, Copy)]
pub(crate) struct MockSignIn(pub(crate) fn(&mut crate::session::machine::Machine, &MockUser));

impl std::fmt::Debug for MockSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockSignIn")
    }
}

// One function is ever named: every value is the same.
impl PartialEq for MockSignIn {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for MockSignIn {}

impl MockUser {
    /// A user with subject `sub`, signed in when the app starts.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            claims: Vec::new(),
            audience: None,
            signed_in: true,
            sign_in: MockSignIn(crate::session::machine::Machine::mock_sign_in),
        }
    }

    fn set(&mut self, name: String, json: String) {
        // The session's own members (`sub`, `iss`, `aud`, times) are not claims to set.
        if ["sub", "iss", "aud", "iat", "exp", "nbf"].contains(&name.as_str()) {
            return;
        }
        self.claims.retain(|(n, _)| *n != name);
        self.claims.push((name, json));
    }

    /// The `name` claim.
    pub fn name(self, name: impl Into<String>) -> Self {
        self.claim("name", name.into())
    }

    /// The `email` claim.
    pub fn email(self, email: impl Into<String>) -> Self {
        self.claim("email", email.into())
    }

    /// Any claim (the app's typed claims read it like a provider's).
    /// The session's own members (`sub`, `iss`, `aud`, `iat`, `exp`, `nbf`) are not set
    /// this way: `sub` is [`new`](Self::new)'s.
    pub fn claim(mut self, name: impl Into<String>, value: impl serde::Serialize) -> Self {
        if let Ok(json) = serde_json::to_string(&value) {
            self.set(name.into(), json);
        }
        self
    }

    /// Every field of `claims` (a struct or map serializing to a JSON object) as a
    /// claim.
    pub fn claims(mut self, claims: &impl serde::Serialize) -> Self {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(claims) {
            for (name, value) in map {
                self.set(name, value.to_string());
            }
        }
        self
    }

    /// The access token's audience (the API). Defaults to the client ID.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Whether the app starts signed in. Defaults to true; `login` and `logout`
    /// switch it.
    pub fn signed_in(mut self, signed_in: bool) -> Self {
        self.signed_in = signed_in;
        self
    }
}
