//! Browser tests (headless Chromium): the driver's fetch, storage, frame messages,
//! WebCrypto verification, and the provider's state transitions.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use super::{fetch, Driver, WebCryptoVerifier, MAX_RESPONSE_BYTES};
use crate::core::jose::{AlgorithmPolicy, JoseError, Jwk, JwkSet, UnverifiedJws};
use crate::core::{HttpRequest, HttpResponse};
use crate::session::machine::Command;
use crate::session::{AuthError, AuthState, OidcConfig, Slot};
use crate::{use_oidc, AutoLogoutWarning, MockUser, OidcProvider, RequireAuth, User};

wasm_bindgen_test_configure!(run_in_browser);

fn location() -> web_sys::Location {
    web_sys::window().unwrap().location()
}

fn set_address(url: &str) {
    web_sys::window()
        .unwrap()
        .history()
        .unwrap()
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url))
        .unwrap();
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        sleep(50).await;
    }
    false
}

/// An issuer nothing answers on.
const DEAD_ISS: &str = "http://127.0.0.1:9";

fn session_storage() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

#[wasm_bindgen_test]
fn callback_leaves_the_address_bar_before_start_returns_and_other_params_stay() {
    driver_script();
    set_address("/?keep=1&code=abc&state=st&iss=x&session_state=s#top");
    let driver = Driver::start(OidcConfig::new(DEAD_ISS, "spa"), |_| {});
    assert_eq!(location().pathname().unwrap(), "/");
    assert_eq!(location().search().unwrap(), "?keep=1");
    assert_eq!(location().hash().unwrap(), "#top");
    drop(driver);
    // An app address with `code` but no `state` is left alone, and so is its
    // pending sign-in.
    let key =
        crate::session::Client::bind(OidcConfig::new(DEAD_ISS, "spa"), "x").key(Slot::Pending);
    session_storage().set_item(&key, "kept").unwrap();
    set_address("/shop?code=SUMMER10");
    let _driver = Driver::start(OidcConfig::new(DEAD_ISS, "spa"), |_| {});
    assert_eq!(location().search().unwrap(), "?code=SUMMER10");
    assert_eq!(
        session_storage().get_item(&key).unwrap().as_deref(),
        Some("kept")
    );
    session_storage().remove_item(&key).unwrap();
}

#[wasm_bindgen_test]
async fn fetch_times_out_with_a_clear_error() {
    driver_script();
    let url = format!("{}/", location().origin().unwrap());
    let err = fetch(HttpRequest::get_json(url), 0).await.unwrap_err();
    assert!(err.contains("timed out after 0 ms"), "{err}");
}

#[wasm_bindgen_test]
async fn fetch_with_a_timeout_longer_than_timers_take_still_waits_for_the_answer() {
    driver_script();
    // Over 2^31 ms a timer fires at once: the timeout is held to what timers take.
    let url = format!("{}/no-such-file", location().origin().unwrap());
    let answer = fetch(HttpRequest::get_json(url), 2_200_000_000).await;
    assert!(answer.is_ok(), "{answer:?}");
}

#[wasm_bindgen_test]
async fn fetch_refuses_a_body_over_the_cap() {
    driver_script();
    let big = vec![b'a'; MAX_RESPONSE_BYTES + 1];
    let url = format!("data:application/json;base64,{}", base64_std(&big));
    let err = fetch(HttpRequest::get_json(url), 10_000).await.unwrap_err();
    assert!(err.contains("larger than"), "{err}");
    let small = format!("data:application/json;base64,{}", base64_std(b"{}"));
    let ok = fetch(HttpRequest::get_json(small), 10_000).await.unwrap();
    assert_eq!(ok.body, b"{}");
}

fn base64_std(data: &[u8]) -> String {
    let text: String = data.iter().map(|b| char::from(*b)).collect();
    web_sys::window().unwrap().btoa(&text).unwrap()
}

fn message(origin: &str, source: Option<&js_sys::Object>, data: &str) -> web_sys::MessageEvent {
    let init = web_sys::MessageEventInit::new();
    init.set_origin(origin);
    init.set_data(&wasm_bindgen::JsValue::from_str(data));
    if let Some(source) = source {
        init.set_source(Some(source));
    }
    web_sys::MessageEvent::new_with_event_init_dict("message", &init).unwrap()
}

/// A frame answer handler that records what it is handed (`FAILED` for `null`).
type Recorder = (
    Rc<RefCell<Vec<String>>>,
    wasm_bindgen::closure::Closure<dyn FnMut(Option<String>)>,
);

/// What a recorder notes when the frame is told as failed.
const FAILED: &str = "<failed>";

fn recording_answer() -> Recorder {
    let heard = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = Rc::clone(&heard);
    let answer = wasm_bindgen::closure::Closure::<dyn FnMut(Option<String>)>::new(
        move |q: Option<String>| {
            sink.borrow_mut()
                .push(q.unwrap_or_else(|| FAILED.to_owned()))
        },
    );
    (heard, answer)
}

#[wasm_bindgen_test]
async fn frame_messages_are_accepted_only_from_the_frame_on_our_origin() {
    use wasm_bindgen::JsValue;
    driver_script();
    set_address("/");
    let (heard, answer) = recording_answer();
    let window = web_sys::window().unwrap();
    let origin = location().origin().unwrap();
    let href = format!("{origin}/silent-callback.html?code=c&state=s");
    let opened = super::js_frame("about:blank", answer.as_ref().unchecked_ref(), 2_000);
    let frame: web_sys::HtmlIFrameElement = opened.get(1).unchecked_into();
    assert_eq!(frame.get_attribute("aria-hidden").as_deref(), Some("true"));
    sleep(50).await;
    let frame_window: js_sys::Object = frame.content_window().unwrap().into();
    let own_window: js_sys::Object = window.clone().into();
    let send = |e: web_sys::MessageEvent| {
        window.dispatch_event(&e).unwrap();
    };
    // Another origin, even from the frame.
    send(message("https://evil.example", Some(&frame_window), &href));
    // Our origin, but another window, or none.
    send(message(&origin, Some(&own_window), &href));
    send(message(&origin, None, &href));
    // Not text.
    let init = web_sys::MessageEventInit::new();
    init.set_origin(&origin);
    init.set_source(Some(&frame_window));
    send(web_sys::MessageEvent::new_with_event_init_dict("message", &init).unwrap());
    assert!(heard.borrow().is_empty(), "{:?}", heard.borrow());
    // The frame, on our origin: the query of the address it landed on.
    send(message(&origin, Some(&frame_window), &href));
    assert_eq!(*heard.borrow(), ["?code=c&state=s"]);
    // Closed: nothing more is taken, and the frame goes (in a task of its own).
    let close: js_sys::Function = opened.get(0).unchecked_into();
    close.call0(&JsValue::UNDEFINED).unwrap();
    send(message(&origin, Some(&frame_window), &href));
    assert!(wait_for(|| !frame.is_connected()).await, "the frame stayed");
    assert_eq!(heard.borrow().len(), 1);
}

#[wasm_bindgen_test]
async fn frame_answer_is_read_from_the_frame_once_it_is_back_at_the_redirect_uri() {
    use wasm_bindgen::JsValue;
    driver_script();
    set_address("/");
    let (heard, answer) = recording_answer();
    let origin = location().origin().unwrap();
    let back = format!("{origin}/silent-landing");
    // The request names its redirect URI; the frame first shows another page (the
    // provider's, here one of our origin whose path merely starts with the redirect
    // URI's): nothing is taken from it.
    let url = format!(
        "{back}-provider?redirect_uri={}",
        js_sys::encode_uri_component(&back)
    );
    let opened = super::js_frame(&url, answer.as_ref().unchecked_ref(), 2_000);
    let frame: web_sys::HtmlIFrameElement = opened.get(1).unchecked_into();
    let href = || {
        frame
            .content_window()
            .and_then(|w| w.location().href().ok())
    };
    assert!(
        wait_for(|| href().as_deref() == Some(&url)).await,
        "the frame never loaded {url}"
    );
    sleep(50).await;
    assert!(heard.borrow().is_empty(), "{:?}", heard.borrow());
    // Back at the redirect URI: the answer is read from the frame, without a message
    // (this page posts none).
    frame.set_src(&format!("{back}?code=c&state=s"));
    assert!(
        wait_for(|| !heard.borrow().is_empty()).await,
        "the frame's answer was never read"
    );
    assert_eq!(*heard.borrow(), ["?code=c&state=s"]);
    // Closing leaves the removal to a task of its own (it holds up the page), so the
    // request the answer leads to is not kept waiting behind it.
    let close: js_sys::Function = opened.get(0).unchecked_into();
    close.call0(&JsValue::UNDEFINED).unwrap();
    assert!(frame.is_connected());
    assert!(wait_for(|| !frame.is_connected()).await, "the frame stayed");
    assert_eq!(*heard.borrow(), ["?code=c&state=s"]);
}

#[wasm_bindgen_test]
async fn access_token_without_session_is_a_typed_error() {
    driver_script();
    set_address("/");
    let driver = Driver::start(OidcConfig::new(DEAD_ISS, "spa"), |_| {});
    let result = sendable(driver.access_token()).await;
    assert_eq!(result.unwrap_err(), crate::AuthError::NotLoggedIn);
}

/// An access token future is `Send`, as `Action::new` and `Resource::new` require:
/// the tests that pass theirs through here do not build otherwise.
fn sendable<F: Send>(future: F) -> F {
    future
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/vectors/jose.json")).unwrap()
}

#[wasm_bindgen_test]
async fn webcrypto_verifies_rfc_vectors_and_refuses_tampering() {
    driver_script();
    let v = vectors();
    for name in [
        "rfc7515_a2_rs256",
        "rfc7515_a3_es256",
        "rfc7520_4_1_rs256",
        "rfc8037_a4_eddsa",
    ] {
        let jwk: Jwk = serde_json::from_value(v[name]["jwk"].clone()).unwrap();
        let keys = JwkSet { keys: vec![jwk] };
        let token = v[name]["jws"].as_str().unwrap();
        let jws = UnverifiedJws::parse(token).unwrap();
        jws.verify_async(&keys, &AlgorithmPolicy::default(), &WebCryptoVerifier)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = crate::core::b64::decode(sig).unwrap();
        sig[5] ^= 0x40;
        let bad = format!("{input}.{}", crate::core::b64::encode(&sig));
        let err = UnverifiedJws::parse(&bad)
            .unwrap()
            .verify_async(&keys, &AlgorithmPolicy::default(), &WebCryptoVerifier)
            .await
            .unwrap_err();
        assert_eq!(err, JoseError::InvalidSignature, "{name}");
    }
}

/// Renders the provider with a child that records what it saw.
fn mount_provider(issuer: &str) -> (RwSignal<Vec<String>>, RwSignal<String>) {
    driver_script();
    let seen = RwSignal::new(Vec::<String>::new());
    let search_at_render = RwSignal::new(String::new());
    let config = OidcConfig::new(issuer, "spa");
    let host = page_host();
    let handle = leptos::mount::mount_to(host.unchecked_into(), move || {
        view! {
            <OidcProvider config=config>
                {move || {
                    search_at_render.set(location().search().unwrap());
                    let oidc = use_oidc();
                    Effect::new(move |_| {
                        let label = match oidc.state().get() {
                            AuthState::Pending => "pending".to_owned(),
                            AuthState::LoggedOut => "logged-out".to_owned(),
                            AuthState::LoggedIn(_) => "logged-in".to_owned(),
                            AuthState::Failed(e) => format!("failed: {e}"),
                        };
                        seen.update(|s| s.push(label));
                    });
                }}
            </OidcProvider>
        }
    });
    handle.forget();
    (seen, search_at_render)
}

#[wasm_bindgen_test]
async fn forged_callback_shows_failed_state_after_url_cleanup() {
    set_address("/?code=x&state=forged");
    let (seen, search) = mount_provider(DEAD_ISS);
    // The children never see the callback parameters.
    assert_eq!(search.get_untracked(), "");
    let failed = || {
        seen.get_untracked()
            .last()
            .is_some_and(|s| s.starts_with("failed"))
    };
    assert!(wait_for(failed).await, "{:?}", seen.get_untracked());
    let last = seen.get_untracked().last().cloned().unwrap();
    assert!(
        last.starts_with("failed: sign-in callback rejected"),
        "{last}"
    );
    assert!(last.contains("state"), "{last}");
}

#[wasm_bindgen_test]
async fn unreachable_provider_is_a_failed_state_not_a_panic() {
    set_address("/");
    let (seen, _) = mount_provider(DEAD_ISS);
    assert!(
        wait_for(|| seen.get_untracked().len() >= 2).await,
        "{:?}",
        seen.get_untracked()
    );
    let states = seen.get_untracked();
    assert_eq!(states[0], "pending");
    assert!(states[1].starts_with("failed: network error"), "{states:?}");
}

#[wasm_bindgen_test]
async fn logout_is_told_to_the_other_tabs_on_the_app_channel() {
    use wasm_bindgen::closure::Closure;
    driver_script();
    set_address("/");
    let config = OidcConfig::new(DEAD_ISS, "spa");
    let name = crate::session::Client::bind(config.clone(), "x").channel();
    // Another tab of the same app, listening on the channel.
    let other = web_sys::BroadcastChannel::new(&name).unwrap();
    let heard = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = Rc::clone(&heard);
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(text) = e.data().as_string() {
                sink.borrow_mut().push(text);
            }
        });
    other.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let driver = Driver::start(config, |_| {});
    driver.post(crate::session::machine::Event::Logout(
        crate::LogoutOptions::default().local_only(true),
    ));
    assert!(
        wait_for(|| !heard.borrow().is_empty()).await,
        "nothing heard"
    );
    let message = heard.borrow()[0].clone();
    let (from, what) = message.split_once(' ').unwrap();
    assert_eq!(what, "logout");
    assert_eq!(from.len(), 16, "a random tab id: {from}");
    other.close();
}

/// Mounts `app` inside an `<OidcProvider>` in a fresh element; returns the element.
fn mount_in_provider<V: IntoView + 'static>(
    config: OidcConfig,
    app: impl Fn() -> V + Send + 'static,
) -> web_sys::Element {
    let (host, handle) = mount_until_dropped(config, app);
    handle.forget();
    host
}

/// As [`mount_in_provider`], unmounted (its session ended) when the handle drops: for
/// a session that would go on acting in the page (an idle countdown that restarts
/// and moves the focus) after its test.
fn mount_until_dropped<V: IntoView + 'static>(
    config: OidcConfig,
    app: impl Fn() -> V + Send + 'static,
) -> (
    web_sys::Element,
    leptos::mount::UnmountHandle<impl leptos::tachys::view::Mountable>,
) {
    driver_script();
    let host = page_host();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), move || {
        view! { <OidcProvider config=config.clone()>{app()}</OidcProvider> }
    });
    (host, handle)
}

/// Waits for a guard's "Signed out" line, and checks that no login starts by itself
/// (in mock mode one would sign straight back in and show the children).
async fn signed_out_for_good(host: &web_sys::Element) {
    assert!(
        wait_for(|| text(host).starts_with("Signed out")).await,
        "{}",
        text(host)
    );
    sleep(200).await;
    assert!(text(host).starts_with("Signed out"), "{}", text(host));
}

/// A new element at the end of the page's body, to mount an app in.
fn page_host() -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    host
}

fn text(host: &web_sys::Element) -> String {
    host.text_content().unwrap_or_default()
}

/// A mock configuration of its own (storage and channel apart from other tests).
fn mock(client: &str, user: MockUser) -> OidcConfig {
    OidcConfig::new("https://mock.test", client).mock(user)
}

#[wasm_bindgen_test]
async fn require_auth_shows_the_fallback_while_pending_and_a_sign_in_button_when_sign_in_failed() {
    set_address("/");
    let host = mount_in_provider(OidcConfig::new(DEAD_ISS, "guard-pending"), || {
        view! {
            <RequireAuth fallback=|| "WAIT">"IN"</RequireAuth>
        }
    });
    assert_eq!(text(&host), "WAIT");
    // The provider cannot be reached: failed, said so (not a fallback that reads as
    // loading for good), with a button, and no login loop.
    assert!(
        wait_for(|| text(&host) == "Sign-in did not succeed. Sign in").await,
        "{}",
        text(&host)
    );
    sleep(200).await;
    assert_eq!(text(&host), "Sign-in did not succeed. Sign in");
    assert!(host.query_selector("button").unwrap().is_some());
    assert_eq!(location().pathname().unwrap(), "/");
}

#[wasm_bindgen_test]
async fn require_auth_shows_the_signed_out_view_then_the_children_after_login() {
    set_address("/");
    let login = RwSignal::new(None::<crate::Oidc>);
    let host = mount_in_provider(
        mock("guard-out", MockUser::new("ann").signed_in(false)),
        move || {
            login.set(Some(use_oidc()));
            view! {
                <RequireAuth fallback=|| "WAIT" signed_out=|| "OUT">"IN"</RequireAuth>
            }
        },
    );
    assert_eq!(text(&host), "OUT");
    login
        .get_untracked()
        .unwrap()
        .login(crate::LoginOptions::default());
    assert!(wait_for(|| text(&host) == "IN").await, "{}", text(&host));
    login
        .get_untracked()
        .unwrap()
        .logout(crate::LogoutOptions::default());
    assert!(wait_for(|| text(&host) == "OUT").await, "{}", text(&host));
}

#[wasm_bindgen_test]
async fn require_auth_starts_login_when_signed_out() {
    set_address("/");
    // In mock mode login signs in at once: the guard's login shows as the children.
    let host = mount_in_provider(
        mock("guard-redirect", MockUser::new("bea").signed_in(false)),
        || view! { <RequireAuth fallback=|| "WAIT">"IN"</RequireAuth> },
    );
    assert!(wait_for(|| text(&host) == "IN").await, "{}", text(&host));
}

#[wasm_bindgen_test]
async fn require_auth_applies_the_claims_predicate() {
    #[derive(serde::Deserialize)]
    struct Roles {
        #[serde(default)]
        roles: Vec<String>,
    }
    set_address("/");
    let admin = |u: User| {
        u.claims_as::<Roles>()
            .is_ok_and(|c| c.roles.iter().any(|r| r == "admin"))
    };
    let host = mount_in_provider(
        mock(
            "guard-claims-1",
            MockUser::new("cid").claim("roles", ["viewer"]),
        ),
        move || view! { <RequireAuth allow=admin forbidden=|| "NO">"IN"</RequireAuth> },
    );
    assert_eq!(text(&host), "NO");
    let host = mount_in_provider(
        mock(
            "guard-claims-2",
            MockUser::new("dee").claim("roles", ["admin"]),
        ),
        move || view! { <RequireAuth allow=admin forbidden=|| "NO">"IN"</RequireAuth> },
    );
    assert_eq!(text(&host), "IN");
}

#[wasm_bindgen_test]
async fn is_authenticated_is_none_while_pending_then_a_bool() {
    set_address("/");
    let seen = RwSignal::new(Vec::<Option<bool>>::new());
    mount_in_provider(OidcConfig::new(DEAD_ISS, "tri-state"), move || {
        let signed_in = use_oidc().is_authenticated();
        Effect::new(move |_| seen.update(|v| v.push(signed_in.get())));
    });
    assert!(wait_for(|| seen.get_untracked().len() >= 2).await);
    assert_eq!(seen.get_untracked()[..2], [None, Some(false)]);
    let seen = RwSignal::new(Vec::<Option<bool>>::new());
    mount_in_provider(mock("tri-state-mock", MockUser::new("eve")), move || {
        let signed_in = use_oidc().is_authenticated();
        Effect::new(move |_| seen.update(|v| v.push(signed_in.get())));
    });
    assert!(wait_for(|| !seen.get_untracked().is_empty()).await);
    assert_eq!(seen.get_untracked().last().copied(), Some(Some(true)));
}

/// Whether the auto-logout warning is on screen: it stays in the page, not displayed,
/// while no countdown runs.
fn warning_shown(host: &web_sys::Element) -> bool {
    let dialog = host.query_selector("[role=alertdialog]").unwrap();
    let dialog = dialog.expect("the warning is in the page");
    dialog
        .unchecked_ref::<web_sys::HtmlElement>()
        .offset_width()
        > 0
}

#[wasm_bindgen_test]
async fn the_countdown_and_its_warning_appear_take_focus_and_stay_signed_in_stops_them() {
    use std::time::Duration;
    set_address("/");
    let countdown = RwSignal::new(Vec::<Option<u32>>::new());
    let config = mock("countdown", MockUser::new("fay"))
        .idle_timeout(Duration::from_secs(4))
        .auto_logout_warning(Duration::from_secs(3));
    let (host, _mounted) = mount_until_dropped(config, move || {
        let left = crate::use_auto_logout_countdown();
        Effect::new(move |_| countdown.update(|v| v.push(left.get())));
        view! {
            <input data-testid="field"/>
            <AutoLogoutWarning class="another-warning"/>
            <AutoLogoutWarning test_id="auto-logout-countdown"/>
        }
    });
    assert!(!warning_shown(&host));
    let field = host.query_selector("[data-testid=field]").unwrap().unwrap();
    field
        .unchecked_ref::<web_sys::HtmlElement>()
        .focus()
        .unwrap();
    // One second of idleness later the countdown runs: 3, 2...
    assert!(wait_for(|| countdown.get_untracked().contains(&Some(3))).await);
    assert!(warning_shown(&host));
    let dialog = host
        .query_selector("[data-testid=auto-logout-countdown]")
        .unwrap()
        .expect("the warning is shown");
    assert_eq!(dialog.get_attribute("role").as_deref(), Some("alertdialog"));
    // The dialog's own title and message, by ids no other warning has (other tests'
    // warnings are in the page too).
    let title = dialog.get_attribute("aria-labelledby").unwrap();
    let document = web_sys::window().unwrap().document().unwrap();
    let labelled_by = document.get_element_by_id(&title).unwrap();
    assert!(
        dialog.contains(Some(&labelled_by)),
        "the page's first {title}"
    );
    let message = dialog.get_attribute("aria-describedby").unwrap();
    let message = dialog
        .query_selector(&format!("#{message}"))
        .unwrap()
        .unwrap();
    let text = message.text_content().unwrap();
    assert!(
        text == "You will be signed out in 3 seconds." || text.contains("in 2 seconds"),
        "{text}"
    );
    let button = dialog.query_selector("button").unwrap().unwrap();
    let focused = document.active_element().unwrap();
    assert!(focused.is_same_node(Some(&button)), "focus on the button");
    // "Stay signed in" is activity: the countdown stops, the warning goes.
    button.unchecked_ref::<web_sys::HtmlElement>().click();
    assert!(wait_for(|| countdown.get_untracked().last() == Some(&None)).await);
    assert!(!warning_shown(&host));
    // Focus is back where the user was.
    let focused = document.active_element().unwrap();
    assert!(
        focused.is_same_node(Some(&field)),
        "focus back on the field"
    );
}

#[wasm_bindgen_test]
async fn a_warning_built_mid_countdown_shows_at_once_and_stops_once_removed() {
    use std::time::Duration;
    set_address("/");
    let countdown = RwSignal::new(None::<u32>);
    let mounted = RwSignal::new(false);
    let config = mock("warning-late", MockUser::new("ida"))
        .idle_timeout(Duration::from_secs(30))
        .auto_logout_warning(Duration::from_secs(29));
    let host = mount_in_provider(config, move || {
        let left = crate::use_auto_logout_countdown();
        Effect::new(move |_| countdown.set(left.get()));
        view! {
            <Show when=move || mounted.get()>
                <AutoLogoutWarning/>
            </Show>
        }
    });
    // The countdown runs before the warning is on the page.
    assert!(wait_for(|| countdown.get_untracked().is_some()).await);
    assert!(host.query_selector("[role=alertdialog]").unwrap().is_none());
    // Built now, it shows the seconds left and takes focus right away, without
    // waiting for the countdown's next second.
    mounted.set(true);
    sleep(0).await;
    assert!(warning_shown(&host));
    let dialog = host.query_selector("[role=alertdialog]").unwrap().unwrap();
    let button = dialog.query_selector("button").unwrap().unwrap();
    let document = web_sys::window().unwrap().document().unwrap();
    assert!(document
        .active_element()
        .unwrap()
        .is_same_node(Some(&button)));
    let message = dialog
        .query_selector(".oidc-auto-logout-message")
        .unwrap()
        .unwrap();
    assert!(message
        .text_content()
        .unwrap()
        .starts_with("You will be signed out in "));
    // Taken off the page, it no longer follows the countdown.
    mounted.set(false);
    sleep(0).await;
    assert!(!dialog.is_connected());
    let before = message.text_content().unwrap();
    let tick = countdown.get_untracked();
    assert!(wait_for(|| countdown.get_untracked() != tick).await);
    assert_eq!(message.text_content().unwrap(), before);
}

#[wasm_bindgen_test]
async fn the_warning_takes_the_apps_class_texts_and_message() {
    use std::time::Duration;
    set_address("/");
    let config = mock("warning-parts", MockUser::new("hal"))
        .idle_timeout(Duration::from_secs(3))
        .auto_logout_warning(Duration::from_secs(2));
    let host = mount_in_provider(config, move || {
        let left = crate::use_auto_logout_countdown();
        view! {
            <AutoLogoutWarning class="idle" title="Still here?" button_label="Keep me in">
                <span data-testid="own-message">{move || left.get().unwrap_or(0)} " s left"</span>
            </AutoLogoutWarning>
        }
    });
    let dialog = host.query_selector("[role=alertdialog]").unwrap().unwrap();
    assert!(wait_for(|| warning_shown(&host)).await);
    assert_eq!(dialog.class_name(), "idle");
    let text = |selector: &str| {
        let element = dialog.query_selector(selector).unwrap();
        element.expect(selector).text_content().unwrap_or_default()
    };
    assert_eq!(text(".idle-title"), "Still here?");
    assert_eq!(text("button.idle-button"), "Keep me in");
    // The app's message replaces the library's, and stays reactive.
    let message = text(".idle-message");
    assert!(message.ends_with(" s left"), "{message}");
    assert!(!message.contains("signed out"), "{message}");
    assert_eq!(dialog.children().length(), 3, "title, message, button");
}

#[wasm_bindgen_test]
async fn the_idle_timeout_logs_out_at_zero() {
    use std::time::Duration;
    set_address("/");
    let config = mock("idle-zero", MockUser::new("gus"))
        .idle_timeout(Duration::from_secs(2))
        .auto_logout_warning(Duration::from_secs(1));
    let host = mount_in_provider(config, || {
        view! { <RequireAuth signed_out=|| "OUT">"IN"</RequireAuth> }
    });
    assert_eq!(text(&host), "IN");
    assert!(wait_for(|| text(&host) == "OUT").await, "{}", text(&host));
}

#[wasm_bindgen_test]
async fn require_auth_does_not_sign_back_in_after_a_logout_under_its_eyes() {
    set_address("/");
    let handle = RwSignal::new(None::<crate::Oidc>);
    let host = mount_in_provider(
        mock("guard-after-logout", MockUser::new("hal")),
        move || {
            handle.set(Some(use_oidc()));
            view! { <RequireAuth fallback=|| "WAIT">"IN"</RequireAuth> }
        },
    );
    assert_eq!(text(&host), "IN");
    handle
        .get_untracked()
        .unwrap()
        .logout(crate::LogoutOptions::default());
    signed_out_for_good(&host).await;
    // Its button signs in again.
    let button = host.query_selector("button").unwrap().unwrap();
    button.unchecked_ref::<web_sys::HtmlElement>().click();
    assert!(wait_for(|| text(&host) == "IN").await, "{}", text(&host));
}

#[wasm_bindgen_test]
async fn require_auth_keeps_its_children_when_the_session_publishes_the_same_branch() {
    set_address("/");
    let builds = RwSignal::new(0u32);
    let session = RwSignal::new_local(None::<Rc<Driver>>);
    let host = mount_in_provider(mock("guard-rebuild", MockUser::new("ike")), move || {
        session.set(crate::leptos::current_session());
        view! {
            <RequireAuth fallback=|| "WAIT">
                {builds.update_untracked(|n| *n += 1);
                "IN"}
            </RequireAuth>
        }
    });
    assert_eq!(text(&host), "IN");
    let built = builds.get_untracked();
    // A renewal that brings other claims publishes the signed-in state anew: the
    // children (their signals, a form being filled in) stay as they are.
    let driver = session.get_untracked().unwrap();
    let signed_in = driver.machine.borrow().state();
    assert!(signed_in.is_logged_in());
    driver.exec(Command::Publish(signed_in.clone()));
    driver.exec(Command::Publish(signed_in));
    sleep(50).await;
    assert_eq!(text(&host), "IN");
    assert_eq!(
        builds.get_untracked(),
        built,
        "the children were built again"
    );
}

#[wasm_bindgen_test]
async fn require_auth_sees_a_sign_in_and_a_logout_published_between_two_renders() {
    set_address("/");
    let show = RwSignal::new(false);
    let session = RwSignal::new_local(None::<Rc<Driver>>);
    let host = mount_in_provider(mock("guard-between", MockUser::new("jo")), move || {
        session.set(crate::leptos::current_session());
        move || {
            show.get()
                .then(|| view! { <RequireAuth fallback=|| "WAIT">"IN"</RequireAuth> })
        }
    });
    let driver = session.get_untracked().unwrap();
    let signed_in = driver.machine.borrow().state();
    assert!(signed_in.is_logged_in());
    // The guard appears while the session is pending...
    driver.exec(Command::Publish(AuthState::Pending));
    show.set(true);
    assert!(wait_for(|| text(&host) == "WAIT").await, "{}", text(&host));
    // ...and a sign-in and a logout come in the same task, before it renders again.
    driver.exec(Command::Publish(signed_in));
    driver.exec(Command::Publish(AuthState::LoggedOut));
    // The user was signed in under its eyes: no login starts.
    signed_out_for_good(&host).await;
}

#[wasm_bindgen_test]
async fn is_allowed_is_a_tri_state_over_the_typed_user() {
    #[derive(Clone, serde::Deserialize)]
    struct Roles {
        #[serde(default)]
        roles: Vec<String>,
    }
    set_address("/");
    let admin_seen = RwSignal::new(Vec::<Option<bool>>::new());
    let owner_seen = RwSignal::new(Vec::<Option<bool>>::new());
    let handle = RwSignal::new(None::<crate::Oidc>);
    mount_in_provider(
        mock("allowed", MockUser::new("ida").claim("roles", ["admin"])),
        move || {
            handle.set(Some(use_oidc()));
            let admin = crate::use_oidc_with_claims::<Roles>()
                .is_allowed(|u| u.additional().roles.iter().any(|r| r == "admin"));
            let owner = crate::use_oidc_with_claims::<Roles>()
                .is_allowed(|u| u.additional().roles.iter().any(|r| r == "owner"));
            Effect::new(move |_| admin_seen.update(|v| v.push(admin.get())));
            Effect::new(move |_| owner_seen.update(|v| v.push(owner.get())));
        },
    );
    let last = |seen: RwSignal<Vec<Option<bool>>>| seen.get_untracked().last().copied();
    assert!(wait_for(|| last(admin_seen) == Some(Some(true))).await);
    assert_eq!(last(owner_seen), Some(Some(false)));
    handle
        .get_untracked()
        .unwrap()
        .logout(crate::LogoutOptions::default());
    assert!(wait_for(|| last(admin_seen) == Some(Some(false))).await);
    assert_eq!(last(owner_seen), Some(Some(false)));
    // Pending: none, with a provider that is still being asked.
    let pending = RwSignal::new(Vec::<Option<bool>>::new());
    mount_in_provider(OidcConfig::new(DEAD_ISS, "allowed-pending"), move || {
        let admin = use_oidc().is_allowed(|_| true);
        Effect::new(move |_| pending.update(|v| v.push(admin.get())));
    });
    assert!(wait_for(|| !pending.get_untracked().is_empty()).await);
    assert_eq!(pending.get_untracked()[0], None);
}

#[wasm_bindgen_test]
async fn the_early_code_exchange_is_used_only_for_the_very_same_request() {
    use wasm_bindgen::JsValue;
    driver_script();
    let window = web_sys::window().unwrap();
    // The test server's own address: a request that is not the exchange goes out for
    // real and gets the server's answer (not the script's).
    let token_url = format!("{}/early-exchange-token", location().origin().unwrap());
    // `answer`: what the script's `request` answered (JavaScript), 1.5 s ago.
    let set_exchange = |body: &str, answer: &str| {
        let answer = js_sys::Function::new_no_args(&format!("return {answer}"))
            .call0(&JsValue::UNDEFINED)
            .unwrap();
        let exchange = js_sys::Object::new();
        js_sys::Reflect::set(&exchange, &"url".into(), &token_url.as_str().into()).unwrap();
        js_sys::Reflect::set(&exchange, &"body".into(), &body.into()).unwrap();
        js_sys::Reflect::set(
            &exchange,
            &"response".into(),
            &js_sys::Promise::resolve(&answer),
        )
        .unwrap();
        let at = super::js_clock(false) - 1_500.0;
        js_sys::Reflect::set(&exchange, &"at".into(), &at.into()).unwrap();
        js_sys::Reflect::set(&window, &"__oidcLeptosExchange".into(), &exchange).unwrap();
    };
    let request = |code: &str| {
        HttpRequest::post_form(
            token_url.as_str(),
            [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", "https://app.test/"),
                ("client_id", "spa"),
                ("code_verifier", "v"),
            ],
        )
    };
    let script_answer = r#"[200, new TextEncoder().encode('{"access_token":"a"}'), "application/json", null, null, null]"#;
    let is_script_answer = |r: &Result<HttpResponse, String>| matches!(r, Ok(r) if r.status == 200 && r.body == br#"{"access_token":"a"}"#);
    // The script's body, its members in another order and encoded by URLSearchParams.
    let script_body = "client_id=spa&code=c1&code_verifier=v&grant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp.test%2F";
    set_exchange(script_body, script_answer);
    // Another code (or verifier, or endpoint): not that exchange.
    assert!(!is_script_answer(&fetch(request("c2"), 10_000).await));
    let mut other_url = request("c1");
    other_url.url = format!("{token_url}-elsewhere");
    assert!(!is_script_answer(&fetch(other_url, 10_000).await));
    // The same request: its answer, once, and how long it waited for the app.
    let (response, waited) = super::fetch_waited(request("c1"), 10_000).await;
    let response = response.unwrap();
    assert!((1_500..10_000).contains(&waited), "{waited}");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"access_token":"a"}"#);
    assert_eq!(
        response.headers,
        vec![("content-type".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(
        js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap(),
        JsValue::UNDEFINED,
        "used once"
    );
    assert!(!is_script_answer(&fetch(request("c1"), 10_000).await));
    // A failed early fetch is a network error, as the driver's own.
    set_exchange(script_body, r#""Failed to fetch""#);
    let err = fetch(request("c1"), 10_000).await.unwrap_err();
    assert!(err.contains("Failed to fetch"), "{err}");
    // An early fetch still unanswered when the app's own timeout runs out: a timeout,
    // as the driver's own request would be (the script's timeout is longer).
    set_exchange(script_body, "null");
    let never = js_sys::Promise::new(&mut |_, _| {});
    let exchange = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
    js_sys::Reflect::set(&exchange, &"response".into(), &never).unwrap();
    let err = fetch(request("c1"), 50).await.unwrap_err();
    assert!(err.contains("timed out after 50 ms"), "{err}");
    // Its answer, when it comes, is nobody's: the script revokes its refresh token.
    set_exchange(script_body, "null");
    let exchange = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
    let later = js_sys::Function::new_no_args(
        "return new Promise((done) => setTimeout(() => done('late'), 100))",
    )
    .call0(&JsValue::UNDEFINED)
    .unwrap();
    js_sys::Reflect::set(&exchange, &"response".into(), &later).unwrap();
    let revoked = js_sys::Array::new();
    js_sys::Reflect::set(&window, &"__revoked".into(), &revoked).unwrap();
    let revoke = js_sys::Function::new_with_args("a", "window.__revoked.push(a)");
    js_sys::Reflect::set(&exchange, &"revoke".into(), &revoke).unwrap();
    let err = fetch(request("c1"), 50).await.unwrap_err();
    assert!(err.contains("timed out after 50 ms"), "{err}");
    assert!(wait_for(|| revoked.length() > 0).await, "not revoked");
    assert_eq!(revoked.get(0).as_string().as_deref(), Some("late"));
    js_sys::Reflect::delete_property(&window, &"__revoked".into()).unwrap();
}

#[wasm_bindgen_test]
async fn a_frame_left_on_a_page_of_its_own_is_told_as_failed() {
    use wasm_bindgen::JsValue;
    driver_script();
    set_address("/");
    let (heard, answer) = recording_answer();
    let origin = location().origin().unwrap();
    let back = format!("{origin}/silent-landing");
    // The provider cannot be reached: the frame shows the browser's error page, and
    // after the grace for a scripted redirect the answer is that none will come.
    let url = format!(
        "{DEAD_ISS}/auth?redirect_uri={}",
        js_sys::encode_uri_component(&back)
    );
    let opened = super::js_frame(&url, answer.as_ref().unchecked_ref(), 2_000);
    sleep(500).await;
    assert!(
        heard.borrow().is_empty(),
        "told before the grace: {:?}",
        heard.borrow()
    );
    assert!(
        wait_for(|| !heard.borrow().is_empty()).await,
        "the failed frame was never told"
    );
    assert_eq!(*heard.borrow(), [FAILED]);
    let close: js_sys::Function = opened.get(0).unchecked_into();
    close.call0(&JsValue::UNDEFINED).unwrap();
}

#[wasm_bindgen_test]
async fn the_early_scripts_frame_left_on_an_error_page_is_told_as_failed() {
    driver_script();
    set_address("/");
    let window = web_sys::window().unwrap();
    // What a session cached on an earlier visit: the provider (unreachable now) and
    // its silent request; the only one, so the script restores it.
    clear_early_state();
    cache_provider("early-test", 0.0);
    let key = "oidc-leptos:early-test:provider";
    run_early_script();
    session_storage().remove_item(key).unwrap();
    let (heard, answer) = recording_answer();
    assert!(
        super::early_frame(key).is_some(),
        "the script started no sign-in"
    );
    super::js_adopt_early(answer.as_ref().unchecked_ref());
    assert!(
        wait_for(|| !heard.borrow().is_empty()).await,
        "the failed frame was never told"
    );
    assert_eq!(*heard.borrow(), [FAILED]);
    // Taken by a session that comes later, the failure is told at once.
    let (later, answer) = recording_answer();
    super::js_adopt_early(answer.as_ref().unchecked_ref());
    assert_eq!(*later.borrow(), [FAILED]);
    js_sys::Reflect::delete_property(&window, &"__oidcLeptosEarly".into()).unwrap();
}

#[wasm_bindgen_test]
fn the_early_silent_sign_in_is_handed_to_one_session_only() {
    driver_script();
    let window = web_sys::window().unwrap();
    let early =
        js_sys::JSON::parse(r#"{"key":"k","state":"s","nonce":"n","verifier":"v","created":1}"#)
            .unwrap();
    let document = window.document().unwrap();
    let frame = document.create_element("iframe").unwrap();
    document.body().unwrap().append_child(&frame).unwrap();
    js_sys::Reflect::set(&early, &"frame".into(), &frame).unwrap();
    js_sys::Reflect::set(&window, &"__oidcLeptosEarly".into(), &early).unwrap();
    // Only a session of the app it was made for takes it.
    assert!(super::early_frame("k2").is_none());
    // Its state, nonce and verifier are single use: a second session (the provider
    // mounted again) starts its own request.
    let first = super::early_frame("k").expect("the early sign-in");
    assert_eq!((first.key.as_str(), first.state.as_str()), ("k", "s"));
    assert!(super::early_frame("k").is_none());
    // Closing it removes its frame; it is not handed out again.
    super::js_close_early();
    assert!(!frame.is_connected());
    assert!(super::early_frame("k").is_none());
    js_sys::Reflect::delete_property(&window, &"__oidcLeptosEarly".into()).unwrap();
}

#[wasm_bindgen_test]
fn timer_delays_stay_within_what_set_timeout_reads() {
    assert_eq!(super::timer_delay(0), 0);
    assert_eq!(super::timer_delay(1_500), 1_500);
    // About 24.8 days and more would overflow to a negative delay: fired at once.
    assert_eq!(super::timer_delay(u64::from(u32::MAX)), i32::MAX as u32);
    assert_eq!(super::timer_delay(u64::MAX), i32::MAX as u32);
}

#[wasm_bindgen_test]
async fn a_dropped_session_ends_and_answers_its_waiters_even_with_a_request_in_flight() {
    driver_script();
    set_address("/");
    let window = web_sys::window().unwrap();
    let fetch = js_sys::Reflect::get(&window, &"fetch".into()).unwrap();
    // Every request stays unanswered: discovery is in flight when the app lets go.
    let hang = js_sys::Function::new_no_args("return new Promise(() => {})");
    js_sys::Reflect::set(&window, &"fetch".into(), &hang).unwrap();
    let driver = Driver::start(OidcConfig::new("https://hang.example", "dropped"), |_| {});
    // A caller waits for a token the session cannot give yet.
    let token = driver.access_token();
    let weak = Rc::downgrade(&driver);
    drop(driver);
    js_sys::Reflect::set(&window, &"fetch".into(), &fetch).unwrap();
    assert!(weak.upgrade().is_none(), "the session outlived its app");
    // It is answered, not left waiting forever.
    assert_eq!(token.await.unwrap_err(), crate::AuthError::NotLoggedIn);
}

#[wasm_bindgen_test]
async fn handles_kept_past_their_provider_do_nothing() {
    use std::sync::{Arc, Mutex};
    driver_script();
    set_address("/");
    let host = page_host();
    let kept = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&kept);
    let mounted = leptos::mount::mount_to(host.unchecked_into(), move || {
        let config = mock("kept-handle", MockUser::new("gus"));
        let slot = Arc::clone(&slot);
        view! {
            <OidcProvider config=config>
                {
                    *slot.lock().unwrap() = Some(use_oidc());
                }
            </OidcProvider>
        }
    });
    let oidc = kept.lock().unwrap().unwrap();
    assert!(sendable(oidc.get_access_token()).await.is_ok());
    // The provider leaves the page; a task still holds the handle.
    drop(mounted);
    oidc.login(crate::LoginOptions::default());
    oidc.logout(crate::LogoutOptions::default());
    oidc.stay_signed_in();
    assert_eq!(
        oidc.get_access_token().await.unwrap_err(),
        crate::AuthError::NotLoggedIn
    );
}

#[wasm_bindgen_test]
fn a_return_from_the_back_forward_cache_is_passed_on() {
    use wasm_bindgen::closure::Closure;
    driver_script();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&kinds);
    let post = Closure::<dyn FnMut(u32, wasm_bindgen::JsValue)>::new(move |kind, _| {
        seen.borrow_mut().push(kind);
    });
    let listening = super::js_listen("bfcache-test", post.as_ref().unchecked_ref());
    let remove: js_sys::Function = listening.get(0).unchecked_into();
    js_sys::Function::new_no_args(
        "dispatchEvent(new PageTransitionEvent('pageshow', { persisted: false }));
         dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
         dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
         document.dispatchEvent(new Event('visibilitychange'));
         dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
         document.dispatchEvent(new Event('visibilitychange'));",
    )
    .call0(&wasm_bindgen::JsValue::UNDEFINED)
    .unwrap();
    remove.call0(&wasm_bindgen::JsValue::UNDEFINED).unwrap();
    // Only the page shown again from the cache (a first load is not one). Back from
    // the cache, the page is visible before `pageshow`: the return is told first, and
    // once.
    assert_eq!(*kinds.borrow(), [7, 7, 3, 3]);
}

#[wasm_bindgen_test]
fn the_driver_stores_a_tabs_activity_only_over_an_older_one_of_the_same_user() {
    driver_script();
    let driver = Driver::start(OidcConfig::new(DEAD_ISS, "spa"), |_| {});
    let key = driver.machine.borrow().client().key(Slot::Activity);
    let local = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let now = js_sys::Date::now() as u64;
    let store = |value: Option<String>| {
        driver.exec(Command::Store {
            slot: Slot::Activity,
            value,
        })
    };
    // Another tab's later move stays under this tab's older one.
    let later = format!("{} 7", now - 1_000);
    local.set_item(&key, &later).unwrap();
    store(Some(format!("{} 7", now - 5_000)));
    assert_eq!(local.get_item(&key).unwrap(), Some(later));
    // A newer move, or another user's, replaces it; a logout removes it.
    let newer = format!("{now} 7");
    store(Some(newer.clone()));
    assert_eq!(local.get_item(&key).unwrap(), Some(newer));
    let other = format!("{} 8", now - 9_000);
    store(Some(other.clone()));
    assert_eq!(local.get_item(&key).unwrap(), Some(other));
    store(None);
    assert_eq!(local.get_item(&key).unwrap(), None);
}

#[wasm_bindgen_test]
async fn the_access_token_resource_follows_renewals() {
    thread_local! {
        static SESSION: RefCell<Option<Rc<Driver>>> = const { RefCell::new(None) };
    }
    set_address("/");
    let loads = RwSignal::new(0u32);
    mount_in_provider(mock("resource-renewals", MockUser::new("ida")), move || {
        let token = crate::use_access_token();
        SESSION.with(|s| *s.borrow_mut() = crate::leptos::current_session());
        Effect::new(move |_| {
            if token.get().is_some_and(|t| t.is_ok()) {
                loads.update(|n| *n += 1);
            }
        });
    });
    assert!(wait_for(|| loads.get_untracked() >= 1).await);
    let driver = SESSION.with(|s| s.borrow_mut().take()).unwrap();
    // A renewal: the driver publishes new session information, and no new state.
    let renewed = crate::SessionInfo {
        renewals: 1,
        ..Default::default()
    };
    (driver.listener)(super::Update::Info(renewed));
    assert!(
        wait_for(|| loads.get_untracked() >= 2).await,
        "not reloaded"
    );
}

/// Hydrating a page the server rendered: the server's provider is always pending (it
/// cannot see the browser's session), so the views must be hydrated for that state,
/// and change once the session publishes, even one known at once (mock mode).
#[cfg(feature = "hydrate")]
#[wasm_bindgen_test]
async fn hydration_takes_over_the_servers_pending_view_then_shows_the_session() {
    use crate::leptos::hydration::{status, SERVER_HTML};
    driver_script();
    let host = page_host();
    host.set_inner_html(SERVER_HTML);
    let pending = host.first_element_child().unwrap();
    let config = mock("hydrate", MockUser::new("alice"));
    let handle = leptos::mount::hydrate_from(host.clone().unchecked_into(), move || {
        view! { <OidcProvider config=config>{status()}</OidcProvider> }
    });
    // Hydrated: the server's element was taken over, not rebuilt.
    assert!(pending.is_connected());
    assert_eq!(text(&host), "pending");
    // Then the session shows.
    assert!(
        wait_for(|| text(&host) == "signed in").await,
        "shows {}",
        host.inner_html()
    );
    assert!(host.query_selector("b").unwrap().is_some());
    assert!(host.query_selector("p").unwrap().is_none());
    handle.forget();
}

/// Under `hydrate` the session's publications reach the page a microtask late: a
/// guard hydrated while the session signed in (known at once in mock mode) still
/// knows, after a logout, that the user was signed in under its eyes.
#[cfg(feature = "hydrate")]
#[wasm_bindgen_test]
async fn hydration_a_guard_that_saw_the_user_does_not_send_them_off_after_a_logout() {
    use crate::leptos::hydration::{guarded, GUARDED_HTML};
    driver_script();
    set_address("/");
    let host = page_host();
    host.set_inner_html(GUARDED_HTML);
    let session = RwSignal::new_local(None::<Rc<Driver>>);
    let config = mock("hydrate-guard", MockUser::new("ann"));
    let handle = leptos::mount::hydrate_from(host.clone().unchecked_into(), move || {
        view! {
            <OidcProvider config=config>
                {session.set(crate::leptos::current_session());
                guarded()}
            </OidcProvider>
        }
    });
    assert!(wait_for(|| text(&host) == "IN").await, "{}", text(&host));
    let driver = session.get_untracked().unwrap();
    driver.post(crate::session::machine::Event::Logout(
        crate::LogoutOptions::default(),
    ));
    signed_out_for_good(&host).await;
    handle.forget();
}

/// Makes every request of the page answer [`DEAD_ISS`]'s metadata (its sign-in pages
/// cannot be reached); returns the page's own `fetch`, to put back.
fn answer_discovery() -> wasm_bindgen::JsValue {
    let window = web_sys::window().unwrap();
    let metadata = serde_json::json!({
        "issuer": DEAD_ISS,
        "authorization_endpoint": format!("{DEAD_ISS}/auth"),
        "token_endpoint": format!("{DEAD_ISS}/token"),
        "jwks_uri": format!("{DEAD_ISS}/jwks"),
    });
    let answer = js_sys::Function::new_with_args(
        "",
        &format!(
            "return Promise.resolve(new Response({}, {{ headers: {{ 'content-type': 'application/json' }} }}))",
            serde_json::to_string(&metadata.to_string()).unwrap()
        ),
    );
    let fetch = js_sys::Reflect::get(&window, &"fetch".into()).unwrap();
    js_sys::Reflect::set(&window, &"fetch".into(), &answer).unwrap();
    fetch
}

/// The states a session published, in order.
type States = Rc<RefCell<Vec<AuthState<crate::session::RawClaims>>>>;

/// Starts a session for `config`, recording the states it publishes.
fn start_recording(config: OidcConfig) -> (Rc<Driver>, States) {
    driver_script();
    let states = States::default();
    let seen = Rc::clone(&states);
    let driver = Driver::start(config, move |update| {
        if let super::Update::State(state) = update {
            seen.borrow_mut().push(state);
        }
    });
    (driver, states)
}

/// Whether the session came to be signed out (waiting for it a while).
async fn signed_out(states: &States) -> bool {
    wait_for(|| {
        states
            .borrow()
            .iter()
            .any(|s| matches!(s, AuthState::LoggedOut))
    })
    .await
}

/// A pending sign-in of namespace `ns` made `age` seconds ago, as the session keeps
/// it, redirected back to this page's origin.
fn pending_entry(ns: &str, silent: bool, return_to: Option<&str>, age: f64) -> serde_json::Value {
    serde_json::json!({
        "issuer": DEAD_ISS,
        "client_id": ns,
        "silent": silent,
        "pending": {
            "issuer": DEAD_ISS,
            "client_id": ns,
            "state": "st8",
            "nonce": "n",
            "code_verifier": "v".repeat(43),
            "redirect_uri": format!("{}/", location().origin().unwrap()),
            "return_to": return_to,
            "created_at": (js_sys::Date::now() / 1000.0 - age) as u64,
        },
    })
}

#[wasm_bindgen_test]
async fn an_early_frame_taken_over_from_inside_a_page_event_does_not_stop_the_session() {
    driver_script();
    set_address("/");
    let window = web_sys::window().unwrap();
    let storage = session_storage();
    // The provider answers discovery; its sign-in pages cannot be reached.
    let fetch = answer_discovery();
    let config =
        || OidcConfig::new(DEAD_ISS, "early-reentry").restore(crate::session::RestoreMode::Iframe);
    // An earlier page load cached the provider and its silent request...
    let first = Driver::start(config(), |_| {});
    let key = first.machine.borrow().client().key(Slot::Provider);
    assert!(wait_for(|| storage.get_item(&key).unwrap().is_some()).await);
    drop(first);
    // ...which has just grown too old when the app starts: the early script still
    // opened its frame, which failed, and the app discovers the provider again.
    let mut cached: serde_json::Value =
        serde_json::from_str(&storage.get_item(&key).unwrap().unwrap()).unwrap();
    cached["at"] = (js_sys::Date::now() as u64 - 600_001).into();
    storage.set_item(&key, &cached.to_string()).unwrap();
    let early = js_sys::JSON::parse(
        &serde_json::json!({
            "key": key,
            "state": "early-state",
            "nonce": "early-nonce",
            "verifier": "v".repeat(43),
            "created": js_sys::Date::now(),
            "failed": true,
        })
        .to_string(),
    )
    .unwrap();
    js_sys::Reflect::set(&window, &"__oidcLeptosEarly".into(), &early).unwrap();
    // The discovery answer arrives as a page event; handling it takes the early frame
    // over, whose failure is told at once, from inside that event.
    // Frames the session opens (it should open none: it takes the early one over).
    let observer = js_sys::Function::new_no_args(
        "window.__framesOpened = 0;
         const o = new MutationObserver((ms) => ms.forEach((m) => m.addedNodes.forEach((n) => {
           if (n.tagName === 'IFRAME') window.__framesOpened++;
         })));
         o.observe(document.documentElement, { childList: true, subtree: true });
         return o;",
    )
    .call0(&wasm_bindgen::JsValue::UNDEFINED)
    .unwrap();
    let (driver, states) = start_recording(config());
    let signed_out = signed_out(&states).await;
    let disconnect: js_sys::Function = js_sys::Reflect::get(&observer, &"disconnect".into())
        .unwrap()
        .unchecked_into();
    disconnect.call0(&observer).unwrap();
    let opened = js_sys::Reflect::get(&window, &"__framesOpened".into()).unwrap();
    js_sys::Reflect::set(&window, &"fetch".into(), &fetch).unwrap();
    js_sys::Reflect::delete_property(&window, &"__oidcLeptosEarly".into()).unwrap();
    storage.remove_item(&key).unwrap();
    assert!(
        signed_out,
        "the session stopped while restoring: {:?}",
        states.borrow()
    );
    assert_eq!(
        opened.as_f64(),
        Some(0.0),
        "the session opened a frame of its own: the early one was not taken over"
    );
    // And it goes on answering.
    assert_eq!(
        driver.access_token().await.unwrap_err(),
        crate::AuthError::NotLoggedIn
    );
    drop(driver);
}

/// Has the page run the library's script (the driver's functions), as an app's
/// `index.html` does (once: its early part then finds nothing to start).
fn driver_script() {
    assert!(crate::add_page_script());
}

/// Runs the page's early restore script as the page would, before the app.
fn run_early_script() {
    super::run_page_script();
}

/// Removes what the early restore script and the sessions of other tests left.
fn clear_early_state() {
    driver_script();
    let window = web_sys::window().unwrap();
    super::js_close_early();
    for name in ["__oidcLeptosEarly", "__oidcLeptosExchange"] {
        js_sys::Reflect::delete_property(&window, &name.into()).unwrap();
    }
    let storage = session_storage();
    let keys: Vec<String> = (0..storage.length().unwrap())
        .filter_map(|i| storage.key(i).unwrap())
        .filter(|k| k.starts_with("oidc-leptos:"))
        .collect();
    for k in keys {
        storage.remove_item(&k).unwrap();
    }
}

/// A provider cached by a session of namespace `ns`, `age_ms` ago, with its silent
/// request.
fn cache_provider(ns: &str, age_ms: f64) {
    let origin = location().origin().unwrap();
    let metadata = serde_json::json!({
        "issuer": DEAD_ISS,
        "authorization_endpoint": format!("{DEAD_ISS}/auth"),
        "token_endpoint": format!("{DEAD_ISS}/token"),
        "revocation_endpoint": format!("{DEAD_ISS}/revoke/{ns}"),
    });
    let silent = format!(
        "{DEAD_ISS}/auth?client_id={ns}&response_type=code&scope=openid&prompt=none&redirect_uri={}",
        js_sys::encode_uri_component(&format!("{origin}/silent-landing"))
    );
    let cache = serde_json::json!({
        "at": (js_sys::Date::now() - age_ms) as u64,
        "metadata": metadata.to_string(),
        "silent": silent,
    });
    session_storage()
        .set_item(&format!("oidc-leptos:{ns}:provider"), &cache.to_string())
        .unwrap();
}

/// The connections the early script opened (`link rel=preconnect`): each link's
/// address and `crossorigin`. The links go.
fn preconnects() -> Vec<String> {
    let document = web_sys::window().unwrap().document().unwrap();
    let mut found = Vec::new();
    while let Some(link) = document.query_selector("link[rel=preconnect]").unwrap() {
        link.remove();
        found.push(format!(
            "{} {}",
            link.get_attribute("href").unwrap_or_default(),
            link.get_attribute("crossorigin").unwrap_or_default()
        ));
    }
    found
}

/// The key of the app whose silent sign-in the early script started, if any.
fn early_key() -> Option<String> {
    let early =
        js_sys::Reflect::get(&web_sys::window().unwrap(), &"__oidcLeptosEarly".into()).unwrap();
    js_sys::Reflect::get(&early, &"key".into())
        .ok()
        .and_then(|k| k.as_string())
}

#[wasm_bindgen_test]
fn the_early_script_takes_a_query_for_a_callback_only_as_the_app_does() {
    // `state` with `code` or `error` is a callback's (the app's rule): no silent
    // sign-in starts, even for an empty `state`. `state` alone is the app's own
    // parameter: the page restores as any other.
    for (address, restores) in [
        ("/?state=CA", true),
        ("/?code=x&state=", false),
        ("/?error=access_denied&state=s", false),
    ] {
        clear_early_state();
        set_address(address);
        cache_provider("a", 1_000.0);
        run_early_script();
        assert_eq!(early_key().is_some(), restores, "{address}");
    }
    clear_early_state();
    set_address("/");
}

#[wasm_bindgen_test]
fn the_early_script_restores_the_one_app_that_can_restore_now() {
    set_address("/");
    // One recent entry beside an old one (another app, or this one configured
    // anew), in either order: the recent one, whichever the storage lists first.
    preconnects();
    for (old, recent) in [("a", "b"), ("b", "a")] {
        clear_early_state();
        cache_provider(old, 600_001.0);
        cache_provider(recent, 1_000.0);
        run_early_script();
        assert_eq!(
            early_key(),
            Some(format!("oidc-leptos:{recent}:provider")),
            "old {old}, recent {recent}"
        );
        // The code exchange's connection, without credentials, is opened at once.
        assert_eq!(preconnects(), [format!("{DEAD_ISS} anonymous")]);
    }
    // Beside one logged out of.
    clear_early_state();
    cache_provider("a", 1_000.0);
    cache_provider("b", 1_000.0);
    let local = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    local.set_item("oidc-leptos:a:logged-out", "1").unwrap();
    run_early_script();
    local.remove_item("oidc-leptos:a:logged-out").unwrap();
    assert_eq!(early_key(), Some("oidc-leptos:b:provider".to_owned()));
    assert_eq!(preconnects(), [format!("{DEAD_ISS} anonymous")]);
    // Two that could: the script cannot tell which app this page runs, and leaves
    // the restore to the app.
    clear_early_state();
    cache_provider("a", 1_000.0);
    cache_provider("b", 1_000.0);
    run_early_script();
    assert_eq!(early_key(), None);
    assert_eq!(preconnects(), Vec::<String>::new());
    clear_early_state();
}

#[wasm_bindgen_test]
fn the_early_script_does_not_redeem_a_silent_answer_after_a_logout() {
    let window = web_sys::window().unwrap();
    let local = window.local_storage().unwrap().unwrap();
    for logged_out in [false, true] {
        clear_early_state();
        cache_provider("lo", 1_000.0);
        let pending = pending_entry("lo", true, None, 0.0);
        session_storage()
            .set_item("oidc-leptos:lo:pending", &pending.to_string())
            .unwrap();
        if logged_out {
            // Another tab logged out while this one was away at the provider.
            local.set_item("oidc-leptos:lo:logged-out", "1").unwrap();
        }
        set_address("/?code=c0de&state=st8");
        run_early_script();
        set_address("/");
        local.remove_item("oidc-leptos:lo:logged-out").unwrap();
        let exchange = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
        assert_eq!(
            exchange.is_undefined(),
            logged_out,
            "logged out: {logged_out}"
        );
    }
    clear_early_state();
}

#[wasm_bindgen_test]
async fn a_session_of_another_client_leaves_the_early_sign_in_alone() {
    use std::time::Duration;
    set_address("/");
    clear_early_state();
    let window = web_sys::window().unwrap();
    let document = window.document().unwrap();
    // The early script started the sign-in of one app of the page...
    let frame = document.create_element("iframe").unwrap();
    document.body().unwrap().append_child(&frame).unwrap();
    let early = js_sys::JSON::parse(
        r#"{"key":"oidc-leptos:first-app:provider","state":"s","nonce":"n","verifier":"v","created":1}"#,
    )
    .unwrap();
    js_sys::Reflect::set(&early, &"frame".into(), &frame).unwrap();
    js_sys::Reflect::set(&window, &"__oidcLeptosEarly".into(), &early).unwrap();
    // ...and a session of another client starts first, and ends its own silent
    // sign-in (its frame fails).
    let fetch = answer_discovery();
    let (other, states) = start_recording(
        OidcConfig::new(DEAD_ISS, "second-app")
            .restore(crate::session::RestoreMode::Iframe)
            .silent_timeout(Duration::from_secs(1)),
    );
    let done = signed_out(&states).await;
    js_sys::Reflect::set(&window, &"fetch".into(), &fetch).unwrap();
    drop(other);
    assert!(done, "{:?}", states.borrow());
    // The first app's early sign-in is still there for it.
    assert!(frame.is_connected(), "the other session removed its frame");
    let first = super::early_frame("oidc-leptos:first-app:provider");
    clear_early_state();
    assert_eq!(first.map(|e| e.state).as_deref(), Some("s"));
}

#[wasm_bindgen_test]
fn the_early_script_sends_a_code_once_though_the_callback_page_loads_again() {
    let window = web_sys::window().unwrap();
    let storage = session_storage();
    let key = "oidc-leptos:again:pending";
    let pending = |return_to| pending_entry("again", false, return_to, 0.0);
    let exchange = || {
        let e = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
        js_sys::Reflect::delete_property(&window, &"__oidcLeptosExchange".into()).unwrap();
        !e.is_undefined()
    };
    let stored = || -> serde_json::Value {
        serde_json::from_str(&storage.get_item(key).unwrap().unwrap()).unwrap()
    };
    let address = || {
        format!(
            "{}{}{}",
            location().pathname().unwrap(),
            location().search().unwrap(),
            location().hash().unwrap()
        )
    };
    for (return_to, back) in [
        (Some("/todos?filter=open"), "/todos?filter=open"),
        (None, "/?keep=1#top"),
    ] {
        clear_early_state();
        cache_provider("again", 1_000.0);
        storage
            .set_item(key, &pending(return_to).to_string())
            .unwrap();
        // A browser where the script cannot send it: nothing is marked, and the app
        // sends it itself.
        let encoder = js_sys::Function::new_no_args(
            "const t = window.TextEncoder; window.TextEncoder = undefined; return t;",
        )
        .call0(&wasm_bindgen::JsValue::UNDEFINED)
        .unwrap();
        set_address("/?code=c0de&state=st8&keep=1#top");
        run_early_script();
        js_sys::Reflect::set(&window, &"TextEncoder".into(), &encoder).unwrap();
        assert!(!exchange());
        assert_eq!(stored()["sent"], serde_json::Value::Null);
        // The first load sends the code, and the app finds its sign-in still pending.
        run_early_script();
        assert!(exchange(), "the first load sends the code");
        assert_eq!(stored()["pending"], pending(return_to)["pending"]);
        assert_eq!(stored()["sent"], true);
        // The page loads again before the app took over: the code is not sent again.
        run_early_script();
        assert!(!exchange(), "the code was sent a second time");
        assert_eq!(storage.get_item(key).unwrap(), None);
        assert_eq!(address(), back);
    }
    set_address("/");
    clear_early_state();
}

#[wasm_bindgen_test]
async fn an_early_sign_in_the_app_closes_makes_no_frame_and_its_exchange_is_revoked() {
    use wasm_bindgen::JsValue;
    set_address("/");
    let window = web_sys::window().unwrap();
    let document = window.document().unwrap();
    let frames = || document.get_elements_by_tag_name("iframe").length();
    let get = |name: &str| js_sys::Reflect::get(&window, &name.into()).unwrap();
    // Closed before its frame is made (the hash of the verifier is computed first).
    clear_early_state();
    let before = frames();
    cache_provider("rv", 1_000.0);
    run_early_script();
    assert!(!get("__oidcLeptosEarly").is_undefined());
    super::js_close_early();
    sleep(50).await;
    assert_eq!(frames(), before, "a frame made after the app closed it");
    // The frame's answer was exchanged. Taken by the app's request in the task that
    // closes the frame (the machine closes it as it goes on with the answer): kept,
    // not revoked. Not taken: it leaves the page, and is revoked.
    let revoked = js_sys::Array::new();
    js_sys::Reflect::set(&window, &"__revoked".into(), &revoked).unwrap();
    let exchange = js_sys::Function::new_no_args(
        r#"const x = { url: "t", body: "b", at: performance.now(), response: Promise.resolve("the answer"),
             revoke: (a) => window.__revoked.push(a) };
           window.__oidcLeptosEarly.exchange = x; window.__oidcLeptosExchange = x;"#,
    );
    exchange.call0(&JsValue::UNDEFINED).unwrap();
    super::js_close_early();
    let taken = get("__oidcLeptosExchange");
    js_sys::Reflect::delete_property(&window, &"__oidcLeptosExchange".into()).unwrap();
    sleep(50).await;
    assert!(!taken.is_undefined());
    assert_eq!(revoked.length(), 0, "an exchange the app took was revoked");
    exchange.call0(&JsValue::UNDEFINED).unwrap();
    super::js_close_early();
    assert!(wait_for(|| revoked.length() > 0).await, "not revoked");
    assert_eq!(revoked.get(0).as_string().as_deref(), Some("the answer"));
    assert!(
        get("__oidcLeptosExchange").is_undefined(),
        "the tokens stay in the page"
    );
    // A callback's exchange the app does not want (it refused the callback): gone at
    // once, and revoked.
    exchange.call0(&JsValue::UNDEFINED).unwrap();
    super::js_forgo_early();
    assert!(get("__oidcLeptosExchange").is_undefined());
    assert!(wait_for(|| revoked.length() > 1).await, "not revoked");
    js_sys::Reflect::delete_property(&window, &"__revoked".into()).unwrap();
    // The secrets the app took are no longer in the page either.
    clear_early_state();
    cache_provider("rv", 1_000.0);
    run_early_script();
    assert!(super::early_frame("oidc-leptos:rv:provider").is_some());
    let early = get("__oidcLeptosEarly");
    for secret in ["state", "nonce", "verifier"] {
        let value = js_sys::Reflect::get(&early, &secret.into()).unwrap();
        assert!(value.is_null(), "{secret}: {value:?}");
    }
    clear_early_state();
}

#[wasm_bindgen_test]
async fn an_early_exchange_revokes_the_refresh_token_of_its_answer_rfc_7009() {
    use wasm_bindgen::JsValue;
    let window = web_sys::window().unwrap();
    // The requests the page sends, recorded and answered with an empty 200.
    let sent = js_sys::Array::new();
    js_sys::Reflect::set(&window, &"__sent".into(), &sent).unwrap();
    let fetch = js_sys::Reflect::get(&window, &"fetch".into()).unwrap();
    let record = js_sys::Function::new_with_args(
        "url, init",
        "window.__sent.push([String(url), init.method, new TextDecoder().decode(init.body)]); \
         return Promise.resolve(new Response('', { status: 200 }));",
    );
    js_sys::Reflect::set(&window, &"fetch".into(), &record).unwrap();
    // A callback: the script sends the code exchange. Beside it, sign-ins of other
    // apps of the origin, pending in this tab (listed before it or after).
    clear_early_state();
    cache_provider("rv", 1_000.0);
    session_storage()
        .set_item(
            "oidc-leptos:rv:pending",
            &pending_entry("rv", false, None, 0.0).to_string(),
        )
        .unwrap();
    for ns in ["a", "m", "z"] {
        cache_provider(ns, 1_000.0);
        let mut other = pending_entry(ns, false, None, 0.0);
        other["pending"]["state"] = format!("other-{ns}").into();
        session_storage()
            .set_item(&format!("oidc-leptos:{ns}:pending"), &other.to_string())
            .unwrap();
    }
    set_address("/?code=c0de&state=st8");
    run_early_script();
    set_address("/");
    let exchange = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
    let revoke: js_sys::Function = js_sys::Reflect::get(&exchange, &"revoke".into())
        .unwrap()
        .into();
    // An answer with a refresh token: revoked at its provider's revocation endpoint.
    let answer = js_sys::Function::new_no_args(
        r#"return [200, new TextEncoder().encode('{"refresh_token":"rt-1"}'), null, null, null, null]"#,
    )
    .call0(&JsValue::UNDEFINED)
    .unwrap();
    revoke.call1(&JsValue::UNDEFINED, &answer).unwrap();
    // One without (or an error, or no answer): nothing to revoke.
    for nothing in [JsValue::NULL, "failed".into()] {
        revoke.call1(&JsValue::UNDEFINED, &nothing).unwrap();
    }
    let revocations = || {
        sent.iter()
            .map(|c| js_sys::Array::from(&c))
            .filter(|c| c.get(0).as_string().unwrap().contains("/revoke/"))
            .collect::<Vec<_>>()
    };
    let done = wait_for(|| !revocations().is_empty()).await;
    sleep(20).await;
    js_sys::Reflect::set(&window, &"fetch".into(), &fetch).unwrap();
    js_sys::Reflect::delete_property(&window, &"__sent".into()).unwrap();
    assert!(done, "no revocation");
    let calls = revocations();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].get(0).as_string().unwrap(),
        format!("{DEAD_ISS}/revoke/rv")
    );
    assert_eq!(calls[0].get(1).as_string().unwrap(), "POST");
    let body = calls[0].get(2).as_string().unwrap();
    let form = crate::core::form::parse(&body);
    assert!(form.contains(&("token".into(), "rt-1".into())), "{body}");
    assert!(
        form.contains(&("token_type_hint".into(), "refresh_token".into())),
        "{body}"
    );
    assert!(form.contains(&("client_id".into(), "rv".into())), "{body}");
    clear_early_state();
}

#[wasm_bindgen_test]
fn the_early_script_redeems_a_callback_only_with_recent_metadata() {
    // Metadata cached 10 minutes ago or more, or dated ahead, is not what the app
    // would use (it discovers again); one pending entry without any is passed over.
    for (age, sent) in [(1_000.0, true), (600_001.0, false), (-60_000.0, false)] {
        clear_early_state();
        // Pending entries without metadata, under names before and after the one
        // that has some: whatever order the storage lists them in, some come first.
        for ns in ["a", "aa", "n", "none", "z", "zz"] {
            session_storage()
                .set_item(
                    &format!("oidc-leptos:{ns}:pending"),
                    &pending_entry(ns, false, None, 0.0).to_string(),
                )
                .unwrap();
        }
        cache_provider("age", age);
        assert_eq!(callback_exchanged("age", 0.0), sent, "cached {age} ms ago");
    }
    clear_early_state();
}

/// Whether the page's script, on a callback for a sign-in of namespace `ns` pending
/// for `age` seconds, sends the code exchange.
fn callback_exchanged(ns: &str, age: f64) -> bool {
    let pending = pending_entry(ns, false, None, age);
    session_storage()
        .set_item(&format!("oidc-leptos:{ns}:pending"), &pending.to_string())
        .unwrap();
    set_address("/?code=c0de&state=st8");
    run_early_script();
    set_address("/");
    let window = web_sys::window().unwrap();
    let exchange = js_sys::Reflect::get(&window, &"__oidcLeptosExchange".into()).unwrap();
    !exchange.is_undefined()
}

#[wasm_bindgen_test]
fn the_early_script_redeems_a_callback_only_within_the_pending_lifetime() {
    // Just within the hour, and just past it (the app's own limit,
    // `PENDING_MAX_AGE`).
    for (age, sent) in [(3_500.0, true), (3_601.0, false)] {
        clear_early_state();
        cache_provider("age", 1_000.0);
        assert_eq!(callback_exchanged("age", age), sent, "{age} s old");
    }
    assert_eq!(crate::core::PENDING_MAX_AGE, 3_600);
    clear_early_state();
}

#[wasm_bindgen_test]
async fn a_page_without_the_library_script_of_its_version_shows_a_failed_state_not_a_panic() {
    set_address("/");
    driver_script();
    let window = web_sys::window().unwrap();
    let name = wasm_bindgen::JsValue::from("__oidcLeptos");
    let script = js_sys::Reflect::get(&window, &name).unwrap();
    // A copy an older version of the library left in the page: the same functions,
    // another version.
    let older = js_sys::Object::assign(&js_sys::Object::new(), script.unchecked_ref());
    js_sys::Reflect::set(&older, &"v".into(), &"0123456789abcdef".into()).unwrap();
    for page in [wasm_bindgen::JsValue::UNDEFINED, older.into()] {
        js_sys::Reflect::set(&window, &name, &page).unwrap();
        let host = page_host();
        let config = mock("no-script", MockUser::new("cy"));
        let handle = RwSignal::new(None::<crate::Oidc>);
        let unmount = leptos::mount::mount_to(host.clone().unchecked_into(), move || {
            view! {
                <OidcProvider config=config.clone()>
                    {
                        let oidc = use_oidc();
                        handle.set(Some(oidc));
                        move || match oidc.state().get() {
                            AuthState::Failed(e) => format!("failed: {e}"),
                            _ => "not failed".to_owned(),
                        }
                    }
                </OidcProvider>
            }
        });
        js_sys::Reflect::set(&window, &name, &script).unwrap();
        sleep(50).await;
        let shown = text(&host);
        assert_eq!(shown, format!("failed: {}", AuthError::Script));
        assert!(shown.contains("EARLY_RESTORE_SCRIPT"), "{shown}");
        let token = handle.get_untracked().unwrap().get_access_token();
        assert_eq!(token.await.unwrap_err(), AuthError::Script);
        drop(unmount);
        host.remove();
    }
}
