//! The TODO API with real SQLite and tokens signed by a test key.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use oidc_leptos::core::jose::JwkSet;
use oidc_leptos::server::Validator;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};
use todo_backend::{api, open_database, with_front_end, AppState};
use tower::ServiceExt;

const ISS: &str = "https://idp.example";

fn b64(data: &[u8]) -> String {
    // Minimal base64url for the test, independent from the library's encoder.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

struct Idp(p256::ecdsa::SigningKey);

impl Idp {
    fn new() -> Self {
        Idp(p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap())
    }
    fn jwks(&self) -> JwkSet {
        let p = self.0.verifying_key().to_encoded_point(false);
        serde_json::from_value(json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
            "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())}]}))
        .unwrap()
    }
    fn token(&self, sub: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let h = b64(json!({"alg": "ES256", "kid": "k", "typ": "at+jwt"})
            .to_string()
            .as_bytes());
        let c = b64(
            json!({"iss": ISS, "sub": sub, "aud": "todo-api", "iat": now, "exp": now + 300,
            "client_id": "spa", "jti": sub})
            .to_string()
            .as_bytes(),
        );
        let input = format!("{h}.{c}");
        let sig: p256::ecdsa::Signature = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }
}

fn app(idp: &Idp) -> axum::Router {
    let validator = Validator::discover(ISS)
        .audience("todo-api")
        .static_keys(idp.jwks())
        .build_lazy()
        .unwrap();
    let db = open_database(":memory:").unwrap();
    api(AppState {
        validator,
        db: Arc::new(Mutex::new(db)),
    })
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn requires_a_token() {
    let idp = Idp::new();
    let app = app(&idp);
    assert_eq!(
        send(&app, "GET", "/api/todos", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "GET", "/api/me", Some("x.y.z"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn me_returns_validated_claims() {
    let idp = Idp::new();
    let (status, body) = send(
        &app(&idp),
        "GET",
        "/api/me",
        Some(&idp.token("alice")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["client_id"], "spa");
}

#[tokio::test]
async fn todos_are_per_user_crud() {
    let idp = Idp::new();
    let app = app(&idp);
    let alice = idp.token("alice");
    let bob = idp.token("bob");
    let (s, created) = send(
        &app,
        "POST",
        "/api/todos",
        Some(&alice),
        Some(json!({"title": " milk "})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(created["title"], "milk");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        send(&app, "GET", "/api/todos", Some(&alice), None).await.1,
        json!([{"id": id, "title": "milk", "done": false}])
    );
    assert_eq!(
        send(&app, "GET", "/api/todos", Some(&bob), None).await.1,
        json!([])
    );
    let uri = format!("/api/todos/{id}");
    assert_eq!(
        send(&app, "PATCH", &uri, Some(&bob), Some(json!({"done": true})))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, updated) = send(
        &app,
        "PATCH",
        &uri,
        Some(&alice),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!((s, updated["done"].clone()), (StatusCode::OK, json!(true)));
    assert_eq!(
        send(&app, "DELETE", &uri, Some(&bob), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, "DELETE", &uri, Some(&alice), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, "GET", "/api/todos", Some(&alice), None).await.1,
        json!([])
    );
}

#[tokio::test]
async fn titles_are_validated() {
    let idp = Idp::new();
    let app = app(&idp);
    let t = idp.token("alice");
    for bad in [json!({"title": "  "}), json!({"title": "x".repeat(201)})] {
        assert_eq!(
            send(&app, "POST", "/api/todos", Some(&t), Some(bad))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        send(
            &app,
            "POST",
            "/api/todos",
            Some(&t),
            Some(json!({"nope": 1}))
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// Fetches `uri` and returns the status and the body as text.
async fn get_text(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn front_end_routes_get_the_page_unknown_api_paths_404() {
    let dir = std::env::temp_dir().join(format!("todo-front-end-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>app</title>").unwrap();
    std::fs::write(dir.join("config.json"), r#"{"issuer":"x"}"#).unwrap();
    let idp = Idp::new();
    let app = with_front_end(app(&idp), dir.to_str().unwrap());

    // The app's own routes load the page; its files are served as they are.
    for path in ["/", "/todos", "/profile", "/todos/deep/link?x=1"] {
        let (status, body) = get_text(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.contains("<title>app</title>"), "{path}: {body}");
    }
    assert_eq!(
        get_text(&app, "/config.json").await,
        (StatusCode::OK, r#"{"issuer":"x"}"#.to_owned())
    );
    // The API is untouched; a path it does not know is not the page.
    assert_eq!(
        send(&app, "GET", "/api/todos", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    for path in ["/api/nope", "/api/todos/1/nope"] {
        let (status, body) = get_text(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("<title>"), "{path}: {body}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
