//! The browser driver: carries out the session machine's commands with web APIs
//! (`fetch` with a timeout and a size cap, WebCrypto, a timer, storage, a
//! `BroadcastChannel`, the hidden iframe, navigation) and posts the results back as
//! events. It knows no UI framework: the Leptos layer (and any other) subscribes to
//! the published state and sends events.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use js_sys::{Array, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
#[cfg(test)]
use wasm_bindgen_futures::JsFuture;

#[cfg(test)]
use crate::core::jose::AsyncSignatureVerifier;
use crate::core::jose::{Algorithm, JoseError, Jwk, UnverifiedJws};
use crate::core::{AccessToken, HttpRequest, HttpResponse};
use crate::session::machine::{
    store_wins, Command, EarlyFrame, Event, Machine, Now, PageUrl, ReqId, StartInfo, TabMessage,
    WaiterId,
};
use crate::session::{AuthError, AuthState, Client, OidcConfig, RawClaims, SessionInfo, Slot};

#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

/// Largest response body accepted from the provider.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Activity events are passed on at most this often (ms): well under the shortest
/// useful gap between the last activity and the idle warning.
const ACTIVITY_THROTTLE_MS: f64 = 1_000.0;

/// Text of a rejection of the driver's JavaScript (it rejects with messages).
pub(crate) fn js_error(e: JsValue) -> String {
    e.as_string()
        .unwrap_or_else(|| "the browser gave no reason".to_owned())
}

/// Response headers the driver reads: the members after the status and body in an
/// answer of `request` (below), in this order.
const RESPONSE_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "dpop-nonce",
    "www-authenticate",
];

/// Browser IO in a few lines of JavaScript, which replace many times their size in
/// wasm. The driver keeps every decision (what to send, what an answer means); these
/// only carry the bytes. The source is `driver.js`, beside this file. It is part of
/// the page's inline script, [`EARLY_RESTORE_SCRIPT`](crate::EARLY_RESTORE_SCRIPT)
/// (minified, with `src/session/early.js`, by `scripts/minify-js`), which puts them
/// in the page's `__oidcLeptos` object: a module file of their own would be one more
/// request before the app can start, and a file whose name has no hash of its content
/// is checked with the server again on every load. A page without the script cannot
/// start a session ([`script_ready`]).
///
/// - `request(url, method, headers, body, timeout, cap)`: `fetch` with a timeout (an
///   `AbortController`) and a size cap, counted as the body arrives (a chunked body
///   has no length to check first); no time left (0 ms) is a timeout at once, not
///   a race with the answer. No redirect is followed: each URL used was checked
///   (https), where a redirect leads was not. `headers` holds names and values, a
///   line each.
///   Resolves to `[status, body, ...RESPONSE_HEADERS values]`, an error message, or
///   `null` when the timeout ran out first. When the page's early restore script
///   already sent this very code exchange (the same URL and the same form members, in
///   any order), its answer is taken instead, once, within the same timeout, with a
///   seventh element: how long (ms) it had waited for the app. (When the timeout runs
///   out first, that answer is revoked once it comes: nobody takes it.)
/// - `listen(channel, post)`: the page events the session follows, each handed to
///   `post(kind, data)` (see [`PageEvent`]): user activity (pointer, keys, focus,
///   wheel, touch, scroll), online and offline, visibility, a return from the
///   back-forward cache, the messages of the tabs' `BroadcastChannel` named
///   `channel` (a tab alone when the browser has none) and the session's timer.
///   Returns `[remove, send, arm, reply, answer]`: `remove()` removes them all,
///   closes the channel and stops the timer (and nothing is posted any more),
///   `send(message)` posts to the other tabs, `arm(ms)` sets the timer (a negative
///   delay stops it; not `gloo-timers`: a `Timeout` closure per deadline cost 306 B
///   gzip on the minimal page), `reply(kind, req)` makes a function that posts its
///   argument `value` as `post(kind, [req, value])`, and `answer(promise, req)` posts the
///   promise's value as `[req, value]` with kind 9, or the message of its rejection
///   with kind 10.
/// - `page()`: `[origin, path, query, fragment, hidden, online]` of the page now.
/// - `go(how, url)`: navigation: 0 to `url`, 1 to `url` in place of this entry, 2 a
///   reload, 3 the address bar set to `url` without loading.
/// - `store(shared, key, write, value)`: the tab's session storage (the origin's
///   local storage when `shared`): reads `key` (`undefined` when absent), or with
///   `write` sets it to `value` or removes it (`undefined`). Storage the browser
///   refuses (blocked, full) keeps nothing and reads as absent. (Not `gloo-storage`:
///   its typed API cost 794 B gzip in the example, and it JSON-encodes values a
///   second time, which the early restore script reads directly.)
/// - `clock(wall)`: `Date.now()` with `wall`, `performance.now()` otherwise.
/// - `frame(url, answer, grace)`: opens the hidden silent frame at `url`. Its answer (the
///   query of the address it landed on) goes to `answer`: read from the frame itself
///   as soon as it is back on the app's origin at the request's `redirect_uri` (the
///   same address up to the query, not one merely starting with it; checked
///   every few milliseconds, before the silent callback page has even run), or taken
///   from a `message` of that frame's window on the app's own origin (what the silent
///   callback page posts). A frame that stays on a page it loaded (an error page
///   when the provider cannot be reached, a provider page that ignores
///   `prompt=none`) for `grace` ms, time for a scripted redirect to leave it, gets
///   `null`: no answer will come. Returns `[close, frame]`: `close()` ends both
///   at once and removes the frame in a task of its own (a removal holds up the page
///   for a few milliseconds: the requests the answer leads to leave first).
/// - `early(key)`, `adoptEarly(answer)`, `closeEarly()`: the silent frame the early
///   restore script opened. `early(key)` is `[key, state, nonce, verifier, created]`
///   the first time it is asked with the key of the cached provider the script used,
///   then `undefined` (one session takes it: its request is single use; a session
///   of another app does not); `adoptEarly` hands its answer's query to `answer`
///   (now, or when it comes), or `null` when that frame stayed on a page of its own
///   as above. `early` clears the state, nonce and verifier it hands over from the
///   page. `closeEarly` removes its frame (and stops one not made yet); the code
///   exchange the script sent for the frame's answer, if the app does not take it in
///   the same task (the machine closes the frame as it goes on with the answer),
///   leaves the page and is revoked.
/// - `forgoEarly()`: the code exchange the script sent for the page's callback is not
///   wanted (the app refused the callback): it leaves the page and is revoked.
/// - `warning(list, dialog, seconds, class, title, label, testId, custom, stay)`:
///   makes `dialog` an auto-logout warning (see [`Driver::add_warning`]) and adds it
///   to `list`, in a microtask: the dialog is being built, its message (the first
///   child) and its place in the page come right after the call.
///   `warnings(list, seconds)` shows the seconds left in each dialog of `list` still
///   in the page (and forgets the others), or hides them (`undefined`).
/// - `verify(jwk, importAlg, verifyAlg, signature, input)`: a WebCrypto signature
///   check (the key and the algorithms as JSON). Resolves to whether the signature is
///   valid; rejects (with the message) when the key cannot be imported.
#[wasm_bindgen::prelude::wasm_bindgen(js_namespace = __oidcLeptos)]
extern "C" {
    #[wasm_bindgen(js_name = request)]
    fn js_request(
        url: &str,
        method: &str,
        headers: &str,
        body: Vec<u8>,
        timeout_ms: f64,
        cap: f64,
    ) -> js_sys::Promise;

    #[wasm_bindgen(js_name = listen)]
    fn js_listen(channel: &str, post: &js_sys::Function) -> Array;

    #[wasm_bindgen(js_name = page)]
    fn js_page() -> Array;

    #[wasm_bindgen(js_name = go)]
    fn js_go(how: u32, url: &str);

    #[wasm_bindgen(js_name = store)]
    fn js_store(shared: bool, key: &str, write: bool, value: Option<&str>) -> Option<String>;

    #[wasm_bindgen(js_name = clock)]
    fn js_clock(wall: bool) -> f64;

    #[wasm_bindgen(js_name = warning)]
    #[allow(clippy::too_many_arguments)]
    fn js_warning(
        list: &Array,
        dialog: &web_sys::Element,
        seconds: Option<u32>,
        class: &str,
        title: &str,
        label: &str,
        test_id: Option<&str>,
        custom: bool,
        stay: &JsValue,
    );

    #[wasm_bindgen(js_name = warnings)]
    fn js_warnings(list: &Array, seconds: Option<u32>);

    #[wasm_bindgen(js_name = frame)]
    fn js_frame(url: &str, answer: &js_sys::Function, grace_ms: u32) -> Array;

    #[wasm_bindgen(js_name = early)]
    fn js_early(key: &str) -> JsValue;

    #[wasm_bindgen(js_name = adoptEarly)]
    fn js_adopt_early(answer: &js_sys::Function);

    #[wasm_bindgen(js_name = closeEarly)]
    fn js_close_early();

    #[wasm_bindgen(js_name = forgoEarly)]
    fn js_forgo_early();

    #[wasm_bindgen(js_name = verify)]
    fn js_verify(
        jwk: &str,
        import_alg: &str,
        verify_alg: &str,
        signature: Vec<u8>,
        input: Vec<u8>,
    ) -> js_sys::Promise;
}

/// Whether the page ran the library's script, [`EARLY_RESTORE_SCRIPT`], of this
/// version of the library: its functions are the driver's IO, and nothing of the
/// driver may be called without them. A copy of another version (an `index.html`
/// not updated with the crate) may lack a function or take other arguments.
///
/// [`EARLY_RESTORE_SCRIPT`]: crate::EARLY_RESTORE_SCRIPT
pub(crate) fn script_ready() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"__oidcLeptos".into())
        .and_then(|object| js_sys::Reflect::get(&object, &"v".into()))
        .ok()
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == crate::session::SCRIPT_VERSION)
}

/// Runs [`EARLY_RESTORE_SCRIPT`] in the page, for a page whose HTML does not carry it:
/// a test page (`wasm-bindgen-test` makes its own), say. Call it before an
/// [`OidcProvider`](crate::OidcProvider) starts. Returns whether the page has the
/// script now (a Content-Security-Policy that does not allow it refuses it here too).
///
/// An app's `index.html` should carry the script instead: with this, the wasm carries
/// it too (3.8 KB gzip), and what it starts before the app loads (a reload's silent
/// sign-in, a callback's code exchange) starts only when this is called. Nor is it a
/// fix for a page with another version's copy: that copy has already started its
/// early part.
///
/// [`EARLY_RESTORE_SCRIPT`]: crate::EARLY_RESTORE_SCRIPT
pub fn add_page_script() -> bool {
    if !script_ready() {
        run_page_script();
    }
    script_ready()
}

/// Runs [`EARLY_RESTORE_SCRIPT`](crate::EARLY_RESTORE_SCRIPT) in the page now, as an
/// inline script of the page would run.
pub(crate) fn run_page_script() {
    if let Some((script, root)) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| Some((d.create_element("script").ok()?, d.document_element()?)))
    {
        script.set_text_content(Some(crate::EARLY_RESTORE_SCRIPT));
        // An inline script runs as it is inserted, and has no use in the page after.
        if root.append_child(&script).is_ok() {
            script.remove();
        }
    }
}

/// What the auto-logout warning shows, besides the seconds left.
pub(crate) struct WarningParts<'a> {
    /// The dialog's class, and the prefix of its parts' classes.
    pub class: &'a str,
    /// The title.
    pub title: &'a str,
    /// The button's label.
    pub label: &'a str,
    /// A `data-testid` for the dialog.
    pub test_id: Option<&'a str>,
    /// The app's children replace the message.
    pub custom: bool,
}

/// `fetch` with a timeout (an `AbortController`) and a size cap. When the page's
/// early restore script already sent this very code exchange (same URL, same form
/// members), its answer is taken instead, once. (The driver sends with [`send`] and
/// reads the answer with [`answer_of`] itself, awaiting only the promise.)
#[cfg(test)]
pub(crate) async fn fetch(request: HttpRequest, timeout_ms: u64) -> Result<HttpResponse, String> {
    fetch_waited(request, timeout_ms).await.0
}

/// [`fetch`], and how long its answer waited for the app (see [`answer_of`]).
#[cfg(test)]
pub(crate) async fn fetch_waited(
    request: HttpRequest,
    timeout_ms: u64,
) -> (Result<HttpResponse, String>, u64) {
    let (url, sent) = send(request, timeout_ms);
    answer_of(&url, timeout_ms, JsFuture::from(sent).await)
}

/// Sends `request` (see [`fetch`]): its URL, and the promise of its answer.
fn send(request: HttpRequest, timeout_ms: u64) -> (String, js_sys::Promise) {
    let HttpRequest {
        method,
        url,
        headers,
        body,
    } = request;
    // Names and values, a line each: neither holds a line break (RFC 9110 section 5).
    let headers = headers
        .iter()
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect::<Vec<_>>()
        .join("\n");
    let sent = js_request(
        &url,
        method.as_str(),
        &headers,
        body,
        // Held to what `setTimeout` reads: a longer timeout would abort at once.
        f64::from(timer_delay(timeout_ms)),
        MAX_RESPONSE_BYTES as f64,
    );
    (url, sent)
}

/// Reads the answer of [`send`]'s promise.
/// Also how long (ms) the answer waited for the app: the one to the code exchange the
/// page's script sent before the app started can be older than the request.
fn answer_of(
    url: &str,
    timeout_ms: u64,
    answer: Result<JsValue, JsValue>,
) -> (Result<HttpResponse, String>, u64) {
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return (Err(js_error(e)), 0),
    };
    if let Some(answer) = answer.dyn_ref::<Array>() {
        let headers = (2..)
            .zip(RESPONSE_HEADERS)
            .filter_map(|(i, name)| Some((name.to_owned(), answer.get(i).as_string()?)))
            .collect();
        let response = HttpResponse {
            status: answer.get(0).as_f64().unwrap_or(0.0).clamp(0.0, 999.0) as u16,
            headers,
            body: Uint8Array::new(&answer.get(1)).to_vec(),
        };
        let waited = answer.get(6).as_f64().unwrap_or(0.0).max(0.0) as u64;
        return (Ok(response), waited);
    }
    let error = match answer.as_string() {
        Some(e) => format!("request to {url} failed: {e}"),
        None => format!("request to {url} timed out after {timeout_ms} ms"),
    };
    (Err(error), 0)
}

fn now() -> Now {
    Now {
        mono: js_clock(false).max(0.0) as u64,
        wall: js_clock(true).max(0.0) as u64,
    }
}

/// The page's address, its visibility and whether the browser is online, as
/// `page()` reads them.
struct PageState {
    origin: String,
    url: PageUrl,
    visible: bool,
    online: bool,
}

fn page_state() -> PageState {
    let page = js_page();
    let text = |i| page.get(i).as_string().unwrap_or_default();
    PageState {
        origin: text(0),
        url: PageUrl {
            path: text(1),
            query: text(2),
            fragment: text(3),
        },
        visible: page.get(4).as_bool() != Some(true),
        online: page.get(5).as_bool() != Some(false),
    }
}

/// The page's path, query and fragment: where a sign-in started here comes back to.
pub(crate) fn return_path() -> String {
    let PageUrl {
        path,
        query,
        fragment,
    } = page_state().url;
    path + &query + &fragment
}

fn random_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// What the machine publishes, for the UI layer.
// Handed over once, by value: boxing the state would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Update {
    /// The session state.
    State(AuthState<RawClaims>),
    /// Seconds left before the idle logout, while the countdown runs.
    Countdown(Option<u32>),
    /// What the session is doing.
    Info(SessionInfo),
}

type StateListener = Box<dyn Fn(Update)>;
/// `Fn`, not `FnMut`: a command can call back into it while it runs (taking over the
/// early script's frame tells a failure at once, from inside the page event that led
/// to it), and an `FnMut` closure called again while it runs throws. The event is
/// then queued by [`Driver::post`].
type PageHandler = Closure<dyn Fn(u32, JsValue)>;

/// Where a caller of [`Driver::access_token`] finds its answer: the machine's, or
/// none once the driver is gone. (One answer: smaller in the wasm build than a
/// channel. Behind a `Mutex`, which costs nothing without threads, so that the
/// caller's future is `Send`, as `Action::new` and `Resource::new` require.)
#[derive(Default)]
struct Answer {
    result: Option<Result<AccessToken, AuthError>>,
    closed: bool,
    waker: Option<Waker>,
}

type AnswerSlot = Arc<Mutex<Answer>>;

fn lock(slot: &AnswerSlot) -> std::sync::MutexGuard<'_, Answer> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The driver's end of an [`Answer`]: dropped unanswered (the driver is gone), it
/// answers "not signed in".
struct Waiter(AnswerSlot);

impl Waiter {
    fn send(self, result: Result<AccessToken, AuthError>) {
        lock(&self.0).result = Some(result);
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let waker = {
            let mut answer = lock(&self.0);
            answer.closed = true;
            answer.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The caller's end of an [`Answer`].
struct TokenAnswer(AnswerSlot);

impl Future for TokenAnswer {
    type Output = Result<AccessToken, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut answer = lock(&self.0);
        if let Some(result) = answer.result.take() {
            Poll::Ready(result)
        } else if answer.closed {
            Poll::Ready(Err(AuthError::NotLoggedIn))
        } else {
            answer.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// What the answer of a request sent to the browser is for (see
/// [`Driver::await_answer`]).
enum Awaited {
    /// `Command::Fetch`'s answer, read by [`answer_of`].
    Http { url: String, timeout_ms: u64 },
    /// `Command::Verify`'s WebCrypto answer, read by [`verified`].
    Verify(UnverifiedJws),
}

/// Runs the session machine in a browser page.
pub(crate) struct Driver {
    machine: RefCell<Machine>,
    tab: String,
    queue: RefCell<VecDeque<Event>>,
    busy: Cell<bool>,
    // A few at a time: a list is smaller than a map in the wasm build.
    waiters: RefCell<Vec<(WaiterId, Waiter)>>,
    next_waiter: Cell<WaiterId>,
    /// The function that closes the silent frame this driver opened.
    frame: RefCell<Option<js_sys::Function>>,
    /// The requests sent to the browser whose answers are awaited.
    // A few at a time: a list is smaller than a map in the wasm build.
    awaited: RefCell<Vec<(ReqId, Awaited)>>,
    listener: StateListener,
    /// What `listen` set up (see [`PageEvents`]): the listeners stay registered as
    /// long as the driver lives.
    events: PageEvents,
    last_activity: Cell<f64>,
    /// This driver took the page's early silent sign-in (no other one can).
    took_early: Cell<bool>,
    /// How many times the session has published a signed-in state (see
    /// [`Driver::sign_ins`]).
    sign_ins: Cell<u64>,
    /// The auto-logout warnings in the page, which follow the countdown.
    warnings: Array,
}

/// A timer's delay as `setTimeout` takes it: browsers read it as a signed 32-bit
/// number, and a longer one (about 24.8 days) would fire at once. The machine is
/// asked again when it fires.
pub(crate) fn timer_delay(ms: u64) -> u32 {
    u32::try_from(ms.min(i32::MAX as u64)).unwrap_or(0)
}

/// Takes what the early restore script started, if it did, for the app whose
/// provider is cached under `key` (another app's is left to it).
fn early_frame(key: &str) -> Option<EarlyFrame> {
    let early = js_early(key).dyn_into::<Array>().ok()?;
    let text = |i| early.get(i).as_string();
    Some(EarlyFrame {
        key: text(0)?,
        state: text(1)?,
        nonce: text(2)?,
        verifier: text(3)?,
        created: early.get(4).as_f64()?.max(0.0) as u64,
    })
}

/// Closes a silent frame.
fn close_frame(close: Option<js_sys::Function>) {
    if let Some(close) = close {
        let _ = close.call0(&JsValue::UNDEFINED);
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("tab", &self.tab)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Binds `config` to this page and starts the session. The authorization callback
    /// leaves the address bar synchronously, before this returns.
    pub(crate) fn start(config: OidcConfig, listener: impl Fn(Update) + 'static) -> Rc<Self> {
        let page = page_state();
        let client = Client::bind(config, &page.origin);
        let driver = Rc::new_cyclic(|driver| Driver {
            events: listen(driver.clone(), &client.channel()),
            machine: RefCell::new(Machine::new(client)),
            tab: random_id(),
            queue: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            next_waiter: Cell::new(0),
            frame: RefCell::new(None),
            listener: Box::new(listener),
            last_activity: Cell::new(0.0),
            awaited: RefCell::new(Vec::new()),
            took_early: Cell::new(false),
            sign_ins: Cell::new(0),
            warnings: Array::new(),
        });
        let early = early_frame(&driver.machine.borrow().client().key(Slot::Provider));
        driver.took_early.set(early.is_some());
        let info = StartInfo {
            tab: driver.tab.clone(),
            page: page.url,
            pending: driver.read(Slot::Pending),
            provider: driver.read(Slot::Provider),
            signed_in: driver.read(Slot::SignedIn),
            logged_out: driver.read(Slot::LoggedOut),
            visible: page.visible,
            early,
            offline: !page.online,
        };
        driver.post(Event::Start(info));
        driver
    }

    /// A storage slot's value.
    fn read(&self, slot: Slot) -> Option<String> {
        let key = self.machine.borrow().client().key(slot);
        js_store(slot.shared(), &key, false, None)
    }

    /// Hands an event to the machine and carries out what it says. Re-entrant posts
    /// (from a command's synchronous effects) are queued and handled in order.
    pub(crate) fn post(self: &Rc<Self>, event: Event) {
        self.queue.borrow_mut().push_back(event);
        if self.busy.replace(true) {
            return;
        }
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(event) = next else { break };
            let commands = self.machine.borrow_mut().handle(now(), event);
            for command in commands {
                self.exec(command);
            }
        }
        self.busy.set(false);
        self.arm_timer();
    }

    /// Makes `dialog` (an element being built, with the message as its first child)
    /// an auto-logout warning: its title and "Stay signed in" button (which counts
    /// as activity, see [`Driver::activity`]) go around the message, with its
    /// classes. From then on it follows the countdown, without a render: shown while
    /// `seconds` are left (focus moves to the button when it appears), hidden
    /// otherwise.
    pub(crate) fn add_warning(
        &self,
        dialog: &web_sys::Element,
        seconds: Option<u32>,
        parts: &WarningParts<'_>,
    ) {
        let stay = self.reply(PageEvent::STAY, 0);
        js_warning(
            &self.warnings,
            dialog,
            seconds,
            parts.class,
            parts.title,
            parts.label,
            parts.test_id,
            parts.custom,
            &stay,
        );
    }

    /// How many times the session has published a signed-in state: a guard tells
    /// from it whether a user was signed in while it was on screen, even when a
    /// sign-in and a logout came between two of its renders.
    pub(crate) fn sign_ins(&self) -> u64 {
        self.sign_ins.get()
    }

    /// The user did something the page's listeners may not see (e.g. "Stay signed
    /// in"): the idle clock restarts now, unthrottled.
    pub(crate) fn activity(self: &Rc<Self>) {
        self.last_activity.set(js_clock(false));
        self.post(Event::Activity);
    }

    /// A fresh access token (see `Machine`: one renewal at a time, shared by callers).
    pub(crate) fn access_token(
        self: &Rc<Self>,
    ) -> impl std::future::Future<Output = Result<AccessToken, AuthError>> + 'static {
        let slot = AnswerSlot::default();
        let id = self.next_waiter.get() + 1;
        self.next_waiter.set(id);
        self.waiters
            .borrow_mut()
            .push((id, Waiter(Arc::clone(&slot))));
        self.post(Event::WantToken(id));
        TokenAnswer(slot)
    }

    /// Sets the page's timer to the machine's next deadline (it replaces the one
    /// set before), or stops it.
    fn arm_timer(&self) {
        let deadline = self.machine.borrow().next_deadline();
        let delay = deadline.map_or(-1.0, |at| {
            f64::from(timer_delay(at.saturating_sub(now().mono)))
        });
        let _ = self
            .events
            .arm
            .call1(&JsValue::UNDEFINED, &JsValue::from_f64(delay));
    }

    fn exec(self: &Rc<Self>, command: Command) {
        match command {
            Command::Fetch {
                req,
                request,
                timeout_ms,
            } => {
                // Sent now; only the answer is awaited.
                let (url, sent) = send(request, timeout_ms);
                self.await_answer(req, sent, Awaited::Http { url, timeout_ms });
            }
            Command::Verify {
                req,
                token,
                keys,
                policy,
            } => {
                // Everything up to WebCrypto's answer runs now; only that answer is
                // awaited.
                let started = UnverifiedJws::parse(&token).and_then(|jws| {
                    let key = jws.key_in(&keys, &policy)?;
                    let (input, signature) = jws.signed_parts();
                    let check = webcrypto_verify(jws.header().alg, key, input, signature);
                    Ok((jws, check))
                });
                match started {
                    Ok((jws, check)) => self.await_answer(req, check, Awaited::Verify(jws)),
                    // Queued behind this batch of commands, as an answer would be.
                    Err(e) => self.post(Event::Verified {
                        req,
                        result: Err(e),
                    }),
                }
            }
            Command::Navigate { url, replace } => js_go(u32::from(replace), &url),
            Command::Reload => js_go(2, ""),
            Command::ReplaceUrl(url) => js_go(3, &url),
            Command::Store { slot, value } => {
                let key = self.machine.borrow().client().key(slot);
                let stored = || js_store(slot.shared(), &key, false, None);
                if store_wins(slot, value.as_deref(), stored, js_clock(true) as u64) {
                    js_store(slot.shared(), &key, true, value.as_deref());
                }
            }
            Command::Broadcast(message) => {
                let text = format!("{} {}", self.tab, message.to_wire());
                let _ = self
                    .events
                    .send
                    .call1(&JsValue::UNDEFINED, &JsValue::from_str(&text));
            }
            Command::OpenSilentFrame { req, url, grace_ms } => self.open_frame(req, &url, grace_ms),
            Command::AdoptSilentFrame { req } => self.adopt_frame(req),
            Command::ForgoEarlyExchange => js_forgo_early(),
            Command::CloseSilentFrame => {
                let frame = self.frame.borrow_mut().take();
                close_frame(frame);
                // The early frame only if this session took it: another app's
                // session in the page leaves it to that app.
                if self.took_early.get() {
                    js_close_early();
                }
            }
            Command::Resolve { waiter, result } => {
                let tx = {
                    let mut waiters = self.waiters.borrow_mut();
                    let i = waiters.iter().position(|(id, _)| *id == waiter);
                    i.map(|i| waiters.swap_remove(i).1)
                };
                if let Some(tx) = tx {
                    tx.send(result);
                }
            }
            Command::Publish(state) => {
                if state.is_logged_in() {
                    self.sign_ins.set(self.sign_ins.get() + 1);
                }
                (self.listener)(Update::State(state));
            }
            Command::Countdown(left) => {
                js_warnings(&self.warnings, left);
                (self.listener)(Update::Countdown(left));
            }
            Command::Info(info) => (self.listener)(Update::Info(info)),
        }
    }

    /// A JavaScript function that hands its argument to the page handler as
    /// `[req, value]` with `kind` (nothing once the driver is gone).
    fn reply(&self, kind: u32, req: ReqId) -> js_sys::Function {
        self.events
            .reply
            .call2(
                &JsValue::UNDEFINED,
                &JsValue::from(kind),
                &JsValue::from_f64(req as f64),
            )
            .unwrap_or(JsValue::UNDEFINED)
            .unchecked_into()
    }

    /// Posts the answer of a request sent to the browser (a fetch, a signature check)
    /// once it comes, through the page handler: a request in flight does not keep a
    /// session the app dropped (its provider left the page) going.
    fn await_answer(&self, req: ReqId, sent: js_sys::Promise, then: Awaited) {
        self.awaited.borrow_mut().push((req, then));
        let _ =
            self.events
                .answer
                .call2(&JsValue::UNDEFINED, &sent, &JsValue::from_f64(req as f64));
    }

    /// The event of request `req`'s answer, if it was awaited.
    fn answered(&self, req: ReqId, answer: Result<JsValue, JsValue>) -> Option<Event> {
        let then = {
            let mut awaited = self.awaited.borrow_mut();
            let i = awaited.iter().position(|(r, _)| *r == req)?;
            awaited.swap_remove(i).1
        };
        Some(match then {
            Awaited::Http { url, timeout_ms } => {
                let (result, waited) = answer_of(&url, timeout_ms, answer);
                Event::Http {
                    req,
                    result,
                    waited,
                }
            }
            Awaited::Verify(jws) => Event::Verified {
                req,
                result: verified(answer).map(|()| jws.into_verified()),
            },
        })
    }

    /// Opens the hidden silent frame at `url`; its answer is posted as request
    /// `req`'s.
    fn open_frame(&self, req: ReqId, url: &str, grace_ms: u64) {
        let answer = self.reply(PageEvent::FRAME, req);
        let opened = js_frame(url, &answer, timer_delay(grace_ms));
        let close = opened.get(0).unchecked_into::<js_sys::Function>();
        let previous = self.frame.borrow_mut().replace(close);
        close_frame(previous);
    }

    /// Takes over the early script's frame: its answer (already there, or when it
    /// comes) is posted as this request's.
    fn adopt_frame(&self, req: ReqId) {
        js_adopt_early(&self.reply(PageEvent::FRAME, req));
    }
}

/// A tab's page events, its channel and its timer, handed to the driver `weak`
/// points to (nothing once it is gone).
fn listen(weak: Weak<Driver>, channel: &str) -> PageEvents {
    let handler = PageHandler::new(move |kind: u32, data: JsValue| {
        let Some(this) = weak.upgrade() else { return };
        let event = match kind {
            PageEvent::ACTIVITY => {
                let t = js_clock(false);
                if t - this.last_activity.get() < ACTIVITY_THROTTLE_MS {
                    return;
                }
                this.last_activity.set(t);
                Event::Activity
            }
            PageEvent::ONLINE => Event::Online(true),
            PageEvent::OFFLINE => Event::Online(false),
            PageEvent::VISIBLE => Event::Visibility(true),
            PageEvent::HIDDEN => Event::Visibility(false),
            PageEvent::RESTORED => Event::PageRestored {
                activity: this.read(Slot::Activity),
                logged_out: this.read(Slot::LoggedOut),
            },
            PageEvent::TIMER => Event::Timer,
            PageEvent::STAY => {
                this.activity();
                return;
            }
            PageEvent::ANSWER | PageEvent::REJECTED | PageEvent::FRAME => {
                let data: Array = data.unchecked_into();
                let req = data.get(0).as_f64().unwrap_or(0.0) as ReqId;
                let value = data.get(1);
                match kind {
                    PageEvent::FRAME => match value.as_string() {
                        Some(query) => Event::SilentResult { req, query },
                        None => Event::SilentFailed { req },
                    },
                    PageEvent::ANSWER => match this.answered(req, Ok(value)) {
                        Some(event) => event,
                        None => return,
                    },
                    _ => match this.answered(req, Err(value)) {
                        Some(event) => event,
                        None => return,
                    },
                }
            }
            PageEvent::TAB => {
                let text = data.as_string().unwrap_or_default();
                let Some((from, m)) = text.split_once(' ') else {
                    return;
                };
                let Some(message) = TabMessage::parse(m) else {
                    return;
                };
                Event::Tab {
                    from: from.to_owned(),
                    message,
                    here: return_path(),
                }
            }
            _ => return,
        };
        this.post(event);
    });
    let listening = js_listen(channel, handler.as_ref().unchecked_ref());
    PageEvents {
        _handler: handler,
        remove: listening.get(0).unchecked_into(),
        send: listening.get(1).unchecked_into(),
        arm: listening.get(2).unchecked_into(),
        reply: listening.get(3).unchecked_into(),
        answer: listening.get(4).unchecked_into(),
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        close_frame(self.frame.get_mut().take());
        // The early script's frame, when this driver took it: nothing would take its
        // answer any more.
        if self.took_early.get() {
            js_close_early();
        }
        let _ = self.events.remove.call0(&JsValue::UNDEFINED);
    }
}

/// What `listen` set up: the handler it calls, and the functions that remove the
/// listeners (closing the channel, stopping the timer), post to the other tabs, set
/// the timer, make a handler of answers and hand a promise's answer over.
struct PageEvents {
    _handler: PageHandler,
    remove: js_sys::Function,
    send: js_sys::Function,
    arm: js_sys::Function,
    reply: js_sys::Function,
    answer: js_sys::Function,
}

/// The kinds of page events `listen` hands over.
struct PageEvent;

impl PageEvent {
    const ACTIVITY: u32 = 0;
    const ONLINE: u32 = 1;
    const OFFLINE: u32 = 2;
    const VISIBLE: u32 = 3;
    const HIDDEN: u32 = 4;
    /// A message on the tabs' channel.
    const TAB: u32 = 6;
    /// The page came back from the back-forward cache.
    const RESTORED: u32 = 7;
    /// The session's timer ran out.
    const TIMER: u32 = 8;
    /// A request's answer came (`[req, value]`).
    const ANSWER: u32 = 9;
    /// A request's promise was rejected (`[req, message]`).
    const REJECTED: u32 = 10;
    /// A silent frame answered (`[req, query or null]`).
    const FRAME: u32 = 11;
    /// "Stay signed in" was pressed.
    const STAY: u32 = 12;
}

/// WebCrypto parameters: (import algorithm, verify algorithm) as JSON.
fn webcrypto_params(alg: Algorithm) -> (&'static str, &'static str) {
    match alg {
        Algorithm::RS256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Algorithm::RS384 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-384"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Algorithm::RS512 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-512"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        // RFC 7518 section 3.5: salt length equals the hash length.
        Algorithm::PS256 => (
            r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
            r#"{"name":"RSA-PSS","saltLength":32}"#,
        ),
        Algorithm::PS384 => (
            r#"{"name":"RSA-PSS","hash":"SHA-384"}"#,
            r#"{"name":"RSA-PSS","saltLength":48}"#,
        ),
        Algorithm::PS512 => (
            r#"{"name":"RSA-PSS","hash":"SHA-512"}"#,
            r#"{"name":"RSA-PSS","saltLength":64}"#,
        ),
        Algorithm::ES256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
        Algorithm::ES384 => (
            r#"{"name":"ECDSA","namedCurve":"P-384"}"#,
            r#"{"name":"ECDSA","hash":"SHA-384"}"#,
        ),
        Algorithm::EdDSA => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
    }
}

/// Signature checks with the browser's WebCrypto: the wasm carries no RSA/EC code.
/// (The driver runs the same check in two steps; see `Command::Verify`.)
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WebCryptoVerifier;

/// Starts a WebCrypto signature check; the promise resolves to whether the
/// signature is valid (see [`verified`]).
fn webcrypto_verify(alg: Algorithm, key: &Jwk, input: &[u8], signature: &[u8]) -> js_sys::Promise {
    let (import_alg, verify_alg) = webcrypto_params(alg);
    // Only the public members go to WebCrypto; `alg` is dropped so that a JWK without
    // it and one with it import alike (the fit was checked before).
    let mut public = key.clone();
    public.alg = None;
    public.kid = None;
    public.use_ = None;
    match crate::core::json::to_string(&public) {
        Ok(jwk_json) => js_verify(
            &jwk_json,
            import_alg,
            verify_alg,
            signature.to_vec(),
            input.to_vec(),
        ),
        Err(e) => js_sys::Promise::reject(&JsValue::from_str(&e.to_string())),
    }
}

/// The outcome of [`webcrypto_verify`]'s promise.
fn verified(answer: Result<JsValue, JsValue>) -> Result<(), JoseError> {
    match answer {
        Ok(ok) if ok.as_bool() == Some(true) => Ok(()),
        Ok(_) => Err(JoseError::InvalidSignature),
        Err(e) => Err(JoseError::InvalidKey(js_error(e))),
    }
}

#[cfg(test)]
impl AsyncSignatureVerifier for WebCryptoVerifier {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        verified(JsFuture::from(webcrypto_verify(alg, key, input, signature)).await)
    }
}
