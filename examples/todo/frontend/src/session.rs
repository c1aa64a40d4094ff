//! What the visitor sees of the sign-in session: the header's controls, the home
//! page's greeting, the status panel and the profile page.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use oidc_leptos::prelude::*;
use oidc_leptos::{RenewalMethod, SessionInfo, SignInMethod};
use serde::Deserialize;

use crate::todos::Todos;

/// The app's own claims, beyond the standard profile claims (which `User::standard`
/// reads). Every field has a default: a provider that sends none still signs in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AppClaims {
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Login and logout, and who is signed in.
#[component]
pub fn AuthControls() -> impl IntoView {
    let oidc = use_oidc();
    let login = move |_| oidc.login(LoginOptions::default());
    let logout = move |_| oidc.logout(LogoutOptions::default());
    move || {
        match oidc.state().get() {
        AuthState::Pending => view! { <span class="pending">"Signing in…"</span> }.into_any(),
        AuthState::LoggedOut => view! {
            <button data-testid="login" on:click=login>
                "Log in"
            </button>
        }
        .into_any(),
        AuthState::Failed(e) => view! {
            <span class="error" data-testid="auth-error">
                {e.to_string()}
            </span>
            <button data-testid="login" on:click=login>
                "Log in again"
            </button>
        }
        .into_any(),
        AuthState::LoggedIn(user) => view! {
            <span class="who">
                "Signed in as " <strong data-testid="user-name">{user.display_name().to_owned()}</strong>
            </span>
            <button data-testid="logout" on:click=logout>
                "Log out"
            </button>
        }
        .into_any(),
    }
    }
}

/// The home page's part: an invitation to sign in, or who is signed in.
#[component]
pub fn HomeSession() -> impl IntoView {
    let oidc = use_oidc();
    let info = use_session_info();
    let idle_logged_out = move || info.with(|i| i.idle_logged_out);
    let session_lost = move || info.with(|i| i.session_lost);
    move || match oidc.state().get() {
        AuthState::LoggedIn(user) => view! {
            <p>
                "You are signed in as "
                <strong data-testid="home-user">{user.display_name().to_owned()}</strong> ". "
                <A href="/todos">"Open your TODO list"</A> " or see "
                <A href="/profile">"what the provider says about you"</A> "."
            </p>
        }
        .into_any(),
        AuthState::LoggedOut => view! {
            <Show when=idle_logged_out>
                <p class="notice" data-testid="idle-logged-out">
                    "You were signed out after a while without activity."
                </p>
            </Show>
            <Show when=session_lost>
                <p class="notice" data-testid="session-lost">
                    "Your session ended at the sign-in provider: please sign in again."
                </p>
            </Show>
            <p>
                <button
                    class="primary"
                    data-testid="home-login"
                    on:click=move |_| oidc.login(LoginOptions::default().return_to("/todos"))
                >
                    "Sign in to see your TODO list"
                </button>
            </p>
        }
        .into_any(),
        AuthState::Pending => view! { <p class="pending">"Checking your session…"</p> }.into_any(),
        AuthState::Failed(_) => {
            view! { <p>"Sign-in did not succeed: try again with Log in."</p> }.into_any()
        }
    }
}

/// The TODO list, for signed-in users only: a signed-out visitor goes through the
/// provider's sign-in and comes back here.
#[component]
pub fn TodosPage() -> impl IntoView {
    view! {
        <RequireAuth fallback=|| view! { <p class="pending">"Signing in…"</p> }>
            <Todos />
        </RequireAuth>
    }
}

/// The signed-in user's claims as the app reads them.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let user = use_user_with_claims::<AppClaims>();
    let profile = move || {
        user.get().map(|user| {
            let standard = user.standard();
            let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            let roles = user.additional().roles.join(", ");
            view! {
                <dl class="claims">
                    <dt>"Subject"</dt>
                    <dd data-testid="profile-sub">{user.sub().to_owned()}</dd>
                    <dt>"Name"</dt>
                    <dd data-testid="profile-name">{or_none(&standard.name)}</dd>
                    <dt>"User name"</dt>
                    <dd data-testid="profile-username">{or_none(&standard.preferred_username)}</dd>
                    <dt>"E-mail"</dt>
                    <dd data-testid="profile-email">{or_none(&standard.email)}</dd>
                    <dt>"Roles"</dt>
                    <dd data-testid="profile-roles">
                        {if roles.is_empty() { "(none)".to_owned() } else { roles }}
                    </dd>
                    <dt>"Issuer"</dt>
                    <dd data-testid="profile-issuer">{user.claims().iss.clone()}</dd>
                </dl>
            }
        })
    };
    view! {
        <section class="profile">
            <h1>"Profile"</h1>
            <RequireAuth fallback=|| view! { <p class="pending">"Signing in…"</p> }>
                <p>"The claims of your ID token, read into the app's own types."</p>
                {profile}
            </RequireAuth>
        </section>
    }
}

/// A clock for the status panel, ticking every second while shown: tracking it and
/// reading [`now`] gives the exact time, refreshed every second.
fn ticks() -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    if let Ok(handle) = set_interval_with_handle(
        move || set_tick.update(|t| *t = t.wrapping_add(1)),
        Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    tick
}

/// Wall-clock milliseconds since the Unix epoch.
fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn signed_in_via(info: &SessionInfo) -> &'static str {
    match info.signed_in_via {
        Some(SignInMethod::Interactive) => "sign-in at the provider",
        Some(SignInMethod::Frame) => "silent restore (hidden iframe)",
        Some(SignInMethod::Redirect) => "silent restore (prompt=none redirect)",
        Some(SignInMethod::Mock) => "mock user, no provider",
        Some(_) => "other",
        None => "—",
    }
}

/// A duration for people: "42 s", "4 min 10 s", "2 h 5 min" (rounded up to the
/// second, as a countdown shows it).
fn duration(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    match secs {
        0..120 => format!("{secs} s"),
        120..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

fn last_renewal(info: &SessionInfo, now: u64) -> String {
    match info.last_renewal {
        None => "none yet".into(),
        Some((at, method)) => {
            let how = match method {
                RenewalMethod::Refresh => "refresh token",
                RenewalMethod::Frame => "hidden iframe",
                _ => "other",
            };
            let ago = now.saturating_sub(at) / 1000 * 1000;
            format!("{} ago by {how} ({} in all)", duration(ago), info.renewals)
        }
    }
}

/// How the other tabs of the app hear of sign-in, logout and activity.
fn tab_sync() -> &'static str {
    let supported = web_sys::window()
        .is_some_and(|w| js_sys::Reflect::has(&w, &"BroadcastChannel".into()).unwrap_or(false));
    if supported {
        "BroadcastChannel"
    } else {
        "none (this tab only)"
    }
}

/// The session at work, while signed in.
#[component]
pub fn StatusPanel() -> impl IntoView {
    let oidc = use_oidc();
    let authenticated = oidc.is_authenticated();
    let signed_in = move || authenticated.get() == Some(true);
    view! {
        <Show when=signed_in>
            <StatusValues />
        </Show>
    }
}

#[component]
fn StatusValues() -> impl IntoView {
    let user = use_user();
    let info = use_session_info();
    let tick = ticks();
    let name = move || {
        user.get()
            .map(|u| u.display_name().to_owned())
            .unwrap_or_default()
    };
    let expires = move || {
        tick.track();
        info.with(|i| i.access_token_expires_at)
            .map(|at| duration(at.saturating_sub(now())))
            .unwrap_or_else(|| "—".into())
    };
    let renewal = move || {
        tick.track();
        info.with(|i| last_renewal(i, now()))
    };
    let via = move || info.with(signed_in_via);
    let idle = move || {
        info.with(|i| i.idle_timeout_ms)
            .map(duration)
            .unwrap_or_else(|| "none".into())
    };
    view! {
        <aside class="status" aria-label="Session status">
            <h2>"Session"</h2>
            <dl>
                <dt>"Signed in as"</dt>
                <dd data-testid="status-user">{name}</dd>
                <dt>"Access token expires in"</dt>
                <dd data-testid="status-token-expires">{expires}</dd>
                <dt>"Last renewal"</dt>
                <dd data-testid="status-last-renewal">{renewal}</dd>
                <dt>"Session obtained by"</dt>
                <dd data-testid="status-signed-in-via">{via}</dd>
                <dt>"Idle timeout"</dt>
                <dd data-testid="status-idle-timeout">{idle}</dd>
                <dt>"Tabs in sync through"</dt>
                <dd data-testid="status-tabs">{tab_sync()}</dd>
            </dl>
        </aside>
    }
}
