//! Authorization requests (RFC 6749 section 4.1.1 + PKCE + OIDC Core 3.1.2.1) and
//! callback parsing (RFC 6749 section 4.1.2, RFC 9207).

use serde::Serialize;

use super::discovery::ProviderMetadata;
use super::form;
use super::json::{required, Kind, Members, ObjectWriter, Parsed, ToJson};
use super::pkce::CodeVerifier;
use super::random::{Nonce, RandomError, State};
use super::token::OAuthError;
use super::types::AuthorizationCode;

/// Parameters of the callback that are removed from the address bar once consumed
/// (RFC 6749 sections 4.1.2 and 4.1.2.1, RFC 9207, OIDC Session Management).
pub const CALLBACK_PARAMS: [&str; 7] = [
    "code",
    "state",
    "iss",
    "session_state",
    "error",
    "error_description",
    "error_uri",
];

/// An authorization request to send the user to.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    return_to: Option<String>,
    max_age: Option<u64>,
}

impl AuthorizationRequest {
    /// A request for `client_id` returning to `redirect_uri`, with scope `openid`.
    pub fn new(client_id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into()],
            extra: Vec::new(),
            return_to: None,
            max_age: None,
        }
    }

    /// Adds scopes (`openid` is always present).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for s in scopes {
            let s = s.into();
            if !self.scopes.contains(&s) {
                self.scopes.push(s);
            }
        }
        self
    }

    /// Adds an extra parameter (`ui_locales`, `login_hint`, `resource`, ...). Parameters that
    /// the library controls (`state`, `nonce`, `code_challenge`, ...) are ignored. A
    /// parameter added twice is sent twice (RFC 8707 `resource` may be); a request
    /// carries other parameters once (RFC 6749 section 3.1): for `prompt`, see
    /// [`prompt`](Self::prompt).
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        const RESERVED: [&str; 9] = [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "max_age",
        ];
        if RESERVED.contains(&key.as_str()) {
            return self;
        }
        self.extra.push((key, value.into()));
        self
    }

    /// Sets `prompt` (OIDC Core 3.1.2.1: space-separated values such as `none`,
    /// `login`, `consent`, `select_account`), in place of any added through
    /// [`extra`](Self::extra): the parameter goes once.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.extra.retain(|(k, _)| k != "prompt");
        self.extra.push(("prompt".into(), prompt.into()));
        self
    }

    /// The `prompt` added so far (the last one added), if any.
    pub(crate) fn prompt_value(&self) -> Option<&str> {
        let mut added = self.extra.iter().filter(|(k, _)| k == "prompt");
        added.next_back().map(|(_, v)| v.as_str())
    }

    /// Asks the provider to authenticate the user again if the last authentication is
    /// older than `secs` seconds (OIDC Core 3.1.2.1 `max_age`). The pending
    /// authorization remembers it so the ID token's `auth_time` is checked (give it to
    /// [`IdTokenValidator::max_age`](crate::core::IdTokenValidator::max_age)). Defaults
    /// to none (not sent). `max_age` set through [`extra`](Self::extra) is ignored.
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// Where the app goes after sign-in (a same-origin path; see [`sanitize_return_path`]).
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// Builds the URL with fresh `state`, `nonce` and PKCE verifier, and the pending
    /// record the client keeps until the callback. `now` is recorded for expiry.
    pub fn build(
        self,
        metadata: &ProviderMetadata,
        now: u64,
    ) -> Result<(String, PendingAuthorization), RandomError> {
        let state = State::new_random()?;
        let nonce = Nonce::new_random()?;
        let verifier = CodeVerifier::new_random()?;
        let challenge = verifier.challenge();
        let url = self.url(
            metadata,
            &[
                ("state", state.secret()),
                ("nonce", nonce.secret()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", challenge.method()),
            ],
        );
        let pending = PendingAuthorization {
            issuer: metadata.issuer.clone(),
            client_id: self.client_id,
            state,
            nonce,
            code_verifier: verifier,
            redirect_uri: self.redirect_uri,
            return_to: self.return_to,
            created_at: now,
            max_age: self.max_age,
        };
        Ok((url, pending))
    }

    /// The URL without the values made fresh for each request (`state`, `nonce`,
    /// `code_challenge` and its method), for a script that appends its own.
    pub(crate) fn template(&self, metadata: &ProviderMetadata) -> String {
        self.url(metadata, &[])
    }

    fn url(&self, metadata: &ProviderMetadata, fresh: &[(&str, &str)]) -> String {
        let scope = self.scopes.join(" ");
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &scope),
        ];
        pairs.extend_from_slice(fresh);
        let max_age = self.max_age.map(|m| m.to_string());
        if let Some(m) = &max_age {
            pairs.push(("max_age", m));
        }
        pairs.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        form::append_query(&metadata.authorization_endpoint, pairs)
    }
}

/// What the client keeps between the redirect to the provider and the callback. It is
/// single-use: consume it on the first callback, whatever the outcome. It is serialized
/// to survive the redirect; `Debug` redacts its secrets.
#[derive(Debug, Clone, Serialize)]
pub struct PendingAuthorization {
    /// The issuer the request went to. A callback is accepted only with metadata of
    /// this issuer, so a configuration changed between redirect and callback cannot
    /// mix two providers. Empty in records written before it existed (never matches).
    pub issuer: String,
    /// The client ID the request was made for: use it (not the current configuration)
    /// for the token request and the ID token's audience. Empty in older records.
    pub client_id: String,
    /// The `state` sent.
    pub state: State,
    /// The `nonce` sent.
    pub nonce: Nonce,
    /// The PKCE verifier.
    pub code_verifier: CodeVerifier,
    /// The redirect URI sent (repeated in the token request).
    pub redirect_uri: String,
    /// Where to go after sign-in.
    pub return_to: Option<String>,
    /// When the request was made (seconds since the epoch).
    pub created_at: u64,
    /// The `max_age` sent, if any: the ID token's `auth_time` must then be checked
    /// (OIDC Core 3.1.3.7 step 13). Absent in records written before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// A pending authorization as read, before its required members are checked.
#[derive(Default)]
struct RawPending {
    issuer: String,
    client_id: String,
    state: Option<State>,
    nonce: Option<Nonce>,
    code_verifier: Option<CodeVerifier>,
    redirect_uri: Option<String>,
    return_to: Option<String>,
    created_at: Option<u64>,
    max_age: Option<u64>,
}

impl Members for RawPending {
    const NAMES: &'static [&'static str] = &[
        "issuer",
        "client_id",
        "state",
        "nonce",
        "code_verifier",
        "redirect_uri",
        "return_to",
        "created_at",
        "max_age",
    ];
    const KINDS: &'static [Kind] = &[
        Kind::Str,
        Kind::Str,
        Kind::Str,
        Kind::Str,
        Kind::Verifier,
        Kind::Str,
        Kind::OptStr,
        Kind::U64,
        Kind::OptU64,
    ];
    const NAME: &'static str = "PendingAuthorization";

    fn member(&mut self, index: usize, value: Parsed) {
        match index {
            0 => self.issuer = value.str().unwrap_or_default(),
            1 => self.client_id = value.str().unwrap_or_default(),
            2 => self.state = value.str().map(State::new),
            3 => self.nonce = value.str().map(Nonce::new),
            4 => {
                if let Parsed::Verifier(v) = value {
                    self.code_verifier = Some(v);
                }
            }
            5 => self.redirect_uri = value.str(),
            6 => self.return_to = value.opt_str(),
            7 => self.created_at = value.u64(),
            _ => self.max_age = value.opt_u64(),
        }
    }
}

// Records written before `issuer`, `client_id` and `max_age` existed read with
// them empty or absent.
crate::core::json::read_through!(PendingAuthorization, RawPending);

impl PendingAuthorization {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawPending) -> Result<Self, E> {
        Ok(PendingAuthorization {
            issuer: raw.issuer,
            client_id: raw.client_id,
            state: required(raw.state, "state")?,
            nonce: required(raw.nonce, "nonce")?,
            code_verifier: required(raw.code_verifier, "code_verifier")?,
            redirect_uri: required(raw.redirect_uri, "redirect_uri")?,
            return_to: raw.return_to,
            created_at: required(raw.created_at, "created_at")?,
            max_age: raw.max_age,
        })
    }
}

impl ToJson for PendingAuthorization {
    // As the derived `Serialize` writes it.
    fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.str("issuer", &self.issuer)
            .str("client_id", &self.client_id)
            .str("state", self.state.secret())
            .str("nonce", self.nonce.secret())
            .str("code_verifier", self.code_verifier.secret())
            .str("redirect_uri", &self.redirect_uri)
            .opt_str("return_to", self.return_to.as_deref())
            .u64("created_at", self.created_at);
        if let Some(max_age) = self.max_age {
            o.u64("max_age", max_age);
        }
        o.end();
    }
}

/// Error in an authorization callback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// No sign-in was in progress (nothing pending), e.g. a replayed or forged callback.
    #[error("no sign-in is in progress for this callback (unexpected state)")]
    NoPendingRequest,
    /// RFC 6749 section 10.12: `state` must equal the one sent.
    #[error("the callback state does not match the sign-in request")]
    StateMismatch,
    /// RFC 9207 section 2.4: `iss` must equal the issuer.
    #[error("the callback iss `{0}` is not the expected issuer")]
    IssuerMismatch(String),
    /// RFC 9207 section 2.4: the provider promised `iss` but the response has none.
    #[error("the callback has no iss although the provider sends it")]
    MissingIssuer,
    /// The response carries neither `code` nor `error`.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// A parameter appears more than once (RFC 6749 section 3.1).
    #[error("the callback repeats the parameter `{0}`")]
    DuplicateParameter(String),
    /// The sign-in was started with another issuer than the one configured now (the
    /// configuration changed between the redirect and the callback).
    #[error("the sign-in was started with another provider; please sign in again")]
    ProviderChanged,
    /// The pending request is too old.
    #[error("the sign-in request expired; please sign in again")]
    Expired,
    /// The provider answered with an OAuth error.
    #[error("the provider refused the sign-in: {0}")]
    Provider(OAuthError),
}

/// The parameters of a redirect back from the provider.
///
/// `Debug` prints which parameters are present but never the code or the state.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallbackParams {
    /// `code`
    pub code: Option<AuthorizationCode>,
    /// `state`
    pub state: Option<String>,
    /// `iss` (RFC 9207)
    pub iss: Option<String>,
    /// `error`
    pub error: Option<String>,
    /// `error_description`
    pub error_description: Option<String>,
    /// `error_uri`
    pub error_uri: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn redacted<T>(v: &Option<T>) -> Option<&'static str> {
            v.as_ref().map(|_| "[redacted]")
        }
        #[cfg(test)]
        if super::types::reveal::on() {
            return f
                .debug_struct("CallbackParams")
                .field("code", &self.code)
                .field("state", &self.state)
                .field("iss", &self.iss)
                .field("error", &self.error)
                .field("error_description", &self.error_description)
                .field("error_uri", &self.error_uri)
                .finish();
        }
        f.debug_struct("CallbackParams")
            .field("code", &redacted(&self.code))
            .field("state", &redacted(&self.state))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("error_uri", &self.error_uri)
            .finish()
    }
}

/// The path of an absolute URL (`/` when it has none), without query or fragment.
fn url_path(url: &str) -> &str {
    let rest = match super::split_once_str(url, "://") {
        Some((_, after_scheme)) => match after_scheme.find(['/', '?', '#']) {
            Some(i) => after_scheme.get(i..).unwrap_or_default(),
            None => "",
        },
        None => url,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

impl CallbackParams {
    /// Parses a query string (with or without its leading `?`). Returns `Ok(None)` when
    /// it is not an authorization response: an authorization response (RFC 6749
    /// sections 4.1.2 and 4.1.2.1) carries `state` (this library always sends one)
    /// together with `code` or `error`. A query without `state`, such as an app's own
    /// `?code=SUMMER10`, is not a callback and is left alone.
    ///
    /// Prefer [`detect`](Self::detect), which also checks the page's path.
    pub fn parse(query: &str) -> Result<Option<Self>, CallbackError> {
        let mut p = CallbackParams::default();
        let mut code: Option<String> = None;
        let mut duplicate: Option<String> = None;
        for (k, v) in form::parse(query) {
            let slot = match k.as_str() {
                "code" => &mut code,
                "state" => &mut p.state,
                "iss" => &mut p.iss,
                "error" => &mut p.error,
                "error_description" => &mut p.error_description,
                "error_uri" => &mut p.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                duplicate.get_or_insert(k);
            } else {
                *slot = Some(v);
            }
        }
        // RFC 6749 section 4.1.2: `state` is REQUIRED in the response when the request
        // had one, and ours always has; without it this is not our response.
        if p.state.is_none() || (code.is_none() && p.error.is_none()) {
            return Ok(None);
        }
        // RFC 6749 section 3.1: request and response parameters MUST NOT repeat.
        if let Some(name) = duplicate {
            return Err(CallbackError::DuplicateParameter(name));
        }
        p.code = code.map(AuthorizationCode::new);
        Ok(Some(p))
    }

    /// Detects an authorization response on the current page. `redirect_uri` is the
    /// absolute redirect URI sent in the request, `page_path` the page's path (as in
    /// `location.pathname`) and `query` its query string (with or without `?`).
    ///
    /// Only a page on the redirect URI's path whose query carries `state` together
    /// with `code` or `error` is a callback (RFC 6749 section 4.1.2: the provider
    /// redirects to the redirect URI). Anything else is `Ok(None)`: the app's own URLs
    /// stay untouched and a pending sign-in survives them.
    pub fn detect(
        redirect_uri: &str,
        page_path: &str,
        query: &str,
    ) -> Result<Option<Self>, CallbackError> {
        let page_path = if page_path.is_empty() { "/" } else { page_path };
        if url_path(redirect_uri) != page_path {
            return Ok(None);
        }
        Self::parse(query)
    }
}

/// How long a pending authorization stays valid (seconds): the longest login the
/// common providers allow (oidc-provider's interaction lasts an hour, Keycloak's 30
/// minutes), so that a slow login (a password reset by e-mail, a second factor set up
/// on the way) still comes back to a session. The request it names is single use
/// and bound to PKCE, so its age only bounds a stale entry.
pub const PENDING_MAX_AGE: u64 = 60 * 60;

impl PendingAuthorization {
    /// Checks a callback against this request and the provider, returning the code.
    pub fn validate_callback(
        &self,
        params: &CallbackParams,
        metadata: &ProviderMetadata,
        now: u64,
    ) -> Result<AuthorizationCode, CallbackError> {
        // RFC 6749 section 10.12: the state binds the response to this user agent.
        match &params.state {
            Some(s) if self.state.matches(s) => {}
            _ => return Err(CallbackError::StateMismatch),
        }
        // The response answers the request sent to `self.issuer` (RFC 6749 section
        // 10.12, RFC 9207 section 2): the metadata must be that issuer's.
        if self.issuer != metadata.issuer {
            return Err(CallbackError::ProviderChanged);
        }
        // RFC 9207 section 2.4: compare iss before processing the response further.
        match &params.iss {
            Some(iss) if iss != &metadata.issuer => {
                return Err(CallbackError::IssuerMismatch(iss.clone()))
            }
            None if metadata.authorization_response_iss_parameter_supported => {
                return Err(CallbackError::MissingIssuer)
            }
            _ => {}
        }
        if let Some(error) = &params.error {
            return Err(CallbackError::Provider(OAuthError {
                error: error.clone(),
                error_description: params.error_description.clone(),
                error_uri: params.error_uri.clone(),
            }));
        }
        if now.saturating_sub(self.created_at) > PENDING_MAX_AGE {
            return Err(CallbackError::Expired);
        }
        params
            .code
            .as_ref()
            .filter(|c| !c.secret().is_empty())
            .cloned()
            .ok_or(CallbackError::MissingCode)
    }
}

/// Keeps a return path only if it stays on this origin; anything else becomes `/`.
///
/// A URL parser resolves a relative reference against the app's origin, and the WHATWG
/// URL parser rewrites some paths into a scheme-relative `//host` reference that leaves
/// the origin: it drops ASCII tabs and newlines, reads `\` as `/`, and resolves dot
/// segments, percent-encoded dots (`%2e`) included, so `/.//evil.example`,
/// `/%2e//evil.example` and `/./\evil` all become `//evil.example`. Hence a path is
/// kept only when it
/// - starts with exactly one `/` (not `//`),
/// - has no control character (tab, newline, ...) and no `\` anywhere,
/// - has no dot segment (`.`, `..`, in any percent-encoded spelling) in its path part,
/// - has no percent-encoded `/` or `\` (`%2f`, `%5c`) in its path part, which a
///   router that decodes the path could turn into `//`.
///
/// Query and fragment are kept as given.
pub fn sanitize_return_path(path: &str) -> String {
    if is_same_origin_path(path) {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

fn is_same_origin_path(path: &str) -> bool {
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == '\\') {
        return false;
    }
    let path_part = path.split(['?', '#']).next().unwrap_or_default();
    if path_part.starts_with("//") {
        return false;
    }
    let lower = path_part.to_ascii_lowercase();
    if super::find_str(&lower, "%2f").is_some() || super::find_str(&lower, "%5c").is_some() {
        return false;
    }
    // WHATWG URL standard, "single-dot" and "double-dot" URL path segments.
    !lower.split('/').any(is_dot_segment)
}

/// Whether a (lower-cased) path segment is `.` or `..`, each dot written as `.` or
/// `%2e`.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment;
    let mut dots = 0;
    while !rest.is_empty() {
        rest = if let Some(r) = rest.strip_prefix('.') {
            r
        } else if let Some(r) = rest.strip_prefix("%2e") {
            r
        } else {
            return false;
        };
        dots += 1;
    }
    dots == 1 || dots == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(iss_supported: bool) -> ProviderMetadata {
        let doc = serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth?tenant=a",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/jwks",
            "authorization_response_iss_parameter_supported": iss_supported,
        });
        ProviderMetadata::from_json(doc.to_string().as_bytes(), "https://idp.example").unwrap()
    }

    fn build() -> (String, PendingAuthorization) {
        AuthorizationRequest::new("spa", "https://app.example/")
            .scopes(["profile", "openid"])
            .extra("ui_locales", "fr")
            .extra("state", "attacker")
            .return_to("/todos")
            .build(&metadata(true), 1000)
            .unwrap()
    }

    #[test]
    fn prompt_goes_once_rfc_6749_3_1_and_resource_as_often_as_added_rfc_8707() {
        let request = AuthorizationRequest::new("spa", "https://app.example/")
            .extra("prompt", "select_account")
            .extra("resource", "https://a.example/")
            .extra("resource", "https://b.example/");
        assert_eq!(request.prompt_value(), Some("select_account"));
        let (url, _) = request.prompt("none").build(&metadata(true), 1000).unwrap();
        let q: Vec<_> = form::parse(url.split_once('?').unwrap().1);
        let values = |key: &str| -> Vec<String> {
            q.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect()
        };
        assert_eq!(values("prompt"), ["none"]);
        assert_eq!(
            values("resource"),
            ["https://a.example/", "https://b.example/"]
        );
    }

    #[test]
    fn builds_url_with_pkce_state_nonce() {
        let (url, pending) = build();
        assert!(url.starts_with("https://idp.example/auth?tenant=a&response_type=code"));
        let q: Vec<_> = form::parse(url.split_once('?').unwrap().1);
        let get = |k: &str| {
            q.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("scope"), ["openid profile"]);
        assert_eq!(get("state"), [pending.state.secret().to_owned()]);
        assert_eq!(get("nonce"), [pending.nonce.secret().to_owned()]);
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(
            get("code_challenge"),
            [pending.code_verifier.challenge().as_str().to_owned()]
        );
        assert_eq!(get("redirect_uri"), ["https://app.example/"]);
        assert_eq!(get("ui_locales"), ["fr"]);
        assert_eq!(pending.return_to.as_deref(), Some("/todos"));
        assert!(get("max_age").is_empty());
        assert_eq!(pending.max_age, None);
    }

    #[test]
    fn max_age_is_sent_and_remembered() {
        // OIDC Core 3.1.2.1: max_age is a request parameter; 3.1.3.7 step 13 needs it
        // again when the ID token arrives.
        let (url, pending) = AuthorizationRequest::new("spa", "https://app.example/")
            .max_age(300)
            .extra("max_age", "999999")
            .build(&metadata(true), 1000)
            .unwrap();
        let q = form::parse(url.split_once('?').unwrap().1);
        let sent: Vec<_> = q.iter().filter(|(k, _)| k == "max_age").collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, "300");
        assert_eq!(pending.max_age, Some(300));
        let json = serde_json::to_string(&pending).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back.max_age, Some(300));
    }

    #[test]
    fn each_request_is_fresh() {
        let (_, a) = build();
        let (_, b) = build();
        assert_ne!(a.state.secret(), b.state.secret());
        assert_ne!(a.nonce.secret(), b.nonce.secret());
        assert_ne!(a.code_verifier.secret(), b.code_verifier.secret());
    }

    #[test]
    fn pending_survives_serialization() {
        let (_, p) = build();
        let json = serde_json::to_string(&p).unwrap();
        let back = serde_json::from_str::<PendingAuthorization>(&json).unwrap();
        assert_eq!(back.state.secret(), p.state.secret());
        assert_eq!(back.nonce.secret(), p.nonce.secret());
        assert_eq!(back.code_verifier.secret(), p.code_verifier.secret());
        assert_eq!(back.redirect_uri, p.redirect_uri);
        assert_eq!(back.return_to, p.return_to);
        assert_eq!(back.created_at, p.created_at);
        assert_eq!(back.issuer, "https://idp.example");
        assert_eq!(back.client_id, "spa");
        // Debug never shows the secrets.
        let shown = format!("{p:?}");
        for secret in [p.state.secret(), p.nonce.secret(), p.code_verifier.secret()] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    fn callback(pending: &PendingAuthorization, extra: &str) -> String {
        format!("?code=the-code&state={}{extra}", pending.state.secret())
    }

    #[test]
    fn accepts_valid_callback() {
        let (_, p) = build();
        let params = CallbackParams::parse(&callback(&p, "&iss=https%3A%2F%2Fidp.example"))
            .unwrap()
            .unwrap();
        let code = p.validate_callback(&params, &metadata(true), 1001).unwrap();
        assert_eq!(code.secret(), "the-code");
    }

    #[test]
    fn not_a_callback() {
        assert!(CallbackParams::parse("?page=2").unwrap().is_none());
        assert!(CallbackParams::parse("").unwrap().is_none());
        // RFC 6749 section 4.1.2: our responses always carry `state`.
        assert!(CallbackParams::parse("?code=c").unwrap().is_none());
        assert!(CallbackParams::parse("?error=x").unwrap().is_none());
        // `state` alone (an app filter such as `?state=CA`) is no response either.
        assert!(CallbackParams::parse("?state=CA").unwrap().is_none());
        // Repeated app parameters are not a callback error when it is no callback.
        assert!(CallbackParams::parse("?code=a&code=b").unwrap().is_none());
    }

    #[test]
    fn detects_callbacks_only_on_the_redirect_path() {
        let detect = CallbackParams::detect;
        // RFC 6749 section 4.1.2: the response comes to the redirect URI with `state`.
        let cb = detect("https://app.example/", "/", "?code=c&state=s")
            .unwrap()
            .unwrap();
        assert_eq!(cb.code.unwrap().secret(), "c");
        assert_eq!(cb.state.as_deref(), Some("s"));
        assert!(detect("https://app.example", "/", "code=c&state=s")
            .unwrap()
            .is_some());
        assert!(detect("https://app.example", "", "code=c&state=s")
            .unwrap()
            .is_some());
        assert!(
            detect("https://app.example/cb?x=1", "/cb", "?code=c&state=s")
                .unwrap()
                .is_some()
        );
        // An error response with `state` is a callback too (RFC 6749 section 4.1.2.1).
        let cb = detect("https://app.example/", "/", "?error=access_denied&state=s")
            .unwrap()
            .unwrap();
        assert_eq!(cb.error.as_deref(), Some("access_denied"));
        // An app URL with its own `code` is left alone.
        assert!(detect("https://app.example/", "/shop", "?code=SUMMER10")
            .unwrap()
            .is_none());
        assert!(detect("https://app.example/", "/", "?code=SUMMER10")
            .unwrap()
            .is_none());
        // Another path is never the callback, even with both parameters.
        assert!(detect("https://app.example/", "/shop", "?code=c&state=s")
            .unwrap()
            .is_none());
        assert!(detect("https://app.example/cb", "/", "?code=c&state=s")
            .unwrap()
            .is_none());
        assert!(detect("https://app.example/cb", "/cb/x", "?code=c&state=s")
            .unwrap()
            .is_none());
        // Repeated parameters in a real callback are an error (RFC 6749 section 3.1).
        assert!(matches!(
            detect("https://app.example/", "/", "?code=c&state=s&state=t"),
            Err(CallbackError::DuplicateParameter(ref p)) if p == "state"
        ));
    }

    #[test]
    fn every_response_parameter_is_removed_from_the_address_bar() {
        // RFC 6749 sections 4.1.2 and 4.1.2.1, RFC 9207 section 2.
        for name in [
            "code",
            "state",
            "iss",
            "error",
            "error_description",
            "error_uri",
            "session_state",
        ] {
            assert!(CALLBACK_PARAMS.contains(&name), "{name}");
        }
    }

    #[test]
    fn callback_debug_hides_code_and_state() {
        let cb = CallbackParams::parse("?code=the-secret-code&state=the-secret-state&iss=x")
            .unwrap()
            .unwrap();
        let shown = format!("{cb:?}");
        assert!(!shown.contains("the-secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn rejects_wrong_state() {
        let (_, p) = build();
        let params = CallbackParams::parse("?code=c&state=forged&iss=https%3A%2F%2Fidp.example")
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001)
                .unwrap_err(),
            CallbackError::StateMismatch
        );
        let params = CallbackParams {
            code: Some(AuthorizationCode::new("c")),
            iss: Some("https://idp.example".into()),
            ..CallbackParams::default()
        };
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001)
                .unwrap_err(),
            CallbackError::StateMismatch
        );
    }

    #[test]
    fn rejects_callback_for_another_provider() {
        // A configuration changed between redirect and callback: the code was issued
        // by the provider the request went to, not by the one configured now.
        let (_, p) = build();
        let other = ProviderMetadata::from_json(
            serde_json::json!({
                "issuer": "https://other.example",
                "authorization_endpoint": "https://other.example/auth",
                "token_endpoint": "https://other.example/token",
                "jwks_uri": "https://other.example/jwks",
            })
            .to_string()
            .as_bytes(),
            "https://other.example",
        )
        .unwrap();
        let params = CallbackParams::parse(&callback(&p, "&iss=https%3A%2F%2Fother.example"))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &other, 1001).unwrap_err(),
            CallbackError::ProviderChanged
        );
        // A record written before the issuer was kept never matches.
        let json = serde_json::to_value(&p).unwrap();
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("issuer");
        old.as_object_mut().unwrap().remove("client_id");
        let old: PendingAuthorization = serde_json::from_value(old).unwrap();
        let params = CallbackParams::parse(&callback(&p, "&iss=https%3A%2F%2Fidp.example"))
            .unwrap()
            .unwrap();
        assert_eq!(
            old.validate_callback(&params, &metadata(true), 1001)
                .unwrap_err(),
            CallbackError::ProviderChanged
        );
    }

    #[test]
    fn rejects_wrong_iss() {
        let (_, p) = build();
        let params = CallbackParams::parse(&callback(&p, "&iss=https%3A%2F%2Fevil.example"))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1001)
                .unwrap_err(),
            CallbackError::IssuerMismatch("https://evil.example".into())
        );
    }

    #[test]
    fn requires_iss_when_advertised() {
        let (_, p) = build();
        let params = CallbackParams::parse(&callback(&p, "")).unwrap().unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001)
                .unwrap_err(),
            CallbackError::MissingIssuer
        );
        assert!(p.validate_callback(&params, &metadata(false), 1001).is_ok());
    }

    #[test]
    fn provider_error_is_typed() {
        let (_, p) = build();
        let q = format!(
            "?error=access_denied&error_description=User+said+no&state={}&iss=https%3A%2F%2Fidp.example",
            p.state.secret()
        );
        let params = CallbackParams::parse(&q).unwrap().unwrap();
        match p.validate_callback(&params, &metadata(true), 1001) {
            Err(CallbackError::Provider(e)) => {
                assert_eq!(e.error, "access_denied");
                assert_eq!(e.error_description.as_deref(), Some("User said no"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_duplicates_empty_code_and_expired() {
        assert!(matches!(
            CallbackParams::parse("?code=a&code=b&state=s"),
            Err(CallbackError::DuplicateParameter(ref p)) if p == "code"
        ));
        let (_, p) = build();
        let params = CallbackParams::parse(&format!("?code=&state={}", p.state.secret()))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1001)
                .unwrap_err(),
            CallbackError::MissingCode
        );
        let params = CallbackParams::parse(&callback(&p, "")).unwrap().unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1000 + PENDING_MAX_AGE + 1)
                .unwrap_err(),
            CallbackError::Expired
        );
    }

    #[test]
    fn return_paths_stay_on_origin() {
        for good in [
            "/",
            "/todos?x=1#a",
            "/a/b.c/d..e/.well-known",
            "/search?q=../..//x#/../..",
            "/%20spaced",
        ] {
            assert_eq!(sanitize_return_path(good), good);
        }
        // Each of these leaves the origin once a WHATWG URL parser resolves it against
        // the app's URL (scheme-relative `//host`, or another scheme).
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "todos",
            " /todos",
            "/a\nb",
            // dot segments collapse to `//evil.example`
            "/.//evil.example",
            "/..//evil.example",
            "/./\\evil",
            "/a/..//evil.example",
            "/%2e//evil.example",
            "/%2E//evil.example",
            "/.%2e//evil.example",
            "/%2e%2e//evil.example",
            "/%2E./%2fevil.example",
            // tabs and newlines are removed by the parser
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/.\t//evil.example",
            // percent-encoded slashes and backslashes in the path
            "/%2f/evil.example",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            // other control characters
            "/\u{0}/evil.example",
            "/\u{7f}x",
        ] {
            assert_eq!(sanitize_return_path(bad), "/", "{bad:?}");
        }
    }
}
