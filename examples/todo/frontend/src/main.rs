//! The example TODO app: a Leptos CSR front end that signs in with oidc-leptos and
//! calls its own API with the access token.
//!
//! Pages: a public home page (`/`), the TODO list (`/todos`, for signed-in users) and
//! the user's profile (`/profile`); while signed in, a panel shows the session at work
//! (token expiry, renewals, how it was obtained, the idle timeout).
//!
//! Built without the default `auth` feature, it is the same app with no sign-in: the
//! size report compares the two.

mod api;
mod config;
#[cfg(feature = "auth")]
mod session;
mod todos;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use crate::api::Api;
use crate::config::{load_config, AppConfig};
#[cfg(feature = "auth")]
use crate::session::{AuthControls, HomeSession, ProfilePage, StatusPanel, TodosPage};

#[component]
fn Home() -> impl IntoView {
    view! {
        <section class="home">
            <h1>"TODO, with OpenID Connect"</h1>
            <p>
                "This example app keeps a TODO list per user. Signing in goes through the "
                "identity provider; the app then holds its tokens in memory only, renews them "
                "before they expire, restores the session when the page reloads, and keeps "
                "every open tab in step: sign in or out in one, and the others follow."
            </p>
            <p>
                "After a while without activity in any tab the app warns, counts down, and "
                "signs you out."
            </p>
            <HomeSession />
        </section>
    }
}

#[cfg(not(feature = "auth"))]
#[component]
fn HomeSession() -> impl IntoView {
    view! {
        <p>
            "This build has no sign-in. " <A href="/todos">"Open the TODO list"</A> "."
        </p>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section>
            <h1>"Not found"</h1>
            <p>"There is no such page. " <A href="/">"Back home"</A></p>
        </section>
    }
}

#[cfg(feature = "auth")]
#[component]
fn Layout() -> impl IntoView {
    view! {
        <header class="top">
            <nav>
                <A href="/" exact=true>"Home"</A>
                <A href="/todos" attr:data-testid="nav-todos">"TODOs"</A>
                <A href="/profile" attr:data-testid="nav-profile">"Profile"</A>
            </nav>
            <div class="auth">
                <AuthControls />
            </div>
        </header>
        <oidc_leptos::AutoLogoutWarning test_id="auto-logout-countdown" />
        <div class="content">
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/todos") view=TodosPage />
                    <Route path=path!("/profile") view=ProfilePage />
                </Routes>
            </main>
            <StatusPanel />
        </div>
    }
}

#[cfg(not(feature = "auth"))]
#[component]
fn Layout() -> impl IntoView {
    view! {
        <header class="top">
            <nav>
                <A href="/" exact=true>"Home"</A>
                <A href="/todos" attr:data-testid="nav-todos">"TODOs"</A>
            </nav>
        </header>
        <div class="content">
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=Home />
                    <Route path=path!("/todos") view=todos::Todos />
                </Routes>
            </main>
        </div>
    }
}

#[cfg(feature = "auth")]
#[component]
fn Shell(config: AppConfig) -> impl IntoView {
    let oidc_config = config.oidc();
    view! {
        <oidc_leptos::OidcProvider config=oidc_config>
            {
                provide_context(Api::new(config.api_base, oidc_leptos::use_oidc()));
                view! {
                    <Router>
                        <Layout />
                    </Router>
                }
            }
        </oidc_leptos::OidcProvider>
    }
}

#[cfg(not(feature = "auth"))]
#[component]
fn Shell(config: AppConfig) -> impl IntoView {
    provide_context(Api::new(config.api_base));
    view! {
        <Router>
            <Layout />
        </Router>
    }
}

#[component]
fn Root() -> impl IntoView {
    let config = LocalResource::new(load_config);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                config
                    .get()
                    .map(|c| match c {
                        Ok(c) => view! { <Shell config=c /> }.into_any(),
                        Err(e) => view! { <p class="error" data-testid="auth-error">{e}</p> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

fn main() {
    leptos::mount::mount_to_body(Root);
}
