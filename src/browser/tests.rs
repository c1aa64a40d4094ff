//! Browser tests (headless Chromium): address-bar cleanup, session storage, WebCrypto
//! verification, and the provider's state transitions.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use super::{BrowserPlatform, WebCryptoVerifier};
use crate::core::jose::{AlgorithmPolicy, JoseError, Jwk, JwkSet, UnverifiedJws};
use crate::core::{form, HttpRequest, HttpResponse};
use crate::session::engine::{PageUrl, Platform, Session, PENDING_KEY};
use crate::session::{AuthError, AuthState, LoginOptions, OidcConfig};
use crate::{use_oidc, NoAdditionalClaims, OidcProvider};

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

/// The real browser platform, with the network and page navigation replaced.
#[derive(Clone)]
struct Harness {
    metadata: String,
    navigations: Rc<RefCell<Vec<String>>>,
}

impl crate::core::jose::AsyncSignatureVerifier for Harness {
    async fn verify(
        &self,
        alg: crate::core::jose::Algorithm,
        key: &Jwk,
        input: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        WebCryptoVerifier.verify(alg, key, input, sig).await
    }
}

impl Platform for Harness {
    async fn fetch(&self, _request: HttpRequest) -> Result<HttpResponse, String> {
        Ok(HttpResponse {
            status: 200,
            headers: vec![],
            body: self.metadata.clone().into_bytes(),
        })
    }
    fn now(&self) -> u64 {
        BrowserPlatform.now()
    }
    fn storage_get(&self, key: &str) -> Result<Option<String>, String> {
        BrowserPlatform.storage_get(key)
    }
    fn storage_set(&self, key: &str, value: &str) -> Result<(), String> {
        BrowserPlatform.storage_set(key, value)
    }
    fn storage_remove(&self, key: &str) {
        BrowserPlatform.storage_remove(key)
    }
    fn page_url(&self) -> PageUrl {
        BrowserPlatform.page_url()
    }
    fn replace_url(&self, url: &str) {
        BrowserPlatform.replace_url(url)
    }
    fn navigate(&self, url: &str) {
        self.navigations.borrow_mut().push(url.to_owned());
    }
}

const ISS: &str = "https://idp.example";

fn harness() -> Harness {
    Harness {
        metadata: serde_json::json!({
            "issuer": ISS,
            "authorization_endpoint": format!("{ISS}/auth"),
            "token_endpoint": format!("{ISS}/token"),
            "jwks_uri": format!("{ISS}/jwks"),
        })
        .to_string(),
        navigations: Rc::default(),
    }
}

#[wasm_bindgen_test]
fn page_url_reads_the_address_bar() {
    set_address("/some/path?x=1#frag");
    let url = BrowserPlatform.page_url();
    assert_eq!(url.path, "/some/path");
    assert_eq!(url.query, "?x=1");
    assert_eq!(url.fragment, "#frag");
    assert_eq!(url.origin, location().origin().unwrap());
}

#[wasm_bindgen_test]
fn callback_leaves_the_address_bar_and_other_params_stay() {
    set_address("/app?keep=1&code=abc&state=st&iss=https%3A%2F%2Fidp.example&session_state=s#top");
    let session = Session::new(BrowserPlatform, OidcConfig::new(ISS, "spa"));
    let params = session
        .take_callback()
        .expect("a callback")
        .expect("well-formed");
    assert_eq!(params.code.as_deref(), Some("abc"));
    assert_eq!(params.state.as_deref(), Some("st"));
    assert_eq!(params.iss.as_deref(), Some(ISS));
    assert_eq!(location().pathname().unwrap(), "/app");
    assert_eq!(location().search().unwrap(), "?keep=1");
    assert_eq!(location().hash().unwrap(), "#top");
    // An ordinary address is left alone.
    set_address("/app?page=2");
    assert!(session.take_callback().is_none());
    assert_eq!(location().search().unwrap(), "?page=2");
}

#[wasm_bindgen_test]
async fn login_keeps_the_pending_request_in_session_storage_only() {
    set_address("/todos?x=1");
    let h = harness();
    let session = Session::new(h.clone(), OidcConfig::new(ISS, "spa"));
    session.login(LoginOptions::default()).await.unwrap();
    let url = h.navigations.borrow().last().cloned().unwrap();
    assert!(url.starts_with("https://idp.example/auth?response_type=code&client_id=spa"));
    let stored = BrowserPlatform
        .storage_get(PENDING_KEY)
        .unwrap()
        .expect("pending stored");
    let pending: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let q = form::parse(url.split_once('?').unwrap().1);
    let state = q.iter().find(|(k, _)| k == "state").unwrap().1.clone();
    assert_eq!(pending["state"], state.as_str());
    assert_eq!(pending["return_to"], "/todos?x=1");
    let local = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    assert_eq!(local.length().unwrap(), 0, "nothing in localStorage");
    // The callback consumes it, whatever the outcome.
    set_address("/?code=c&state=forged");
    let cb = session.take_callback();
    session.start(cb).await;
    assert!(BrowserPlatform.storage_get(PENDING_KEY).unwrap().is_none());
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/vectors/jose.json")).unwrap()
}

#[wasm_bindgen_test]
async fn webcrypto_verifies_rfc_vectors_and_refuses_tampering() {
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
    let seen = RwSignal::new(Vec::<String>::new());
    let search_at_render = RwSignal::new(String::new());
    let config = OidcConfig::new(issuer, "spa");
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.unchecked_into(), move || {
        view! {
            <OidcProvider config=config>
                {move || {
                    search_at_render.set(location().search().unwrap());
                    let oidc = use_oidc::<NoAdditionalClaims>();
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
    BrowserPlatform.storage_remove(PENDING_KEY);
    set_address("/?code=x&state=forged");
    let (seen, search) = mount_provider("http://127.0.0.1:9");
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
    let (seen, _) = mount_provider("http://127.0.0.1:9");
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
async fn access_token_without_session_is_typed_error() {
    let session = Session::new(harness(), OidcConfig::new(ISS, "spa"));
    assert_eq!(session.access_token().await, Err(AuthError::NotLoggedIn));
}
