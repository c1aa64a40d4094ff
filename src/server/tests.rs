//! The validator and extractor: `oneshot` for each rule, and a real socket for
//! discovery and key rotation.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::core::jose::JwkSet;
use crate::core::{AccessTokenError, ManualClock};
use crate::test_support::{set, EcKey};

const NOW: u64 = 1_700_000_000;

fn claims(iss: &str) -> serde_json::Value {
    claims_at(iss, NOW)
}

fn claims_at(iss: &str, now: u64) -> serde_json::Value {
    json!({"iss": iss, "sub": "alice", "aud": "todo-api", "exp": now + 300, "iat": now,
           "jti": "1", "client_id": "spa", "scope": "openid"})
}

async fn me(Auth(c): Auth) -> Json<serde_json::Value> {
    Json(json!({"sub": c.sub}))
}

fn app(validator: Validator) -> Router {
    Router::new().route("/me", get(me)).with_state(validator)
}

fn static_validator(key: &EcKey) -> Validator {
    Validator::discover("https://idp.example")
        .audience("todo-api")
        .static_keys(set(&[key.jwk()]))
        .clock(Arc::new(ManualClock::new(NOW)))
        .build_lazy()
        .unwrap()
}

async fn call(app: Router, auth: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::get("/me");
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn valid_token_reaches_handler() {
    let key = EcKey::new(1, "k1");
    let token = key.jwt(Some("at+jwt"), &claims("https://idp.example"));
    let (status, _, body) = call(
        app(static_validator(&key)),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"sub":"alice"}"#);
    // The scheme is case-insensitive.
    let (status, _, _) = call(
        app(static_validator(&key)),
        Some(&format!("bearer {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn missing_token_gets_bare_challenge() {
    let key = EcKey::new(1, "k1");
    let (status, challenge, _) = call(app(static_validator(&key)), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, "Bearer");
    let (status, challenge, _) =
        call(app(static_validator(&key)), Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(
        (status, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer")
    );
}

#[tokio::test]
async fn malformed_header_is_invalid_request() {
    let key = EcKey::new(1, "k1");
    for bad in ["Bearer", "Bearer a\"b", "Bearer "] {
        let (status, challenge, _) = call(app(static_validator(&key)), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            challenge.contains(r#"error="invalid_request""#),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn invalid_tokens_get_invalid_token_and_are_not_echoed() {
    let key = EcKey::new(1, "k1");
    let cases = [
        (json!({"exp": NOW - 100}), "expired"),
        (json!({"aud": "other-api"}), "not intended for this API"),
        (
            json!({"iss": "https://evil.example"}),
            "issuer is not trusted",
        ),
        (
            json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
            "DPoP-bound",
        ),
    ];
    for (patch, description) in cases {
        let mut c = claims("https://idp.example");
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        let token = key.jwt(Some("at+jwt"), &c);
        let (status, challenge, body) = call(
            app(static_validator(&key)),
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{description}");
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token""#),
            "{challenge}"
        );
        assert!(challenge.contains(description), "{challenge}");
        let payload = token.split('.').nth(1).unwrap();
        assert!(!body.contains(payload) && !challenge.contains(payload));
    }
    // Wrong typ, tampered signature, garbage.
    let wrong_typ = key.jwt(Some("JWT"), &claims("https://idp.example"));
    let forged = EcKey::new(2, "k1").jwt(Some("at+jwt"), &claims("https://idp.example"));
    for (token, description) in [
        (wrong_typ.as_str(), "not a JWT access token"),
        (forged.as_str(), "signature is invalid"),
        ("abc.def", "malformed"),
    ] {
        let (status, challenge, _) = call(
            app(static_validator(&key)),
            Some(&format!("Bearer {token}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(challenge.contains(description), "{challenge}");
    }
}

#[tokio::test]
async fn audience_is_required() {
    let err = Validator::discover("https://idp.example")
        .build_lazy()
        .unwrap_err();
    assert_eq!(err, ValidatorError::MissingAudience);
}

#[tokio::test]
async fn unreachable_provider_is_503_not_401() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let validator = Validator::discover(format!("http://{addr}"))
        .audience("todo-api")
        .build()
        .await
        .expect("an unreachable provider does not prevent start-up");
    let token = EcKey::new(1, "k1").jwt(Some("at+jwt"), &claims(&format!("http://{addr}")));
    let (status, _, body) = call(app(validator), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("temporarily_unavailable"));
}

/// A provider on a real socket: its key set can be swapped, it can be taken down
/// (answers 500) and its key responses can be held back; it counts the requests.
struct FakeIdp {
    keys: Mutex<JwkSet>,
    down: AtomicBool,
    hold: AtomicBool,
    release: tokio::sync::Semaphore,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

impl FakeIdp {
    fn with_keys(keys: JwkSet) -> Arc<Self> {
        Arc::new(FakeIdp {
            keys: Mutex::new(keys),
            down: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            release: tokio::sync::Semaphore::new(0),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        })
    }
    fn set_keys(&self, keys: JwkSet) {
        *self.keys.lock().unwrap() = keys;
    }
    fn fetches(&self) -> usize {
        self.discovery_hits.load(Ordering::SeqCst) + self.jwks_hits.load(Ordering::SeqCst)
    }
}

async fn serve_idp(idp: Arc<FakeIdp>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let iss = issuer.clone();
    let discovery_idp = Arc::clone(&idp);
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let iss = iss.clone();
                let idp = Arc::clone(&discovery_idp);
                async move {
                    idp.discovery_hits.fetch_add(1, Ordering::SeqCst);
                    if idp.down.load(Ordering::SeqCst) {
                        return Err(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok(Json(json!({"issuer": iss, "authorization_endpoint": format!("{iss}/auth"),
                        "token_endpoint": format!("{iss}/token"), "jwks_uri": format!("{iss}/jwks")})))
                }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let idp = Arc::clone(&idp);
                async move {
                    idp.jwks_hits.fetch_add(1, Ordering::SeqCst);
                    if idp.hold.load(Ordering::SeqCst) {
                        idp.release.acquire().await.unwrap().forget();
                    }
                    if idp.down.load(Ordering::SeqCst) {
                        return Err(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    let keys = idp.keys.lock().unwrap().clone();
                    Ok(Json(keys))
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

async fn discovered(issuer: &str, clock: &ManualClock) -> Validator {
    Validator::discover(issuer)
        .audience("todo-api")
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap()
}

async fn status_of(validator: &Validator, token: &str) -> StatusCode {
    call(app(validator.clone()), Some(&format!("Bearer {token}")))
        .await
        .0
}

#[tokio::test]
async fn discovers_keys_and_follows_rotation_over_a_real_socket() {
    let k1 = EcKey::new(1, "k1");
    let k2 = EcKey::new(2, "k2");
    let idp = FakeIdp::with_keys(set(&[k1.jwk()]));
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW);
    let validator = discovered(&issuer, &clock).await;

    // Serve the protected API on a real socket too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/me", listener.local_addr().unwrap());
    let router = app(validator.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let get = |token: String| {
        let req = client.get(&api).bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };

    assert_eq!(get(k1.jwt(Some("at+jwt"), &claims(&issuer))).await, 200);
    // The provider rotates to k2: an unknown kid triggers a refetch (once the minimum
    // interval since the start-up fetch has passed).
    idp.set_keys(set(&[k2.jwk()]));
    clock.advance(30);
    assert_eq!(get(k2.jwt(Some("at+jwt"), &claims(&issuer))).await, 200);
    // The set was replaced, not merged: k1 is no longer accepted.
    assert_eq!(get(k1.jwt(Some("at+jwt"), &claims(&issuer))).await, 401);
    // A token with an unknown kid does not cause another fetch within the interval.
    let k3 = EcKey::new(3, "k3");
    idp.set_keys(set(&[k3.jwk()]));
    let before = idp.fetches();
    assert_eq!(get(k3.jwt(Some("at+jwt"), &claims(&issuer))).await, 401);
    assert_eq!(idp.fetches(), before);
}

/// A flood of tokens with random key IDs causes at most one fetch per interval, whether
/// the provider answers or not.
#[tokio::test]
async fn unknown_kid_flood_is_rate_limited_whether_the_provider_answers_or_not() {
    let k1 = EcKey::new(1, "k1");
    let idp = FakeIdp::with_keys(set(&[k1.jwk()]));
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW);
    let validator = discovered(&issuer, &clock).await;
    assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 1);

    for down in [false, true] {
        idp.down.store(down, Ordering::SeqCst);
        clock.advance(31);
        let before = idp.fetches();
        for i in 0..20 {
            let forged = EcKey::new(9, &format!("random-{i}"));
            let token = forged.jwt(Some("at+jwt"), &claims(&issuer));
            // An unknown kid is an invalid token (401), even when the refetch fails.
            assert_eq!(
                status_of(&validator, &token).await,
                StatusCode::UNAUTHORIZED,
                "down={down}"
            );
        }
        assert_eq!(
            idp.jwks_hits.load(Ordering::SeqCst) - 1,
            usize::from(down) + 1
        );
        assert!(idp.fetches() - before <= 1, "down={down}");
    }
    // Tokens signed with the known key keep working while the provider is down.
    let good = k1.jwt(Some("at+jwt"), &claims(&issuer));
    assert_eq!(status_of(&validator, &good).await, StatusCode::OK);
}

/// The provider is down from the start: one fetch attempt per interval, 503 meanwhile.
#[tokio::test]
async fn failed_start_up_fetch_is_rate_limited_too() {
    let idp = FakeIdp::with_keys(JwkSet::default());
    idp.down.store(true, Ordering::SeqCst);
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW);
    let validator = discovered(&issuer, &clock).await;
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
    let token = EcKey::new(1, "k1").jwt(Some("at+jwt"), &claims(&issuer));
    for _ in 0..10 {
        assert_eq!(
            status_of(&validator, &token).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    assert_eq!(idp.fetches(), 1);
    // After the interval the provider is back: the next request loads the keys.
    idp.set_keys(set(&[EcKey::new(1, "k1").jwk()]));
    idp.down.store(false, Ordering::SeqCst);
    clock.advance(30);
    assert_eq!(status_of(&validator, &token).await, StatusCode::OK);
}

/// Waits (bounded) until `cond` holds; background tasks run meanwhile.
async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn stale_keys_are_served_at_once_while_a_background_refresh_runs() {
    let k1 = EcKey::new(1, "k1");
    let k2 = EcKey::new(2, "k2");
    let idp = FakeIdp::with_keys(set(&[k1.jwk()]));
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW);
    let validator = discovered(&issuer, &clock).await;

    // The keys become stale; the provider now serves k2 but holds its answer back.
    idp.set_keys(set(&[k2.jwk()]));
    idp.hold.store(true, Ordering::SeqCst);
    clock.advance(15 * 60);
    let t1 = k1.jwt(Some("at+jwt"), &claims_at(&issuer, NOW + 15 * 60));
    // Answered at once with the cached keys although the refresh cannot finish.
    let answered = tokio::time::timeout(Duration::from_secs(2), status_of(&validator, &t1)).await;
    assert_eq!(answered, Ok(StatusCode::OK));
    eventually(|| idp.jwks_hits.load(Ordering::SeqCst) == 2).await;
    // Further requests do not start more refreshes.
    assert_eq!(status_of(&validator, &t1).await, StatusCode::OK);
    assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 2);
    // The refresh completes: the set is replaced.
    idp.release.add_permits(1);
    let t2 = k2.jwt(Some("at+jwt"), &claims_at(&issuer, NOW + 15 * 60));
    let v = validator.clone();
    for _ in 0..500 {
        if status_of(&v, &t1).await == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status_of(&validator, &t1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&validator, &t2).await, StatusCode::OK);
}

#[tokio::test]
async fn keys_not_confirmed_within_the_max_age_stop_being_trusted() {
    let k1 = EcKey::new(1, "k1");
    let idp = FakeIdp::with_keys(set(&[k1.jwk()]));
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW);
    let validator = Validator::discover(&issuer)
        .audience("todo-api")
        .clock(Arc::new(clock.clone()))
        .max_key_age(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    idp.down.store(true, Ordering::SeqCst);
    // Stale but within the maximum age: still trusted while the provider is down.
    clock.advance(3599);
    let token = |clock: &ManualClock| {
        let now = crate::core::Clock::now(clock);
        k1.jwt(Some("at+jwt"), &claims_at(&issuer, now))
    };
    assert_eq!(status_of(&validator, &token(&clock)).await, StatusCode::OK);
    // Past the maximum age: no longer trusted, 503 until the provider confirms them.
    clock.advance(31);
    assert_eq!(
        status_of(&validator, &token(&clock)).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    idp.down.store(false, Ordering::SeqCst);
    clock.advance(31);
    assert_eq!(status_of(&validator, &token(&clock)).await, StatusCode::OK);
}

#[tokio::test]
async fn redirect_to_an_insecure_url_is_refused() {
    // A loopback provider whose discovery redirects to plain http off loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(|| async {
            (
                StatusCode::FOUND,
                [(
                    "location",
                    "http://idp.invalid/.well-known/openid-configuration",
                )],
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let validator = Validator::discover(&issuer)
        .audience("todo-api")
        .build_lazy()
        .unwrap();
    let err = validator.refresh().await.unwrap_err();
    assert!(
        matches!(&err, ValidatorError::Http(m) if m.contains("redirect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn insecure_issuer_is_refused() {
    let err = Validator::discover("http://idp.example")
        .audience("todo-api")
        .build_lazy()
        .unwrap_err();
    assert_eq!(err, ValidatorError::InsecureIssuer);
}

// RFC 6750 section 3.1: more than one Authorization header is `invalid_request`.
#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let key = EcKey::new(1, "k1");
    let token = key.jwt(Some("at+jwt"), &claims("https://idp.example"));
    let req = Request::get("/me")
        .header("Authorization", format!("Bearer {token}"))
        .header("Authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app(static_validator(&key)).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_request""#),
        "{challenge}"
    );
}

// RFC 7800 section 3.1: the binding check is in the validator itself, so code that
// calls it directly (WebSocket, gRPC) cannot accept a bound token as a bearer token.
#[tokio::test]
async fn validator_used_directly_refuses_bound_tokens_as_bearer() {
    let key = EcKey::new(1, "k1");
    let validator = static_validator(&key);
    for (cnf, expected) in [
        (json!({"jkt": "abc"}), AccessTokenError::BoundToKey),
        (
            json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
            AccessTokenError::UnsupportedConfirmation,
        ),
    ] {
        let mut c = claims("https://idp.example");
        c["cnf"] = cnf;
        let token = key.jwt(Some("at+jwt"), &c);
        assert_eq!(
            validator
                .validate::<crate::core::NoAdditionalClaims>(&token)
                .await
                .unwrap_err(),
            ValidationFailure::Invalid(expected)
        );
    }
}

/// The access token a browser mock session hands out, made by the session machine.
fn browser_mock_token(issuer: &str, audience: &str) -> String {
    use crate::session::machine::{Command, Event, Machine, Now, StartInfo};
    let config = crate::OidcConfig::new(issuer, "todo-spa")
        .mock(crate::MockUser::new("mock-alice").audience(audience));
    let mut machine = Machine::new(crate::session::Client::bind(
        config,
        "http://localhost:3000",
    ));
    let now = Now {
        mono: 1,
        wall: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    };
    machine.handle(now, Event::Start(StartInfo::default()));
    machine
        .handle(now, Event::WantToken(1))
        .into_iter()
        .find_map(|c| match c {
            Command::Resolve { result, .. } => Some(result.unwrap().secret().to_owned()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test]
async fn a_mock_validator_accepts_the_browser_mock_token_and_nothing_signed() {
    let validator = Validator::mock("http://localhost:9000", "todo-api").unwrap();
    assert!(validator.is_mock());
    let token = browser_mock_token("http://localhost:9000", "todo-api");
    let (status, _, body) = call(app(validator.clone()), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("mock-alice"), "{body}");
    // Another audience or issuer: refused, as with any token.
    let other = browser_mock_token("http://localhost:9000", "other-api");
    let (status, ..) = call(app(validator.clone()), Some(&format!("Bearer {other}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = browser_mock_token("http://localhost:9001", "todo-api");
    let (status, ..) = call(app(validator.clone()), Some(&format!("Bearer {other}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A signed token, a token with a signature part, or another `alg`: refused.
    let key = EcKey::new(1, "k1");
    let signed = key.jwt(Some("at+jwt"), &claims_at("http://localhost:9000", NOW));
    let (status, ..) = call(app(validator.clone()), Some(&format!("Bearer {signed}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let with_sig = format!("{token}c2ln");
    let (status, ..) = call(app(validator.clone()), Some(&format!("Bearer {with_sig}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let payload = token.split('.').nth(1).unwrap();
    let hs = crate::core::b64::encode(br#"{"alg":"HS256","typ":"at+jwt"}"#);
    let (status, ..) = call(
        app(validator.clone()),
        Some(&format!("Bearer {hs}.{payload}.")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Expired: refused (every claim rule applies).
    let expired = json!({"iss": "http://localhost:9000", "sub": "x", "aud": "todo-api",
        "exp": 1000, "iat": 900, "jti": "1", "client_id": "spa"});
    let none = crate::core::b64::encode(br#"{"alg":"none","typ":"at+jwt"}"#);
    let expired = format!(
        "{none}.{}.",
        crate::core::b64::encode(expired.to_string().as_bytes())
    );
    let (status, ..) = call(app(validator), Some(&format!("Bearer {expired}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_real_validator_refuses_the_mock_token() {
    let key = EcKey::new(1, "k1");
    let validator = Validator::discover("http://localhost:9000")
        .audience("todo-api")
        .static_keys(set(&[key.jwk()]))
        .build_lazy()
        .unwrap();
    assert!(!validator.is_mock());
    let token = browser_mock_token("http://localhost:9000", "todo-api");
    let (status, challenge, _) = call(app(validator), Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

/// The clock is set back after the keys were fetched (a clock corrected at boot): the
/// fetch time, now ahead of the clock, neither holds back the refetch a rotated key
/// needs nor keeps the old keys counted as fresh.
#[tokio::test]
async fn keys_fetched_before_the_clock_was_set_back_are_refetched() {
    let k1 = EcKey::new(1, "k1");
    let k2 = EcKey::new(2, "k2");
    let idp = FakeIdp::with_keys(set(&[k1.jwk()]));
    let issuer = serve_idp(Arc::clone(&idp)).await;
    let clock = ManualClock::new(NOW + 86_400);
    let validator = discovered(&issuer, &clock).await;
    clock.set(NOW);
    idp.set_keys(set(&[k2.jwk()]));
    let before = idp.fetches();
    let token = k2.jwt(Some("at+jwt"), &claims(&issuer));
    assert_eq!(status_of(&validator, &token).await, StatusCode::OK);
    assert_eq!(idp.fetches(), before + 1);
    // Fetched at the corrected time: the usual interval applies again.
    let k3 = EcKey::new(3, "k3");
    idp.set_keys(set(&[k3.jwk()]));
    let token = k3.jwt(Some("at+jwt"), &claims(&issuer));
    assert_eq!(
        status_of(&validator, &token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(idp.fetches(), before + 1);
}
