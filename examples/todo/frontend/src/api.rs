//! Calls to the TODO API, with the access token when signed in.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A minimal `fetch` returning status and body text.
pub async fn http(
    method: &str,
    url: &str,
    token: Option<String>,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let err = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(err)?;
    if let Some(t) = token {
        headers
            .set("Authorization", &format!("Bearer {t}"))
            .map_err(err)?;
    }
    if let Some(b) = &body {
        headers
            .set("Content-Type", "application/json")
            .map_err(err)?;
        init.set_body(&wasm_bindgen::JsValue::from_str(b));
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(err)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| format!("cannot reach {url}"))?
        .dyn_into()
        .map_err(err)?;
    let text = JsFuture::from(response.text().map_err(err)?)
        .await
        .map_err(err)?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

/// The API: its origin and where its calls get their token from. Provided as context
/// by the app's shell.
#[derive(Clone)]
pub struct Api {
    base: String,
    #[cfg(feature = "auth")]
    oidc: oidc_leptos::Oidc,
}

impl Api {
    #[cfg(feature = "auth")]
    pub fn new(base: String, oidc: oidc_leptos::Oidc) -> Self {
        Self { base, oidc }
    }

    #[cfg(not(feature = "auth"))]
    pub fn new(base: String) -> Self {
        Self { base }
    }

    async fn token(&self) -> Result<Option<String>, String> {
        #[cfg(feature = "auth")]
        {
            self.oidc
                .get_access_token()
                .await
                .map(|t| Some(t.secret().to_owned()))
                .map_err(|e| e.to_string())
        }
        #[cfg(not(feature = "auth"))]
        {
            Ok(None)
        }
    }

    /// Calls `method path`; a non-2xx answer is an error naming the call.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<String, String> {
        let token = self.token().await?;
        let url = format!("{}{path}", self.base);
        let (status, text) = http(method, &url, token, body).await?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(format!("{method} {path} answered HTTP {status}"))
        }
    }
}
