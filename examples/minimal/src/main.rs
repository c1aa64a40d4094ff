//! The smallest app that signs in with oidc-leptos: a login button, then the user's
//! name, the idle countdown and a logout button. Everything else (restore on reload,
//! renewal, tabs in step) is the library's.
//!
//! The provider is read from `config.json` beside `index.html`, so one build runs
//! against any provider. `index.html` carries the early restore script and this folder
//! the silent callback page, as every app should.

use leptos::prelude::*;
use oidc_leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The fields of `config.json`.
#[derive(Deserialize)]
struct Config {
    issuer: String,
    client_id: String,
    #[serde(default)]
    scopes: Vec<String>,
}

async fn load_config() -> Result<OidcConfig, String> {
    let failed = |_| "config.json could not be loaded".to_owned();
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str("config.json"))
        .await
        .map_err(failed)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(failed)?)
        .await
        .map_err(failed)?
        .as_string()
        .unwrap_or_default();
    let config: Config =
        serde_json::from_str(&text).map_err(|e| format!("config.json is invalid: {e}"))?;
    Ok(OidcConfig::new(config.issuer, config.client_id).scopes(config.scopes))
}

#[component]
fn Page() -> impl IntoView {
    let oidc = use_oidc();
    move || match oidc.state().get() {
        AuthState::LoggedIn(user) => signed_in(oidc, user).into_any(),
        AuthState::Pending => view! { <p>"Signing in…"</p> }.into_any(),
        AuthState::Failed(error) => signed_out(oidc, Some(error.to_string())).into_any(),
        _ => signed_out(oidc, None).into_any(),
    }
}

fn signed_in(oidc: Oidc, user: User) -> impl IntoView {
    let countdown = use_auto_logout_countdown();
    let logout = move |_| oidc.logout(LogoutOptions::default());
    view! {
        <p>"Logged in as " <span data-testid="user-name">{user.display_name().to_owned()}</span></p>
        <p>"Auto-logout in (s): " <span data-testid="auto-logout-countdown">{countdown}</span></p>
        <button data-testid="logout" on:click=logout>"Logout"</button>
    }
}

fn signed_out(oidc: Oidc, error: Option<String>) -> impl IntoView {
    let login = move |_| oidc.login(LoginOptions::default());
    view! {
        <button data-testid="login" on:click=login>"Login"</button>
        {error.map(|e| view! { <pre data-testid="auth-error">{e}</pre> })}
    }
}

fn main() {
    leptos::mount::mount_to_body(|| {
        let config = LocalResource::new(load_config);
        move || {
            config.get().map(|config| match config {
                Ok(config) => view! {
                    <OidcProvider config=config>
                        <Page />
                    </OidcProvider>
                }
                .into_any(),
                Err(error) => view! { <pre data-testid="auth-error">{error}</pre> }.into_any(),
            })
        }
    });
}
