//! Client configuration and the options of login and logout.

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
        }
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
