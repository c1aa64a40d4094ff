//! The client session as a pure state machine.
//!
//! `Machine::handle(now, event)` returns the commands to carry out; the driver (the
//! browser, or a test harness) performs them and posts their results back as events.
//! Nothing here does IO, keeps shared mutable state or waits: time comes in with each
//! event, and `next_deadline()` says when the driver should send `Event::Timer`.
//!
//! Every request carries an id and the phase names the one it waits for, so a late
//! answer (a refresh that completes after a logout, a frame that answers after its
//! timeout) is dropped. Tokens exist only inside `Phase::SignedIn`: leaving that phase
//! drops them, so nothing can bring a session back once it ended.

use std::sync::Arc;

use serde::Serialize;

use super::client::{Client, Slot};
use super::config::MockUser;
use super::config::{LoginOptions, LogoutOptions};
use super::state::{
    AuthError, AuthState, RawClaims, RenewalMethod, SessionInfo, SignInMethod, User,
};
use crate::core::jose::{AlgorithmPolicy, JoseError, JwkSet, VerifiedJws};
use crate::core::{
    authorization_code_request, check_refresh_continuity, discovery_request, form, refresh_request,
    revocation_request, sanitize_return_path, AccessToken, AuthorizationRequest, CallbackError,
    CallbackParams, HttpRequest, HttpResponse, IdToken, IdTokenError, IdTokenValidator, Nonce,
    PendingAuthorization, ProviderMetadata, RefreshToken, ServerTimeOffset, TokenError,
    TokenResponse, CALLBACK_PARAMS,
};

mod stored;

/// Identifies one request (fetch, verification, silent frame).
pub(crate) type ReqId = u64;
/// Identifies a caller waiting for an access token.
pub(crate) type WaiterId = u64;

/// The time of an event, in milliseconds: `mono` from a monotonic clock (timers and
/// lifetimes), `wall` since the Unix epoch (protocol times; may jump).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Now {
    pub mono: u64,
    pub wall: u64,
}

impl Now {
    /// `ms` earlier.
    fn before(self, ms: u64) -> Now {
        Now {
            mono: self.mono.saturating_sub(ms),
            wall: self.wall.saturating_sub(ms),
        }
    }

    /// The earlier of the two, clock by clock.
    fn min(self, other: Now) -> Now {
        Now {
            mono: self.mono.min(other.mono),
            wall: self.wall.min(other.wall),
        }
    }
}

/// Lifetime assumed for an access token when neither `expires_in` nor a JWT `exp`
/// tells it.
pub(crate) const DEFAULT_LIFETIME_MS: u64 = 5 * 60 * 1000;
/// A timer this late (ms) past the idle timeout was held back with its page.
const LATE_TIMER_MS: u64 = 1_000;
/// The user counts as active this long after their last pointer, key or focus event.
pub(crate) const ACTIVE_WINDOW_MS: u64 = 60 * 1000;
/// The "was signed in" marker lasts this long when the provider session's lifetime is
/// unknown.
pub(crate) const MARKER_TTL_MS: u64 = 12 * 60 * 60 * 1000;
/// How long the provider's metadata and keys kept in session storage are used.
pub(crate) const PROVIDER_CACHE_TTL_MS: u64 = 10 * 60 * 1000;
/// Longest wait between two renewal attempts after transient failures.
pub(crate) const MAX_BACKOFF_MS: u64 = 60 * 1000;
/// A tab tells the others of its user's activity at most this often (more often when
/// the idle warning starts sooner after the last activity; at once while the countdown
/// runs).
pub(crate) const ACTIVITY_SHARE_MS: u64 = 5 * 1000;
/// Lifetime of a mock session's tokens.
const MOCK_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;
/// What `Slot::Activity` holds after the session was lost at the provider.
pub(crate) const SESSION_LOST: &str = "lost";

/// What one tab tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TabMessage {
    /// A user signed in interactively: signed-out tabs restore silently.
    Login,
    /// Sent after `Login`: who signed in, by [`user_tag`]. A tab signed in as another
    /// user (an account switch) ends that session. (A message of its own: a tab of
    /// an earlier version, which does not know it, still reads `Login`.)
    User(u64),
    /// An explicit logout: every tab signs out.
    Logout,
    /// The session ended at the provider: every tab signs out.
    Lost,
    /// The user is active in a tab: the idle clock restarts in every tab.
    Activity,
}

impl TabMessage {
    /// The message on the wire.
    pub(crate) fn to_wire(self) -> String {
        match self {
            TabMessage::Login => "login".into(),
            TabMessage::User(user) => format!("user {user}"),
            TabMessage::Logout => "logout".into(),
            TabMessage::Lost => "lost".into(),
            TabMessage::Activity => "activity".into(),
        }
    }

    /// Reads a message from the wire.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "login" => Some(TabMessage::Login),
            "logout" => Some(TabMessage::Logout),
            "lost" => Some(TabMessage::Lost),
            "activity" => Some(TabMessage::Activity),
            _ => Some(TabMessage::User(s.strip_prefix("user ")?.parse().ok()?)),
        }
    }
}

/// The time (wall ms) and the user's tag of the last activity as stored in
/// `Slot::Activity`; `None` for no activity or the mark of a lost session.
fn parse_activity(stored: Option<&str>) -> Option<(u64, u64)> {
    let (wall, user) = stored?.split_once(' ')?;
    Some((wall.parse().ok()?, user.parse().ok()?))
}

/// Whether `value`, this tab's last activity, may be stored over `stored` in
/// `Slot::Activity`. Not over a later activity of the same user: another tab's,
/// stored while its message was still on the way here (a page going into the
/// back-forward cache tells its last move as it leaves). Read by a page back from
/// the cache, an older time would make its idle timeout run out early. A stored time
/// ahead of `now` (the clock set back since) gives way.
pub(crate) fn activity_replaces(stored: Option<&str>, value: &str, now: u64) -> bool {
    match (parse_activity(stored), parse_activity(Some(value))) {
        (Some((theirs, their_user)), Some((ours, user))) => {
            their_user != user || theirs <= ours || theirs > now
        }
        _ => true,
    }
}

/// Whether a tab's write of `value` into `slot` goes ahead, given what is stored
/// there (`stored`, read only for a slot whose rule needs it): `Slot::Activity` keeps
/// a later activity of the same user (`activity_replaces`); every other write, and
/// every removal, goes ahead. The driver and the model check both store through it.
pub(crate) fn store_wins(
    slot: Slot,
    value: Option<&str>,
    stored: impl FnOnce() -> Option<String>,
    now: u64,
) -> bool {
    match (slot, value) {
        (Slot::Activity, Some(value)) => activity_replaces(stored().as_deref(), value, now),
        _ => true,
    }
}

/// Tells a user apart from another in tab messages, without naming them: a hash
/// (64-bit FNV-1a) of the issuer and the subject.
pub(crate) fn user_tag(claims: &crate::core::IdTokenClaims<RawClaims>) -> u64 {
    let bytes = claims
        .iss
        .bytes()
        .chain([0])
        .chain(claims.standard.sub.bytes());
    bytes.fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The page the app started on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PageUrl {
    /// Path, starting with `/`.
    pub path: String,
    /// Query including `?`, or empty.
    pub query: String,
    /// Fragment including `#`, or empty.
    pub fragment: String,
}

/// What the driver read at start.
#[derive(Clone, Default)]
pub(crate) struct StartInfo {
    /// This tab's id (random), to recognize its own messages.
    pub tab: String,
    /// The address the app was loaded at.
    pub page: PageUrl,
    /// `Slot::Pending`.
    pub pending: Option<String>,
    /// `Slot::Provider`.
    pub provider: Option<String>,
    /// `Slot::SignedIn`.
    pub signed_in: Option<String>,
    /// `Slot::LoggedOut`.
    pub logged_out: Option<String>,
    /// Whether the page is visible.
    pub visible: bool,
    /// A silent sign-in the page's inline script started before the app loaded.
    pub early: Option<EarlyFrame>,
    /// Whether the browser says it is offline.
    pub offline: bool,
}

/// A silent sign-in started by [`EARLY_RESTORE_SCRIPT`](crate::EARLY_RESTORE_SCRIPT)
/// from the request template in `Slot::Provider`: its frame is already loading.
#[derive(Clone, Default)]
pub(crate) struct EarlyFrame {
    /// The storage key of the template it used (names the client).
    pub key: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// When it was started (wall ms).
    pub created: u64,
}

// The pending request (with its PKCE verifier), the address's query (a callback's
// code) and the early request's state, nonce and verifier are secrets: their `Debug`
// says only whether they are there.
impl std::fmt::Debug for StartInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartInfo")
            .field("tab", &self.tab)
            .field("path", &self.page.path)
            .field("query", &(!self.page.query.is_empty()))
            .field("pending", &self.pending.is_some())
            .field("provider", &self.provider.is_some())
            .field("signed_in", &self.signed_in)
            .field("logged_out", &self.logged_out)
            .field("visible", &self.visible)
            .field("early", &self.early)
            .field("offline", &self.offline)
            .finish()
    }
}

impl std::fmt::Debug for EarlyFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(test)]
        if crate::core::reveal::on() {
            return f
                .debug_struct("EarlyFrame")
                .field("key", &self.key)
                .field("state", &self.state)
                .field("nonce", &self.nonce)
                .field("verifier", &self.verifier)
                .field("created", &self.created)
                .finish();
        }
        f.debug_struct("EarlyFrame")
            .field("key", &self.key)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// An input to the machine.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// The app starts.
    Start(StartInfo),
    /// The user asks to sign in.
    Login(LoginOptions),
    /// The user asks to sign out.
    Logout(LogoutOptions),
    /// A caller wants an access token; answered by `Command::Resolve`.
    WantToken(WaiterId),
    /// The user did something in this tab (pointer, key, focus).
    Activity,
    /// The tab became visible or hidden.
    Visibility(bool),
    /// The browser went online (true) or offline (false).
    Online(bool),
    /// The answer to `Command::Fetch`. `waited`: how long (ms) the answer had been
    /// there when the app asked for it (the page's script sent the request before
    /// the app started, and got its answer), 0 for an answer that just came.
    Http {
        req: ReqId,
        result: Result<HttpResponse, String>,
        waited: u64,
    },
    /// The answer to `Command::Verify`.
    Verified {
        req: ReqId,
        result: Result<VerifiedJws, JoseError>,
    },
    /// `next_deadline()` was reached.
    Timer,
    /// Another tab spoke. `here`: this tab's page (path, query and fragment), where
    /// a top-level sign-in it leads to comes back to (read for `Login` only).
    Tab {
        from: String,
        message: TabMessage,
        here: String,
    },
    /// The silent frame landed: the query of its address.
    SilentResult { req: ReqId, query: String },
    /// The silent frame stopped on a page of its own (an error page when the
    /// provider cannot be reached, or a provider page that ignored `prompt=none`):
    /// no answer will come, and the frame's timeout need not be waited for.
    SilentFailed { req: ReqId },
    /// The page came back from the browser's back-forward cache (Back from the
    /// provider's page): a redirect it was leaving for did not happen. With what the
    /// other tabs' messages, which did not reach the page there, left in storage:
    /// `Slot::Activity` and `Slot::LoggedOut`.
    PageRestored {
        activity: Option<String>,
        logged_out: Option<String>,
    },
}

/// An action for the driver.
// Commands are moved once from the machine to the driver: boxing the large ones would
// only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// Send a request (with the configured timeout and a size cap); answer with
    /// `Event::Http`.
    Fetch {
        req: ReqId,
        request: HttpRequest,
        timeout_ms: u64,
    },
    /// Verify a compact JWS against a key set; answer with `Event::Verified`.
    Verify {
        req: ReqId,
        token: String,
        keys: Arc<JwkSet>,
        policy: AlgorithmPolicy,
    },
    /// Leave the page for this URL: with `replace`, in place of the current history
    /// entry (Back then skips the page that only sent the user on).
    Navigate { url: String, replace: bool },
    /// Load the page again.
    Reload,
    /// Replace the address (path, query, fragment) without navigating.
    ReplaceUrl(String),
    /// Write (or, with `None`, remove) a storage slot.
    Store { slot: Slot, value: Option<String> },
    /// Tell the other tabs.
    Broadcast(TabMessage),
    /// Load `url` in a hidden iframe; its landing address comes back as
    /// `Event::SilentResult`, or `Event::SilentFailed` once the frame has stayed
    /// `grace_ms` on a page of its own.
    OpenSilentFrame {
        req: ReqId,
        url: String,
        grace_ms: u64,
    },
    /// The frame of `StartInfo::early` is this request's: its landing address comes
    /// back as `Event::SilentResult`.
    AdoptSilentFrame { req: ReqId },
    /// Remove the hidden iframe, if any.
    CloseSilentFrame,
    /// The code exchange the page's script may have sent for this page's callback is
    /// not wanted (the callback was refused, or a logout came first): its answer goes
    /// (out of the page), and the grant it brings is revoked.
    ForgoEarlyExchange,
    /// Answer a `WantToken`.
    Resolve {
        waiter: WaiterId,
        result: Result<AccessToken, AuthError>,
    },
    /// The state the app shows changed.
    Publish(AuthState<RawClaims>),
    /// Seconds left before the idle logout, while the countdown runs; sent on change.
    Countdown(Option<u32>),
    /// What the session is doing, for display; sent on change.
    Info(SessionInfo),
}

/// The pending authorization as this tab keeps it between redirect and callback. It
/// names the client it was made for, so a configuration changed in between cannot mix
/// two clients.
#[derive(Debug, Clone, Serialize)]
struct StoredPending {
    issuer: String,
    client_id: String,
    /// A `prompt=none` restore: `login_required` means signed out, not an error.
    silent: bool,
    pending: PendingAuthorization,
}

/// What to do once the provider's metadata is known.
#[derive(Debug, Clone)]
enum Then {
    Callback(Box<(Option<StoredPending>, Result<CallbackParams, CallbackError>)>),
    Restore,
    SignedOut,
    Login(LoginOptions),
}

/// One step of getting tokens.
#[derive(Debug, Clone)]
enum Step {
    /// The hidden iframe is loading the `prompt=none` authorization request.
    Frame {
        req: ReqId,
        until: u64,
        pending: Box<PendingAuthorization>,
    },
    /// The token request is out.
    Token {
        req: ReqId,
        sent: Now,
        nonce: Option<Nonce>,
        /// The `max_age` the authorization request sent (None on refresh).
        max_age: Option<u64>,
    },
    /// The key set is being fetched to check the ID token.
    Keys { req: ReqId, check: Box<Check> },
    /// The ID token's signature is being verified.
    Verify { req: ReqId, check: Box<Check> },
}

impl Step {
    fn req(&self) -> ReqId {
        match self {
            Step::Frame { req, .. }
            | Step::Token { req, .. }
            | Step::Keys { req, .. }
            | Step::Verify { req, .. } => *req,
        }
    }
}

/// A token response whose ID token is being checked.
#[derive(Debug, Clone)]
struct Check {
    response: TokenResponse,
    id_token: IdToken,
    nonce: Option<Nonce>,
    max_age: Option<u64>,
    sent: Now,
    received: Now,
    refetched: bool,
}

/// Tokens and the checked user.
#[derive(Debug)]
struct Acquired {
    response: TokenResponse,
    user: Option<User<RawClaims>>,
    /// When the request was sent, and its answer received.
    sent: Now,
    received: Now,
    /// A new authentication (with its own nonce), not a refresh.
    authenticated: bool,
}

/// How getting tokens failed.
#[derive(Debug)]
enum Failure {
    /// The provider needs the user (`login_required` and the like): signed out.
    NeedsLogin,
    /// The silent frame did not answer in time, or stopped on a page of its own.
    FrameTimeout,
    /// The grant is gone (`invalid_grant`).
    GrantGone,
    /// Worth another try later. A refresh token the provider rotated in an answer
    /// whose ID token could not be checked yet is kept (the old one is spent).
    Transient(AuthError, Option<RefreshToken>),
    /// The token request got no answer the client can read (a network error, a
    /// timeout, a 5xx, a renewal's 4xx without an OAuth error, a garbled body): the
    /// provider may have carried it out, and so have spent the refresh token it was
    /// sent.
    Unanswered(AuthError),
    /// A definite error.
    Fatal(AuthError),
    /// A token answer refused for its ID token (a definite error): the refresh token
    /// it brought is live at the provider, and goes with it (RFC 7009).
    Refused(AuthError, Option<RefreshToken>),
}

enum Outcome {
    Next(Step),
    Done(Box<Acquired>),
    Fail(Failure),
}

/// The signed-in session: the only place tokens exist.
#[derive(Debug, Clone)]
struct SignedIn {
    user: User<RawClaims>,
    /// The user as the session's last authentication (the sign-in, or a silent
    /// re-authentication) told: what each refreshed ID token is checked against
    /// (OIDC Core 12.2). A refreshed token may leave `auth_time` and `nonce` out;
    /// the next one must still carry the authentication's, if any.
    authenticated: User<RawClaims>,
    id_token: Option<IdToken>,
    access: AccessToken,
    refresh: Option<RefreshToken>,
    /// A refresh token whose last request went unanswered: the provider may have
    /// rotated it already, and a second use looks like a stolen token's replay
    /// (RFC 9700 section 4.14.2), which ends the grant. The silent frame renews
    /// instead; this token is the last resort, when the provider wants the user.
    doubtful: Option<RefreshToken>,
    /// The silent frame answered that the provider wants the user, and the doubtful
    /// token is being tried: if it is refused, the frame is not asked again.
    frame_wants_user: bool,
    /// The doubtful token had its one last try: if that answer is lost too, it is
    /// not tried again (each try risks the provider's reuse detection), only revoked
    /// at logout.
    last_resort: bool,
    /// When the access token arrived.
    got: Now,
    /// Its lifetime (ms).
    lifetime: u64,
    /// When the refresh token (or provider session) was last renewed, and its idle
    /// lifetime (ms), when known.
    idle: Option<(Now, u64)>,
    /// The renewal in flight (one at a time, by construction).
    renewal: Option<Step>,
    /// After transient failures: when to try again (mono) and how many failed.
    retry: Option<(u64, u32)>,
    /// The last renewal error, while retrying.
    error: Option<AuthError>,
    /// How the session was obtained.
    via: SignInMethod,
    /// Renewals so far, and the last one (wall ms, how).
    renewals: u32,
    last_renewal: Option<(u64, RenewalMethod)>,
}

/// What is left of a token (seconds): `by_clock`, from its `exp` against the
/// provider's time as this client reads it, held to the token's `own` lifetime
/// (`exp - iat`, no clock involved: it was issued before its answer came). The
/// client's clock may have been set back or forward since the provider's time was
/// read (only a new ID token reads it again): neither stretches a token past its
/// own lifetime. A zero (past) result is unknown, as `None`.
fn bounded(by_clock: Option<u64>, own: Option<u64>) -> Option<u64> {
    let secs = match (by_clock, own) {
        (Some(clock), Some(own)) => clock.min(own),
        (clock, own) => clock.or(own)?,
    };
    (secs > 0).then_some(secs)
}

/// Milliseconds since `since`, by whichever clock has moved more: a monotonic clock
/// that paused while the machine slept, or a wall clock set back, never makes a token
/// look younger than it is.
fn elapsed(now: Now, since: Now) -> u64 {
    now.mono
        .saturating_sub(since.mono)
        .max(now.wall.saturating_sub(since.wall))
}

impl SignedIn {
    fn margin(&self, client: &Client) -> u64 {
        client.renew_margin_ms.min(self.lifetime / 2)
    }
    fn remaining(&self, now: Now) -> u64 {
        self.lifetime.saturating_sub(elapsed(now, self.got))
    }
    fn expired(&self, now: Now) -> bool {
        self.remaining(now) == 0
    }
    /// Less than the margin left: renew before handing the token out.
    fn due(&self, now: Now, client: &Client) -> bool {
        self.remaining(now) <= self.margin(client)
    }
    /// When (mono) the access token becomes due.
    fn due_at(&self, client: &Client) -> u64 {
        self.got
            .mono
            .saturating_add(self.lifetime - self.margin(client))
    }
    /// When (mono) the provider session must be renewed not to idle out.
    fn keep_alive_at(&self) -> Option<u64> {
        let (since, idle) = self.idle?;
        let margin = (idle / 4).min(60_000);
        Some(since.mono.saturating_add(idle - margin))
    }
    fn keep_alive_due(&self, now: Now) -> bool {
        self.idle
            .is_some_and(|(since, idle)| elapsed(now, since) >= idle - (idle / 4).min(60_000))
    }
}

/// Where the session stands.
#[derive(Debug, Clone)]
enum Phase {
    /// Before `Event::Start`.
    Idle,
    /// Loading the provider's metadata.
    Discovering {
        req: ReqId,
        then: Then,
    },
    SignedOut,
    /// The page is leaving for the provider.
    Redirecting,
    /// Completing a sign-in: a callback, or a silent restore.
    SigningIn {
        silent: bool,
        step: Step,
    },
    SignedIn(Box<SignedIn>),
    Failed(AuthError),
}

/// The session.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    client: Client,
    tab: String,
    // Shared with the requests and checks made from them: no copy per use.
    metadata: Option<Arc<ProviderMetadata>>,
    keys: Option<Arc<JwkSet>>,
    /// The documents `metadata` and `keys` were read from, as the provider sent them:
    /// what the session storage cache keeps (no writer of its own for either).
    metadata_text: Option<String>,
    keys_text: Option<String>,
    /// When the metadata was fetched (wall ms).
    provider_at: u64,
    /// The early silent sign-in, until a restore takes it.
    early: Option<EarlyFrame>,
    /// The silent request template in the session storage cache at start: the one
    /// the early silent sign-in was made from.
    early_template: Option<String>,
    /// A caller asked for a token in the event being handled.
    asked: bool,
    /// A key set fetch started beside a token request, so the ID token check need
    /// not wait for it afterwards.
    keys_prefetch: Option<ReqId>,
    phase: Phase,
    next_req: ReqId,
    waiters: Vec<WaiterId>,
    /// Provider time minus wall time, from the last accepted ID token's `iat`.
    offset: ServerTimeOffset,
    /// That token's `iat` and when its answer came (mono ms): a later ID token cannot
    /// have been issued before this `iat` plus the monotonic time since (a monotonic
    /// clock never runs ahead of real time; it may lag during sleep).
    issued_at: Option<(u64, u64)>,
    /// The page this tab is on (path, query and fragment), as last told: where a
    /// top-level silent sign-in comes back to.
    here: String,
    /// This tab's user's last activity (mono): renewal ahead of time.
    last_activity: u64,
    /// The user's last activity in any tab (mono): keep-alive.
    worked: u64,
    /// The last activity in any tab: the idle clock.
    last_seen: Now,
    /// When this tab last told the others of activity (mono).
    shared_at: Option<u64>,
    /// Activity here that the other tabs were not told of yet (it came sooner after
    /// the last share than `share_every`): told when that time comes, so that the
    /// user's last moves count in every tab.
    unshared: bool,
    /// Seconds left before the idle logout, while the countdown runs.
    countdown: Option<u32>,
    published_countdown: Option<Option<u32>>,
    published_info: Option<SessionInfo>,
    /// The last logout was the idle timeout's.
    idle_logged_out: bool,
    /// The last session ended at the provider.
    lost: bool,
    /// What the start (or a silent sign-in) could not do for want of the network,
    /// done again once the browser is back online (a restore only through the
    /// hidden frame), or when another tab signs in.
    retry: Option<Then>,
    /// The idle timeout ran out unseen (the page frozen, or hidden with its timers
    /// held back), and the decision waits for the next timer (due at once), so that
    /// the other tabs' activity the page held back is heard first: the user came
    /// back (`true`: the return counts as activity if the session stays), or this
    /// tab's own timer came late. Tokens wait for it too.
    idle_held: Option<bool>,
    /// Token requests in flight when sessions ended (a session, then the next one
    /// started meanwhile): the refresh token each answer brings (a grant nobody will
    /// use) is revoked when it comes.
    abandoned: Vec<ReqId>,
    /// How the sign-in under way was started.
    signing_via: SignInMethod,
    /// A refresh token to revoke at the provider after a local logout.
    revocation: Option<Revocation>,
    offline: bool,
    visible: bool,
    /// When (wall ms) the page was last hidden; 0 before.
    hidden_at: u64,
    logged_out_marker: bool,
    published: Option<AuthState<RawClaims>>,
    now: Now,
    out: Vec<Command>,
}

/// A refresh token to revoke (RFC 7009) after a local logout, until the provider
/// has it.
#[derive(Debug, Clone)]
struct Revocation {
    token: RefreshToken,
    /// The request in flight.
    req: Option<ReqId>,
    /// Where to go once it is done, and those after it (an idle logout's
    /// destination).
    then: Option<String>,
    /// Tokens to revoke after this one (another grant each, or another token of it:
    /// each one sent, in turn), at most [`REVOCATIONS_WAITING`].
    next: Vec<RefreshToken>,
}

/// Refresh tokens kept waiting behind the revocation under way.
const REVOCATIONS_WAITING: usize = 4;

/// The provider is busy or failed (OAuth 2.0 4.1.2.1, 5.2): worth another try.
const BUSY: [&str; 2] = ["temporarily_unavailable", "server_error"];

/// Callback errors that mean "the user must interact": signed out, not a failure
/// (OIDC Core 3.1.2.6).
const NEEDS_INTERACTION: [&str; 4] = [
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
];

#[derive(Default)]
struct IssuedAt {
    iat: Option<u64>,
}

/// The provider's metadata and keys as kept in session storage.
#[derive(Serialize)]
struct CachedProvider {
    /// When they were fetched (wall ms).
    at: u64,
    metadata: String,
    keys: Option<String>,
    /// The silent authorization request without its per-request values (`state`,
    /// `nonce`, `code_challenge`), for the page's inline script.
    #[serde(default)]
    silent: Option<String>,
    /// How long that script's frame may stay on a page of its own (ms).
    grace: u64,
}

impl Machine {
    /// A machine for `client`, waiting for `Event::Start`.
    pub(crate) fn new(client: Client) -> Self {
        Machine {
            client,
            tab: String::new(),
            metadata: None,
            keys: None,
            metadata_text: None,
            keys_text: None,
            provider_at: 0,
            early: None,
            early_template: None,
            keys_prefetch: None,
            asked: false,
            phase: Phase::Idle,
            next_req: 0,
            waiters: Vec::new(),
            offset: ServerTimeOffset::ZERO,
            issued_at: None,
            here: String::new(),
            last_activity: 0,
            worked: 0,
            last_seen: Now::default(),
            shared_at: None,
            unshared: false,
            countdown: None,
            published_countdown: None,
            published_info: None,
            idle_logged_out: false,
            lost: false,
            retry: None,
            idle_held: None,
            abandoned: Vec::new(),
            signing_via: SignInMethod::Interactive,
            revocation: None,
            offline: false,
            visible: true,
            hidden_at: 0,
            logged_out_marker: false,
            published: None,
            now: Now::default(),
            out: Vec::new(),
        }
    }

    /// The client the machine runs for.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// When the driver should send `Event::Timer` (mono ms), if ever.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if self.idle_held.is_some() {
            return Some(self.now.mono);
        }
        match &self.phase {
            Phase::SigningIn {
                step: Step::Frame { until, .. },
                ..
            } => Some(*until),
            Phase::SignedIn(s) => [
                self.signed_in_deadline(s),
                self.idle_deadline(s),
                self.share_deadline(),
            ]
            .into_iter()
            .flatten()
            .min(),
            _ => None,
        }
    }

    /// The idle timeout (ms) of session `s`: configured, else the provider
    /// session's idle lifetime; none when auto-logout is off or nothing tells it.
    fn idle_timeout(&self, s: &SignedIn) -> Option<u64> {
        if !self.client.auto_logout {
            return None;
        }
        self.client
            .idle_timeout_ms
            .or(s.idle.map(|(_, ms)| ms))
            .filter(|ms| *ms > 0)
    }

    /// Milliseconds until the idle logout of `s`, and the countdown's length.
    fn idle_left(&self, s: &SignedIn) -> Option<(u64, u64)> {
        let timeout = self.idle_timeout(s)?;
        let left = timeout.saturating_sub(elapsed(self.now, self.last_seen));
        Some((left, self.client.auto_logout_warning_ms.min(timeout)))
    }

    /// When (mono) the countdown starts, next changes, or ends in the idle logout.
    fn idle_deadline(&self, s: &SignedIn) -> Option<u64> {
        let (left, warning) = self.idle_left(s)?;
        let wait = if left > warning {
            left - warning
        } else {
            // The next whole second of the countdown.
            match left % 1000 {
                0 => left.min(1000),
                rem => rem,
            }
        };
        Some(self.now.mono.saturating_add(wait))
    }

    fn signed_in_deadline(&self, s: &SignedIn) -> Option<u64> {
        match &s.renewal {
            Some(Step::Frame { until, .. }) => return Some(*until),
            Some(_) => return None,
            None => {}
        }
        // A back-off that is over wakes nobody: `poll` retries what is still due,
        // and the deadlines below take over (never a deadline left in the past).
        if let Some((until, _)) = s.retry.filter(|(until, _)| *until > self.now.mono) {
            return Some(until);
        }
        if !self.can_renew(s) {
            // Nothing can renew it: the session ends when the token expires.
            return Some(s.got.mono.saturating_add(s.lifetime));
        }
        let mut deadline: Option<u64> = None;
        let due_at = s.due_at(&self.client);
        // Ahead of time only while the user is active in a visible tab: at the due
        // time, or now if that has passed (then `poll` would have started it).
        let active_then =
            self.last_activity.saturating_add(ACTIVE_WINDOW_MS) > due_at.max(self.now.mono);
        if self.client.renew_ahead && self.visible && active_then {
            deadline = Some(due_at);
        }
        if self.worked_since(s) {
            if let Some(at) = s.keep_alive_at() {
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        deadline
    }

    /// Handles one event at `now`; returns what the driver must do, in order.
    pub(crate) fn handle(&mut self, now: Now, event: Event) -> Vec<Command> {
        self.now = now;
        match event {
            Event::Start(info) => self.start(info),
            Event::Login(options) => self.login(options),
            Event::Logout(options) => self.logout(options),
            Event::WantToken(waiter) => {
                self.waiters.push(waiter);
                self.asked = true;
            }
            Event::Activity => self.returned(),
            Event::Visibility(visible) => {
                self.visible = visible;
                if visible {
                    self.returned();
                } else {
                    self.hidden_at = self.now.wall;
                    // Hidden, or leaving: a move not told yet is told now, as no
                    // timer may run here for a while.
                    if self.share_deadline().is_some() {
                        self.share_now();
                    }
                }
            }
            Event::Online(online) => {
                self.offline = !online;
                self.send_revocation();
                if online {
                    self.retry_offline();
                }
            }
            Event::Http {
                req,
                result,
                waited,
            } => self.on_http(req, result, self.now.before(waited)),
            Event::Verified { req, result } => self.on_verified(req, result),
            Event::Timer => self.on_timer(),
            Event::Tab {
                from,
                message,
                here,
            } => self.on_tab(&from, message, here),
            Event::SilentResult { req, query } => self.on_silent(req, &query),
            Event::SilentFailed { req } => {
                self.frame_failed(|step| matches!(step, Step::Frame { req: r, .. } if *r == req))
            }
            // The user came back without signing in (or out) at the provider, to a
            // page as it was when it left (its route, a guard about to send the user
            // off again): it is loaded afresh instead.
            Event::PageRestored { .. } if matches!(self.phase, Phase::Redirecting) => {
                self.emit(Command::Reload);
            }
            // No message of the other tabs reached the page while it was in the
            // cache: the last activity they told of is read from storage.
            Event::PageRestored {
                activity,
                logged_out,
            } => {
                // A logout since this session began (a sign-in clears the marker)
                // stands here too.
                if logged_out.is_some() {
                    self.ended_elsewhere(TabMessage::Logout);
                } else if activity.as_deref() == Some(SESSION_LOST)
                    && matches!(self.phase, Phase::SignedIn(_))
                {
                    // The session was lost at the provider while the page was away:
                    // this page's sign-in stored its activity over any older mark, and
                    // so would any sign-in since. (A sign-in under way here may have
                    // begun after the mark: it goes on.)
                    self.ended_elsewhere(TabMessage::Lost);
                } else if matches!(self.phase, Phase::SignedOut)
                    && self.client.frame
                    && parse_activity(activity.as_deref()).is_some_and(|(wall, _)| {
                        wall > self.hidden_at && self.hidden_at > 0 && wall <= self.now.wall
                    })
                {
                    // Signed out, and a session worked (or signed in) in another tab
                    // since the page was hidden: its `Login` did not reach the page,
                    // which follows now, through the hidden frame.
                    self.login_elsewhere(None);
                }
                self.heard_activity(activity.as_deref());
            }
        }
        if self.idle_held.is_none() {
            self.idle_check();
            self.share_activity();
            self.poll();
            self.settle();
        }
        self.asked = false;
        self.publish();
        std::mem::take(&mut self.out)
    }

    /// The user is in this tab. When the idle timeout ran out unseen before (the page
    /// frozen, or hidden with its timers held back), the return does not count as
    /// activity until the next timer (at once) has decided: the logout the timer
    /// would have made, unless the other tabs' activity, held back with the page,
    /// comes in first.
    fn returned(&mut self) {
        if self.idle_held.is_some() || self.idle_overdue().is_some() {
            self.idle_held = Some(true);
        } else {
            self.activity();
        }
    }

    /// How long ago (ms) the idle timeout ran out, if it did.
    fn idle_overdue(&self) -> Option<u64> {
        let Phase::SignedIn(s) = &self.phase else {
            return None;
        };
        let timeout = self.idle_timeout(s)?;
        elapsed(self.now, self.last_seen).checked_sub(timeout)
    }

    /// The user did something in this tab: the idle clock restarts here, and in the
    /// other tabs when this one tells them (at most every few seconds, at once while
    /// the countdown runs). Hidden tabs keep their own grants alive on it too.
    fn activity(&mut self) {
        self.last_activity = self.now.mono;
        self.worked = self.now.mono;
        self.last_seen = self.now;
        self.unshared = true;
        self.share_activity();
    }

    /// The other tabs' last activity as stored (`Slot::Activity`: the time and the
    /// user's tag), for a page that could not hear their messages. Another user's: an
    /// account switch this page missed. This session's user's: the idle clock counts
    /// from it when it is later than what this tab knows, and not ahead of the clock
    /// (a clock set back since).
    fn heard_activity(&mut self, stored: Option<&str>) {
        let Some((wall, user)) = parse_activity(stored) else {
            return;
        };
        let Phase::SignedIn(s) = &self.phase else {
            return;
        };
        if user_tag(s.user.claims()) != user {
            self.user_elsewhere(user);
            return;
        }
        if wall <= self.last_seen.wall || wall > self.now.wall {
            return;
        }
        let ago = self.now.wall - wall;
        self.last_seen = Now {
            mono: self.now.mono.saturating_sub(ago),
            wall,
        };
        self.worked = self.worked.max(self.last_seen.mono);
    }

    /// How often (ms) this tab tells the others of activity: often enough that no
    /// tab's warning starts while the user works in another. `None` without a
    /// session that idles out.
    fn share_every(&self) -> Option<u64> {
        let Phase::SignedIn(s) = &self.phase else {
            return None;
        };
        let timeout = self.idle_timeout(s).or(s.idle.map(|(_, ms)| ms))?;
        let quiet = timeout.saturating_sub(self.client.auto_logout_warning_ms.min(timeout));
        Some((quiet / 2).clamp(250, ACTIVITY_SHARE_MS))
    }

    /// When (mono) the activity not told yet is due to be told.
    fn share_deadline(&self) -> Option<u64> {
        if !self.unshared {
            return None;
        }
        let every = self.share_every()?;
        Some(self.shared_at.map_or(0, |at| at.saturating_add(every)))
    }

    /// Tells the other tabs of the activity not told yet, when it is due (or at once
    /// while the countdown runs). Told late, it counts there from when it is told: at
    /// most `share_every` later than it happened.
    fn share_activity(&mut self) {
        let Some(due) = self.share_deadline() else {
            self.unshared = false;
            return;
        };
        if self.now.mono >= due || self.countdown.is_some() {
            self.share_now();
        }
    }

    /// Tells the other tabs of activity now, and stores when and whose (for a page
    /// that cannot hear them: see [`heard_activity`](Self::heard_activity)).
    fn share_now(&mut self) {
        self.shared_at = Some(self.now.mono);
        self.unshared = false;
        self.emit(Command::Broadcast(TabMessage::Activity));
        self.store_activity();
    }

    /// Stores when the user last did something (here, or in a tab that told) and who
    /// the user is, for a page that cannot hear the tabs' messages. Written at each
    /// sign-in too, so that it never names a user who was signed in before.
    fn store_activity(&mut self) {
        if let Phase::SignedIn(s) = &self.phase {
            let value = format!("{} {}", self.last_seen.wall, user_tag(s.user.claims()));
            self.emit(Command::Store {
                slot: Slot::Activity,
                value: Some(value),
            });
        }
    }

    /// Runs the idle countdown, and logs out when it reaches zero.
    fn idle_check(&mut self) {
        let left = match &self.phase {
            Phase::SignedIn(s) => self.idle_left(s),
            _ => None,
        };
        self.countdown = None;
        let Some((left, warning)) = left else {
            return;
        };
        if left == 0 {
            self.auto_logout();
        } else if left <= warning {
            self.countdown = Some(u32::try_from(left.div_ceil(1000)).unwrap_or(u32::MAX));
        }
    }

    /// The idle timeout ran out: a local logout in every tab, the refresh token
    /// revoked at the provider, and the app's chosen page.
    fn auto_logout(&mut self) {
        self.logout(LogoutOptions::default().local_only(true));
        self.idle_logged_out = true;
        if let Some(path) = self.client.auto_logout_to.as_deref() {
            let path = sanitize_return_path(path);
            match &mut self.revocation {
                // Leaving the page would cancel the revocation: go once it is done.
                Some(r) if r.req.is_some() => r.then = Some(path),
                _ => self.emit(Command::Navigate {
                    url: path,
                    replace: false,
                }),
            }
        }
    }

    /// Sends the pending revocation, unless offline or already in flight.
    fn send_revocation(&mut self) {
        if self.offline || self.revocation.as_ref().is_none_or(|r| r.req.is_some()) {
            return;
        }
        let endpoint = self
            .metadata
            .as_ref()
            .and_then(|m| m.revocation_endpoint.clone())
            .filter(|e| crate::core::is_secure_url(e));
        let (Some(endpoint), Some(r)) = (endpoint, self.revocation.as_ref()) else {
            self.revocation = None;
            return;
        };
        let request = revocation_request(&endpoint, &self.client.client_id, &r.token);
        let req = self.fetch(request);
        if let Some(r) = &mut self.revocation {
            r.req = Some(req);
        }
    }

    /// The provider answered the revocation: done, unless it could not be reached
    /// (then again when the browser is back online).
    fn revocation_answered(&mut self, result: &Result<HttpResponse, String>) {
        let retry = match result {
            Ok(r) => r.status >= 500,
            Err(_) => true,
        };
        if retry {
            // The page the app chose does not wait for a provider that cannot take
            // the revocation now: it goes, and the revocation with it.
            let then = self.revocation.as_mut().and_then(|r| {
                r.req = None;
                r.then.take()
            });
            if let Some(path) = then {
                self.emit(Command::Navigate {
                    url: path,
                    replace: false,
                });
            }
        } else if let Some(mut done) = self.revocation.take() {
            if done.next.is_empty() {
                if let Some(path) = done.then {
                    self.emit(Command::Navigate {
                        url: path,
                        replace: false,
                    });
                }
            } else {
                // The next one, with the destination after them all.
                let token = done.next.remove(0);
                self.revocation = Some(Revocation {
                    token,
                    req: None,
                    then: done.then,
                    next: done.next,
                });
                self.send_revocation();
            }
        }
    }

    /// Mock mode: signs in as the configured user, with no provider; or, signed in
    /// so already, makes the session's token anew.
    pub(crate) fn mock_sign_in(&mut self, mock: &MockUser) {
        let fresh = mock_session(&self.client, mock, self.now);
        if let (Phase::SignedIn(s), Ok(fresh)) = (&mut self.phase, &fresh) {
            if s.via == SignInMethod::Mock {
                s.access = fresh.access.clone();
                s.got = fresh.got;
                s.lifetime = fresh.lifetime;
                return;
            }
        }
        match fresh {
            Ok(s) => {
                self.leave(Phase::SignedIn(Box::new(s)));
                self.last_seen = self.now;
                self.idle_logged_out = false;
                self.lost = false;
                if self.logged_out_marker {
                    self.logged_out_marker = false;
                    self.emit(Command::Store {
                        slot: Slot::LoggedOut,
                        value: None,
                    });
                }
            }
            Err(e) => self.leave(Phase::Failed(e)),
        }
    }

    fn req(&mut self) -> ReqId {
        self.next_req += 1;
        self.next_req
    }

    #[inline(never)]
    fn emit(&mut self, command: Command) {
        self.out.push(command);
    }

    fn fetch(&mut self, request: HttpRequest) -> ReqId {
        let req = self.req();
        let timeout_ms = self.client.request_timeout_ms;
        self.emit(Command::Fetch {
            req,
            request,
            timeout_ms,
        });
        req
    }

    fn wall_secs(&self) -> u64 {
        self.now.wall / 1000
    }

    /// Provider time in seconds.
    fn server_secs(&self) -> u64 {
        self.offset.server_time(self.wall_secs())
    }

    // ----- start -------------------------------------------------------------

    fn start(&mut self, info: StartInfo) {
        if !matches!(self.phase, Phase::Idle) {
            return;
        }
        self.tab = info.tab;
        self.visible = info.visible;
        self.offline = info.offline;
        self.last_activity = self.now.mono;
        self.last_seen = self.now;
        self.logged_out_marker = info.logged_out.is_some();
        if let Some(mock) = self.client.mock.clone() {
            // No provider: the silent sign-in the page started for this client is
            // not wanted.
            if info.early.is_some() {
                self.emit(Command::CloseSilentFrame);
            }
            if mock.signed_in && !self.logged_out_marker {
                (mock.sign_in.0)(self, &mock);
            } else {
                self.phase = Phase::SignedOut;
            }
            return;
        }
        let provider_key = self.client.key(Slot::Provider);
        self.early = info.early.filter(|e| e.key == provider_key);
        let then = match self.take_callback(&info.page, info.pending.as_deref()) {
            // No sign-in of this client is pending: refused at once, before any
            // request (a forged or replayed callback). Nothing the page script
            // started for it is wanted.
            Some((None, _)) => {
                self.emit(Command::ForgoEarlyExchange);
                if self.early.take().is_some() {
                    self.emit(Command::CloseSilentFrame);
                }
                self.phase = Phase::Failed(CallbackError::NoPendingRequest.into());
                return;
            }
            Some(callback) => Then::Callback(Box::new(callback)),
            None => {
                let PageUrl {
                    path,
                    query,
                    fragment,
                } = &info.page;
                self.here = format!("{path}{query}{fragment}");
                let recently = info
                    .signed_in
                    .as_deref()
                    .and_then(|v| v.parse::<u64>().ok())
                    .is_some_and(|until| until > self.now.wall);
                // After a logout `restore` keeps the app signed out.
                if self.client.frame || (self.client.redirect_restore && recently) {
                    Then::Restore
                } else {
                    Then::SignedOut
                }
            }
        };
        if self.load_provider(info.provider.as_deref()) {
            self.phase = Phase::SignedOut;
            self.proceed_then_prefetch(then);
        } else {
            self.discover(then);
        }
    }

    /// Takes the metadata and keys from session storage when they are recent. They are
    /// validated as when fetched (issuer, endpoints, keys).
    fn load_provider(&mut self, cached: Option<&str>) -> bool {
        let Some(cached) =
            cached.and_then(|c| crate::core::json::from_bytes::<CachedProvider>(c.as_bytes()).ok())
        else {
            return false;
        };
        self.early_template = cached.silent;
        let age = self.now.wall.saturating_sub(cached.at);
        if age >= PROVIDER_CACHE_TTL_MS || cached.at > self.now.wall {
            return false;
        }
        let Ok(metadata) =
            ProviderMetadata::from_json(cached.metadata.as_bytes(), &self.client.issuer)
        else {
            return false;
        };
        self.metadata = Some(Arc::new(metadata));
        self.metadata_text = Some(cached.metadata);
        let keys = cached
            .keys
            .and_then(|k| Some((JwkSet::from_json(k.as_bytes()).ok()?, k)));
        (self.keys, self.keys_text) = keys.map(|(k, t)| (Arc::new(k), t)).unzip();
        self.provider_at = cached.at;
        true
    }

    /// The silent request, less the values made fresh for each request.
    fn silent_template(&self) -> Option<String> {
        if !self.client.frame {
            return None;
        }
        let metadata = self.metadata.as_ref()?;
        let redirect = self.client.silent_redirect_uri.clone();
        let template = self
            .authorization_request(&redirect, &LoginOptions::default())
            .prompt("none")
            .template(metadata);
        Some(template)
    }

    /// Takes over the silent sign-in the page started before the app loaded; when it
    /// cannot be taken over, its frame goes.
    fn adopt_early(&mut self) -> Option<Step> {
        let early = self.early.take()?;
        let step = self.early_step(early);
        if step.is_none() {
            self.emit(Command::CloseSilentFrame);
        }
        step
    }

    fn early_step(&mut self, early: EarlyFrame) -> Option<Step> {
        // The early script sent the cached template's request: one made for another
        // configuration (a deploy changed the scopes, `max_age` or the silent
        // redirect URI) is not what this app asks for; a request of its own follows.
        let used = self.early_template.take();
        if used.is_none() || used != self.silent_template() {
            return None;
        }
        let metadata = self.metadata.as_ref()?;
        let pending = PendingAuthorization {
            issuer: metadata.issuer.clone(),
            client_id: self.client.client_id.clone(),
            state: crate::core::State::new(early.state),
            nonce: Nonce::new(early.nonce),
            code_verifier: crate::core::CodeVerifier::new(early.verifier).ok()?,
            redirect_uri: self.client.silent_redirect_uri.clone(),
            return_to: None,
            created_at: early.created / 1000,
            max_age: self.client.max_age,
        };
        let req = self.req();
        self.signing_via = SignInMethod::Frame;
        self.emit(Command::AdoptSilentFrame { req });
        Some(Step::Frame {
            req,
            until: self.now.mono.saturating_add(self.client.silent_timeout_ms),
            pending: Box::new(pending),
        })
    }

    /// Keeps the metadata and keys for the next page load of this tab.
    /// How long a silent frame may stay on a page it loaded (the browser's error
    /// page, a provider page) before it counts as failed: time for a scripted
    /// redirect to leave it, a fifth of the frame's timeout (2 s by default).
    fn frame_grace(&self) -> u64 {
        self.client.silent_timeout_ms / 5
    }

    fn save_provider(&mut self) {
        let Some(metadata) = self.metadata_text.clone() else {
            return;
        };
        let cached = CachedProvider {
            at: self.provider_at,
            metadata,
            keys: self.keys_text.clone(),
            silent: self.silent_template(),
            grace: self.frame_grace(),
        };
        if let Ok(value) = crate::core::json::to_string(&cached) {
            self.emit(Command::Store {
                slot: Slot::Provider,
                value: Some(value),
            });
        }
    }

    /// Takes a key set read from `text`, and caches both.
    fn set_keys(&mut self, keys: JwkSet, text: &[u8]) {
        self.keys = Some(Arc::new(keys));
        self.keys_text = Some(text_of(text));
        self.save_provider();
    }

    /// Recognizes an authorization response in the address and takes it out: only a
    /// query with `state`, on the redirect URI's path, is one (an app URL like
    /// `/shop?code=SUMMER10` is left alone). The pending request is removed at once
    /// (single use), and the address becomes the sign-in's return path.
    fn take_callback(
        &mut self,
        page: &PageUrl,
        stored: Option<&str>,
    ) -> Option<(Option<StoredPending>, Result<CallbackParams, CallbackError>)> {
        let params =
            match CallbackParams::detect(&self.client.redirect_uri, &page.path, &page.query) {
                Ok(None) => return None,
                other => other.map(Option::unwrap_or_default),
            };
        self.emit(Command::Store {
            slot: Slot::Pending,
            value: None,
        });
        let stored: Option<StoredPending> = stored
            .and_then(|s| crate::core::json::from_bytes::<StoredPending>(s.as_bytes()).ok())
            .filter(|s| s.issuer == self.client.issuer && s.client_id == self.client.client_id);
        let ours = match (&params, &stored) {
            (Ok(p), Some(s)) => p
                .state
                .as_deref()
                .is_some_and(|st| s.pending.state.matches(st)),
            _ => false,
        };
        let target = match stored.as_ref().and_then(|s| s.pending.return_to.clone()) {
            Some(path) if ours => sanitize_return_path(&path),
            _ => {
                let kept: Vec<(String, String)> = form::parse(&page.query)
                    .into_iter()
                    .filter(|(k, _)| !CALLBACK_PARAMS.contains(&k.as_str()))
                    .collect();
                let query = form::serialize(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let sep = if query.is_empty() { "" } else { "?" };
                format!("{}{sep}{query}{}", page.path, page.fragment)
            }
        };
        self.emit(Command::ReplaceUrl(target));
        Some((stored, params))
    }

    fn discover(&mut self, then: Then) {
        // OIDC Discovery 4: the configuration is fetched over TLS; an issuer that is
        // not https (loopback aside) is refused before anything is sent.
        if !crate::core::is_secure_url(&self.client.issuer) {
            let url = self.client.issuer.clone();
            self.phase = Phase::Failed(crate::core::DiscoveryError::InsecureEndpoint(url).into());
            return;
        }
        let req = self.fetch(discovery_request(&self.client.issuer));
        self.phase = Phase::Discovering { req, then };
    }

    /// Goes on with `then`, and fetches the keys if they are not known yet (unless
    /// the page is leaving for a sign-in): a sign-in started from this page comes
    /// back to a callback that needs only the token request, the keys travelling in
    /// session storage with the metadata.
    fn proceed_then_prefetch(&mut self, then: Then) {
        let leaving = matches!(then, Then::Login(_));
        self.proceed(then);
        if !leaving {
            self.prefetch_keys();
        }
    }

    fn proceed(&mut self, then: Then) {
        match then {
            Then::Callback(callback) => {
                let (stored, params) = *callback;
                self.complete_callback(stored, params);
            }
            Then::Restore => self.restore(),
            Then::SignedOut => self.phase = Phase::SignedOut,
            Then::Login(options) => self.login(options),
        }
        // An early silent sign-in nobody took is not wanted: its frame goes.
        if self.early.take().is_some() {
            self.emit(Command::CloseSilentFrame);
        }
    }

    fn complete_callback(
        &mut self,
        stored: Option<StoredPending>,
        params: Result<CallbackParams, CallbackError>,
    ) {
        let Some(metadata) = self.metadata.clone() else {
            return;
        };
        let Some(stored) = stored else {
            self.phase = Phase::Failed(CallbackError::NoPendingRequest.into());
            return;
        };
        let code = params.and_then(|p| {
            stored
                .pending
                .validate_callback(&p, &metadata, self.wall_secs())
        });
        // Only a code the app sends itself takes the script's answer.
        let exchanged = code.is_ok() && !(stored.silent && self.logged_out_marker);
        if !exchanged {
            self.emit(Command::ForgoEarlyExchange);
        }
        match code {
            // A silent restore's answer, while another tab logged out since it left:
            // the logout stands.
            Ok(_) if stored.silent && self.logged_out_marker => self.forget_session(),
            Ok(code) => {
                let request = authorization_code_request(
                    &metadata,
                    &self.client.client_id,
                    &code,
                    &stored.pending.code_verifier,
                    &stored.pending.redirect_uri,
                );
                let sent = self.now;
                let req = self.fetch(request);
                self.prefetch_keys();
                self.signing_via = if stored.silent {
                    SignInMethod::Redirect
                } else {
                    SignInMethod::Interactive
                };
                self.phase = Phase::SigningIn {
                    silent: stored.silent,
                    step: Step::Token {
                        req,
                        sent,
                        nonce: Some(stored.pending.nonce),
                        max_age: stored.pending.max_age,
                    },
                };
            }
            // A silent sign-in that needs the user, or that failed, leaves the app
            // signed out, and the next load with it: never an error loop. A busy
            // provider is asked again by the next load.
            Err(CallbackError::Provider(e))
                if stored.silent && BUSY.contains(&e.error.as_str()) =>
            {
                self.leave(Phase::SignedOut);
            }
            Err(_) if stored.silent => self.forget_session(),
            Err(e) => self.phase = Phase::Failed(e.into()),
        }
    }

    /// Silent sign-in: the hidden iframe when it can reach the provider's cookies,
    /// else a top-level `prompt=none` redirect.
    fn restore(&mut self) {
        // Another tab logged out while this one was getting ready (discovery): no
        // silent sign-in brings the session back.
        if self.logged_out_marker {
            self.phase = Phase::SignedOut;
        } else if self.client.frame {
            if let Some(step) = self.adopt_early().or_else(|| self.open_frame()) {
                self.phase = Phase::SigningIn { silent: true, step };
            }
        } else if self.client.redirect_restore {
            self.redirect_silently();
        } else {
            self.phase = Phase::SignedOut;
        }
    }

    fn authorization_request(
        &self,
        redirect_uri: &str,
        options: &LoginOptions,
    ) -> AuthorizationRequest {
        let mut request = AuthorizationRequest::new(&self.client.client_id, redirect_uri)
            .scopes(self.client.scopes.iter().cloned());
        if let Some(max_age) = self.client.max_age {
            request = request.max_age(max_age);
        }
        if let Some(path) = &options.return_to {
            request = request.return_to(sanitize_return_path(path));
        }
        // A parameter the sign-in sets replaces the configured one (RFC 6749 section
        // 3.1: no parameter twice; one given more than once in one place, such as
        // RFC 8707 `resource`, goes as given). `prompt` goes once.
        let own = |key: &str| options.extra.iter().any(|(k, _)| k == key);
        let configured = self.client.extra_params.iter().filter(|(k, _)| !own(k));
        for (k, v) in configured.chain(options.extra.iter()) {
            request = match k.as_str() {
                "prompt" => request.prompt(v.clone()),
                _ => request.extra(k.clone(), v.clone()),
            };
        }
        request
    }

    fn open_frame(&mut self) -> Option<Step> {
        let metadata = self.metadata.clone()?;
        let redirect = self.client.silent_redirect_uri.clone();
        let request = self
            .authorization_request(&redirect, &LoginOptions::default())
            .prompt("none");
        match request.build(&metadata, self.wall_secs()) {
            Ok((url, pending)) => {
                let req = self.req();
                self.signing_via = SignInMethod::Frame;
                let grace_ms = self.frame_grace();
                self.emit(Command::OpenSilentFrame { req, url, grace_ms });
                Some(Step::Frame {
                    req,
                    until: self.now.mono.saturating_add(self.client.silent_timeout_ms),
                    pending: Box::new(pending),
                })
            }
            Err(e) => {
                self.phase = Phase::Failed(e.into());
                None
            }
        }
    }

    /// A top-level `prompt=none` sign-in, back to the page this tab is on.
    fn redirect_silently(&mut self) {
        let options = LoginOptions::default().return_to(std::mem::take(&mut self.here));
        let _ = self.redirect_to_provider(options, true);
    }

    fn redirect_to_provider(&mut self, options: LoginOptions, silent: bool) -> Option<()> {
        let Some(metadata) = self.metadata.clone() else {
            self.discover(Then::Login(options));
            return None;
        };
        let redirect = self.client.redirect_uri.clone();
        let mut request = self.authorization_request(&redirect, &options);
        if silent {
            request = request.prompt("none");
        } else if self.logged_out_marker {
            // After an explicit logout the next sign-in asks the user to sign in
            // again, so that a provider session left behind does not sign them
            // straight back in; with what the app asks for besides (OIDC Core 3.1.2.1:
            // space-separated values), unless that is `login` or `none` already.
            let asked = request.prompt_value().unwrap_or_default();
            let mut values: Vec<&str> = asked.split_whitespace().collect();
            if !values.iter().any(|p| *p == "login" || *p == "none") {
                values.push("login");
                let prompt = values.join(" ");
                request = request.prompt(prompt);
            }
        }
        let built = request.build(&metadata, self.wall_secs());
        let (url, pending) = match built {
            Ok(b) => b,
            Err(e) => {
                self.phase = Phase::Failed(e.into());
                return None;
            }
        };
        let stored = StoredPending {
            issuer: self.client.issuer.clone(),
            client_id: self.client.client_id.clone(),
            silent,
            pending,
        };
        match crate::core::json::to_string(&stored) {
            Ok(json) => {
                self.emit(Command::Store {
                    slot: Slot::Pending,
                    value: Some(json),
                });
                // A silent redirect, or a sign-in the app started by itself (a
                // guard), leaves no history entry: Back from the provider must not
                // land on a page that sends the user there again.
                self.emit(Command::Navigate {
                    url,
                    replace: silent || options.replace,
                });
                self.leave(Phase::Redirecting);
                Some(())
            }
            Err(e) => {
                self.phase = Phase::Failed(AuthError::Storage(e.to_string()));
                None
            }
        }
    }

    /// Tells the other tabs that a user signed in here, and who.
    fn tell_login(&mut self) {
        self.emit(Command::Broadcast(TabMessage::Login));
        if let Phase::SignedIn(s) = &self.phase {
            let user = user_tag(s.user.claims());
            self.emit(Command::Broadcast(TabMessage::User(user)));
        }
    }

    /// The refresh token the session holds (a doubtful one if none other), taken.
    fn held_refresh(&mut self) -> Option<RefreshToken> {
        match &mut self.phase {
            Phase::SignedIn(s) => s.refresh.take().or(s.doubtful.take()),
            _ => None,
        }
    }

    // ----- user actions ------------------------------------------------------

    fn login(&mut self, options: LoginOptions) {
        self.retry = None;
        if let Some(mock) = self.client.mock.clone() {
            if !matches!(self.phase, Phase::Idle | Phase::SignedIn(_)) {
                (mock.sign_in.0)(self, &mock);
                self.tell_login();
            }
            return;
        }
        match &mut self.phase {
            Phase::Discovering { then, .. } => {
                // A callback it replaces does not take the page script's exchange.
                if matches!(then, Then::Callback(_)) {
                    self.out.push(Command::ForgoEarlyExchange);
                }
                *then = Then::Login(options);
            }
            Phase::Idle => {}
            _ => {
                let _ = self.redirect_to_provider(options, false);
            }
        }
    }

    fn logout(&mut self, options: LogoutOptions) {
        // Idle, or already leaving for the provider's logout (a second click before
        // the page goes would send it again without the ID token hint).
        if matches!(self.phase, Phase::Idle)
            || (matches!(self.phase, Phase::Redirecting) && self.logged_out_marker)
        {
            return;
        }
        self.retry = None;
        if matches!(
            self.phase,
            Phase::Discovering {
                then: Then::Callback(_),
                ..
            }
        ) {
            self.emit(Command::ForgoEarlyExchange);
        }
        let abandoned = self.abandoned_tokens();
        let hint = match &self.phase {
            Phase::SignedIn(s) => s.id_token.clone(),
            _ => None,
        };
        let refresh = self.held_refresh();
        self.idle_logged_out = false;
        self.lost = false;
        self.forget_session();
        self.logged_out_marker = true;
        let wall = self.now.wall;
        self.emit(Command::Store {
            slot: Slot::LoggedOut,
            value: Some(wall.to_string()),
        });
        self.emit(Command::Broadcast(TabMessage::Logout));
        // When and whose the last activity was: nobody's business any more.
        self.emit(Command::Store {
            slot: Slot::Activity,
            value: None,
        });
        let endpoint = self
            .metadata
            .as_ref()
            .and_then(|m| m.end_session_endpoint.clone())
            .filter(|e| crate::core::is_secure_url(e));
        match endpoint {
            Some(endpoint) if !options.local_only => {
                // RP-Initiated Logout 1.0 section 2.
                let mut pairs = vec![
                    ("client_id", self.client.client_id.as_str()),
                    (
                        "post_logout_redirect_uri",
                        self.client.post_logout_redirect_uri.as_str(),
                    ),
                ];
                if let Some(hint) = hint.as_ref() {
                    pairs.push(("id_token_hint", hint.secret()));
                }
                let url = form::append_query(&endpoint, pairs);
                self.emit(Command::Navigate {
                    url,
                    replace: false,
                });
                self.phase = Phase::Redirecting;
            }
            _ => {
                self.phase = Phase::SignedOut;
                // The provider still holds the grant.
                self.revoke_left(refresh, abandoned);
            }
        }
    }

    /// Leaves the current phase: its tokens are dropped with it and a frame in flight
    /// is closed.
    fn leave(&mut self, next: Phase) {
        let frame = matches!(
            &self.phase,
            Phase::SigningIn {
                step: Step::Frame { .. },
                ..
            }
        ) || matches!(&self.phase, Phase::SignedIn(s) if matches!(s.renewal, Some(Step::Frame { .. })));
        if frame {
            self.emit(Command::CloseSilentFrame);
        }
        self.phase = next;
    }

    /// Ends this tab's session alone: the other tabs, which may still be signed in,
    /// and the markers they share are left as they are; the grant it held is revoked.
    fn end_here(&mut self) {
        self.retry = None;
        let abandoned = self.abandoned_tokens();
        let refresh = self.held_refresh();
        self.leave(Phase::SignedOut);
        self.revoke_left(refresh, abandoned);
    }

    /// Ends the session here, without telling anyone: no marker of a recent sign-in.
    fn forget_session(&mut self) {
        self.leave(Phase::SignedOut);
        self.emit(Command::Store {
            slot: Slot::SignedIn,
            value: None,
        });
    }

    /// What the phase leaves when the session ends with a token request under way
    /// (its request) or its answer in hand (the refresh token it brings; after a
    /// refresh, the live one: the token the refresh sent is spent). Taken before the
    /// phase goes, given to [`revoke_left`](Self::revoke_left) after.
    fn abandoned_tokens(&mut self) -> (Option<ReqId>, Option<RefreshToken>) {
        let step = match &mut self.phase {
            Phase::SigningIn { step, .. } => Some(step),
            Phase::SignedIn(s) => s.renewal.as_mut(),
            _ => None,
        };
        match step {
            Some(Step::Token { req, .. }) => (Some(*req), None),
            Some(Step::Keys { check, .. } | Step::Verify { check, .. }) => {
                (None, check.response.refresh_token.take())
            }
            _ => (None, None),
        }
    }

    /// Revokes at the provider what a session ending here leaves (RFC 7009 section
    /// 2): the refresh token it `held`, and the grant of
    /// [`abandoned_tokens`](Self::abandoned_tokens), now or when the request's
    /// answer comes.
    fn revoke_left(
        &mut self,
        held: Option<RefreshToken>,
        (req, token): (Option<ReqId>, Option<RefreshToken>),
    ) {
        if let Some(held) = held {
            self.revoke(held);
        }
        if let Some(req) = req {
            self.abandoned.push(req);
        }
        if let Some(token) = token {
            self.revoke(token);
        }
    }

    /// Revokes `token` at the provider: now, or after the revocations under way.
    fn revoke(&mut self, token: RefreshToken) {
        match &mut self.revocation {
            Some(r) => {
                if r.next.len() < REVOCATIONS_WAITING {
                    r.next.push(token);
                }
            }
            None => {
                self.revocation = Some(Revocation {
                    token,
                    req: None,
                    then: None,
                    next: Vec::new(),
                })
            }
        }
        self.send_revocation();
    }

    /// A silent sign-in that failed offline is made again once back online.
    fn retry_when_online(&mut self) {
        if self.offline {
            self.retry = Some(Then::Restore);
        }
    }

    /// Back online: what failed for want of the network is made again, unless the
    /// session moved on since (a sign-in, a logout).
    fn retry_offline(&mut self) {
        let Some(mut then) = self.retry.take() else {
            return;
        };
        if !matches!(self.phase, Phase::SignedOut | Phase::Failed(_)) {
            return;
        }
        // Only through the hidden frame: a top-level redirect would take the page
        // away from under the user at some later moment.
        if matches!(then, Then::Restore) && !self.client.frame {
            then = Then::SignedOut;
        }
        self.start_again(then);
    }

    /// Goes on with `then` as the start would have, discovering the provider first
    /// when it is not known.
    fn start_again(&mut self, then: Then) {
        if self.metadata.is_some() {
            self.phase = Phase::SignedOut;
            self.proceed_then_prefetch(then);
        } else {
            self.discover(then);
        }
    }

    /// The session ended at the provider: sign out here and in every tab. The
    /// last activity gives way to a mark of it, for pages in the back-forward cache
    /// (which the message does not reach) and until the next sign-in.
    fn session_lost(&mut self) {
        self.forget_session();
        self.lost = true;
        self.emit(Command::Broadcast(TabMessage::Lost));
        self.emit(Command::Store {
            slot: Slot::Activity,
            value: Some(SESSION_LOST.into()),
        });
    }

    // ----- answers -----------------------------------------------------------

    /// The answer to request `req`, received at `received`.
    fn on_http(&mut self, req: ReqId, result: Result<HttpResponse, String>, received: Now) {
        if self.revocation.as_ref().and_then(|r| r.req) == Some(req) {
            self.revocation_answered(&result);
            return;
        }
        if self.abandoned.contains(&req) {
            self.abandoned.retain(|r| *r != req);
            let token = result
                .ok()
                .and_then(|r| TokenResponse::from_response(&r).ok())
                .and_then(|t| t.refresh_token);
            if let Some(token) = token {
                self.revoke(token);
            }
            return;
        }
        if self.keys_prefetch == Some(req) {
            self.keys_prefetch = None;
            let keys = result
                .as_ref()
                .ok()
                .filter(|r| (200..300).contains(&r.status))
                .and_then(|r| JwkSet::from_json(&r.body).ok().map(|keys| (keys, &r.body)));
            if let Some((keys, text)) = keys {
                self.set_keys(keys, text);
            }
            // A check waiting on this request goes on below.
        }
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Discovering { req: r, then } if r == req => {
                let metadata = result.map_err(AuthError::Network).and_then(|resp| {
                    ProviderMetadata::from_response(&resp, &self.client.issuer)
                        .map(|m| (m, text_of(&resp.body)))
                        .map_err(AuthError::from)
                });
                match metadata {
                    Ok((m, text)) => {
                        self.metadata = Some(Arc::new(m));
                        self.metadata_text = Some(text);
                        self.provider_at = self.now.wall;
                        self.save_provider();
                        self.phase = Phase::SignedOut;
                        self.proceed_then_prefetch(then);
                    }
                    Err(e) => {
                        // Unreachable (offline, say): the start is made again once
                        // the browser is back online. A sign-in the user asked for
                        // shows the error: the user asks again. A callback's code
                        // exchange the page script sent is not taken: revoked.
                        if matches!(e, AuthError::Network(_))
                            && matches!(then, Then::Restore | Then::SignedOut)
                        {
                            self.retry = Some(then);
                        } else if matches!(then, Then::Callback(_)) {
                            self.emit(Command::ForgoEarlyExchange);
                        }
                        self.phase = Phase::Failed(e);
                    }
                }
            }
            Phase::SigningIn { silent, step } if step.req() == req => {
                let outcome = self.step_http(step, result, received, true);
                self.signing_in(silent, outcome);
            }
            Phase::SignedIn(mut s) if s.renewal.as_ref().is_some_and(|st| st.req() == req) => {
                let step = s.renewal.take();
                self.phase = Phase::SignedIn(s);
                if let Some(step) = step {
                    let outcome = self.step_http(step, result, received, false);
                    self.renewed(outcome);
                }
            }
            // A stale answer (the phase moved on): dropped.
            other => self.phase = other,
        }
    }

    fn on_verified(&mut self, req: ReqId, result: Result<VerifiedJws, JoseError>) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::SigningIn { silent, step } if step.req() == req => {
                let outcome = self.step_verified(step, result);
                self.signing_in(silent, outcome);
            }
            Phase::SignedIn(mut s) if s.renewal.as_ref().is_some_and(|st| st.req() == req) => {
                let step = s.renewal.take();
                self.phase = Phase::SignedIn(s);
                if let Some(step) = step {
                    let outcome = self.step_verified(step, result);
                    self.renewed(outcome);
                }
            }
            other => self.phase = other,
        }
    }

    fn on_silent(&mut self, req: ReqId, query: &str) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::SigningIn { silent, step } if step.req() == req => {
                self.emit(Command::CloseSilentFrame);
                let outcome = self.step_silent(step, query);
                self.signing_in(silent, outcome);
            }
            Phase::SignedIn(mut s) if s.renewal.as_ref().is_some_and(|st| st.req() == req) => {
                self.emit(Command::CloseSilentFrame);
                let step = s.renewal.take();
                self.phase = Phase::SignedIn(s);
                if let Some(step) = step {
                    let outcome = self.step_silent(step, query);
                    self.renewed(outcome);
                }
            }
            other => self.phase = other,
        }
    }

    fn on_timer(&mut self) {
        match self.idle_held.take() {
            Some(user) => {
                self.idle_check();
                if user {
                    self.activity();
                }
            }
            // This timer came late (held back with a frozen or hidden page): the
            // decision waits for the next one, as a return does.
            None if self.idle_overdue().is_some_and(|late| late > LATE_TIMER_MS) => {
                self.idle_held = Some(false);
            }
            None => {}
        }
        let now = self.now.mono;
        self.frame_failed(|step| matches!(step, Step::Frame { until, .. } if now >= *until));
    }

    /// Ends the silent frame's step when `failed` says so: no answer came in time,
    /// or none will.
    fn frame_failed(&mut self, failed: impl Fn(&Step) -> bool) {
        match &self.phase {
            Phase::SigningIn { step, .. } if failed(step) => {
                self.emit(Command::CloseSilentFrame);
                self.signing_in(true, Outcome::Fail(Failure::FrameTimeout));
            }
            Phase::SignedIn(s) if s.renewal.as_ref().is_some_and(&failed) => {
                if let Phase::SignedIn(s) = &mut self.phase {
                    s.renewal = None;
                }
                self.emit(Command::CloseSilentFrame);
                self.renewed(Outcome::Fail(Failure::FrameTimeout));
            }
            // Renewals that fall due start in `poll`.
            _ => {}
        }
    }

    /// Another tab logged out (`Logout`), or found the session gone at the provider
    /// (`Lost`): so does this one.
    fn ended_elsewhere(&mut self, message: TabMessage) {
        if message == TabMessage::Logout {
            self.logged_out_marker = true;
        }
        let abandoned = self.abandoned_tokens();
        let refresh = self.held_refresh();
        if matches!(self.phase, Phase::SignedIn(_) | Phase::SigningIn { .. }) {
            self.leave(Phase::SignedOut);
            self.lost = message == TabMessage::Lost;
        }
        // This tab's own grant ends too (RFC 7009 section 2), `Lost` or not: it is a
        // token family of its own, which the provider may still honour, and an answer
        // in flight brings a fresh one.
        self.revoke_left(refresh, abandoned);
    }

    /// A user signed in in another tab (`user`, their tag). Another user than this
    /// session's (an account switch, the provider's session now theirs): this tab's
    /// session, of the user before, ends, and its grant with it. The hidden frame
    /// restores the tab as the new user; a top-level redirect would take the page
    /// from under the user, who signs in again instead.
    fn user_elsewhere(&mut self, user: u64) {
        let other = match &self.phase {
            Phase::SignedIn(s) => user_tag(s.user.claims()) != user,
            _ => false,
        };
        if !other || self.client.mock.is_some() {
            return;
        }
        let abandoned = self.abandoned_tokens();
        let refresh = self.held_refresh();
        self.leave(Phase::SignedOut);
        self.revoke_left(refresh, abandoned);
        if self.client.frame {
            if let Some(step) = self.open_frame() {
                self.phase = Phase::SigningIn { silent: true, step };
            }
        }
    }

    fn on_tab(&mut self, from: &str, message: TabMessage, here: String) {
        if from == self.tab {
            return;
        }
        match message {
            TabMessage::Logout | TabMessage::Lost => self.ended_elsewhere(message),
            TabMessage::Activity => {
                self.last_seen = self.now;
                self.worked = self.now.mono;
            }
            TabMessage::User(user) => self.user_elsewhere(user),
            TabMessage::Login => self.login_elsewhere(Some(here)),
        }
    }

    /// A sign-in in another tab: told by its message, or, for a page back from the
    /// back-forward cache, read from the activity it stored. A signed-out tab signs
    /// in too. `here`: the page the tab is on now, where a redirect restore comes
    /// back to.
    fn login_elsewhere(&mut self, here: Option<String>) {
        if let Some(mock) = self.client.mock.clone() {
            if matches!(self.phase, Phase::SignedOut) {
                (mock.sign_in.0)(self, &mock);
            }
            return;
        }
        self.logged_out_marker = false;
        if let Some(here) = here {
            self.here = here;
        }
        // Each tab signs in with its own code exchange: its own token family, so
        // rotated refresh tokens are never shared between tabs. A tab whose start
        // could not reach the provider starts again (the provider answers the other
        // tab); one still discovering it restores next.
        match &mut self.phase {
            Phase::Failed(_) if self.retry.take().is_some() => {
                self.start_again(Then::Restore);
                return;
            }
            Phase::Discovering { then, .. } if matches!(then, Then::SignedOut) => {
                *then = Then::Restore;
                return;
            }
            _ => {}
        }
        if matches!(self.phase, Phase::SignedOut) {
            if self.client.frame {
                if let Some(step) = self.open_frame() {
                    self.phase = Phase::SigningIn { silent: true, step };
                }
            } else if self.client.redirect_restore {
                self.redirect_silently();
            }
        }
    }

    // ----- getting tokens ----------------------------------------------------

    /// An answer to a fetch of `step`. `signing_in`: an ID token is required.
    fn step_http(
        &mut self,
        step: Step,
        result: Result<HttpResponse, String>,
        received: Now,
        signing_in: bool,
    ) -> Outcome {
        match step {
            Step::Token {
                sent,
                nonce,
                max_age,
                ..
            } => {
                let response = match result {
                    Ok(r) => r,
                    Err(e) => return Outcome::Fail(Failure::Unanswered(AuthError::Network(e))),
                };
                match TokenResponse::from_response(&response) {
                    // An answer that waited for the app was sent before it too: the
                    // request's time is not known, only that it was no later.
                    Ok(tokens) => self.start_check(
                        tokens,
                        (nonce, max_age),
                        (sent.min(received), received),
                        signing_in,
                    ),
                    // RFC 6749 section 5.2: the grant is invalid, expired or revoked.
                    Err(TokenError::Provider(e)) if e.error == "invalid_grant" => {
                        Outcome::Fail(Failure::GrantGone)
                    }
                    Err(TokenError::Provider(e)) if BUSY.contains(&e.error.as_str()) => {
                        Outcome::Fail(Failure::Transient(TokenError::Provider(e).into(), None))
                    }
                    // What the status says holds, whatever the body (a gateway's or
                    // a framework's error in JSON has an `error` member too, not
                    // one of RFC 6749 section 5.2). Refused before any work: the
                    // request can be sent again.
                    Err(e) if response.status == 429 || response.status == 408 => {
                        Outcome::Fail(Failure::Transient(e.into(), None))
                    }
                    // A server error: the provider may have done the work behind it.
                    // So may a renewal's 4xx without an OAuth error (RFC 6749 section
                    // 5.2 answers with one): a proxy's, a gateway's or a firewall's
                    // page, not the provider's refusal. (A sign-in's ends it: its
                    // code is not sent again anyway.)
                    Err(e)
                        if response.status >= 500
                            || (!signing_in && matches!(e, TokenError::Status(_))) =>
                    {
                        Outcome::Fail(Failure::Unanswered(e.into()))
                    }
                    Err(e @ TokenError::Malformed(_)) => {
                        Outcome::Fail(Failure::Unanswered(e.into()))
                    }
                    Err(e) => Outcome::Fail(Failure::Fatal(e.into())),
                }
            }
            Step::Keys { check, .. } => {
                let keys = match result {
                    Ok(r) if (200..300).contains(&r.status) => JwkSet::from_json(&r.body)
                        .map(|keys| (keys, r.body))
                        .map_err(AuthError::Keys),
                    Ok(r) => Err(AuthError::Network(format!(
                        "the key set endpoint answered HTTP {}",
                        r.status
                    ))),
                    Err(e) => Err(AuthError::Network(e)),
                };
                match keys {
                    Ok((keys, text)) => {
                        self.set_keys(keys, &text);
                        self.verify(check)
                    }
                    // The answer's tokens are not taken while its ID token is
                    // unchecked (OIDC Core 12.2, 3.1.3.7). Only a refresh's rotated
                    // refresh token is kept: the one sent is spent (RFC 9700 section
                    // 4.14.2). A new authentication's (`nonce`) may be another
                    // user's: its grant ends (RFC 7009).
                    Err(e) => {
                        let check = *check;
                        let rotated = match check.nonce {
                            None => check.response.refresh_token,
                            Some(_) => {
                                if let Some(token) = check.response.refresh_token {
                                    self.revoke(token);
                                }
                                None
                            }
                        };
                        Outcome::Fail(Failure::Transient(e, rotated))
                    }
                }
            }
            other => Outcome::Next(other),
        }
    }

    /// Checks the ID token of a token response. `expected`: the nonce and `max_age`
    /// of the authorization request (none on refresh).
    fn start_check(
        &mut self,
        response: TokenResponse,
        expected: (Option<Nonce>, Option<u64>),
        (sent, received): (Now, Now),
        signing_in: bool,
    ) -> Outcome {
        let (nonce, max_age) = expected;
        // A refresh answer that sends back the ID token the session holds adds
        // nothing: taken as one without an ID token (OIDC Core 12.2 allows that).
        let id_token = response.id_token.clone().filter(|new| match &self.phase {
            Phase::SignedIn(s) if nonce.is_none() => s
                .id_token
                .as_ref()
                .is_none_or(|held| held.secret() != new.secret()),
            _ => true,
        });
        let Some(id_token) = id_token else {
            // A sign-in, or a new authentication renewing the session through the
            // frame (its nonce says so), must carry an ID token (OIDC Core 3.1.3.3):
            // without one nothing shows that the user is the same.
            if signing_in || nonce.is_some() {
                return Outcome::Fail(Failure::Refused(
                    TokenError::Malformed("no id_token in the response".into()).into(),
                    response.refresh_token,
                ));
            }
            return Outcome::Done(Box::new(Acquired {
                response,
                user: None,
                sent,
                received,
                authenticated: false,
            }));
        };
        let check = Box::new(Check {
            response,
            id_token,
            nonce,
            max_age,
            sent,
            received,
            refetched: false,
        });
        if self.keys.is_some() {
            self.verify(check)
        } else if let Some(req) = self.keys_prefetch {
            let mut check = check;
            check.refetched = true;
            Outcome::Next(Step::Keys { req, check })
        } else {
            self.fetch_keys(check)
        }
    }

    /// Fetches the key set beside a token request when it is not known yet.
    fn prefetch_keys(&mut self) {
        if self.keys.is_some() || self.keys_prefetch.is_some() {
            return;
        }
        if let Some(uri) = self.metadata.as_ref().map(|m| m.jwks_uri.clone()) {
            self.keys_prefetch = Some(self.fetch(HttpRequest::get_json(uri)));
        }
    }

    fn fetch_keys(&mut self, mut check: Box<Check>) -> Outcome {
        let Some(uri) = self.metadata.as_ref().map(|m| m.jwks_uri.clone()) else {
            return Outcome::Fail(Failure::Fatal(AuthError::NotLoggedIn));
        };
        check.refetched = true;
        let req = self.fetch(HttpRequest::get_json(uri));
        Outcome::Next(Step::Keys { req, check })
    }

    fn validator(&self) -> IdTokenValidator {
        let mut v = IdTokenValidator::new(&self.client.issuer, &self.client.client_id)
            .leeway(self.client.leeway);
        for aud in &self.client.trusted_audiences {
            v = v.trusted_audience(aud.clone());
        }
        v
    }

    fn verify(&mut self, check: Box<Check>) -> Outcome {
        let Some(keys) = self.keys.clone() else {
            return self.fetch_keys(check);
        };
        let req = self.req();
        let policy = self.validator().algorithm_policy().clone();
        self.emit(Command::Verify {
            req,
            token: check.id_token.secret().to_owned(),
            keys,
            policy,
        });
        Outcome::Next(Step::Verify { req, check })
    }

    fn step_verified(&mut self, step: Step, result: Result<VerifiedJws, JoseError>) -> Outcome {
        let Step::Verify { check, .. } = step else {
            return Outcome::Next(step);
        };
        let verified = match result {
            Ok(v) => v,
            // A key the cached set lacks, none in it that fits the token's algorithm,
            // or a signature it does not verify: the provider may have rotated its
            // keys (OIDC Core 10.1.1). Fetch them once more.
            Err(
                JoseError::UnknownKid(_)
                | JoseError::NoMatchingKey(_)
                | JoseError::InvalidSignature,
            ) if !check.refetched => {
                return self.fetch_keys(check);
            }
            Err(e) => {
                let live = check.response.refresh_token;
                return Outcome::Fail(Failure::Refused(IdTokenError::from(e).into(), live));
            }
        };
        let iat = match crate::core::json::from_bytes(verified.payload()) {
            Ok(IssuedAt { iat }) => iat,
            Err(_) => None,
        };
        // OIDC Core 12.2: a refreshed ID token's `iat` is the time it was issued. One
        // issued before the request (a provider sending back an old token) must not
        // pass, nor set the clock below: that clock would make it, and the access
        // token's `exp`, look fresh.
        if check.nonce.is_none() {
            if let (Some(iat), Some((last_iat, at))) = (iat, self.issued_at) {
                // Less a second: `iat` is truncated to whole seconds.
                let earliest = last_iat
                    .saturating_add(check.sent.mono.saturating_sub(at) / 1000)
                    .saturating_sub(1);
                if iat.saturating_add(self.client.leeway) < earliest {
                    let live = check.response.refresh_token;
                    return Outcome::Fail(Failure::Refused(
                        IdTokenError::StaleRefresh.into(),
                        live,
                    ));
                }
            }
        }
        // Server time: the provider's clock, from the token's `iat` against the middle
        // of the request, so that a client clock minutes off neither rejects a fresh
        // token nor keeps an expired one. A new authentication's token is fresh by
        // construction (it carries this request's nonce); a refreshed one was just
        // bounded above. Kept only if the token passes.
        let offset = iat.map_or(self.offset, |iat| {
            ServerTimeOffset::from_issued_at(
                iat,
                check.sent.wall / 1000,
                check.received.wall / 1000,
            )
        });
        // OIDC Core 3.1.3.7 step 13: `auth_time` checked when `max_age` was sent.
        let claims = self
            .validator()
            .max_age(check.max_age)
            .check_standard_claims(
                &verified,
                check.nonce.as_ref(),
                offset.server_time(self.wall_secs()),
            );
        match claims {
            Ok(claims) => {
                self.offset = offset;
                // Issued at the latest when its answer came.
                if let Some(iat) = iat {
                    self.issued_at = Some((iat, check.received.mono));
                }
                let payload = String::from_utf8_lossy(verified.payload());
                Outcome::Done(Box::new(Acquired {
                    authenticated: check.nonce.is_some(),
                    response: check.response,
                    user: Some(User::new(claims, payload.into())),
                    sent: check.sent,
                    received: check.received,
                }))
            }
            Err(e) => Outcome::Fail(Failure::Refused(e.into(), check.response.refresh_token)),
        }
    }

    fn step_silent(&mut self, step: Step, query: &str) -> Outcome {
        let Step::Frame { pending, .. } = step else {
            return Outcome::Next(step);
        };
        let Some(metadata) = self.metadata.clone() else {
            return Outcome::Fail(Failure::NeedsLogin);
        };
        let params = match CallbackParams::parse(query) {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::Fail(Failure::Fatal(CallbackError::MissingCode.into())),
            Err(e) => return Outcome::Fail(Failure::Fatal(e.into())),
        };
        match pending.validate_callback(&params, &metadata, self.wall_secs()) {
            Ok(code) => {
                let request = authorization_code_request(
                    &metadata,
                    &self.client.client_id,
                    &code,
                    &pending.code_verifier,
                    &pending.redirect_uri,
                );
                let sent = self.now;
                let req = self.fetch(request);
                self.prefetch_keys();
                Outcome::Next(Step::Token {
                    req,
                    sent,
                    nonce: Some(pending.nonce),
                    max_age: pending.max_age,
                })
            }
            Err(CallbackError::Provider(e)) if NEEDS_INTERACTION.contains(&e.error.as_str()) => {
                Outcome::Fail(Failure::NeedsLogin)
            }
            // OIDC Core 3.1.2.6 (OAuth 2.0 4.1.2.1): the provider is busy or failed;
            // worth another try, as at the token endpoint.
            Err(CallbackError::Provider(e)) if BUSY.contains(&e.error.as_str()) => {
                Outcome::Fail(Failure::Transient(CallbackError::Provider(e).into(), None))
            }
            Err(e) => Outcome::Fail(Failure::Fatal(e.into())),
        }
    }

    // ----- outcomes ----------------------------------------------------------

    fn signing_in(&mut self, silent: bool, outcome: Outcome) {
        // The refresh token of an answer refused for its ID token is live at the
        // provider: its grant ends (RFC 7009).
        let outcome = match outcome {
            Outcome::Fail(Failure::Refused(e, live)) => {
                if let Some(token) = live {
                    self.revoke(token);
                }
                Outcome::Fail(Failure::Fatal(e))
            }
            other => other,
        };
        match outcome {
            Outcome::Next(step) => self.phase = Phase::SigningIn { silent, step },
            Outcome::Done(acquired) => {
                let Acquired {
                    response,
                    user,
                    sent,
                    received,
                    ..
                } = *acquired;
                let Some(user) = user else {
                    self.phase = Phase::Failed(AuthError::NotLoggedIn);
                    return;
                };
                let signed_in = self.new_signed_in(user, response, (sent, received));
                self.phase = Phase::SignedIn(Box::new(signed_in));
                self.last_seen = self.now;
                self.idle_logged_out = false;
                self.lost = false;
                self.mark_signed_in();
                self.store_activity();
                if self.logged_out_marker {
                    self.logged_out_marker = false;
                    self.emit(Command::Store {
                        slot: Slot::LoggedOut,
                        value: None,
                    });
                }
                if !silent {
                    self.tell_login();
                }
            }
            // A silent attempt that needs the user, or that failed, leaves the app
            // signed out: never an error loop. A busy or unreachable provider is
            // asked again by the next load.
            Outcome::Fail(Failure::Transient(..) | Failure::Unanswered(_)) if silent => {
                self.leave(Phase::SignedOut);
                self.retry_when_online();
            }
            // Offline, the frame only met the browser's error page: it says nothing
            // of the provider's session.
            Outcome::Fail(Failure::FrameTimeout) if silent && self.offline => {
                self.leave(Phase::SignedOut);
                self.retry_when_online();
            }
            Outcome::Fail(_) if silent => self.forget_session(),
            Outcome::Fail(failure) => {
                let error = match failure {
                    Failure::Transient(e, _)
                    | Failure::Unanswered(e)
                    | Failure::Fatal(e)
                    | Failure::Refused(e, _) => e,
                    Failure::GrantGone => TokenError::Provider(crate::core::OAuthError {
                        error: "invalid_grant".into(),
                        error_description: None,
                        error_uri: None,
                    })
                    .into(),
                    Failure::NeedsLogin | Failure::FrameTimeout => AuthError::NotLoggedIn,
                };
                self.leave(Phase::Failed(error));
            }
        }
    }

    /// The session of tokens requested at `sent` and received at `received`: their
    /// lifetimes count from `sent`, as the provider may have issued them any time
    /// after (a slow answer must not make them look valid longer than they are).
    fn new_signed_in(
        &self,
        user: User<RawClaims>,
        response: TokenResponse,
        (sent, received): (Now, Now),
    ) -> SignedIn {
        let lifetime = self.lifetime(&response, received);
        let idle = self.idle_lifetime(&response).map(|ms| (sent, ms));
        SignedIn {
            authenticated: user.clone(),
            user,
            id_token: response.id_token,
            access: response.access_token,
            refresh: response.refresh_token,
            doubtful: None,
            frame_wants_user: false,
            last_resort: false,
            got: sent,
            lifetime,
            idle,
            renewal: None,
            retry: None,
            error: None,
            via: self.signing_via,
            renewals: 0,
            last_renewal: None,
        }
    }

    /// The access token's lifetime (ms): `expires_in` (relative, so immune to clock
    /// skew), else the JWT's `exp` in server time, else `DEFAULT_LIFETIME_MS`. A zero
    /// or past lifetime counts as unknown, so it cannot make renewal loop. Read from
    /// `exp`, it is at most the JWT's own `exp - iat` (see [`bounded`]).
    fn lifetime(&self, response: &TokenResponse, received: Now) -> u64 {
        let server_now = self.offset.server_time(received.wall / 1000);
        let own = match response.expires_in {
            Some(secs) if secs > 0 => None,
            _ => {
                crate::core::jose::dangerous::insecure_jwt_lifetime(response.access_token.secret())
                    .filter(|secs| *secs > 0)
            }
        };
        let by_clock = response
            .access_token_expires_at(server_now)
            .map(|exp| exp.saturating_sub(server_now));
        bounded(by_clock, own)
            .map_or(DEFAULT_LIFETIME_MS, |secs| secs.saturating_mul(1000))
            .min(own.map_or(u64::MAX, |secs| secs.saturating_mul(1000)))
    }

    /// The refresh token's (provider session's) idle lifetime (ms), when known: as
    /// [`lifetime`](Self::lifetime) reads the access token's.
    fn idle_lifetime(&self, response: &TokenResponse) -> Option<u64> {
        let server_now = self.server_secs();
        let own = match response.refresh_expires_in {
            Some(secs) if secs > 0 => None,
            _ => response
                .refresh_token
                .as_ref()
                .and_then(|t| crate::core::jose::dangerous::insecure_jwt_lifetime(t.secret())),
        };
        let by_clock = response
            .refresh_token_expires_at(server_now)
            .map(|exp| exp.saturating_sub(server_now));
        bounded(by_clock, own)
            .or(own.filter(|secs| *secs > 0))
            .map(|secs| secs.saturating_mul(1000))
            .or(self.client.keep_alive_ms)
    }

    fn mark_signed_in(&mut self) {
        let ttl = match &self.phase {
            Phase::SignedIn(s) => s.idle.map_or(MARKER_TTL_MS, |(_, ms)| ms),
            _ => MARKER_TTL_MS,
        };
        let until = self.now.wall.saturating_add(ttl);
        self.emit(Command::Store {
            slot: Slot::SignedIn,
            value: Some(until.to_string()),
        });
    }

    fn renewed(&mut self, outcome: Outcome) {
        if !matches!(self.phase, Phase::SignedIn(_)) {
            return;
        }
        match outcome {
            Outcome::Next(step) => {
                if let Phase::SignedIn(s) = &mut self.phase {
                    s.renewal = Some(step);
                }
            }
            Outcome::Done(acquired) => {
                let Acquired {
                    response,
                    user,
                    sent,
                    received,
                    authenticated,
                } = *acquired;
                if let Some(user) = user {
                    let continuity = match &self.phase {
                        // A silent re-authentication: it must be the same user.
                        Phase::SignedIn(s) if authenticated => {
                            let (a, b) = (s.user.claims(), user.claims());
                            if a.iss == b.iss && a.standard.sub == b.standard.sub {
                                Ok(())
                            } else {
                                Err(IdTokenError::RefreshMismatch("sub"))
                            }
                        }
                        // OIDC Core 12.2: a refreshed ID token names the same iss,
                        // sub, aud, azp and auth_time as the first one.
                        // Checked against the authentication's: the last refreshed
                        // token may have left `auth_time` or `nonce` out.
                        Phase::SignedIn(s) => {
                            check_refresh_continuity(s.authenticated.claims(), user.claims())
                        }
                        _ => Ok(()),
                    };
                    if let Err(e) = continuity {
                        // The refresh token this answer brings is the live one.
                        self.end_failed(e.into(), response.refresh_token);
                        return;
                    }
                    if let Phase::SignedIn(s) = &mut self.phase {
                        // The checked user is the one later refreshes are checked
                        // against (OIDC Core 12.2: after a silent re-authentication,
                        // its new `nonce` and `auth_time`). The app re-renders only
                        // when the user's lasting claims changed: `publish` compares
                        // those.
                        if authenticated {
                            s.authenticated = user.clone();
                        }
                        s.user = user;
                    }
                }
                self.adopt(response, (sent, received));
                if let Phase::SignedIn(s) = &mut self.phase {
                    s.renewals = s.renewals.saturating_add(1);
                    let how = if authenticated {
                        RenewalMethod::Frame
                    } else {
                        RenewalMethod::Refresh
                    };
                    s.last_renewal = Some((received.wall, how));
                }
                self.mark_signed_in();
            }
            Outcome::Fail(Failure::NeedsLogin) => {
                // The silent frame wants the user, but a refresh token whose answer
                // was lost may still be good (the request may never have arrived):
                // it is tried, now, before the session is given up.
                let now = self.now.mono;
                match &mut self.phase {
                    Phase::SignedIn(s) if s.doubtful.is_some() && !s.last_resort => {
                        s.refresh = s.doubtful.take();
                        s.frame_wants_user = true;
                        s.last_resort = true;
                        let attempt = s.retry.map_or(1, |(_, a)| a);
                        s.retry = Some((now, attempt));
                    }
                    _ => {
                        // A doubtful token that had its last try: its grant, and any
                        // the lost answer began, end at the provider (RFC 7009).
                        let held = self.held_refresh();
                        self.session_lost();
                        if let Some(token) = held {
                            self.revoke(token);
                        }
                    }
                }
            }
            // The refresh token is refused (revoked, idled out, its family ended).
            // That ends this tab's grant, not necessarily the provider session: each
            // tab has a grant of its own, and a provider may let a client's grant
            // idle out before the user's session (Keycloak's client and SSO
            // session idle times). Where the silent frame can ask, it asks once;
            // only its `login_required` ends the session in every tab.
            Outcome::Fail(Failure::GrantGone) => {
                let refused_refresh = matches!(&self.phase,
                    Phase::SignedIn(s) if s.refresh.is_some() && !s.frame_wants_user);
                // A grant refused after its own idle lifetime ran out (the tab was
                // asleep or frozen past it) tells nothing of the other tabs' grants,
                // which their tabs kept alive: this tab's session ends, alone.
                let idled_out = matches!(&self.phase,
                    Phase::SignedIn(s) if s.idle.is_some_and(|(at, ms)| elapsed(self.now, at) >= ms));
                if refused_refresh && idled_out && !self.client.frame {
                    self.end_here();
                    self.lost = true;
                    return;
                }
                if !(refused_refresh && self.client.frame) {
                    self.session_lost();
                    return;
                }
                if let Phase::SignedIn(s) = &mut self.phase {
                    s.refresh = None;
                    s.doubtful = None;
                }
                match self.open_frame() {
                    Some(step) => {
                        if let Phase::SignedIn(s) = &mut self.phase {
                            s.renewal = Some(step);
                        }
                    }
                    None => self.session_lost(),
                }
            }
            Outcome::Fail(Failure::Unanswered(error)) => {
                // Never the same refresh token twice while the silent frame can
                // renew: the provider may have rotated it (RFC 9700 section 4.14.2).
                let offline = self.offline;
                if self.client.frame {
                    if let Phase::SignedIn(s) = &mut self.phase {
                        if let Some(token) = s.refresh.take() {
                            s.doubtful = Some(token);
                            // Tried while the browser was offline, it most likely never
                            // left: that was not the last try.
                            if offline {
                                s.last_resort = false;
                            }
                        }
                    }
                }
                self.back_off(error);
            }
            Outcome::Fail(Failure::Transient(error, rotated)) => {
                // A rotated refresh token must not be lost to a transient error; the
                // rest of that answer waits for a checked ID token (the next try).
                if let (Some(token), Phase::SignedIn(s)) = (rotated, &mut self.phase) {
                    s.refresh = Some(token);
                    // A new token, never presented: its own last resort stays.
                    s.last_resort = false;
                }
                self.back_off(error);
            }
            Outcome::Fail(Failure::FrameTimeout) => {
                // The frame cannot renew now. Once the access token has run out, a
                // refresh token whose answer was lost is tried after all: the
                // session could not go on without it.
                let now = self.now;
                if let Phase::SignedIn(s) = &mut self.phase {
                    if s.expired(now) && s.doubtful.is_some() && !s.last_resort {
                        s.refresh = s.doubtful.take();
                        s.last_resort = true;
                    }
                }
                self.back_off(AuthError::Network(
                    "the silent sign-in got no answer".into(),
                ))
            }
            Outcome::Fail(Failure::Fatal(e)) => self.end_failed(e, None),
            Outcome::Fail(Failure::Refused(e, live)) => self.end_failed(e, live),
        }
    }

    /// Ends the session after a renewal failed for good, with an error the app shows.
    /// Its grants end at the provider (RFC 7009): `live`, a refresh token the failed
    /// answer brought (a new one of the grant, or a new grant's), and the one held.
    fn end_failed(&mut self, error: AuthError, live: Option<RefreshToken>) {
        let held = self.held_refresh();
        self.leave(Phase::Failed(error));
        self.emit(Command::Store {
            slot: Slot::SignedIn,
            value: None,
        });
        for token in live.into_iter().chain(held) {
            self.revoke(token);
        }
    }

    /// Takes the tokens of a renewal (their lifetimes count from `sent`, as in
    /// [`new_signed_in`](Self::new_signed_in)).
    fn adopt(&mut self, response: TokenResponse, (sent, received): (Now, Now)) {
        let lifetime = self.lifetime(&response, received);
        let idle = self.idle_lifetime(&response);
        let Phase::SignedIn(s) = &mut self.phase else {
            return;
        };
        s.access = response.access_token;
        s.got = sent;
        s.lifetime = lifetime;
        // RFC 6749 section 6: without a new refresh token the old one stays valid.
        if let Some(rt) = response.refresh_token {
            s.refresh = Some(rt);
        }
        if let Some(id) = response.id_token {
            s.id_token = Some(id);
        }
        // A new token family (the silent frame's): the doubtful one is left to expire.
        s.doubtful = None;
        s.frame_wants_user = false;
        s.last_resort = false;
        // The renewal restarted the provider session's idle clock: with the length
        // this answer gives, or else the last one known (an answer without
        // `refresh_expires_in` would otherwise leave keep-alive due after every
        // renewal, and each activity would start another).
        if let Some(ms) = idle.or(s.idle.map(|(_, ms)| ms)) {
            s.idle = Some((sent, ms));
        }
        s.retry = None;
        s.error = None;
    }

    fn back_off(&mut self, error: AuthError) {
        let now = self.now.mono;
        if let Phase::SignedIn(s) = &mut self.phase {
            let attempt = s.retry.map_or(0, |(_, a)| a).saturating_add(1);
            let wait = 1000u64
                .saturating_mul(1 << (attempt - 1).min(6))
                .min(MAX_BACKOFF_MS);
            s.retry = Some((now.saturating_add(wait), attempt));
            s.error = Some(error);
        }
    }

    /// The user worked in some tab of the app since `s`'s tokens came: its grant
    /// is kept alive, each tab's own (a hidden tab's grant idling out at the
    /// provider would sign every tab out).
    fn worked_since(&self, s: &SignedIn) -> bool {
        self.worked > s.got.mono
    }

    fn can_renew(&self, s: &SignedIn) -> bool {
        s.refresh.is_some() || self.client.frame || s.via == SignInMethod::Mock
    }

    /// Starts a renewal that fell due: lazily for waiting callers, ahead of time for
    /// an active user, or to keep the provider session alive while the user works.
    fn poll(&mut self) {
        let now = self.now;
        let active = self.visible && now.mono.saturating_sub(self.last_activity) < ACTIVE_WINDOW_MS;
        let Phase::SignedIn(s) = &self.phase else {
            return;
        };
        let due = s.due(now, &self.client);
        let wanted = !self.waiters.is_empty() && due;
        // Backing off, unless a caller has just asked for a token that has expired:
        // then that call tries once more (at the user's pace, never in a loop).
        let asked = self.asked;
        let backing_off = s.retry.is_some_and(|(until, _)| now.mono < until);
        if s.renewal.is_some() || (backing_off && !(asked && s.expired(now))) {
            return;
        }
        // A mock session has no provider to ask: its token is made anew (through
        // the mock user, so that an app without one links none of it).
        if let (SignInMethod::Mock, Some(mock)) = (s.via, self.client.mock.clone()) {
            if due {
                (mock.sign_in.0)(self, &mock);
            }
            return;
        }
        let ahead = self.client.renew_ahead && active && due;
        let keep_alive = self.worked_since(s) && s.keep_alive_due(now);
        let retrying = s.retry.is_some() && due;
        let expired = s.expired(now);
        let refresh = s.refresh.clone();
        if !(wanted || ahead || keep_alive || retrying || (expired && !self.can_renew(s))) {
            return;
        }
        if let Some(rt) = refresh {
            let Some(metadata) = self.metadata.clone() else {
                return;
            };
            let request = refresh_request(&metadata, &self.client.client_id, &rt);
            let req = self.fetch(request);
            if let Phase::SignedIn(s) = &mut self.phase {
                s.renewal = Some(Step::Token {
                    req,
                    sent: now,
                    nonce: None,
                    max_age: None,
                });
            }
        } else if self.client.frame {
            let step = self.open_frame();
            if let Phase::SignedIn(s) = &mut self.phase {
                s.renewal = step;
            }
        } else if expired {
            // Nothing can renew it: the session is over.
            self.forget_session();
        }
    }

    /// Answers the callers waiting for a token, once the phase can.
    fn settle(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let now = self.now;
        let answer: Option<Result<AccessToken, AuthError>> = match &self.phase {
            Phase::SignedIn(s) => {
                // A renewal under way is waited for only in the second half of the
                // margin: before that the current token is good enough for a request,
                // and a slow provider holds up no caller.
                let waiting_on_renewal =
                    s.renewal.is_some() && s.remaining(now) <= s.margin(&self.client) / 2;
                if waiting_on_renewal {
                    None
                } else if !s.expired(now) {
                    Some(Ok(s.access.clone()))
                } else {
                    Some(Err(s.error.clone().unwrap_or(AuthError::TokenExpired)))
                }
            }
            Phase::Idle | Phase::Discovering { .. } | Phase::SigningIn { .. } => None,
            Phase::SignedOut | Phase::Redirecting | Phase::Failed(_) => {
                Some(Err(AuthError::NotLoggedIn))
            }
        };
        if let Some(result) = answer {
            for waiter in std::mem::take(&mut self.waiters) {
                self.out.push(Command::Resolve {
                    waiter,
                    result: result.clone(),
                });
            }
        }
    }

    pub(crate) fn state(&self) -> AuthState<RawClaims> {
        match &self.phase {
            Phase::Idle
            | Phase::Discovering { .. }
            | Phase::SigningIn { .. }
            | Phase::Redirecting => AuthState::Pending,
            Phase::SignedOut => AuthState::LoggedOut,
            Phase::SignedIn(s) => AuthState::LoggedIn(s.user.clone()),
            Phase::Failed(e) => AuthState::Failed(e.clone()),
        }
    }

    /// `Publish` is the only writer of what the app shows: sent when it changes.
    fn publish(&mut self) {
        let state = self.state();
        // A user whose claims are the same but for those each token has anew (a
        // renewal's times, a silent re-authentication's nonce) is not news.
        // Kept as the one compared with next (so the claims are parsed only when the
        // user changes).
        let same = match (&self.published, &state) {
            (Some(AuthState::LoggedIn(a)), AuthState::LoggedIn(b)) => a.same_user_claims(b),
            (Some(published), state) => published.same_as(state),
            (None, _) => false,
        };
        if same {
            self.published = Some(state);
        } else {
            self.published = Some(state.clone());
            self.out.push(Command::Publish(state));
        }
        if self.published_countdown != Some(self.countdown) {
            self.published_countdown = Some(self.countdown);
            self.out.push(Command::Countdown(self.countdown));
        }
        let info = self.info();
        if self.published_info.as_ref() != Some(&info) {
            self.published_info = Some(info.clone());
            self.out.push(Command::Info(info));
        }
    }

    fn info(&self) -> SessionInfo {
        let mut info = SessionInfo {
            idle_logged_out: self.idle_logged_out,
            session_lost: self.lost,
            ..SessionInfo::default()
        };
        if let Phase::SignedIn(s) = &self.phase {
            info.signed_in_via = Some(s.via);
            info.access_token_expires_at = Some(s.got.wall.saturating_add(s.lifetime));
            info.last_renewal = s.last_renewal;
            info.renewals = s.renewals;
            info.idle_timeout_ms = self.idle_timeout(s);
        }
        info
    }
}

/// A mock session for `mock`: its ID token claims and an unsigned access token
/// (`alg` `none`) that only a backend in mock mode accepts.
fn mock_session(client: &Client, mock: &MockUser, now: Now) -> Result<SignedIn, AuthError> {
    use crate::core::json::{write_str, ObjectWriter};
    let iat = now.wall / 1000;
    let exp = iat.saturating_add(MOCK_LIFETIME_MS / 1000);
    let mut payload = String::new();
    let mut id = ObjectWriter::new(&mut payload);
    id.str("sub", &mock.sub)
        .str("iss", &client.issuer)
        .str("aud", &client.client_id)
        .u64("iat", iat)
        .u64("exp", exp);
    for (name, json) in &mock.claims {
        let mut key = String::new();
        write_str(&mut key, name);
        id.raw_name(&key, json);
    }
    id.end();
    let claims = crate::core::IdTokenClaims::standard_from_json(payload.as_bytes())
        .map_err(|e| AuthError::Claims(e.to_string()))?;
    let user = User::new(claims, payload.into());
    let audience = mock.audience.as_deref().unwrap_or(&client.client_id);
    let scope = client.scopes.join(" ");
    let jti = format!("mock-{}", now.wall);
    let mut at = String::new();
    ObjectWriter::new(&mut at)
        .str("iss", &client.issuer)
        .str("sub", &mock.sub)
        .str("aud", audience)
        .str("client_id", &client.client_id)
        .str("scope", &scope)
        .u64("iat", iat)
        .u64("exp", exp)
        .str("jti", &jti)
        .end();
    let header = r#"{"alg":"none","typ":"at+jwt"}"#;
    let token = format!(
        "{}.{}.",
        crate::core::b64::encode(header.as_bytes()),
        crate::core::b64::encode(at.as_bytes())
    );
    Ok(SignedIn {
        authenticated: user.clone(),
        user,
        id_token: None,
        access: AccessToken::new(token),
        refresh: None,
        doubtful: None,
        frame_wants_user: false,
        last_resort: false,
        got: now,
        lifetime: MOCK_LIFETIME_MS,
        idle: None,
        renewal: None,
        retry: None,
        error: None,
        via: SignInMethod::Mock,
        renewals: 0,
        last_renewal: None,
    })
}

/// A document's text; it was read as JSON, so it is UTF-8.
fn text_of(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(all(test, feature = "rust-crypto"))]
impl Machine {
    /// Feeds everything in this session that can change, secrets included, into `h`:
    /// the model check's identity of states. The client never changes; the provider's
    /// metadata and key set are read from the texts hashed here. Every field is named,
    /// so a new one cannot be left out unnoticed.
    pub(crate) fn fingerprint(&self, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        let Machine {
            client: _,
            tab,
            metadata: _,
            keys: _,
            metadata_text,
            keys_text,
            provider_at,
            early,
            early_template,
            asked,
            keys_prefetch,
            phase,
            next_req,
            waiters,
            offset,
            issued_at,
            here,
            last_activity,
            worked,
            last_seen,
            shared_at,
            unshared,
            countdown,
            published_countdown,
            published_info,
            idle_logged_out,
            lost,
            retry,
            idle_held,
            abandoned,
            signing_via,
            revocation,
            offline,
            visible,
            hidden_at,
            logged_out_marker,
            published,
            now,
            out,
        } = self;
        (
            tab,
            metadata_text,
            keys_text,
            provider_at,
            early_template,
            asked,
        )
            .hash(h);
        (
            last_activity,
            worked,
            shared_at,
            countdown,
            idle_logged_out,
            issued_at,
            here,
        )
            .hash(h);
        (
            offline,
            visible,
            logged_out_marker,
            lost,
            idle_held,
            unshared,
            hidden_at,
        )
            .hash(h);
        crate::core::reveal::with(|| {
            format!(
                "{early:?}|{keys_prefetch:?}|{phase:?}|{next_req:?}|{waiters:?}|{offset:?}|\
                 {last_seen:?}|{published_countdown:?}|{published_info:?}|{signing_via:?}|\
                 {revocation:?}|{published:?}|{now:?}|{out:?}|{retry:?}|{abandoned:?}"
            )
            .hash(h);
        });
    }
}
