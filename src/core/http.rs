//! HTTP request and response values: the core builds requests and parses responses,
//! the caller moves the bytes (sans-IO).

/// An HTTP method used by the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Header names whose values are credentials (RFC 9110 section 11.6.2, RFC 9449
/// section 4.1, RFC 6265): redacted in `Debug`.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "dpop",
    "cookie",
    "set-cookie",
];

/// Prints headers with credential values redacted.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl std::fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, value)| {
                let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
                #[cfg(test)]
                let secret = secret && !super::types::reveal::on();
                (name.as_str(), if secret { "[redacted]" } else { value })
            }))
            .finish()
    }
}

/// Prints a body by its length only: bodies carry codes, verifiers and tokens. (Test
/// builds print it whole inside `reveal::with`.)
struct BodyLength<'a>(&'a [u8]);

impl std::fmt::Debug for BodyLength<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(test)]
        if super::types::reveal::on() {
            return write!(f, "{:?}", String::from_utf8_lossy(self.0));
        }
        write!(f, "[{} bytes redacted]", self.0.len())
    }
}

/// A request to send.
///
/// `Debug` shows the method, URL and header names, but not credential header values
/// (`Authorization`, `DPoP`, `Cookie`) nor the body (which carries authorization codes,
/// PKCE verifiers and refresh tokens): only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// Body (empty for `GET`).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `GET` accepting JSON.
    pub fn get_json(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        }
    }

    /// A form `POST` (`application/x-www-form-urlencoded`) accepting JSON.
    pub fn post_form<'a>(
        url: impl Into<String>,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self {
            method: Method::Post,
            url: url.into(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: super::form::serialize(pairs).into_bytes(),
        }
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &BodyLength(&self.body))
            .finish()
    }
}

/// A received response.
///
/// `Debug` shows the status and headers (credential values redacted) and the body's
/// length only: token responses carry tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header names (any case) and values.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &BodyLength(&self.body))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_secret() {
        let mut req = HttpRequest::post_form(
            "https://idp.example/token",
            [
                ("code", "the-code-secret"),
                ("code_verifier", "the-verifier-secret"),
            ],
        );
        req.headers
            .push(("Authorization".into(), "Bearer the-token-secret".into()));
        req.headers.push(("DPoP".into(), "the-proof-secret".into()));
        let shown = format!("{req:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("https://idp.example/token"), "{shown}");
        assert!(shown.contains("Authorization"), "{shown}");

        let resp = HttpResponse {
            status: 200,
            headers: vec![
                ("set-cookie".into(), "sid=the-cookie-secret".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: br#"{"access_token":"the-token-secret"}"#.to_vec(),
        };
        let shown = format!("{resp:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("application/json"), "{shown}");
        assert!(shown.contains("200"), "{shown}");
    }
}
