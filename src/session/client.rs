//! The configuration bound once to where the app runs: every value the session
//! machine needs, computed up front.

use super::config::{MockUser, OidcConfig, RestoreMode};

/// Where a value is kept in browser storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// The pending authorization of this tab (session storage: per tab).
    Pending,
    /// Until when (wall-clock ms) this browser was signed in: no tokens, only a time
    /// (local storage: shared by the tabs).
    SignedIn,
    /// Set by an explicit logout: no silent restore, and the next login asks for
    /// interaction (local storage).
    LoggedOut,
    /// The provider's metadata and public keys, so that a reload soon after needs
    /// only the authorization and token requests (session storage; no secrets).
    Provider,
    /// When (wall-clock ms) a tab last told the others of the user's activity: read
    /// by a page back from the back-forward cache, which heard none of their messages
    /// (local storage).
    Activity,
}

impl Slot {
    /// Whether the value is shared by every tab (local storage) or kept per tab.
    pub(crate) fn shared(self) -> bool {
        !matches!(self, Slot::Pending | Slot::Provider)
    }

    fn name(self) -> &'static str {
        match self {
            Slot::Pending => "pending",
            Slot::SignedIn => "signed-in",
            Slot::LoggedOut => "logged-out",
            Slot::Provider => "provider",
            Slot::Activity => "activity",
        }
    }
}

/// The client as the machine uses it.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub issuer: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub extra_params: Vec<(String, String)>,
    pub redirect_uri: String,
    pub silent_redirect_uri: String,
    pub post_logout_redirect_uri: String,
    pub leeway: u64,
    pub trusted_audiences: Vec<String>,
    /// The hidden iframe is used for silent sign-in.
    pub frame: bool,
    /// The top-level `prompt=none` redirect is used when the iframe is not.
    pub redirect_restore: bool,
    pub renew_margin_ms: u64,
    pub renew_ahead: bool,
    pub keep_alive_ms: Option<u64>,
    pub silent_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// `max_age` in seconds, when configured.
    pub max_age: Option<u64>,
    /// Idle timeout (ms), when configured.
    pub idle_timeout_ms: Option<u64>,
    pub auto_logout: bool,
    pub auto_logout_warning_ms: u64,
    pub auto_logout_to: Option<String>,
    pub mock: Option<std::sync::Arc<MockUser>>,
    namespace: String,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Client {
    /// Binds `config` to the app's `origin` (`scheme://host[:port]`).
    pub(crate) fn bind(config: OidcConfig, origin: &str) -> Self {
        let redirect_uri = config.redirect_uri.unwrap_or_else(|| format!("{origin}/"));
        let same_site = same_site(origin, &config.issuer);
        let (frame, redirect_restore) = match config.restore {
            RestoreMode::Auto => (same_site, !same_site),
            RestoreMode::Iframe => (true, false),
            RestoreMode::Redirect => (false, true),
            RestoreMode::Off => (false, false),
        };
        let namespace = config
            .storage_namespace
            .unwrap_or_else(|| format!("oidc-leptos:{}:{}", config.issuer, config.client_id));
        Client {
            issuer: config.issuer,
            client_id: config.client_id,
            scopes: config.scopes,
            extra_params: config.extra_params,
            silent_redirect_uri: config
                .silent_redirect_uri
                .unwrap_or_else(|| format!("{origin}/silent-callback.html")),
            post_logout_redirect_uri: config
                .post_logout_redirect_uri
                .unwrap_or_else(|| redirect_uri.clone()),
            redirect_uri,
            leeway: config.leeway,
            trusted_audiences: config.trusted_audiences,
            frame,
            redirect_restore,
            renew_margin_ms: ms(config.renew_margin),
            renew_ahead: config.renew_ahead,
            // Zero is no idle lifetime (as a provider's `refresh_expires_in: 0`), not
            // a session that is always due for renewal.
            keep_alive_ms: config.keep_alive.map(ms).filter(|t| *t > 0),
            silent_timeout_ms: ms(config.silent_timeout).max(1),
            request_timeout_ms: ms(config.request_timeout).max(1),
            max_age: config.max_age.map(|d| d.as_secs()),
            idle_timeout_ms: config.idle_timeout.map(ms).filter(|t| *t > 0),
            auto_logout: config.auto_logout,
            auto_logout_warning_ms: ms(config.auto_logout_warning),
            auto_logout_to: config.auto_logout_to,
            mock: config.mock.map(std::sync::Arc::new),
            namespace,
        }
    }

    /// The storage key of `slot`.
    pub(crate) fn key(&self, slot: Slot) -> String {
        format!("{}:{}", self.namespace, slot.name())
    }

    /// The name of the channel the tabs of this app talk on.
    pub(crate) fn channel(&self) -> String {
        format!("{}:tabs", self.namespace)
    }
}

/// The path of an absolute URL (`/` when it has none).
#[cfg(test)]
pub(crate) fn path_of(url: &str) -> &str {
    let rest = crate::core::split_once_str(url, "://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// `(scheme, host)` of an absolute URL, host lower-cased and without port.
fn scheme_host(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = crate::core::split_once_str(url, "://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = crate::core::rsplit_once_byte(authority, b'@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// The site of a host: an IP address or single-label host as is, otherwise its last
/// two labels. An approximation of the registrable domain without the public suffix
/// list: hosts under a two-label public suffix (`a.co.uk`, `b.co.uk`) look same-site;
/// such apps set [`RestoreMode`] explicitly.
fn site(host: &str) -> &str {
    let is_ip = host.starts_with('[') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if is_ip {
        return host;
    }
    let bytes = host.as_bytes();
    let mut dots = (0..bytes.len()).rev().filter(|&i| bytes[i] == b'.');
    match (dots.next(), dots.next()) {
        (Some(_), Some(i)) => host.get(i + 1..).unwrap_or(host),
        _ => host,
    }
}

/// Whether the provider is same-site with the app (HTML "same site": scheme and
/// registrable domain), so its cookies reach a hidden iframe even where browsers block
/// third-party cookies.
pub(crate) fn same_site(app_origin: &str, issuer: &str) -> bool {
    match (scheme_host(app_origin), scheme_host(issuer)) {
        (Some((s1, h1)), Some((s2, h2))) => s1 == s2 && site(&h1) == site(&h2),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_follows_registrable_domain_not_port() {
        assert!(same_site("http://localhost:3000", "http://localhost:9000"));
        assert!(same_site(
            "https://app.example.com",
            "https://login.example.com/realms/x"
        ));
        assert!(!same_site("http://localhost:3000", "http://127.0.0.1:9000"));
        assert!(!same_site(
            "https://app.example.com",
            "https://idp.other.com"
        ));
        assert!(!same_site(
            "http://app.example.com",
            "https://idp.example.com"
        ));
        assert!(same_site("http://127.0.0.1:1", "http://127.0.0.1:2"));
        assert!(!same_site("https://a.example.com", "not a url"));
    }

    #[test]
    fn paths_of_urls() {
        assert_eq!(path_of("https://app.example/cb?x#y"), "/cb");
        assert_eq!(path_of("https://app.example"), "/");
        assert_eq!(path_of("https://app.example/"), "/");
    }

    #[test]
    fn binding_defaults_and_modes() {
        let config = OidcConfig::new("http://localhost:9000", "spa");
        let c = Client::bind(config.clone(), "http://localhost:3000");
        assert_eq!(c.redirect_uri, "http://localhost:3000/");
        assert_eq!(
            c.silent_redirect_uri,
            "http://localhost:3000/silent-callback.html"
        );
        assert!(c.frame && !c.redirect_restore);
        let c = Client::bind(config.clone(), "http://127.0.0.1:3000");
        assert!(!c.frame && c.redirect_restore);
        let c = Client::bind(config.restore(RestoreMode::Off), "http://localhost:1");
        assert!(!c.frame && !c.redirect_restore);
        assert_eq!(
            c.key(Slot::Pending),
            "oidc-leptos:http://localhost:9000:spa:pending"
        );
    }
}
