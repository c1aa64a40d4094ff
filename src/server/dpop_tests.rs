//! DPoP through the extractor: each check of RFC 9449 section 4.3 fails on its own,
//! the classic attacks, the challenges, nonces and replay.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::core::{access_token_hash, b64, ManualClock};
use crate::test_support::{set, EcKey};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://idp.example";
pub(super) const API: &str = "https://api.example.com";

fn jkt(key: &EcKey) -> String {
    key.jwk().thumbprint().unwrap()
}

/// An access token bound to `holder`'s key, signed by the provider key `idp`.
pub(super) fn bound_token(idp: &EcKey, holder: &EcKey) -> String {
    idp.jwt(
        Some("at+jwt"),
        &json!({"iss": ISS, "sub": "alice", "aud": "todo-api", "exp": NOW + 300, "iat": NOW,
                "jti": "t1", "client_id": "spa", "cnf": {"jkt": jkt(holder)}}),
    )
}

fn unbound_token(idp: &EcKey) -> String {
    idp.jwt(
        Some("at+jwt"),
        &json!({"iss": ISS, "sub": "alice", "aud": "todo-api", "exp": NOW + 300, "iat": NOW,
                "jti": "t1", "client_id": "spa"}),
    )
}

/// The public JWK of a key, as a proof header carries it.
fn public_jwk(key: &EcKey) -> Value {
    let mut jwk = serde_json::to_value(key.jwk()).unwrap();
    let o = jwk.as_object_mut().unwrap();
    o.remove("kid");
    o.remove("use");
    jwk
}

pub(super) struct Proof {
    header: Value,
    claims: Value,
}

impl Proof {
    pub(super) fn new(key: &EcKey, method: &str, url: &str, token: &str) -> Self {
        Proof {
            header: json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}),
            claims: json!({"jti": format!("{method}-{url}-{}", rand::random::<u64>()),
                "htm": method, "htu": url, "iat": NOW, "ath": access_token_hash(token)}),
        }
    }
    fn header(mut self, k: &str, v: Value) -> Self {
        set_or_remove(&mut self.header, k, v);
        self
    }
    fn claim(mut self, k: &str, v: Value) -> Self {
        set_or_remove(&mut self.claims, k, v);
        self
    }
    pub(super) fn sign(&self, key: &EcKey) -> String {
        key.sign(&self.header, &self.claims)
    }
}

fn set_or_remove(obj: &mut Value, k: &str, v: Value) {
    if v.is_null() {
        obj.as_object_mut().unwrap().remove(k);
    } else {
        obj[k] = v;
    }
}

pub(super) fn builder(idp: &EcKey) -> ValidatorBuilder {
    Validator::discover(ISS)
        .audience("todo-api")
        .static_keys(set(&[idp.jwk()]))
        .clock(Arc::new(ManualClock::new(NOW)))
        .public_url(API)
}

async fn me(Auth(c): Auth) -> Json<Value> {
    Json(json!({"sub": c.sub}))
}

fn app(validator: Validator) -> Router {
    Router::new()
        .route("/todos", get(me).post(me))
        .nest("/api", Router::new().route("/me", post(me)))
        .with_state(validator)
}

pub(super) struct Answer {
    pub(super) status: StatusCode,
    challenges: Vec<String>,
    nonce: Option<String>,
    pub(super) body: String,
}

impl Answer {
    fn challenge(&self, scheme: &str) -> &str {
        self.challenges
            .iter()
            .find(|c| c.starts_with(scheme))
            .map_or("", |c| c.as_str())
    }
}

async fn send(app: Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = res
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenges,
        nonce,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub(super) async fn dpop_get(validator: &Validator, token: &str, proof: &str) -> Answer {
    send(
        app(validator.clone()),
        "GET",
        "/todos",
        &[("authorization", &format!("DPoP {token}")), ("dpop", proof)],
    )
    .await
}

/// Asserts a refusal with `invalid_dpop_proof` (or `code`) and `description`, and that
/// nothing of the token or proof is echoed.
fn assert_refused(answer: &Answer, code: &str, description: &str, secrets: &[&str]) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{description}");
    let dpop = answer.challenge("DPoP");
    assert!(
        dpop.starts_with(&format!(r#"DPoP error="{code}""#)),
        "{dpop}"
    );
    assert!(dpop.contains(description), "{dpop} / {description}");
    assert!(dpop.contains(r#"algs="RS256"#), "{dpop}");
    for secret in secrets {
        for part in secret.split('.') {
            if part.len() > 8 {
                assert!(!answer.body.contains(part) && !dpop.contains(part));
            }
        }
    }
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_is_accepted() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/todos");
    let proof = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    let answer = dpop_get(&validator, &token, &proof).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenges);
    assert_eq!(answer.body, r#"{"sub":"alice"}"#);
    // The media type, named in full (RFC 7515 section 4.1.9), is the same type.
    let proof = Proof::new(&holder, "GET", &url, &token)
        .header("typ", json!("application/dpop+jwt"))
        .sign(&holder);
    let answer = dpop_get(&validator, &token, &proof).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenges);
    // The scheme is case-insensitive; the htu compares after normalization, without
    // query or fragment.
    let htu = "HTTPS://API.EXAMPLE.COM:443/todos?x=1#f";
    let proof = Proof::new(&holder, "GET", htu, &token).sign(&holder);
    let answer = send(
        app(validator.clone()),
        "GET",
        "/todos?page=2",
        &[
            ("authorization", &format!("dpop {token}")),
            ("dpop", &proof),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenges);
}

#[tokio::test]
async fn nested_routes_use_the_original_path() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let proof = Proof::new(&holder, "POST", &format!("{API}/api/me"), &token).sign(&holder);
    let answer = send(
        app(validator),
        "POST",
        "/api/me",
        &[
            ("authorization", &format!("DPoP {token}")),
            ("dpop", &proof),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenges);
}

/// One failing case per check of RFC 9449 section 4.3, and the classic attacks.
#[tokio::test]
async fn each_proof_check_fails_on_its_own() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let other = EcKey::new(6, "other");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/todos");
    let base = || Proof::new(&holder, "GET", &url, &token);
    let private_jwk = {
        let mut jwk = public_jwk(&holder);
        jwk["d"] = json!(b64::encode(&[1u8; 32]));
        jwk
    };
    let zero_sig = {
        let p = base().sign(&holder);
        let input = p.rsplit_once('.').unwrap().0.to_owned();
        format!("{input}.{}", b64::encode(&[0u8; 64]))
    };
    let hs256 = {
        let p = base().header("alg", json!("HS256")).sign(&holder);
        let input = p.rsplit_once('.').unwrap().0.to_owned();
        format!("{input}.{}", b64::encode(b"mac"))
    };
    let alg_none = {
        let p = base().header("alg", json!("none")).sign(&holder);
        format!("{}.", p.rsplit_once('.').unwrap().0)
    };
    let cases: Vec<(String, &str)> = vec![
        // Check 2: well-formed JWS.
        ("not.a.jws".into(), "malformed"),
        // Check 4: typ.
        (
            base().header("typ", json!("jwt")).sign(&holder),
            "not typed dpop+jwt",
        ),
        (
            base().header("typ", json!("text/dpop+jwt")).sign(&holder),
            "not typed dpop+jwt",
        ),
        (
            base().header("typ", json!(null)).sign(&holder),
            "not typed dpop+jwt",
        ),
        // Check 5: asymmetric alg only.
        (alg_none, "malformed"),
        (hs256, "malformed"),
        // Check 3 and 7: a public jwk, and no private key in it.
        (
            base().header("jwk", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().header("jwk", private_jwk).sign(&holder),
            "must be a public key",
        ),
        // Check 6: signature, with the embedded key (here another key signed).
        (base().sign(&other), "signature is invalid"),
        (zero_sig, "signature is invalid"),
        // Check 3: required claims.
        (
            base().claim("jti", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().claim("htm", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().claim("htu", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().claim("iat", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().claim("ath", json!(null)).sign(&holder),
            "misses a required member",
        ),
        (
            base().claim("iat", json!(NOW.to_string())).sign(&holder),
            "malformed",
        ),
        // Check 8: method.
        (
            base().claim("htm", json!("POST")).sign(&holder),
            "another method",
        ),
        // Check 9: URL: another port, path, scheme or host.
        (
            base()
                .claim("htu", json!("https://api.example.com:8443/todos"))
                .sign(&holder),
            "another URL",
        ),
        (
            base()
                .claim("htu", json!("https://api.example.com/todos/1"))
                .sign(&holder),
            "another URL",
        ),
        (
            base()
                .claim("htu", json!("http://api.example.com/todos"))
                .sign(&holder),
            "another URL",
        ),
        (
            base()
                .claim("htu", json!("https://evil.example/todos"))
                .sign(&holder),
            "another URL",
        ),
        // Check 11: iat window: expired, from the future.
        (
            base().claim("iat", json!(NOW - 61)).sign(&holder),
            "too old",
        ),
        (
            base().claim("iat", json!(NOW + 31)).sign(&holder),
            "in the future",
        ),
        // Check 12: ath of another token; proof from another key than cnf.jkt.
        (
            base()
                .claim("ath", json!(access_token_hash("another")))
                .sign(&holder),
            "another access token",
        ),
        (
            Proof::new(&other, "GET", &url, &token).sign(&other),
            "not the token's key",
        ),
        // Size cap.
        (
            base().claim("pad", json!("x".repeat(9000))).sign(&holder),
            "too large",
        ),
    ];
    for (proof, description) in cases {
        let answer = dpop_get(&validator, &token, &proof).await;
        assert_refused(
            &answer,
            "invalid_dpop_proof",
            description,
            &[&token, &proof],
        );
    }
}

#[tokio::test]
async fn exactly_one_dpop_header() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/todos");
    let p1 = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    let p2 = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    let auth = format!("DPoP {token}");
    let none = send(
        app(validator.clone()),
        "GET",
        "/todos",
        &[("authorization", &auth)],
    )
    .await;
    assert_refused(
        &none,
        "invalid_dpop_proof",
        "exactly one DPoP proof",
        &[&token],
    );
    let two = send(
        app(validator),
        "GET",
        "/todos",
        &[("authorization", &auth), ("dpop", &p1), ("dpop", &p2)],
    )
    .await;
    assert_refused(
        &two,
        "invalid_dpop_proof",
        "exactly one DPoP proof",
        &[&token],
    );
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let proof = Proof::new(&holder, "GET", &format!("{API}/todos"), &token).sign(&holder);
    assert_eq!(
        dpop_get(&validator, &token, &proof).await.status,
        StatusCode::OK
    );
    let again = dpop_get(&validator, &token, &proof).await;
    assert_refused(
        &again,
        "invalid_dpop_proof",
        "already used",
        &[&token, &proof],
    );
}

/// RFC 9449 section 7.1 / RFC 7800 section 3.1: bound tokens need their proof, and the
/// DPoP scheme needs a bound token.
#[tokio::test]
async fn bound_and_unbound_tokens_each_need_their_scheme() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let bound = bound_token(&idp, &holder);
    let as_bearer = send(
        app(validator.clone()),
        "GET",
        "/todos",
        &[("authorization", &format!("Bearer {bound}"))],
    )
    .await;
    assert_eq!(as_bearer.status, StatusCode::UNAUTHORIZED);
    let bearer = as_bearer.challenge("Bearer");
    assert!(
        bearer.starts_with(r#"Bearer error="invalid_token""#) && bearer.contains("DPoP-bound"),
        "{bearer}"
    );
    // The DPoP challenge is offered beside it, with the algorithms.
    assert!(as_bearer.challenge("DPoP").starts_with(r#"DPoP algs="#));

    let unbound = unbound_token(&idp);
    let proof = Proof::new(&holder, "GET", &format!("{API}/todos"), &unbound).sign(&holder);
    let answer = dpop_get(&validator, &unbound, &proof).await;
    assert_refused(&answer, "invalid_token", "not DPoP-bound", &[&unbound]);

    // With DPoP required, bearer tokens are refused and only DPoP is offered.
    let strict = builder(&idp).require_dpop(true).build_lazy().unwrap();
    let answer = send(
        app(strict),
        "GET",
        "/todos",
        &[("authorization", &format!("Bearer {unbound}"))],
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenges.len(), 1);
    assert!(answer.challenges[0].starts_with("DPoP error="));
}

#[tokio::test]
async fn missing_credentials_offer_both_schemes() {
    let idp = EcKey::new(1, "k1");
    let validator = builder(&idp)
        .dpop_proofs(crate::core::DpopProofValidator::default().algorithms(
            crate::core::jose::AlgorithmPolicy::only([
                crate::core::jose::Algorithm::ES256,
                crate::core::jose::Algorithm::EdDSA,
            ]),
        ))
        .build_lazy()
        .unwrap();
    let answer = send(app(validator), "GET", "/todos", &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenges, ["Bearer", r#"DPoP algs="ES256 EdDSA""#]);
}

/// RFC 9449 section 8: with nonces on, a proof without one gets `use_dpop_nonce` and a
/// fresh nonce; the retry with it passes.
#[tokio::test]
async fn server_nonce_is_required_when_configured() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp)
        .dpop_nonce_secret([3; 32])
        .build_lazy()
        .unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/todos");
    let first = dpop_get(
        &validator,
        &token,
        &Proof::new(&holder, "GET", &url, &token).sign(&holder),
    )
    .await;
    assert_refused(&first, "use_dpop_nonce", "nonce is required", &[&token]);
    let nonce = first.nonce.expect("a DPoP-Nonce header");
    let forged = Proof::new(&holder, "GET", &url, &token)
        .claim("nonce", json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .sign(&holder);
    let answer = dpop_get(&validator, &token, &forged).await;
    assert_refused(&answer, "use_dpop_nonce", "nonce is required", &[&token]);
    let retry = Proof::new(&holder, "GET", &url, &token)
        .claim("nonce", json!(nonce))
        .sign(&holder);
    assert_eq!(
        dpop_get(&validator, &token, &retry).await.status,
        StatusCode::OK
    );
}

/// The in-process store at its bound fails closed: 503, never an unchecked proof.
#[tokio::test]
async fn a_full_replay_store_fails_closed() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp)
        .replay_store(Arc::new(InMemoryReplayStore::new(1)))
        .build_lazy()
        .unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/todos");
    let p1 = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    assert_eq!(
        dpop_get(&validator, &token, &p1).await.status,
        StatusCode::OK
    );
    let p2 = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    let answer = dpop_get(&validator, &token, &p2).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.body.contains("temporarily_unavailable"));
    // The replay is still recognized at the bound.
    let again = dpop_get(&validator, &token, &p1).await;
    assert_refused(&again, "invalid_dpop_proof", "already used", &[&token]);
}

/// `Validator::validate_dpop` used directly (WebSocket, gRPC) runs every check.
#[tokio::test]
async fn validate_dpop_used_directly() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let validator = builder(&idp).build_lazy().unwrap();
    let token = bound_token(&idp, &holder);
    let url = format!("{API}/ws");
    let proof = Proof::new(&holder, "GET", &url, &token).sign(&holder);
    let claims = validator
        .validate_dpop::<crate::core::NoAdditionalClaims>(&token, &proof, "GET", &url)
        .await
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(
        validator
            .validate_dpop::<crate::core::NoAdditionalClaims>(&token, &proof, "GET", &url)
            .await
            .unwrap_err(),
        ValidationFailure::InvalidProof(crate::core::DpopError::Replayed)
    );
}

/// The public rejection type: status, headers and the app's own body.
#[tokio::test]
async fn rejection_can_carry_the_apps_body() {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let idp = EcKey::new(1, "k1");
    let validator = builder(&idp).build_lazy().unwrap();
    let (mut parts, _) = Request::get("/todos")
        .header("authorization", "Bearer not-a-jwt")
        .body(())
        .unwrap()
        .into_parts();
    let rejection =
        Auth::<crate::core::NoAdditionalClaims>::from_request_parts(&mut parts, &validator)
            .await
            .unwrap_err();
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rejection.error_code(), Some("invalid_token"));
    let response = rejection.clone().into_response_with("custom body");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"custom body");
    assert_eq!(rejection.into_response().status(), StatusCode::UNAUTHORIZED);
}

struct ReadTodos;
impl ScopeName for ReadTodos {
    const NAME: &'static str = "todos:read";
}

async fn maybe(auth: Option<Auth>) -> String {
    auth.map_or_else(|| "anonymous".to_owned(), |Auth(c)| c.sub)
}

async fn scoped(RequireScope(c, _): RequireScope<ReadTodos>) -> String {
    c.sub
}

fn surface(validator: Validator) -> Router {
    let guarded = Router::new()
        .route("/guarded", get(|| async { "in" }))
        .route_layer(axum::middleware::from_extractor_with_state::<Auth, _>(
            validator.clone(),
        ));
    Router::new()
        .route("/maybe", get(maybe))
        .route("/scoped", get(scoped))
        .merge(guarded)
        .with_state(validator)
}

fn token_with_scope(idp: &EcKey, scope: &str) -> String {
    idp.jwt(
        Some("at+jwt"),
        &json!({"iss": ISS, "sub": "alice", "aud": "todo-api", "exp": NOW + 300, "iat": NOW,
                "jti": "t1", "client_id": "spa", "scope": scope}),
    )
}

#[tokio::test]
async fn optional_auth_scope_guard_and_router_layer() {
    let idp = EcKey::new(1, "k1");
    let validator = builder(&idp).build_lazy().unwrap();
    let app = || surface(validator.clone());
    let bearer = |t: &str| format!("Bearer {t}");
    let reader = token_with_scope(&idp, "openid todos:read");
    let other = token_with_scope(&idp, "openid todos:readwrite");

    // Optional: no credentials is None; bad credentials are still refused.
    assert_eq!(send(app(), "GET", "/maybe", &[]).await.body, "anonymous");
    let answer = send(
        app(),
        "GET",
        "/maybe",
        &[("authorization", &bearer(&reader))],
    )
    .await;
    assert_eq!(answer.body, "alice");
    let bad = send(app(), "GET", "/maybe", &[("authorization", "Bearer x.y.z")]).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    // Scope guard: 403 insufficient_scope with the scope in the challenge.
    let ok = send(
        app(),
        "GET",
        "/scoped",
        &[("authorization", &bearer(&reader))],
    )
    .await;
    assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, "alice"));
    let denied = send(
        app(),
        "GET",
        "/scoped",
        &[("authorization", &bearer(&other))],
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let challenge = denied.challenge("Bearer");
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#)
            && challenge.contains(r#"scope="todos:read""#),
        "{challenge}"
    );
    let none = send(app(), "GET", "/scoped", &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // The whole-router layer.
    assert_eq!(
        send(app(), "GET", "/guarded", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let inside = send(
        app(),
        "GET",
        "/guarded",
        &[("authorization", &bearer(&reader))],
    )
    .await;
    assert_eq!(
        (inside.status, inside.body.as_str()),
        (StatusCode::OK, "in")
    );
}

/// Without a public URL the `htu` is compared with the `Host` header's origin (scheme
/// `http`); forwarded headers count only when trusted.
#[tokio::test]
async fn request_url_from_host_or_trusted_forwarded_headers() {
    let idp = EcKey::new(1, "k1");
    let holder = EcKey::new(5, "holder");
    let token = bound_token(&idp, &holder);
    let auth = format!("DPoP {token}");
    let plain = Validator::discover(ISS)
        .audience("todo-api")
        .static_keys(set(&[idp.jwk()]))
        .clock(Arc::new(ManualClock::new(NOW)));
    let by_host = plain.clone().build_lazy().unwrap();
    let proxied = plain.trust_forwarded_headers(true).build_lazy().unwrap();
    let proof = |htu: &str| Proof::new(&holder, "GET", htu, &token).sign(&holder);
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "todo.example, proxy.internal"),
    ];
    let call = |validator: &Validator, htu: &str, extra: &[(&'static str, &'static str)]| {
        let mut headers = vec![
            ("authorization".to_owned(), auth.clone()),
            ("dpop".to_owned(), proof(htu)),
            ("host".to_owned(), "127.0.0.1:3000".to_owned()),
        ];
        headers.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let app = app(validator.clone());
        async move {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            send(app, "GET", "/todos", &h).await.status
        }
    };
    let local = "http://127.0.0.1:3000/todos";
    let public = "https://todo.example/todos";
    assert_eq!(call(&by_host, local, &[]).await, StatusCode::OK);
    // Forwarded headers are ignored unless trusted.
    assert_eq!(
        call(&by_host, public, &forwarded).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&proxied, public, &forwarded).await, StatusCode::OK);
    assert_eq!(
        call(&proxied, local, &forwarded).await,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn the_nonce_secret_is_never_printed() {
    let builder = Validator::discover(ISS)
        .audience("todo-api")
        .dpop_nonce_secret([0xab; 32]);
    let text = format!("{builder:?}");
    assert!(text.contains("redacted") && !text.contains("171"), "{text}");
}
