//! Token endpoint requests (RFC 6749 sections 4.1.3 and 6) and responses (section 5).

use serde::{Deserialize, Deserializer, Serialize};

use super::discovery::ProviderMetadata;
use super::http::{HttpRequest, HttpResponse};
use super::jose::dangerous::insecure_jwt_exp;
use super::json::{read_object, Kind, Members, Parsed};
use super::pkce::CodeVerifier;
use super::types::{AccessToken, AuthorizationCode, IdToken, RefreshToken};

/// An OAuth error response (RFC 6749 sections 4.1.2.1 and 5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    /// The error code, e.g. `invalid_grant`.
    pub error: String,
    /// Human-readable detail from the provider.
    #[serde(default)]
    pub error_description: Option<String>,
    /// A page about the error.
    #[serde(default)]
    pub error_uri: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// Error from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The provider answered with an OAuth error (any status, 200 included).
    #[error("the token endpoint refused the request: {0}")]
    Provider(OAuthError),
    /// A non-success status without an OAuth error body.
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is not a valid token response.
    #[error("the token response is malformed: {0}")]
    Malformed(String),
    /// RFC 6749 section 7.1: a client must not use a token whose type it does not
    /// understand. Only `Bearer` (RFC 6750) is accepted by
    /// [`TokenResponse::from_response`]; `DPoP` (RFC 9449) only where the request was
    /// sent with a DPoP proof.
    #[error("unsupported token_type `{0}` (expected Bearer)")]
    UnsupportedTokenType(String),
}

/// The kind of access token issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// RFC 6750 bearer token.
    Bearer,
    /// RFC 9449 DPoP-bound token.
    DPoP,
}

/// A successful token response. `Debug` redacts the tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Bearer or DPoP.
    pub token_type: TokenType,
    /// Lifetime in seconds, if given (a number or a numeric string).
    pub expires_in: Option<u64>,
    /// A refresh token, if issued.
    pub refresh_token: Option<RefreshToken>,
    /// The ID token, if issued.
    pub id_token: Option<IdToken>,
    /// Granted scope, if it differs from the requested one.
    pub scope: Option<String>,
    /// Idle lifetime of the refresh token in seconds (non-standard; sent by Keycloak
    /// and others, as a number or a numeric string). `None` when absent or unreadable.
    pub refresh_expires_in: Option<u64>,
}

#[derive(Default)]
struct RawTokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    id_token: Option<String>,
    scope: Option<String>,
    refresh_expires_in: Option<u64>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

impl Members for RawTokenResponse {
    const NAMES: &'static [&'static str] = &[
        "access_token",
        "token_type",
        "refresh_token",
        "id_token",
        "scope",
        "error",
        "error_description",
        "error_uri",
        "expires_in",
        "refresh_expires_in",
    ];
    // Some providers send the lifetimes as strings.
    const KINDS: &'static [Kind] = &[
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::LenientU64,
        Kind::LenientU64,
    ];
    const NAME: &'static str = "RawTokenResponse";

    fn member(&mut self, index: usize, value: Parsed) {
        let slot = match index {
            0 => &mut self.access_token,
            1 => &mut self.token_type,
            2 => &mut self.refresh_token,
            3 => &mut self.id_token,
            4 => &mut self.scope,
            5 => &mut self.error,
            6 => &mut self.error_description,
            7 => &mut self.error_uri,
            8 => return self.expires_in = value.opt_u64(),
            _ => return self.refresh_expires_in = value.opt_u64(),
        };
        *slot = value.opt_str();
    }
}

impl<'de> Deserialize<'de> for RawTokenResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_object(d)
    }
}

impl TokenResponse {
    /// Parses a token endpoint response for a request sent without a DPoP proof: the
    /// `token_type` must be `Bearer` (compared case-insensitively, RFC 6749 section
    /// 5.1); any other type, `DPoP` included, is refused (RFC 6749 section 7.1).
    /// Error bodies are recognized at any status, since some providers answer errors
    /// with `200 OK`.
    pub fn from_response(response: &HttpResponse) -> Result<Self, TokenError> {
        Self::parse(response, false)
    }

    fn parse(response: &HttpResponse, accept_dpop: bool) -> Result<Self, TokenError> {
        let raw: Result<RawTokenResponse, _> = crate::core::json::from_bytes(&response.body);
        let ok = (200..300).contains(&response.status);
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) if ok => return Err(TokenError::Malformed(e.to_string())),
            Err(_) => return Err(TokenError::Status(response.status)),
        };
        if let Some(error) = raw.error {
            return Err(TokenError::Provider(OAuthError {
                error,
                error_description: raw.error_description,
                error_uri: raw.error_uri,
            }));
        }
        if !ok {
            return Err(TokenError::Status(response.status));
        }
        let access_token = raw
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| TokenError::Malformed("no access_token".into()))?;
        let token_type = match raw.token_type.as_deref() {
            // RFC 6749 section 5.1: the type is case-insensitive.
            Some(t) if t.eq_ignore_ascii_case("bearer") => TokenType::Bearer,
            Some(t) if accept_dpop && t.eq_ignore_ascii_case("dpop") => TokenType::DPoP,
            Some(t) => return Err(TokenError::UnsupportedTokenType(t.to_owned())),
            None => return Err(TokenError::Malformed("no token_type".into())),
        };
        Ok(TokenResponse {
            access_token: AccessToken::new(access_token),
            token_type,
            expires_in: raw.expires_in,
            refresh_token: raw
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(RefreshToken::new),
            id_token: raw.id_token.filter(|t| !t.is_empty()).map(IdToken::new),
            scope: raw.scope,
            refresh_expires_in: raw.refresh_expires_in,
        })
    }
}

impl TokenResponse {
    /// When the access token expires, in the provider's time (seconds since the epoch):
    /// `server_now + expires_in` when `expires_in` is present and above zero (RFC 6749
    /// section 5.1), else the `exp` of the access token if it is a JWT with a numeric
    /// `exp` (read without verification: for scheduling renewal only, see
    /// [`insecure_jwt_exp`](crate::core::jose::dangerous::insecure_jwt_exp)), else
    /// `None` (the caller applies its default lifetime). `server_now` is the provider's
    /// time when the response was received, so a skewed client clock does not matter.
    pub fn access_token_expires_at(&self, server_now: u64) -> Option<u64> {
        match self.expires_in {
            Some(secs) if secs > 0 => Some(server_now.saturating_add(secs)),
            _ => insecure_jwt_exp(self.access_token.secret()),
        }
    }

    /// When the refresh token (or the provider session behind it) idles out, in the
    /// provider's time: `server_now + refresh_expires_in` when that non-standard field
    /// is present and above zero (Keycloak sends `0` for tokens without an idle limit),
    /// else the `exp` of the refresh token if it is a JWT with a numeric `exp` (read
    /// without verification), else `None` (unknown: take it from configuration).
    pub fn refresh_token_expires_at(&self, server_now: u64) -> Option<u64> {
        match self.refresh_expires_in {
            Some(secs) if secs > 0 => Some(server_now.saturating_add(secs)),
            _ => self
                .refresh_token
                .as_ref()
                .and_then(|t| insecure_jwt_exp(t.secret())),
        }
    }
}

/// Builds the authorization-code token request for a public client (RFC 6749
/// section 4.1.3, RFC 7636 section 4.5).
pub fn authorization_code_request(
    metadata: &ProviderMetadata,
    client_id: &str,
    code: &AuthorizationCode,
    verifier: &CodeVerifier,
    redirect_uri: &str,
) -> HttpRequest {
    HttpRequest::post_form(
        metadata.token_endpoint(),
        [
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier.secret()),
        ],
    )
}

/// Builds the refresh-token request for a public client (RFC 6749 section 6).
pub fn refresh_request(
    metadata: &ProviderMetadata,
    client_id: &str,
    refresh_token: &RefreshToken,
) -> HttpRequest {
    HttpRequest::post_form(
        metadata.token_endpoint(),
        [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
            ("client_id", client_id),
        ],
    )
}

/// A token revocation request for a public client's refresh token (RFC 7009 section
/// 2.1).
pub fn revocation_request(
    endpoint: &str,
    client_id: &str,
    refresh_token: &RefreshToken,
) -> HttpRequest {
    HttpRequest::post_form(
        endpoint,
        [
            ("token", refresh_token.secret()),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    fn meta() -> ProviderMetadata {
        let doc = serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/jwks",
        });
        ProviderMetadata::from_json(doc.to_string().as_bytes(), "https://idp.example").unwrap()
    }

    #[test]
    fn parses_success() {
        let r = TokenResponse::from_response(&resp(
            200,
            r#"{"access_token":"at","token_type":"bearer","expires_in":"300","refresh_token":"rt","id_token":"a.b.c","scope":"openid"}"#,
        ))
        .unwrap();
        assert_eq!(r.access_token.secret(), "at");
        assert_eq!(r.token_type, TokenType::Bearer);
        assert_eq!(r.expires_in, Some(300));
        assert_eq!(r.refresh_token.unwrap().secret(), "rt");
        assert_eq!(r.id_token.unwrap().secret(), "a.b.c");
    }

    #[test]
    fn token_type_is_bearer_case_insensitively() {
        // RFC 6749 section 5.1: token_type is case-insensitive.
        for t in ["Bearer", "bearer", "BEARER"] {
            let body = format!(r#"{{"access_token":"at","token_type":"{t}"}}"#);
            let r = TokenResponse::from_response(&resp(200, &body)).unwrap();
            assert_eq!(r.token_type, TokenType::Bearer, "{t}");
        }
    }

    #[test]
    fn other_token_types_are_refused() {
        // RFC 6749 section 7.1: a token of a type the client does not understand must
        // not be used; a DPoP-bound token is unusable without the DPoP key.
        for t in ["DPoP", "dpop", "mac", "N_A", ""] {
            let body = format!(r#"{{"access_token":"at","token_type":"{t}"}}"#);
            assert_eq!(
                TokenResponse::from_response(&resp(200, &body)).unwrap_err(),
                TokenError::UnsupportedTokenType(t.into()),
                "{t}"
            );
        }
        // RFC 6749 section 5.1: token_type is REQUIRED.
        assert!(matches!(
            TokenResponse::from_response(&resp(200, r#"{"access_token":"at"}"#)),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn error_response_is_typed() {
        let e = TokenResponse::from_response(&resp(
            400,
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            TokenError::Provider(OAuthError {
                error: "invalid_grant".into(),
                error_description: Some("grant request is invalid".into()),
                error_uri: None
            })
        );
        assert!(e
            .to_string()
            .contains("invalid_grant (grant request is invalid)"));
    }

    #[test]
    fn error_with_200_is_an_error() {
        let e =
            TokenResponse::from_response(&resp(200, r#"{"error":"invalid_request"}"#)).unwrap_err();
        assert!(matches!(e, TokenError::Provider(ref o) if o.error == "invalid_request"));
    }

    #[test]
    fn malformed_and_status_errors() {
        assert!(matches!(
            TokenResponse::from_response(&resp(200, "<html>")),
            Err(TokenError::Malformed(_))
        ));
        assert_eq!(
            TokenResponse::from_response(&resp(502, "<html>")).unwrap_err(),
            TokenError::Status(502)
        );
        assert!(matches!(
            TokenResponse::from_response(&resp(200, r#"{"token_type":"Bearer"}"#)),
            Err(TokenError::Malformed(_))
        ));
        assert_eq!(
            TokenResponse::from_response(&resp(200, r#"{"access_token":"a","token_type":"mac"}"#))
                .unwrap_err(),
            TokenError::UnsupportedTokenType("mac".into())
        );
    }

    fn jwt(payload: &serde_json::Value) -> String {
        format!(
            "{}.{}.c2ln",
            crate::core::b64::encode(br#"{"alg":"none"}"#),
            crate::core::b64::encode(payload.to_string().as_bytes())
        )
    }

    fn tokens(fields: serde_json::Value) -> TokenResponse {
        let mut body = serde_json::json!({"access_token": "opaque", "token_type": "Bearer"});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        TokenResponse::from_response(&resp(200, &body.to_string())).unwrap()
    }

    #[test]
    fn access_token_expiry_in_server_time() {
        const NOW: u64 = 1_700_000_000;
        let at = jwt(&serde_json::json!({"exp": NOW + 900}));
        // RFC 6749 section 5.1: expires_in is relative to the response.
        let t = tokens(serde_json::json!({"expires_in": 300, "access_token": at}));
        assert_eq!(t.access_token_expires_at(NOW), Some(NOW + 300));
        let t = tokens(serde_json::json!({"expires_in": "300"}));
        assert_eq!(t.access_token_expires_at(NOW), Some(NOW + 300));
        // expires_in missing or 0: the JWT's own exp, read without verification.
        let t = tokens(serde_json::json!({"access_token": at}));
        assert_eq!(t.access_token_expires_at(NOW), Some(NOW + 900));
        let t = tokens(serde_json::json!({"expires_in": 0, "access_token": at}));
        assert_eq!(t.access_token_expires_at(NOW), Some(NOW + 900));
        // Nothing to go by: unknown.
        assert_eq!(
            tokens(serde_json::json!({})).access_token_expires_at(NOW),
            None
        );
        let t = tokens(serde_json::json!({"expires_in": 0}));
        assert_eq!(t.access_token_expires_at(NOW), None);
        for bad in [
            jwt(&serde_json::json!({"exp": "soon"})),
            jwt(&serde_json::json!({"exp": -5})),
            jwt(&serde_json::json!({"sub": "x"})),
            jwt(&serde_json::json!("text")),
            "a.b".to_owned(),
            "a.b.c.d.e".to_owned(),
            "a.%%%.c".to_owned(),
        ] {
            let t = tokens(serde_json::json!({"access_token": bad}));
            assert_eq!(t.access_token_expires_at(NOW), None, "{bad}");
        }
        // No overflow on absurd lifetimes.
        let t = tokens(serde_json::json!({"expires_in": u64::MAX}));
        assert_eq!(t.access_token_expires_at(NOW), Some(u64::MAX));
    }

    #[test]
    fn refresh_token_idle_expiry() {
        const NOW: u64 = 1_700_000_000;
        let rt = jwt(&serde_json::json!({"exp": NOW + 1800}));
        let t = tokens(serde_json::json!({"refresh_token": "r", "refresh_expires_in": 600}));
        assert_eq!(t.refresh_expires_in, Some(600));
        assert_eq!(t.refresh_token_expires_at(NOW), Some(NOW + 600));
        let t = tokens(serde_json::json!({"refresh_token": "r", "refresh_expires_in": "600"}));
        assert_eq!(t.refresh_token_expires_at(NOW), Some(NOW + 600));
        // Absent or 0 (Keycloak offline tokens): the JWT refresh token's exp.
        let t = tokens(serde_json::json!({"refresh_token": rt}));
        assert_eq!(t.refresh_token_expires_at(NOW), Some(NOW + 1800));
        let t = tokens(serde_json::json!({"refresh_token": rt, "refresh_expires_in": 0}));
        assert_eq!(t.refresh_token_expires_at(NOW), Some(NOW + 1800));
        // Opaque refresh token and no field: unknown.
        let t = tokens(serde_json::json!({"refresh_token": "r"}));
        assert_eq!(t.refresh_token_expires_at(NOW), None);
        assert_eq!(
            tokens(serde_json::json!({})).refresh_token_expires_at(NOW),
            None
        );
        // An unreadable non-standard field does not fail the response.
        for odd in [
            serde_json::json!(true),
            serde_json::json!(-1),
            serde_json::json!("soon"),
            serde_json::json!({}),
        ] {
            let t = tokens(serde_json::json!({"refresh_token": "r", "refresh_expires_in": odd}));
            assert_eq!(t.refresh_expires_in, None, "{odd}");
            assert_eq!(t.refresh_token_expires_at(NOW), None, "{odd}");
        }
    }

    #[test]
    fn builds_code_and_refresh_requests() {
        let v = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let req = authorization_code_request(
            &meta(),
            "spa",
            &AuthorizationCode::new("c/1"),
            &v,
            "https://app/",
        );
        assert_eq!(req.url, "https://idp.example/token");
        assert_eq!(
            String::from_utf8(req.body).unwrap(),
            "grant_type=authorization_code&code=c%2F1&redirect_uri=https%3A%2F%2Fapp%2F&client_id=spa&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        let req = refresh_request(&meta(), "spa", &RefreshToken::new("r"));
        assert_eq!(
            String::from_utf8(req.body).unwrap(),
            "grant_type=refresh_token&refresh_token=r&client_id=spa"
        );
    }
}
