//! Run-time configuration, read from `config.json` beside `index.html`, so one build
//! runs against any provider and API.

use serde::Deserialize;

use crate::api::http;

/// The fields of `config.json`.
#[derive(Debug, Clone, Deserialize)]
// Without `auth` only the API's address is used.
#[cfg_attr(not(feature = "auth"), allow(dead_code))]
pub struct AppConfig {
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Origin of the API; empty means this origin.
    #[serde(default)]
    pub api_base: String,
    /// Log out after this many seconds without activity in any tab. Without it the
    /// provider's session lifetime decides.
    #[serde(default)]
    pub idle_timeout_secs: Option<u64>,
    /// How many seconds before the idle logout the warning counts down.
    #[serde(default)]
    pub auto_logout_warning_secs: Option<u64>,
    /// Signs in as this user with no provider at all (demos, tests).
    #[serde(default)]
    pub mock: Option<MockConfig>,
}

/// A mock user: `config.json`'s `mock` object.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(not(feature = "auth"), allow(dead_code))]
pub struct MockConfig {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The access token's audience (the API's); defaults to the client ID.
    #[serde(default)]
    pub audience: Option<String>,
    /// Whether the app starts signed in; defaults to true.
    #[serde(default)]
    pub signed_in: Option<bool>,
}

pub async fn load_config() -> Result<AppConfig, String> {
    let (status, body) = http("GET", "/config.json", None, None).await?;
    if status != 200 {
        return Err(format!("config.json answered HTTP {status}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("config.json is invalid: {e}"))
}

#[cfg(feature = "auth")]
impl AppConfig {
    /// The library's configuration.
    pub fn oidc(&self) -> oidc_leptos::OidcConfig {
        use std::time::Duration;

        let mut config = oidc_leptos::OidcConfig::new(&self.issuer, &self.client_id)
            .scopes(self.scopes.iter().cloned());
        if let Some(secs) = self.idle_timeout_secs {
            config = config.idle_timeout(Duration::from_secs(secs));
        }
        if let Some(secs) = self.auto_logout_warning_secs {
            config = config.auto_logout_warning(Duration::from_secs(secs));
        }
        if let Some(mock) = &self.mock {
            config = config.mock(mock.user());
        }
        config
    }
}

#[cfg(feature = "auth")]
impl MockConfig {
    fn user(&self) -> oidc_leptos::MockUser {
        let mut user = oidc_leptos::MockUser::new(&self.sub);
        if let Some(name) = &self.name {
            user = user.name(name);
        }
        if let Some(email) = &self.email {
            user = user.email(email);
        }
        if !self.roles.is_empty() {
            user = user.claim("roles", &self.roles);
        }
        if let Some(audience) = &self.audience {
            user = user.audience(audience);
        }
        if let Some(signed_in) = self.signed_in {
            user = user.signed_in(signed_in);
        }
        user
    }
}
