//! The browser platform: `fetch`, session storage, the address bar and WebCrypto
//! signature checks. Only this module (and `leptos`) touches web APIs.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::jose::{Algorithm, AsyncSignatureVerifier, JoseError, Jwk};
use crate::core::{HttpRequest, HttpResponse};
use crate::session::engine::{PageUrl, Platform};

#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

/// The [`Platform`] of a browser window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BrowserPlatform;

fn window() -> Result<web_sys::Window, String> {
    web_sys::window().ok_or_else(|| "no window (not running in a browser page)".to_owned())
}

/// Text of a JavaScript exception.
pub(crate) fn js_error(e: JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Builds a plain object from JSON text (small algorithm and key descriptions).
fn object(json: &str) -> Result<Object, JsValue> {
    js_sys::JSON::parse(json)?.dyn_into::<Object>()
}

/// Headers a response is read for.
const RESPONSE_HEADERS: [&str; 3] = ["content-type", "dpop-nonce", "www-authenticate"];

async fn fetch(request: HttpRequest) -> Result<HttpResponse, JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method(request.method.as_str());
    init.set_mode(web_sys::RequestMode::Cors);
    // The token endpoint is cross-origin; cookies are not needed and not sent.
    init.set_credentials(web_sys::RequestCredentials::Omit);
    let headers = web_sys::Headers::new()?;
    for (k, v) in &request.headers {
        headers.set(k, v)?;
    }
    init.set_headers(&headers);
    if !request.body.is_empty() {
        init.set_body(&Uint8Array::from(request.body.as_slice()));
    }
    let req = web_sys::Request::new_with_str_and_init(&request.url, &init)?;
    let resp: web_sys::Response = JsFuture::from(window()?.fetch_with_request(&req))
        .await?
        .dyn_into()?;
    let body = JsFuture::from(resp.array_buffer()?).await?;
    let mut headers = Vec::new();
    for name in RESPONSE_HEADERS {
        if let Some(v) = resp.headers().get(name)? {
            headers.push((name.to_owned(), v));
        }
    }
    Ok(HttpResponse {
        status: resp.status(),
        headers,
        body: Uint8Array::new(&body).to_vec(),
    })
}

impl Platform for BrowserPlatform {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let url = request.url.clone();
        fetch(request)
            .await
            .map_err(|e| format!("request to {url} failed: {}", js_error(e)))
    }

    fn now(&self) -> u64 {
        (js_sys::Date::now() / 1000.0) as u64
    }

    fn storage_get(&self, key: &str) -> Result<Option<String>, String> {
        session_storage()?.get_item(key).map_err(js_error)
    }

    fn storage_set(&self, key: &str, value: &str) -> Result<(), String> {
        session_storage()?.set_item(key, value).map_err(js_error)
    }

    fn storage_remove(&self, key: &str) {
        if let Ok(s) = session_storage() {
            let _ = s.remove_item(key);
        }
    }

    fn page_url(&self) -> PageUrl {
        let location = window().map(|w| w.location());
        let get = |f: fn(&web_sys::Location) -> Result<String, JsValue>| {
            location
                .as_ref()
                .ok()
                .and_then(|l| f(l).ok())
                .unwrap_or_default()
        };
        PageUrl {
            origin: get(web_sys::Location::origin),
            path: get(web_sys::Location::pathname),
            query: get(web_sys::Location::search),
            fragment: get(web_sys::Location::hash),
        }
    }

    fn replace_url(&self, path_query_fragment: &str) {
        if let Ok(history) = window().and_then(|w| w.history().map_err(js_error)) {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(path_query_fragment));
        }
    }

    fn navigate(&self, url: &str) {
        if let Ok(w) = window() {
            let _ = w.location().assign(url);
        }
    }
}

fn session_storage() -> Result<web_sys::Storage, String> {
    window()?
        .session_storage()
        .map_err(js_error)?
        .ok_or_else(|| "session storage is unavailable".to_owned())
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
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WebCryptoVerifier;

async fn webcrypto_verify(
    alg: Algorithm,
    key: &Jwk,
    input: &[u8],
    signature: &[u8],
) -> Result<bool, JsValue> {
    let subtle = window()?.crypto()?.subtle();
    let (import_alg, verify_alg) = webcrypto_params(alg);
    // Only the public members go to WebCrypto; `alg` is dropped so that a JWK without
    // it and one with it import alike (the fit was checked before).
    let mut public = key.clone();
    public.alg = None;
    public.kid = None;
    public.use_ = None;
    let jwk_json = serde_json::to_string(&public).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let crypto_key = JsFuture::from(subtle.import_key_with_object(
        "jwk",
        &object(&jwk_json)?,
        &object(import_alg)?,
        false,
        &usages,
    )?)
    .await?
    .dyn_into::<web_sys::CryptoKey>()?;
    let ok = JsFuture::from(subtle.verify_with_object_and_u8_array_and_u8_array(
        &object(verify_alg)?,
        &crypto_key,
        signature,
        input,
    )?)
    .await?;
    Ok(ok.as_bool().unwrap_or(false))
}

impl AsyncSignatureVerifier for WebCryptoVerifier {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        match webcrypto_verify(alg, key, input, signature).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(JoseError::InvalidSignature),
            Err(e) => Err(JoseError::InvalidKey(js_error(e))),
        }
    }
}

impl AsyncSignatureVerifier for BrowserPlatform {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> Result<(), JoseError> {
        WebCryptoVerifier.verify(alg, key, input, signature).await
    }
}
