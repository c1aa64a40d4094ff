//! Authorization requests (RFC 6749 section 4.1.1 + PKCE + OIDC Core 3.1.2.1) and
//! callback parsing (RFC 6749 section 4.1.2, RFC 9207).

use serde::{Deserialize, Serialize};

use super::discovery::ProviderMetadata;
use super::form;
use super::pkce::CodeVerifier;
use super::random::{Nonce, RandomError, State};
use super::token::OAuthError;
use super::types::AuthorizationCode;

/// Parameters of the callback that are removed from the address bar once consumed.
pub const CALLBACK_PARAMS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "session_state",
    "error",
    "error_description",
];

/// An authorization request to send the user to.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    return_to: Option<String>,
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

    /// Adds an extra parameter (`prompt`, `ui_locales`, `login_hint`, ...). Parameters that
    /// the library controls (`state`, `nonce`, `code_challenge`, ...) are ignored.
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        const RESERVED: [&str; 8] = [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ];
        if !RESERVED.contains(&key.as_str()) {
            self.extra.push((key, value.into()));
        }
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
        let scope = self.scopes.join(" ");
        let mut pairs: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &scope),
            ("state", state.secret()),
            ("nonce", nonce.secret()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", challenge.method()),
        ];
        pairs.extend(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let url = form::append_query(&metadata.authorization_endpoint, pairs);
        let pending = PendingAuthorization {
            state,
            nonce,
            code_verifier: verifier,
            redirect_uri: self.redirect_uri,
            return_to: self.return_to,
            created_at: now,
        };
        Ok((url, pending))
    }
}

/// What the client keeps between the redirect to the provider and the callback. It is
/// single-use: consume it on the first callback, whatever the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
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
    /// The pending request is too old.
    #[error("the sign-in request expired; please sign in again")]
    Expired,
    /// The provider answered with an OAuth error.
    #[error("the provider refused the sign-in: {0}")]
    Provider(OAuthError),
}

/// The parameters of a redirect back from the provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallbackParams {
    /// `code`
    pub code: Option<String>,
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

impl CallbackParams {
    /// Parses a query string. Returns `Ok(None)` when it is not an authorization
    /// response (no `code`/`error`, or no `state` with them).
    pub fn parse(query: &str) -> Result<Option<Self>, CallbackError> {
        let mut p = CallbackParams::default();
        for (k, v) in form::parse(query) {
            let slot = match k.as_str() {
                "code" => &mut p.code,
                "state" => &mut p.state,
                "iss" => &mut p.iss,
                "error" => &mut p.error,
                "error_description" => &mut p.error_description,
                "error_uri" => &mut p.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(CallbackError::DuplicateParameter(k));
            }
            *slot = Some(v);
        }
        if p.code.is_none() && p.error.is_none() {
            return Ok(None);
        }
        Ok(Some(p))
    }
}

/// How long a pending authorization stays valid (seconds).
pub const PENDING_MAX_AGE: u64 = 15 * 60;

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
            .filter(|c| !c.is_empty())
            .map(|c| AuthorizationCode::new(c.clone()))
            .ok_or(CallbackError::MissingCode)
    }
}

/// Keeps a return path only if it stays on this origin: a path starting with a single
/// `/` (not `//`, not `/\`), without a scheme. Anything else becomes `/`.
pub fn sanitize_return_path(path: &str) -> String {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control());
    if ok {
        path.to_owned()
    } else {
        "/".to_owned()
    }
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
    }

    #[test]
    fn each_request_is_fresh() {
        let (_, a) = build();
        let (_, b) = build();
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.code_verifier, b.code_verifier);
    }

    #[test]
    fn pending_survives_serialization() {
        let (_, p) = build();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            serde_json::from_str::<PendingAuthorization>(&json).unwrap(),
            p
        );
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
        assert_eq!(CallbackParams::parse("?page=2").unwrap(), None);
        assert_eq!(CallbackParams::parse("").unwrap(), None);
    }

    #[test]
    fn rejects_wrong_state() {
        let (_, p) = build();
        let params = CallbackParams::parse("?code=c&state=forged&iss=https%3A%2F%2Fidp.example")
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001),
            Err(CallbackError::StateMismatch)
        );
        let params = CallbackParams::parse("?code=c").unwrap().unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001),
            Err(CallbackError::StateMismatch)
        );
    }

    #[test]
    fn rejects_wrong_iss() {
        let (_, p) = build();
        let params = CallbackParams::parse(&callback(&p, "&iss=https%3A%2F%2Fevil.example"))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1001),
            Err(CallbackError::IssuerMismatch("https://evil.example".into()))
        );
    }

    #[test]
    fn requires_iss_when_advertised() {
        let (_, p) = build();
        let params = CallbackParams::parse(&callback(&p, "")).unwrap().unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(true), 1001),
            Err(CallbackError::MissingIssuer)
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
        assert_eq!(
            CallbackParams::parse("?code=a&code=b&state=s"),
            Err(CallbackError::DuplicateParameter("code".into()))
        );
        let (_, p) = build();
        let params = CallbackParams::parse(&format!("?code=&state={}", p.state.secret()))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1001),
            Err(CallbackError::MissingCode)
        );
        let params = CallbackParams::parse(&callback(&p, "")).unwrap().unwrap();
        assert_eq!(
            p.validate_callback(&params, &metadata(false), 1000 + PENDING_MAX_AGE + 1),
            Err(CallbackError::Expired)
        );
    }

    #[test]
    fn return_paths_stay_on_origin() {
        assert_eq!(sanitize_return_path("/todos?x=1#a"), "/todos?x=1#a");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "todos",
            "/a\nb",
        ] {
            assert_eq!(sanitize_return_path(bad), "/", "{bad}");
        }
    }
}
