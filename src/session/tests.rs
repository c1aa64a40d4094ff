//! The session engine against a fake platform and a fake provider.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::json;

use super::engine::{PageUrl, Platform, Session, PENDING_KEY};
use super::*;
use crate::core::jose::{
    Algorithm, AsyncSignatureVerifier, JoseError, Jwk, RustCryptoVerifier, SignatureVerifier,
};
use crate::core::{form, CallbackError, HttpRequest, HttpResponse, IdTokenError, TokenError};
use crate::test_support::EcKey;

const ISS: &str = "https://idp.example";
const NOW: u64 = 1_700_000_000;

type Handler = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, String>>;

struct Fake {
    now: RefCell<u64>,
    storage: RefCell<HashMap<String, String>>,
    url: RefCell<PageUrl>,
    navigations: RefCell<Vec<String>>,
    requests: RefCell<Vec<HttpRequest>>,
    handler: RefCell<Handler>,
}

#[derive(Clone)]
struct FakeRef(Rc<Fake>);

impl AsyncSignatureVerifier for FakeRef {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        input: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        RustCryptoVerifier.verify(alg, key, input, sig)
    }
}

impl Platform for FakeRef {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.0.requests.borrow_mut().push(request.clone());
        // Yield once so concurrent callers really interleave.
        tokio::task::yield_now().await;
        (self.0.handler.borrow())(&request)
    }
    fn now(&self) -> u64 {
        *self.0.now.borrow()
    }
    fn storage_get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.0.storage.borrow().get(key).cloned())
    }
    fn storage_set(&self, key: &str, value: &str) -> Result<(), String> {
        self.0.storage.borrow_mut().insert(key.into(), value.into());
        Ok(())
    }
    fn storage_remove(&self, key: &str) {
        self.0.storage.borrow_mut().remove(key);
    }
    fn page_url(&self) -> PageUrl {
        self.0.url.borrow().clone()
    }
    fn replace_url(&self, pqf: &str) {
        let (rest, fragment) = match pqf.split_once('#') {
            Some((r, f)) => (r.to_owned(), format!("#{f}")),
            None => (pqf.to_owned(), String::new()),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p.to_owned(), format!("?{q}")),
            None => (rest, String::new()),
        };
        let mut u = self.0.url.borrow_mut();
        u.path = path;
        u.query = query;
        u.fragment = fragment;
    }
    fn navigate(&self, url: &str) {
        self.0.navigations.borrow_mut().push(url.into());
    }
}

fn json_response(status: u16, v: serde_json::Value) -> Result<HttpResponse, String> {
    Ok(HttpResponse {
        status,
        headers: vec![],
        body: v.to_string().into_bytes(),
    })
}

fn discovery() -> serde_json::Value {
    json!({
        "issuer": ISS,
        "authorization_endpoint": format!("{ISS}/auth"),
        "token_endpoint": format!("{ISS}/token"),
        "jwks_uri": format!("{ISS}/jwks"),
        "end_session_endpoint": format!("{ISS}/session/end"),
        "authorization_response_iss_parameter_supported": true,
    })
}

/// A provider that signs ID tokens with `key`, echoing the nonce of the last login.
struct Provider {
    key: EcKey,
    nonce: RefCell<String>,
    token_status: RefCell<u16>,
    id_nonce_override: RefCell<Option<String>>,
    refreshes: RefCell<u32>,
    refresh_error: RefCell<Option<&'static str>>,
    no_refresh_token: RefCell<bool>,
    /// (sub, name) of an ID token sent with refreshed tokens.
    refresh_id: RefCell<Option<(String, String)>>,
    /// A key that replaced `key` at the provider.
    rotated: RefCell<Option<EcKey>>,
}

fn setup() -> (FakeRef, Rc<Provider>, Rc<Session<FakeRef>>) {
    let fake = FakeRef(Rc::new(Fake {
        now: RefCell::new(NOW),
        storage: RefCell::new(HashMap::new()),
        url: RefCell::new(PageUrl {
            origin: "https://app.example".into(),
            path: "/todos".into(),
            query: "?page=2".into(),
            fragment: String::new(),
        }),
        navigations: RefCell::new(vec![]),
        requests: RefCell::new(vec![]),
        handler: RefCell::new(Box::new(|_| Err("unset".into()))),
    }));
    let provider = Rc::new(Provider {
        key: EcKey::new(1, "k1"),
        nonce: RefCell::new(String::new()),
        token_status: RefCell::new(200),
        id_nonce_override: RefCell::new(None),
        refreshes: RefCell::new(0),
        refresh_error: RefCell::new(None),
        no_refresh_token: RefCell::new(false),
        refresh_id: RefCell::new(None),
        rotated: RefCell::new(None),
    });
    let p = Rc::clone(&provider);
    *fake.0.handler.borrow_mut() = Box::new(move |req| {
        let path = req.url.strip_prefix(ISS).unwrap_or("");
        match path {
            "/.well-known/openid-configuration" => json_response(200, discovery()),
            "/jwks" => {
                let jwk = match p.rotated.borrow().as_ref() {
                    Some(k) => k.jwk(),
                    None => p.key.jwk(),
                };
                json_response(200, json!({"keys": [jwk]}))
            }
            "/token" => {
                let body = form::parse(std::str::from_utf8(&req.body).unwrap());
                let get = |k: &str| body.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                if get("grant_type").as_deref() == Some("refresh_token") {
                    *p.refreshes.borrow_mut() += 1;
                    if let Some(e) = *p.refresh_error.borrow() {
                        return json_response(400, json!({"error": e}));
                    }
                    let mut body = json!({
                        "access_token": format!("at-{}", p.refreshes.borrow()), "token_type": "Bearer",
                        "expires_in": 300, "refresh_token": "rt-2",
                    });
                    if let Some((sub, name)) = p.refresh_id.borrow().clone() {
                        let claims = json!({
                            "iss": ISS, "aud": "spa", "sub": sub, "name": name,
                            "iat": NOW + 40, "exp": NOW + 340,
                        });
                        body["id_token"] = match p.rotated.borrow().as_ref() {
                            Some(k) => k.jwt(None, &claims),
                            None => p.key.jwt(None, &claims),
                        }
                        .into();
                    }
                    return json_response(200, body);
                }
                if *p.token_status.borrow() != 200 {
                    return json_response(
                        *p.token_status.borrow(),
                        json!({"error": "invalid_grant", "error_description": "code used"}),
                    );
                }
                assert!(get("code_verifier").is_some_and(|v| v.len() == 43));
                let nonce = p
                    .id_nonce_override
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| p.nonce.borrow().clone());
                let id = p.key.jwt(
                    None,
                    &json!({
                        "iss": ISS, "aud": "spa", "sub": "alice", "name": "Alice", "nonce": nonce,
                        "iat": NOW, "exp": NOW + 300, "team": "blue",
                    }),
                );
                let mut body = json!({
                    "access_token": "at-0", "token_type": "Bearer", "expires_in": 60,
                    "refresh_token": "rt-1", "id_token": id,
                });
                if *p.no_refresh_token.borrow() {
                    body.as_object_mut().unwrap().remove("refresh_token");
                }
                json_response(200, body)
            }
            _ => json_response(404, json!({})),
        }
    });
    let session = Session::new(
        fake.clone(),
        OidcConfig::new(ISS, "spa").scopes(["profile"]),
    );
    (fake, provider, session)
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Logs in and returns the callback query the provider would send.
fn login(fake: &FakeRef, provider: &Provider, session: &Session<FakeRef>) -> String {
    run(session.login(LoginOptions::default())).unwrap();
    let url = fake.0.navigations.borrow().last().cloned().unwrap();
    let q = form::parse(url.split_once('?').unwrap().1);
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    *provider.nonce.borrow_mut() = get("nonce");
    assert_eq!(get("redirect_uri"), "https://app.example/");
    assert_eq!(get("scope"), "openid profile");
    format!(
        "?code=abc&state={}&iss={}&session_state=xyz&keep=1",
        form::encode(&get("state")),
        form::encode(ISS)
    )
}

fn arrive(fake: &FakeRef, query: &str) {
    let mut u = fake.0.url.borrow_mut();
    u.path = "/".into();
    u.query = query.into();
}

#[test]
fn full_sign_in_cleans_url_and_logs_in() {
    let (fake, provider, session) = setup();
    let callback = login(&fake, &provider, &session);
    assert!(fake.0.storage.borrow().contains_key(PENDING_KEY));
    arrive(&fake, &callback);
    let cb = session.take_callback();
    // The callback leaves the address bar at once, replaced by the return path.
    assert_eq!(fake.0.url.borrow().path, "/todos");
    assert_eq!(fake.0.url.borrow().query, "?page=2");
    run(session.start(cb));
    let state = session.state().typed::<serde_json::Value>();
    let user = state.user().expect("logged in");
    assert_eq!(user.display_name(), "Alice");
    assert_eq!(user.additional()["team"], "blue");
    // The pending request is consumed.
    assert!(!fake.0.storage.borrow().contains_key(PENDING_KEY));
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-0");
    // Tokens are never written to storage.
    assert!(fake
        .0
        .storage
        .borrow()
        .values()
        .all(|v| !v.contains("at-0") && !v.contains("rt-1")));
}

#[test]
fn typed_claims_mismatch_is_a_failed_state() {
    #[derive(serde::Deserialize, Debug, Clone, PartialEq)]
    struct Needs {
        #[allow(dead_code)]
        roles: Vec<String>,
    }
    let (_fake, _provider, session) = signed_in();
    assert!(matches!(
        session.state().typed::<Needs>(),
        AuthState::Failed(AuthError::Claims(_))
    ));
}

#[test]
fn no_callback_means_logged_out() {
    let (_fake, _p, session) = setup();
    assert!(session.take_callback().is_none());
    run(session.start(None));
    assert_eq!(session.state(), AuthState::LoggedOut);
}

#[test]
fn failed_discovery_at_start_is_a_failed_state() {
    let (fake, _p, session) = setup();
    *fake.0.handler.borrow_mut() =
        Box::new(|_| json_response(200, json!({"issuer": "https://other.example"})));
    run(session.start(None));
    assert!(
        matches!(session.state(), AuthState::Failed(AuthError::Discovery(_))),
        "{:?}",
        session.state()
    );
}

#[test]
fn forged_state_fails_and_consumes_pending() {
    let (fake, provider, session) = setup();
    login(&fake, &provider, &session);
    arrive(
        &fake,
        &format!("?code=abc&state=forged&iss={}", form::encode(ISS)),
    );
    run(session.start(session.take_callback()));
    assert_eq!(
        session.state(),
        AuthState::Failed(AuthError::Callback(CallbackError::StateMismatch))
    );
    assert!(!fake.0.storage.borrow().contains_key(PENDING_KEY));
    // A foreign callback is removed but does not get the return path.
    assert_eq!(fake.0.url.borrow().path, "/");
    assert_eq!(fake.0.url.borrow().query, "");
}

#[test]
fn callback_without_pending_request_fails() {
    let (fake, _p, session) = setup();
    arrive(&fake, "?code=abc&state=s");
    run(session.start(session.take_callback()));
    assert_eq!(
        session.state(),
        AuthState::Failed(AuthError::Callback(CallbackError::NoPendingRequest))
    );
}

#[test]
fn replayed_callback_fails() {
    let (fake, provider, session) = setup();
    let callback = login(&fake, &provider, &session);
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    assert!(session.state().is_logged_in());
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    assert_eq!(
        session.state(),
        AuthState::Failed(AuthError::Callback(CallbackError::NoPendingRequest))
    );
}

#[test]
fn wrong_nonce_fails() {
    let (fake, provider, session) = setup();
    let callback = login(&fake, &provider, &session);
    *provider.id_nonce_override.borrow_mut() = Some("other".into());
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    assert_eq!(
        session.state(),
        AuthState::Failed(AuthError::IdToken(IdTokenError::NonceMismatch))
    );
}

#[test]
fn token_endpoint_error_fails_with_message() {
    let (fake, provider, session) = setup();
    let callback = login(&fake, &provider, &session);
    *provider.token_status.borrow_mut() = 400;
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    match session.state() {
        AuthState::Failed(e @ AuthError::Token(TokenError::Provider(_))) => {
            assert!(e.to_string().contains("invalid_grant (code used)"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn network_and_discovery_failures_are_typed() {
    let (fake, _p, session) = setup();
    *fake.0.handler.borrow_mut() = Box::new(|_| Err("connection refused".into()));
    assert_eq!(
        run(session.login(LoginOptions::default())),
        Err(AuthError::Network("connection refused".into()))
    );
    *fake.0.handler.borrow_mut() = Box::new(|_| json_response(500, json!({})));
    assert!(matches!(
        run(session.login(LoginOptions::default())),
        Err(AuthError::Discovery(_))
    ));
    assert!(fake.0.navigations.borrow().is_empty());
}

#[test]
fn expiring_token_is_renewed_once_for_concurrent_callers() {
    let (fake, provider, session) = signed_in();
    // 60 s token; 40 s later it is inside the renewal margin.
    *fake.0.now.borrow_mut() = NOW + 40;
    let (a, b) = run(async {
        futures_util::future::join(session.access_token(), session.access_token()).await
    });
    assert_eq!(a.unwrap().secret(), "at-1");
    assert_eq!(b.unwrap().secret(), "at-1");
    assert_eq!(*provider.refreshes.borrow(), 1);
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-1");
}

#[test]
fn revoked_refresh_token_logs_out_but_transient_error_does_not() {
    let (fake, provider, session) = signed_in();
    *fake.0.now.borrow_mut() = NOW + 40;
    *provider.refresh_error.borrow_mut() = Some("temporarily_unavailable");
    assert!(matches!(
        run(session.access_token()),
        Err(AuthError::Token(_))
    ));
    assert!(session.state().is_logged_in());
    *provider.refresh_error.borrow_mut() = Some("invalid_grant");
    assert_eq!(
        run(session.access_token()).unwrap_err(),
        AuthError::NotLoggedIn
    );
    assert_eq!(session.state(), AuthState::LoggedOut);
}

#[test]
fn expired_token_without_refresh_token_ends_the_session() {
    let (fake, provider, session) = setup();
    *provider.no_refresh_token.borrow_mut() = true;
    let callback = login(&fake, &provider, &session);
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    *fake.0.now.borrow_mut() = NOW + 45;
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-0");
    *fake.0.now.borrow_mut() = NOW + 60;
    assert_eq!(
        run(session.access_token()).unwrap_err(),
        AuthError::NotLoggedIn
    );
    assert_eq!(session.state(), AuthState::LoggedOut);
}

fn signed_in() -> (FakeRef, Rc<Provider>, Rc<Session<FakeRef>>) {
    let (fake, provider, session) = setup();
    let callback = login(&fake, &provider, &session);
    arrive(&fake, &callback);
    run(session.start(session.take_callback()));
    assert!(session.state().is_logged_in());
    (fake, provider, session)
}

#[test]
fn refreshed_id_token_updates_the_user_after_key_rotation() {
    let (fake, provider, session) = signed_in();
    *provider.refresh_id.borrow_mut() = Some(("alice".into(), "Alice Liddell".into()));
    // The provider rotated its key since sign-in: the new kid makes the keys refetch.
    *provider.rotated.borrow_mut() = Some(EcKey::new(2, "k2"));
    *fake.0.now.borrow_mut() = NOW + 40;
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-1");
    let state = session.state();
    assert_eq!(state.user().unwrap().display_name(), "Alice Liddell");
}

#[test]
fn renewal_with_the_same_profile_does_not_touch_the_state() {
    let (fake, provider, session) = signed_in();
    let changes = Rc::new(RefCell::new(0));
    let counter = Rc::clone(&changes);
    session.subscribe(move |_| *counter.borrow_mut() += 1);
    *provider.refresh_id.borrow_mut() = Some(("alice".into(), "Alice".into()));
    *fake.0.now.borrow_mut() = NOW + 40;
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-1");
    assert_eq!(*changes.borrow(), 0);
    // The renewed token lives 300 s: it is used as is until 30 s before expiry.
    *fake.0.now.borrow_mut() = NOW + 40 + 269;
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-1");
    *fake.0.now.borrow_mut() = NOW + 40 + 270;
    assert_eq!(run(session.access_token()).unwrap().secret(), "at-2");
    assert_eq!(*changes.borrow(), 0);
}

#[test]
fn refreshed_id_token_for_another_subject_ends_the_session() {
    let (fake, provider, session) = signed_in();
    *provider.refresh_id.borrow_mut() = Some(("mallory".into(), "Mallory".into()));
    *fake.0.now.borrow_mut() = NOW + 40;
    assert_eq!(
        run(session.access_token()).unwrap_err(),
        AuthError::IdToken(IdTokenError::RefreshMismatch("sub"))
    );
    assert_eq!(session.state(), AuthState::LoggedOut);
    assert_eq!(
        run(session.access_token()).unwrap_err(),
        AuthError::NotLoggedIn
    );
}

#[test]
fn logout_ends_session_at_provider() {
    let (fake, _provider, session) = signed_in();
    run(session.logout(LogoutOptions::default())).unwrap();
    assert_eq!(session.state(), AuthState::LoggedOut);
    let url = fake.0.navigations.borrow().last().cloned().unwrap();
    assert!(url.starts_with("https://idp.example/session/end?client_id=spa&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F&id_token_hint=ey"), "{url}");
    assert_eq!(
        run(session.access_token()).unwrap_err(),
        AuthError::NotLoggedIn
    );
}
