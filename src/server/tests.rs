//! The validator and extractor: `oneshot` for each rule, and a real socket for
//! discovery and key rotation.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::core::jose::JwkSet;
use crate::core::ManualClock;
use crate::test_support::{set, EcKey};

const NOW: u64 = 1_700_000_000;

fn claims(iss: &str) -> serde_json::Value {
    json!({"iss": iss, "sub": "alice", "aud": "todo-api", "exp": NOW + 300, "iat": NOW,
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

/// A provider on a real socket whose key set can be swapped.
async fn provider(keys: Arc<Mutex<JwkSet>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let iss = issuer.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let iss = iss.clone();
                async move {
                    Json(json!({"issuer": iss, "authorization_endpoint": format!("{iss}/auth"),
                        "token_endpoint": format!("{iss}/token"), "jwks_uri": format!("{iss}/jwks")}))
                }
            }),
        )
        .route("/jwks", get(move || {
            let keys = keys.lock().unwrap().clone();
            async move { Json(keys) }
        }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

#[tokio::test]
async fn discovers_keys_and_follows_rotation_over_a_real_socket() {
    let k1 = EcKey::new(1, "k1");
    let k2 = EcKey::new(2, "k2");
    let keys = Arc::new(Mutex::new(set(&[k1.jwk()])));
    let issuer = provider(Arc::clone(&keys)).await;
    let validator = Validator::discover(&issuer)
        .audience("todo-api")
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .await
        .unwrap();

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
    // The provider rotates to k2: an unknown kid triggers a refetch.
    *keys.lock().unwrap() = set(&[k2.jwk()]);
    assert_eq!(get(k2.jwt(Some("at+jwt"), &claims(&issuer))).await, 200);
    // The set was replaced, not merged: k1 is no longer accepted.
    assert_eq!(get(k1.jwt(Some("at+jwt"), &claims(&issuer))).await, 401);
    // A token with an unknown kid does not cause another fetch within the interval.
    let k3 = EcKey::new(3, "k3");
    *keys.lock().unwrap() = set(&[k3.jwk()]);
    assert_eq!(get(k3.jwt(Some("at+jwt"), &claims(&issuer))).await, 401);
}
