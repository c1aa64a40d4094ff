//! What the library adds to an app, measured by `scripts/size`: a page that signs in
//! (restore, renewal, tabs, idle countdown: the whole session), shows the user, guards
//! a section, shows the auto-logout warning and gets an access token for an API call.
//! Built without the default `auth` feature it is the same page with no sign-in.

use leptos::prelude::*;

#[cfg(feature = "auth")]
#[component]
fn App() -> impl IntoView {
    use oidc_leptos::prelude::*;

    let config = OidcConfig::new("https://idp.example.com", "spa").scopes(["profile"]);
    view! {
        <OidcProvider config=config>
            <Page/>
        </OidcProvider>
    }
}

#[cfg(feature = "auth")]
#[component]
fn Page() -> impl IntoView {
    use oidc_leptos::prelude::*;

    let oidc = use_oidc();
    let token = RwSignal::new(String::new());
    let call_api = move |_| {
        leptos::task::spawn_local(async move {
            let text = match oidc.get_access_token().await {
                Ok(t) => t.secret().len().to_string(),
                Err(e) => e.to_string(),
            };
            token.set(text);
        });
    };
    view! {
        <AutoLogoutWarning/>
        <p>{move || oidc.user().get().map(|u| u.display_name().to_owned())}</p>
        <button on:click=move |_| oidc.login(LoginOptions::default())>"Log in"</button>
        <button on:click=move |_| oidc.logout(LogoutOptions::default())>"Log out"</button>
        <RequireAuth fallback=|| "…">
            <button on:click=call_api>"Call the API"</button>
            <p>{move || token.get()}</p>
        </RequireAuth>
    }
}

#[cfg(not(feature = "auth"))]
#[component]
fn App() -> impl IntoView {
    let token = RwSignal::new(String::new());
    let call_api = move |_| token.set("0".to_owned());
    view! {
        <p>{move || Some("nobody".to_owned())}</p>
        <button on:click=move |_| token.set(String::new())>"Log in"</button>
        <button on:click=move |_| token.set(String::new())>"Log out"</button>
        <button on:click=call_api>"Call the API"</button>
        <p>{move || token.get()}</p>
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
