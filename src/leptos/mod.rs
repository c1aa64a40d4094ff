//! Leptos integration: the `<OidcProvider>` component and the hooks.

use std::future::Future;
use std::marker::PhantomData;

use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::core::AccessToken;
use crate::session::{
    AuthError, AuthState, LoginOptions, LogoutOptions, OidcConfig, RawClaims, User,
};

#[cfg(feature = "browser")]
type SessionRef = std::rc::Rc<crate::browser::Driver>;
#[cfg(not(feature = "browser"))]
type SessionRef = ();

#[derive(Clone, Copy)]
struct OidcContext {
    state: RwSignal<AuthState<RawClaims>>,
    // On the server there is no session to drive.
    #[cfg_attr(not(feature = "browser"), allow(dead_code))]
    session: StoredValue<Option<SessionRef>, LocalStorage>,
}

/// Provides the sign-in session to its children.
///
/// In the browser it takes an authorization callback out of the address bar before
/// its children render (so the app's router never sees `code` or `state`), completes
/// the sign-in or restores the session silently, renews tokens and follows the other
/// tabs. Tokens stay in memory. On the server (`ssr`) it provides a session in the
/// [`AuthState::Pending`] state.
///
/// ```no_run
/// # #[cfg(feature = "csr")] {
/// use leptos::prelude::*;
/// use oidc_leptos::prelude::*;
///
/// #[component]
/// fn App() -> impl IntoView {
///     let config = OidcConfig::new("https://idp.example.com", "my-spa").scopes(["profile"]);
///     view! { <OidcProvider config=config><p>"app"</p></OidcProvider> }
/// }
/// # }
/// ```
#[component]
pub fn OidcProvider(
    /// The provider and client.
    config: OidcConfig,
    /// The app.
    children: Children,
) -> impl IntoView {
    let state = RwSignal::new(AuthState::<RawClaims>::Pending);
    let session = start_session(config, state);
    provide_context(OidcContext {
        state,
        session: StoredValue::new_local(session),
    });
    children()
}

#[cfg(feature = "browser")]
fn start_session(config: OidcConfig, state: RwSignal<AuthState<RawClaims>>) -> Option<SessionRef> {
    // The machine's `Publish` is the only writer of the state signal.
    Some(crate::browser::Driver::start(&config, move |s| {
        state.try_set(s);
    }))
}

#[cfg(not(feature = "browser"))]
fn start_session(
    _config: OidcConfig,
    _state: RwSignal<AuthState<RawClaims>>,
) -> Option<SessionRef> {
    None
}

/// The handle returned by [`use_oidc`]: the session state and its actions.
pub struct Oidc<C = crate::core::NoAdditionalClaims> {
    ctx: OidcContext,
    _claims: PhantomData<fn() -> C>,
}

impl<C> Clone for Oidc<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Oidc<C> {}

impl<C> std::fmt::Debug for Oidc<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").finish_non_exhaustive()
    }
}

impl<C: DeserializeOwned + Clone + Send + Sync + 'static> Oidc<C> {
    /// The session state, with the user's claims typed as `C`.
    pub fn state(&self) -> Signal<AuthState<C>> {
        let raw = self.ctx.state;
        Signal::derive(move || raw.with(|s| s.typed::<C>()))
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Signal<Option<User<C>>> {
        let raw = self.ctx.state;
        Signal::derive(move || {
            raw.with(|s| match s {
                AuthState::LoggedIn(u) => u.typed::<C>().ok(),
                _ => None,
            })
        })
    }

    /// Sends the browser to the provider to sign in (returning to the current page
    /// unless the options say otherwise). Errors show as the failed state.
    pub fn login(&self, options: LoginOptions) {
        #[cfg(feature = "browser")]
        if let Some(driver) = self.ctx.session.get_value() {
            let mut options = options;
            if options.return_to.is_none() {
                options.return_to = web_sys::window().and_then(|w| {
                    let l = w.location();
                    Some(format!(
                        "{}{}{}",
                        l.pathname().ok()?,
                        l.search().ok()?,
                        l.hash().ok()?
                    ))
                });
            }
            driver.post(crate::session::machine::Event::Login(options));
        }
        #[cfg(not(feature = "browser"))]
        let _ = options;
    }

    /// Ends the session in every tab, and at the provider unless the options say
    /// local only (RP-initiated logout).
    pub fn logout(&self, options: LogoutOptions) {
        #[cfg(feature = "browser")]
        if let Some(driver) = self.ctx.session.get_value() {
            driver.post(crate::session::machine::Event::Logout(options));
        }
        #[cfg(not(feature = "browser"))]
        let _ = options;
    }

    /// A fresh access token (renewed when about to expire; one renewal at a time).
    pub fn get_access_token(
        &self,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
        access_token(self.ctx)
    }
}

fn access_token(
    ctx: OidcContext,
) -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
    #[cfg(feature = "browser")]
    let pending = ctx.session.get_value().map(|s| s.access_token());
    #[cfg(not(feature = "browser"))]
    let pending: Option<std::future::Ready<Result<AccessToken, AuthError>>> = {
        let _ = ctx;
        None
    };
    async move {
        match pending {
            Some(f) => f.await,
            None => Err(AuthError::NotLoggedIn),
        }
    }
}

#[track_caller]
fn context() -> OidcContext {
    use_context::<OidcContext>()
        .expect("oidc-leptos: hooks must be called inside an <OidcProvider>")
}

/// The session handle, with the user's additional claims typed as `C`.
///
/// # Usage
///
/// ```no_run
/// # #[cfg(feature = "csr")] {
/// use leptos::prelude::*;
/// use oidc_leptos::prelude::*;
///
/// #[component]
/// fn LoginButton() -> impl IntoView {
///     let oidc = use_oidc::<oidc_leptos::NoAdditionalClaims>();
///     view! {
///         <Show when=move || !oidc.state().get().is_logged_in()>
///             <button on:click=move |_| oidc.login(LoginOptions::default())>"Log in"</button>
///         </Show>
///     }
/// }
/// # }
/// ```
///
/// # Panics
///
/// Outside an [`OidcProvider`].
///
/// # Server-Side Rendering
///
/// On the server the state is [`AuthState::Pending`] and the actions do nothing.
#[track_caller]
pub fn use_oidc<C>() -> Oidc<C>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    Oidc {
        ctx: context(),
        _claims: PhantomData,
    }
}

/// The signed-in user, or `None`.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_user<C>() -> Signal<Option<User<C>>>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    use_oidc::<C>().user()
}

/// The access token as a resource: it loads when the user signs in, and again on each
/// session change. Read it with `.get()` inside a `Suspense` or `Transition`.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_access_token() -> LocalResource<Result<AccessToken, AuthError>> {
    let ctx = context();
    LocalResource::new(move || {
        ctx.state.track();
        access_token(ctx)
    })
}

/// A fresh access token for an API call: `get_access_token().await`.
///
/// Call it where the context is reachable (in a component or event handler); the
/// returned future can then be awaited anywhere.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn get_access_token() -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
    access_token(context())
}
