//! Leptos integration: the `<OidcProvider>` component, the hooks, route guards and the
//! auto-logout warning.

use std::future::Future;

use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::core::{AccessToken, NoAdditionalClaims};
use crate::session::{
    AuthError, AuthState, LoginOptions, LogoutOptions, OidcConfig, RawClaims, SessionInfo, User,
};

#[cfg(feature = "browser")]
type SessionRef = std::rc::Rc<crate::browser::Driver>;
#[cfg(not(feature = "browser"))]
type SessionRef = ();

#[derive(Clone, Copy)]
struct OidcContext {
    state: RwSignal<AuthState<RawClaims>>,
    countdown: RwSignal<Option<u32>>,
    info: RwSignal<SessionInfo>,
    // On the server there is no session to drive.
    #[cfg_attr(not(feature = "browser"), allow(dead_code))]
    // Read with `try_`: a handle kept past its provider (in a task, say) finds no
    // session rather than panicking.
    session: StoredValue<Option<SessionRef>, LocalStorage>,
}

/// Provides the sign-in session to its children.
///
/// In the browser it takes an authorization callback out of the address bar before
/// its children render (so the app's router never sees `code` or `state`), completes
/// the sign-in or restores the session silently, renews tokens, runs the idle timeout
/// and follows the other tabs. Tokens stay in memory. On the server (`ssr`) it
/// provides a session in the [`AuthState::Pending`] state.
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
    /// The provider and client (or a [mock](OidcConfig::mock) session).
    config: OidcConfig,
    /// The app.
    children: Children,
) -> impl IntoView {
    let ctx = OidcContext {
        state: RwSignal::new(AuthState::<RawClaims>::Pending),
        countdown: RwSignal::new(None),
        info: RwSignal::new(SessionInfo::default()),
        session: StoredValue::new_local(None),
    };
    ctx.session.set_value(start_session(config, ctx));
    provide_context(ctx);
    children()
}

#[cfg(feature = "browser")]
fn start_session(config: OidcConfig, ctx: OidcContext) -> Option<SessionRef> {
    use crate::browser::Update;
    // The machine's publications are the only writers of these signals (and, on a
    // page that cannot run the library's script, the failure below).
    let apply = move |update| match update {
        Update::State(s) => {
            ctx.state.try_set(s);
        }
        Update::Countdown(c) => {
            ctx.countdown.try_set(c);
        }
        Update::Info(i) => {
            ctx.info.try_set(i);
        }
    };
    // Hydrating: the server rendered the session pending (it cannot see the browser's),
    // and the views must first be built for the HTML they take over. Hydration runs
    // in one go, so what the session publishes meanwhile (a mock session, a restore
    // that knows at once) is shown after it.
    let publish = move |update| {
        if cfg!(feature = "hydrate") {
            queue_microtask(move || apply(update));
        } else {
            apply(update);
        }
    };
    if !crate::browser::script_ready() {
        publish(Update::State(AuthState::Failed(AuthError::Script)));
        return None;
    }
    Some(crate::browser::Driver::start(config, publish))
}

#[cfg(not(feature = "browser"))]
fn start_session(_config: OidcConfig, _ctx: OidcContext) -> Option<SessionRef> {
    None
}

/// Whether the state shown changed (users compared by their validated claims).
fn changed<C>(old: Option<&AuthState<C>>, new: Option<&AuthState<C>>) -> bool {
    !matches!((old, new), (Some(a), Some(b)) if a.same_as(b))
}

/// The handle returned by [`use_oidc`] (and [`use_oidc_with_claims`]): the session
/// state and its actions. `Copy`: move it into as many closures as needed.
pub struct Oidc<C: Send + Sync + 'static = NoAdditionalClaims> {
    ctx: OidcContext,
    /// The state with typed claims: parsed once per change, not on every read.
    state: Memo<AuthState<C>>,
    /// The signed-in user, from `state`.
    user: Memo<Option<User<C>>>,
}

impl<C: Send + Sync + 'static> Clone for Oidc<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C: Send + Sync + 'static> Copy for Oidc<C> {}

impl<C: Send + Sync + 'static> std::fmt::Debug for Oidc<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").finish_non_exhaustive()
    }
}

impl<C> Oidc<C>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The handle's memos are made once, here: reading them in a closure that runs
    /// again makes nothing new.
    fn new(ctx: OidcContext) -> Self {
        let raw = ctx.state;
        let state = Memo::new_with_compare(move |_| raw.with(|s| s.typed::<C>()), changed::<C>);
        let user = Memo::new_with_compare(
            move |_| state.with(|s| s.user().cloned()),
            |old, new| match (old, new) {
                (Some(Some(a)), Some(Some(b))) => !a.same_claims(b),
                (Some(None), Some(None)) => false,
                _ => true,
            },
        );
        Oidc { ctx, state, user }
    }

    /// The session state, with the user's claims typed as `C` (`Failed` with
    /// [`AuthError::Claims`] when they do not fit it: see
    /// [`use_oidc_with_claims`]).
    pub fn state(&self) -> Memo<AuthState<C>> {
        self.state
    }

    /// The signed-in user, if any (it changes when the user's claims do).
    pub fn user(&self) -> Memo<Option<User<C>>> {
        self.user
    }

    /// Whether a user is signed in, in the tri-state route guards take: `None` while
    /// the session is being determined (start-up, callback, silent restore),
    /// `Some(true)` when signed in, `Some(false)` otherwise.
    ///
    /// With `leptos_router`'s `ProtectedRoute` / `ProtectedParentRoute`:
    ///
    /// ```no_run
    /// # #[cfg(feature = "csr")] {
    /// # use leptos::prelude::*;
    /// # use oidc_leptos::prelude::*;
    /// # fn condition_example() {
    /// let oidc = use_oidc();
    /// let signed_in = oidc.is_authenticated();
    /// // <ProtectedRoute path=path!("/todos") view=Todos
    /// //     condition=move || signed_in.get() redirect_path=|| "/" />
    /// # let _ = move || signed_in.get();
    /// # }
    /// # }
    /// ```
    ///
    /// Leptos 0.9 signals no longer implement `Fn`: pass a closure (`move ||
    /// signed_in.get()`), as above, which works in 0.8 too. Each call makes a memo:
    /// call it once (as above), not in a closure that runs again.
    pub fn is_authenticated(&self) -> Memo<Option<bool>> {
        let raw = self.ctx.state;
        Memo::new(move |_| {
            raw.with(|s| match s {
                AuthState::Pending => None,
                AuthState::LoggedIn(_) => Some(true),
                AuthState::LoggedOut | AuthState::Failed(_) => Some(false),
            })
        })
    }

    /// Whether the signed-in user passes `allow` (e.g. has a role), in the same
    /// tri-state as [`is_authenticated`](Self::is_authenticated): `None` while
    /// pending, `Some(false)` when signed out. The claims-based condition for
    /// `ProtectedRoute`, as `RequireAuth`'s `allow` is for the component. Each call
    /// makes a memo: call it once (as below), not in a closure that runs again.
    ///
    /// ```no_run
    /// # #[cfg(feature = "csr")] {
    /// # use leptos::prelude::*;
    /// # use oidc_leptos::prelude::*;
    /// #[derive(Clone, serde::Deserialize)]
    /// struct Roles {
    ///     #[serde(default)]
    ///     roles: Vec<String>,
    /// }
    /// # fn condition_example() {
    /// let admin = use_oidc_with_claims::<Roles>()
    ///     .is_allowed(|user| user.additional().roles.iter().any(|r| r == "admin"));
    /// // <ProtectedRoute path=path!("/admin") view=Admin
    /// //     condition=move || admin.get() redirect_path=|| "/" />
    /// # let _ = move || admin.get();
    /// # }
    /// # }
    /// ```
    pub fn is_allowed(
        &self,
        allow: impl Fn(&User<C>) -> bool + Send + Sync + 'static,
    ) -> Memo<Option<bool>> {
        let state = self.state;
        Memo::new(move |_| {
            state.with(|s| match s {
                AuthState::Pending => None,
                AuthState::LoggedIn(user) => Some(allow(user)),
                AuthState::LoggedOut | AuthState::Failed(_) => Some(false),
            })
        })
    }

    /// Seconds left before the idle logout while the warning runs, `None` otherwise
    /// (see [`OidcConfig::idle_timeout`]).
    pub fn auto_logout_countdown(&self) -> ReadSignal<Option<u32>> {
        self.ctx.countdown.read_only()
    }

    /// What the session is doing (how it was obtained, when the access token
    /// expires, the last renewal), for a status display.
    pub fn info(&self) -> ReadSignal<SessionInfo> {
        self.ctx.info.read_only()
    }

    /// Counts as user activity: the idle clock restarts in every tab and a running
    /// countdown stops ("Stay signed in").
    pub fn stay_signed_in(&self) {
        stay_signed_in(self.ctx);
    }

    /// Sends the browser to the provider to sign in (returning to the current page
    /// unless the options say otherwise). Errors show as the failed state. In mock
    /// mode it signs in at once.
    pub fn login(&self, options: LoginOptions) {
        login(self.ctx, options);
    }

    /// Ends the session in every tab, and at the provider unless the options say
    /// local only (RP-initiated logout).
    pub fn logout(&self, options: LogoutOptions) {
        #[cfg(feature = "browser")]
        if let Some(driver) = self.ctx.session.try_get_value().flatten() {
            driver.post(crate::session::machine::Event::Logout(options));
        }
        #[cfg(not(feature = "browser"))]
        let _ = options;
    }

    /// A fresh access token (renewed when about to expire; one renewal at a time).
    /// The future is `Send`: it can be awaited in `Action::new`, `LocalResource::new`
    /// or `spawn_local`. Not in a `Resource` of an app rendered on the server: there
    /// the server's answer (`NotLoggedIn`, as the server has no session) is sent to
    /// the browser, which keeps it instead of asking its own session.
    pub fn get_access_token(
        &self,
    ) -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
        access_token(self.ctx)
    }
}

/// How many times the session has published a signed-in state.
fn sign_ins(ctx: OidcContext) -> u64 {
    #[cfg(feature = "browser")]
    let n = ctx
        .session
        .try_with_value(|s| s.as_ref().map_or(0, |s| s.sign_ins()))
        .unwrap_or(0);
    #[cfg(not(feature = "browser"))]
    let n = {
        let _ = ctx;
        0
    };
    n
}

fn stay_signed_in(ctx: OidcContext) {
    #[cfg(feature = "browser")]
    if let Some(driver) = ctx.session.try_get_value().flatten() {
        driver.activity();
    }
    #[cfg(not(feature = "browser"))]
    let _ = ctx;
}

fn login(ctx: OidcContext, options: LoginOptions) {
    #[cfg(feature = "browser")]
    if let Some(driver) = ctx.session.try_get_value().flatten() {
        let mut options = options;
        if options.return_to.is_none() {
            options.return_to = Some(crate::browser::return_path());
        }
        driver.post(crate::session::machine::Event::Login(options));
    }
    #[cfg(not(feature = "browser"))]
    let _ = (ctx, options);
}

fn access_token(
    ctx: OidcContext,
) -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
    // A provider in the page whose session could not start (the page lacks the
    // library's script) says why; one gone from the page is signed out.
    #[cfg(feature = "browser")]
    let pending = match ctx.session.try_get_value() {
        Some(Some(session)) => Ok(session.access_token()),
        Some(None) => Err(AuthError::Script),
        None => Err(AuthError::NotLoggedIn),
    };
    #[cfg(not(feature = "browser"))]
    let pending: Result<std::future::Ready<Result<AccessToken, AuthError>>, AuthError> = {
        let _ = ctx;
        Err(AuthError::NotLoggedIn)
    };
    async move { pending?.await }
}

/// The session the nearest provider runs (tests drive its publications).
#[cfg(all(test, feature = "browser"))]
pub(crate) fn current_session() -> Option<SessionRef> {
    context().session.try_get_value().flatten()
}

#[track_caller]
fn context() -> OidcContext {
    use_context::<OidcContext>()
        .expect("oidc-leptos: hooks must be called inside an <OidcProvider>")
}

/// The session handle (standard claims; see [`use_oidc_with_claims`] for the app's
/// own).
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
///     let oidc = use_oidc();
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
pub fn use_oidc() -> Oidc {
    Oidc::new(context())
}

/// The session handle with the user's additional claims typed as `C` (read from the
/// validated ID token claims once per change).
///
/// When the claims do not fit `C` (a member it requires is missing or of another
/// type), this handle's [`state`](Oidc::state) is `Failed(AuthError::Claims(..))`
/// and its `user` is `None` (and [`is_allowed`](Oidc::is_allowed) says no), while
/// the session itself stays signed in: [`is_authenticated`](Oidc::is_authenticated),
/// [`RequireAuth`] and `get_access_token` never read `C`. Give members a provider may
/// leave out `#[serde(default)]` or an `Option`, as below.
///
/// ```no_run
/// # #[cfg(feature = "csr")] {
/// use leptos::prelude::*;
/// use oidc_leptos::prelude::*;
///
/// #[derive(Clone, serde::Deserialize)]
/// struct Roles {
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// #[component]
/// fn AdminBadge() -> impl IntoView {
///     let oidc = use_oidc_with_claims::<Roles>();
///     let admin = move || {
///         oidc.user().get().is_some_and(|u| u.additional().roles.iter().any(|r| r == "admin"))
///     };
///     view! { <Show when=admin>"admin"</Show> }
/// }
/// # }
/// ```
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_oidc_with_claims<C>() -> Oidc<C>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    Oidc::new(context())
}

/// The signed-in user (standard claims), or `None`.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_user() -> Memo<Option<User>> {
    use_oidc().user()
}

/// The signed-in user with additional claims typed as `C`, or `None`.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_user_with_claims<C>() -> Memo<Option<User<C>>>
where
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    use_oidc_with_claims::<C>().user()
}

/// Seconds left before the idle logout while the warning runs (the last
/// [`auto_logout_warning`](OidcConfig::auto_logout_warning) seconds), `None` otherwise.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_auto_logout_countdown() -> ReadSignal<Option<u32>> {
    context().countdown.read_only()
}

/// What the session is doing, for a status display ([`SessionInfo`]).
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_session_info() -> ReadSignal<SessionInfo> {
    context().info.read_only()
}

/// The access token as a resource: it loads when the user signs in, and again on each
/// session change and each renewal. Read it with `.get()` inside a `Suspense` or
/// `Transition`. A token left to expire without a renewal (a tab not in use, with
/// renewal ahead of time off) is not reloaded by itself: for API calls prefer
/// [`get_access_token`], which renews when needed.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn use_access_token() -> LocalResource<Result<AccessToken, AuthError>> {
    let ctx = context();
    LocalResource::new(move || {
        ctx.state.track();
        // A renewal publishes new session information, not a new state.
        ctx.info.track();
        access_token(ctx)
    })
}

/// A fresh access token for an API call: `get_access_token().await`.
///
/// Call it where the context is reachable (in a component or event handler); the
/// returned future (`Send`) can then be awaited anywhere.
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[track_caller]
pub fn get_access_token() -> impl Future<Output = Result<AccessToken, AuthError>> + 'static {
    access_token(context())
}

/// Renders its children only for a signed-in user.
///
/// - While the session is being determined: `fallback` (default: nothing).
/// - Signed out when the guard appears: starts login, returning to the current address
///   afterwards, and shows `fallback` meanwhile; with `signed_out`, shows that view
///   instead of redirecting.
/// - Signed out, or failed, after a user was signed in while the guard was on screen
///   (a logout in this or another tab, the idle timeout, a session that ended at the
///   provider): `signed_out`, or by default a "Signed out" line with a sign-in button;
///   no new login starts by itself (in mock mode it would sign straight back in).
/// - Sign-in failed: `signed_out`, or by default a "Sign-in did not succeed" line with
///   a sign-in button (never a login loop).
/// - Signed in but refused by `allow` (a predicate over the user, e.g. a role read
///   with [`User::claims_as`]): `forbidden` (default: nothing).
///
/// ```no_run
/// # #[cfg(feature = "csr")] {
/// use leptos::prelude::*;
/// use oidc_leptos::prelude::*;
///
/// #[derive(serde::Deserialize)]
/// struct Roles {
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// #[component]
/// fn AdminPage() -> impl IntoView {
///     let is_admin = |user: User| {
///         user.claims_as::<Roles>().is_ok_and(|c| c.roles.iter().any(|r| r == "admin"))
///     };
///     view! {
///         <RequireAuth fallback=|| view! { <p>"Loading..."</p> } allow=is_admin
///             forbidden=|| view! { <p>"Admins only."</p> }>
///             <p>"Welcome, admin."</p>
///         </RequireAuth>
///     }
/// }
/// # }
/// ```
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[component]
pub fn RequireAuth(
    /// Shown while the session is pending or login starts. Defaults to nothing.
    #[prop(optional, into)]
    fallback: ViewFn,
    /// Shown to a signed-out user instead of starting login.
    #[prop(optional, into)]
    signed_out: Option<ViewFn>,
    /// Decides whether the signed-in user may see the children. Defaults to anyone.
    #[prop(optional, into)]
    allow: Option<Callback<User, bool>>,
    /// Shown to a signed-in user `allow` refuses. Defaults to nothing.
    #[prop(optional, into)]
    forbidden: ViewFn,
    /// The protected content.
    children: ChildrenFn,
) -> impl IntoView {
    let ctx = context();
    let state = ctx.state;
    // Whether a user was signed in while the guard was on screen: when it appeared,
    // or since (the session's sign-ins, counted as they are published).
    let was_in = state.with_untracked(AuthState::is_logged_in);
    let sign_ins_then = sign_ins(ctx);
    // What to show, decided once per change of the session: the children are built
    // again only when the branch changes, not when a renewal brings new claims (their
    // signals and unsaved input stay).
    let guarded = Memo::new(move |shown| {
        // (Under `hydrate` the count may run ahead of the state the guard sees: what
        // it showed last counts too.)
        let was_in = was_in
            || matches!(
                shown,
                Some(Guarded::In(_) | Guarded::Ended | Guarded::Again)
            )
            || sign_ins(ctx) != sign_ins_then;
        state.with(|s| match s {
            AuthState::Pending if was_in => Guarded::Again,
            AuthState::Pending => Guarded::Pending,
            AuthState::LoggedIn(user) => {
                Guarded::In(allow.is_none_or(|allow| allow.run(user.clone())))
            }
            _ if was_in => Guarded::Ended,
            AuthState::LoggedOut => Guarded::Out,
            AuthState::Failed(_) => Guarded::Failed,
        })
    });
    // Login starts once per signed-out state (not on every render), and only when the
    // guard finds nobody signed in, not after a logout under its eyes.
    let redirect = signed_out.is_none();
    Effect::new(move |_| {
        if redirect && guarded.get() == Guarded::Out {
            // No history entry for this page: Back from the provider goes to the
            // page before it, not to a guard that sends the user off again.
            login(ctx, LoginOptions::default().replace_history(true));
        }
    });
    move || match guarded.get() {
        Guarded::Pending | Guarded::Again => fallback.run(),
        Guarded::In(true) => children(),
        Guarded::In(false) => forbidden.run(),
        _ if signed_out.is_some() => signed_out.as_ref().map(ViewFn::run).into_any(),
        // Login is starting.
        Guarded::Out => fallback.run(),
        ended => view! {
            <p class="oidc-signed-out">
                {if ended == Guarded::Ended { "Signed out. " } else { "Sign-in did not succeed. " }}
                <button type="button" on:click=move |_| login(ctx, LoginOptions::default())>
                    "Sign in"
                </button>
            </p>
        }
        .into_any(),
    }
}

/// What a [`RequireAuth`] shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guarded {
    Pending,
    /// Pending again, after a user was signed in while the guard was on screen (a
    /// restore after another user signed in elsewhere).
    Again,
    /// Signed out, and nobody was signed in while the guard was on screen.
    Out,
    /// Signed out or failed after a user was signed in while the guard was on screen.
    Ended,
    /// Sign-in failed, and nobody was signed in while the guard was on screen.
    Failed,
    /// Signed in: whether `allow` lets the user see the children.
    In(bool),
}

/// A warning shown while the idle countdown runs: "signing out in N seconds", with
/// a "Stay signed in" button that counts as activity (in every tab).
///
/// Accessible: an `alertdialog` labelled by its title and described by its message
/// (with ids of its own: several warnings can be in the page); focus moves to the
/// button when it appears, and back where it was when it goes. The dialog stays in the page, with the
/// `hidden` attribute while no countdown runs: a `display` rule for its class should
/// leave `[hidden]` alone (e.g. `.oidc-auto-logout:not([hidden]) { display: flex }`). Restyle it with `class` (default
/// `oidc-auto-logout`: the title, message and button carry `-title`, `-message`,
/// `-button` suffixes), or replace the message with `children` (read the seconds with
/// [`use_auto_logout_countdown`]).
///
/// ```no_run
/// # #[cfg(feature = "csr")] {
/// use leptos::prelude::*;
/// use oidc_leptos::prelude::*;
///
/// #[component]
/// fn Layout() -> impl IntoView {
///     view! { <AutoLogoutWarning/> }
/// }
/// # }
/// ```
///
/// # Panics
///
/// Outside an [`OidcProvider`].
#[component]
pub fn AutoLogoutWarning(
    /// Class of the dialog, and prefix of its parts' classes. Defaults to
    /// `oidc-auto-logout`.
    #[prop(optional, into)]
    class: Option<String>,
    /// The title. Defaults to "Are you still there?".
    #[prop(optional, into)]
    title: Option<String>,
    /// The button's label. Defaults to "Stay signed in".
    #[prop(optional, into)]
    button_label: Option<String>,
    /// A `data-testid` for the dialog, for end-to-end tests.
    #[prop(optional, into)]
    test_id: Option<String>,
    /// Replaces the message ("You will be signed out in N seconds.").
    #[prop(optional)]
    children: Option<ChildrenFn>,
) -> impl IntoView {
    let ctx = context();
    let class = class.unwrap_or_else(|| "oidc-auto-logout".into());
    let title = title.unwrap_or_else(|| "Are you still there?".into());
    let label = button_label.unwrap_or_else(|| "Stay signed in".into());
    let custom = children.is_some();
    // The dialog stays in the page, hidden while no countdown runs. Its title, button,
    // classes and (unless `children` replace it) message are filled in by a few lines
    // of JavaScript when it is built, and the session shows and hides it as the
    // countdown runs (moving focus to the button when it appears): a fraction of the
    // size of the same built by Leptos in the wasm, and no effect to re-run.
    #[cfg(feature = "browser")]
    let setup = {
        move |dialog: leptos::tachys::renderer::types::Element| {
            ctx.session.try_with_value(|session| {
                if let Some(session) = session {
                    session.add_warning(
                        &dialog,
                        ctx.countdown.get_untracked(),
                        &crate::browser::WarningParts {
                            class: &class,
                            title: &title,
                            label: &label,
                            test_id: test_id.as_deref(),
                            custom,
                        },
                    );
                }
            });
        }
    };
    #[cfg(not(feature = "browser"))]
    let setup = {
        let _ = (ctx, class, title, label, test_id, custom);
        |_: leptos::tachys::renderer::types::Element| {}
    };
    view! {
        <div
            use:setup
            role="alertdialog"
            hidden=true
        >
            // A `div`: custom content may hold paragraphs of its own.
            <div>{children.map(|children| children())}</div>
        </div>
    }
}

/// A page rendered on the server and hydrated in the browser (the browser's test is
/// with the driver's).
#[cfg(all(test, any(feature = "ssr", feature = "hydrate")))]
pub(crate) mod hydration {
    use leptos::either::EitherOf3;
    use leptos::prelude::*;

    use crate::{use_oidc, AuthState, RequireAuth};

    /// What the page shows for each state. (A function, not a component, with
    /// `Either` rather than `AnyView`: only those render HTML without `ssr`.)
    pub(crate) fn status() -> impl IntoView {
        let oidc = use_oidc();
        move || match oidc.state().get() {
            AuthState::Pending => EitherOf3::A(view! { <p>"pending"</p> }),
            AuthState::LoggedIn(_) => EitherOf3::B(view! { <b>"signed in"</b> }),
            _ => EitherOf3::C(view! { <i>"signed out"</i> }),
        }
    }

    /// The page as the server renders it (checked below, with `ssr`).
    pub(crate) const SERVER_HTML: &str = "<p>pending</p>";

    /// A guarded page, pending as the server renders it (checked below).
    pub(crate) fn guarded() -> impl IntoView {
        view! { <RequireAuth fallback=|| "WAIT">"IN"</RequireAuth> }
    }

    /// [`guarded`] as the server renders it.
    pub(crate) const GUARDED_HTML: &str = "WAIT";

    /// `page` inside a provider, rendered on the server.
    #[cfg(feature = "ssr")]
    fn on_server<V: IntoView + 'static>(page: fn() -> V) -> String {
        use crate::{MockUser, OidcConfig, OidcProvider};
        let config = OidcConfig::new("https://mock.test", "hydrate").mock(MockUser::new("alice"));
        Owner::new()
            .with(|| view! { <OidcProvider config=config>{page()}</OidcProvider> }.to_html())
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_renders_the_pages_pending() {
        assert_eq!(on_server(status), SERVER_HTML);
        assert_eq!(on_server(guarded), GUARDED_HTML);
    }
}

/// The handle's reads, rendered on the server.
#[cfg(all(test, feature = "ssr"))]
mod handle_tests {
    use leptos::prelude::*;

    #[test]
    fn a_handle_reads_the_same_memos_however_often_it_is_asked() {
        use crate::{use_oidc, MockUser, OidcConfig, OidcProvider};
        let config = OidcConfig::new("https://mock.test", "memos").mock(MockUser::new("alice"));
        let html = Owner::new().with(|| {
            view! {
                <OidcProvider config=config>
                    {
                        let oidc = use_oidc();
                        (oidc.user() == oidc.user()).to_string()
                    }
                </OidcProvider>
            }
            .to_html()
        });
        assert_eq!(html, "true");
    }

    #[test]
    fn the_warning_renders_html_a_browser_parses_as_written_around_custom_paragraphs() {
        use crate::{AutoLogoutWarning, MockUser, OidcConfig, OidcProvider};
        let config = OidcConfig::new("https://mock.test", "warning").mock(MockUser::new("alice"));
        let html = Owner::new().with(|| {
            view! {
                <OidcProvider config=config>
                    <AutoLogoutWarning><p>"Still there?"</p></AutoLogoutWarning>
                </OidcProvider>
            }
            .to_html()
        });
        // A paragraph inside a paragraph would be split by the browser's parser, and
        // the page it hydrates would no longer match.
        assert!(html.contains("<div><p>Still there?</p></div>"), "{html}");
        assert!(!html.contains("<p><p"), "{html}");
    }
}
