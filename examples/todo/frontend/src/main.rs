//! The example TODO app: a Leptos CSR front end that signs in with oidc-leptos and
//! calls its own API with the access token.
//!
//! Built without the default `auth` feature, it is the same app with no sign-in: the
//! size report compares the two.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Run-time configuration, read from `config.json` beside `index.html`, so one build
/// runs against any provider and API.
#[derive(Debug, Clone, Deserialize)]
struct AppConfig {
    issuer: String,
    client_id: String,
    #[serde(default)]
    scopes: Vec<String>,
    /// Origin of the API; empty means this origin.
    #[serde(default)]
    api_base: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
struct Todo {
    id: i64,
    title: String,
    done: bool,
}

/// A minimal `fetch` returning status and body text.
async fn http(
    method: &str,
    url: &str,
    token: Option<String>,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let err = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(err)?;
    if let Some(t) = token {
        headers
            .set("Authorization", &format!("Bearer {t}"))
            .map_err(err)?;
    }
    if let Some(b) = &body {
        headers
            .set("Content-Type", "application/json")
            .map_err(err)?;
        init.set_body(&wasm_bindgen::JsValue::from_str(b));
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(err)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| format!("cannot reach {url}"))?
        .dyn_into()
        .map_err(err)?;
    let text = JsFuture::from(response.text().map_err(err)?)
        .await
        .map_err(err)?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

async fn load_config() -> Result<AppConfig, String> {
    let (status, body) = http("GET", "config.json", None, None).await?;
    if status != 200 {
        return Err(format!("config.json answered HTTP {status}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("config.json is invalid: {e}"))
}

/// Where API calls get their token from.
#[derive(Clone, Copy)]
struct TokenSource {
    #[cfg(feature = "auth")]
    oidc: oidc_leptos::Oidc,
}

impl TokenSource {
    async fn token(self) -> Result<Option<String>, String> {
        #[cfg(feature = "auth")]
        {
            self.oidc
                .get_access_token()
                .await
                .map(|t| Some(t.secret().to_owned()))
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "auth"))]
        {
            Ok(None)
        }
    }
}

async fn api(
    tokens: TokenSource,
    base: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<String, String> {
    let token = tokens.token().await?;
    let (status, text) = http(method, &format!("{base}{path}"), token, body).await?;
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(format!("{method} {path} answered HTTP {status}"))
    }
}

#[component]
fn Todos(api_base: String, tokens: TokenSource) -> impl IntoView {
    let todos = RwSignal::new(Vec::<Todo>::new());
    let error = RwSignal::new(None::<String>);
    let title = RwSignal::new(String::new());
    let base = StoredValue::new(api_base);

    leptos::task::spawn_local(async move {
        match api(tokens, &base.get_value(), "GET", "/api/todos", None).await {
            Ok(text) => match serde_json::from_str::<Vec<Todo>>(&text) {
                Ok(list) => todos.set(list),
                Err(e) => error.set(Some(e.to_string())),
            },
            Err(e) => error.set(Some(e)),
        }
    });

    let add = move |_| {
        let text = title.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        let body = serde_json::json!({ "title": text }).to_string();
        leptos::task::spawn_local(async move {
            match api(tokens, &base.get_value(), "POST", "/api/todos", Some(body)).await {
                Ok(text) => match serde_json::from_str::<Todo>(&text) {
                    Ok(todo) => {
                        todos.update(|t| t.push(todo));
                        title.set(String::new());
                        error.set(None);
                    }
                    Err(e) => error.set(Some(e.to_string())),
                },
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <section class="todos">
            <form on:submit=move |ev| { ev.prevent_default(); add(()); }>
                <input data-testid="todo-input" placeholder="What needs doing?"
                    prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev)) />
                <button data-testid="todo-add" type="submit">"Add"</button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="api-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <ul>
                <For each=move || todos.get() key=|t| t.id let:todo>
                    <li data-testid="todo-item">{todo.title}</li>
                </For>
            </ul>
        </section>
    }
}

#[cfg(feature = "auth")]
#[component]
fn Page(api_base: String) -> impl IntoView {
    use oidc_leptos::prelude::*;

    let oidc = use_oidc::<oidc_leptos::NoAdditionalClaims>();
    let tokens = TokenSource { oidc };
    let login = move |_| oidc.login(LoginOptions::default());
    move || {
        match oidc.state().get() {
        AuthState::Pending => view! { <p class="pending">"Signing in…"</p> }.into_any(),
        AuthState::LoggedOut => view! {
            <button data-testid="login" on:click=login>"Log in"</button>
        }
        .into_any(),
        AuthState::Failed(e) => view! {
            <p class="error" data-testid="auth-error">{e.to_string()}</p>
            <button data-testid="login" on:click=login>"Log in again"</button>
        }
        .into_any(),
        AuthState::LoggedIn(user) => view! {
            <header>
                <span data-testid="user-name">{user.display_name().to_owned()}</span>
                <button data-testid="logout" on:click=move |_| oidc.logout(LogoutOptions::default())>
                    "Log out"
                </button>
            </header>
            <Todos api_base=api_base.clone() tokens=tokens />
        }
        .into_any(),
    }
    }
}

#[cfg(feature = "auth")]
#[component]
fn Shell(config: AppConfig) -> impl IntoView {
    let oidc_config =
        oidc_leptos::OidcConfig::new(config.issuer, config.client_id).scopes(config.scopes);
    view! {
        <oidc_leptos::OidcProvider config=oidc_config>
            <Page api_base=config.api_base />
        </oidc_leptos::OidcProvider>
    }
}

#[cfg(not(feature = "auth"))]
#[component]
fn Shell(config: AppConfig) -> impl IntoView {
    let _ = (&config.issuer, &config.client_id, &config.scopes);
    view! { <Todos api_base=config.api_base tokens=TokenSource {} /> }
}

#[component]
fn Root() -> impl IntoView {
    let config = LocalResource::new(load_config);
    view! {
        <main>
            <h1>"TODO"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || config.get().map(|c| match c {
                    Ok(c) => view! { <Shell config=c /> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="auth-error">{e}</p> }.into_any(),
                })}
            </Suspense>
        </main>
    }
}

fn main() {
    leptos::mount::mount_to_body(Root);
}
