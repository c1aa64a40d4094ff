//! The axum extractor on arbitrary `Authorization` and `DPoP` headers: a rejection or
//! claims, never a panic.
#![no_main]

use axum::extract::FromRequestParts;
use axum::http::{HeaderValue, Request};
use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use oidc_leptos::core::jose::JwkSet;
use oidc_leptos::server::{Auth, Validator};

fn validator() -> Option<&'static Validator> {
    static VALIDATOR: std::sync::OnceLock<Option<Validator>> = std::sync::OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            Validator::discover("https://idp.example")
                .audience("api")
                .static_keys(JwkSet::default())
                .build_lazy()
                .ok()
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    // Split the input into up to three header values at NUL bytes.
    let mut parts = data.splitn(3, |b| *b == 0);
    let authorization = parts.next().unwrap_or_default();
    let dpop = parts.next();
    let second = parts.next();
    let mut request = Request::get("/api/me");
    if let Ok(v) = HeaderValue::from_bytes(authorization) {
        request = request.header("authorization", v);
    }
    if let Some(Ok(v)) = dpop.map(HeaderValue::from_bytes) {
        request = request.header("dpop", v);
    }
    if let Some(Ok(v)) = second.map(HeaderValue::from_bytes) {
        request = request.header("authorization", v);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    let Some(validator) = validator() else {
        return;
    };
    // Static keys and the in-process replay store never wait: one poll completes it.
    let result = Auth::<oidc_leptos::NoAdditionalClaims>::from_request_parts(&mut parts, validator)
        .now_or_never();
    if let Some(Err(rejection)) = result {
        let _ = rejection.headers();
    }
});
