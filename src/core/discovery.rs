//! OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414).

use serde::Serialize;

use super::http::{HttpRequest, HttpResponse};
use super::json::{required, Kind, Members, Parsed};

/// Error fetching or validating provider metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The discovery endpoint answered with a non-success status.
    #[error("discovery endpoint answered HTTP {0}")]
    Status(u16),
    /// The document is not valid JSON or misses required fields.
    #[error("provider metadata is malformed: {0}")]
    Malformed(String),
    /// Discovery section 4.3: the `issuer` in the document must equal the configured issuer.
    #[error(
        "provider metadata issuer `{found}` does not equal the configured issuer `{expected}`"
    )]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer in the document.
        found: String,
    },
    /// A required endpoint is missing.
    #[error("provider metadata has no `{0}`")]
    MissingEndpoint(&'static str),
    /// The provider does not support PKCE with S256, which this library requires.
    #[error("provider does not support PKCE code_challenge_method S256")]
    PkceUnsupported,
    /// An endpoint URL is not an absolute `https` URL (`http` is allowed for loopback only).
    #[error("provider endpoint `{0}` is not an https URL")]
    InsecureEndpoint(String),
}

/// Provider metadata: the fields this library uses (others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint (absent only for implicit-only providers, which are not supported).
    pub token_endpoint: Option<String>,
    /// JWK Set document.
    pub jwks_uri: String,
    /// UserInfo endpoint.
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout endpoint.
    pub end_session_endpoint: Option<String>,
    /// Token revocation endpoint (RFC 7009).
    pub revocation_endpoint: Option<String>,
    /// Token introspection endpoint (RFC 7662).
    pub introspection_endpoint: Option<String>,
    /// Pushed authorization request endpoint (RFC 9126).
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Device authorization endpoint (RFC 8628).
    pub device_authorization_endpoint: Option<String>,
    /// Client-initiated backchannel authentication endpoint (OpenID CIBA Core).
    pub backchannel_authentication_endpoint: Option<String>,
    /// Supported scopes.
    pub scopes_supported: Vec<String>,
    /// Supported response types.
    pub response_types_supported: Vec<String>,
    /// Supported PKCE methods. Absent means unknown.
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// ID token signing algorithms.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// DPoP proof algorithms (RFC 9449 section 5.1).
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: the provider sends `iss` in authorization responses.
    pub authorization_response_iss_parameter_supported: bool,
}

/// The metadata as read, before its required members are checked.
#[derive(Default)]
struct RawMetadata {
    /// The string members, in the order of [`RawMetadata::NAMES`].
    strings: [Option<String>; 11],
    /// `scopes_supported`, `response_types_supported`,
    /// `id_token_signing_alg_values_supported`, `dpop_signing_alg_values_supported`.
    lists: [Vec<String>; 4],
    code_challenge_methods_supported: Option<Vec<String>>,
    authorization_response_iss_parameter_supported: bool,
}

impl Members for RawMetadata {
    const NAMES: &'static [&'static str] = &[
        "issuer",
        "authorization_endpoint",
        "jwks_uri",
        "token_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "pushed_authorization_request_endpoint",
        "device_authorization_endpoint",
        "backchannel_authentication_endpoint",
        "scopes_supported",
        "response_types_supported",
        "id_token_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
        "code_challenge_methods_supported",
        "authorization_response_iss_parameter_supported",
    ];
    const KINDS: &'static [Kind] = &[
        Kind::Str,
        Kind::Str,
        Kind::Str,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::List,
        Kind::List,
        Kind::List,
        Kind::List,
        Kind::OptList,
        Kind::Bool,
    ];
    const NAME: &'static str = "ProviderMetadata";

    fn member(&mut self, index: usize, value: Parsed) {
        match index {
            // Required strings.
            0..=2 => self.strings[index] = value.str(),
            3..=10 => self.strings[index] = value.opt_str(),
            11..=14 => self.lists[index - 11] = value.list().unwrap_or_default(),
            15 => self.code_challenge_methods_supported = value.opt_list(),
            _ => {
                self.authorization_response_iss_parameter_supported =
                    value.bool().unwrap_or_default()
            }
        }
    }
}

crate::core::json::read_through!(ProviderMetadata, RawMetadata);

impl ProviderMetadata {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawMetadata) -> Result<Self, E> {
        let [issuer, authorization_endpoint, jwks_uri, token_endpoint, userinfo_endpoint, end_session_endpoint, revocation_endpoint, introspection_endpoint, pushed_authorization_request_endpoint, device_authorization_endpoint, backchannel_authentication_endpoint] =
            raw.strings;
        let [scopes_supported, response_types_supported, id_token_signing_alg_values_supported, dpop_signing_alg_values_supported] =
            raw.lists;
        Ok(ProviderMetadata {
            issuer: required(issuer, "issuer")?,
            authorization_endpoint: required(authorization_endpoint, "authorization_endpoint")?,
            token_endpoint,
            jwks_uri: required(jwks_uri, "jwks_uri")?,
            userinfo_endpoint,
            end_session_endpoint,
            revocation_endpoint,
            introspection_endpoint,
            pushed_authorization_request_endpoint,
            device_authorization_endpoint,
            backchannel_authentication_endpoint,
            scopes_supported,
            response_types_supported,
            code_challenge_methods_supported: raw.code_challenge_methods_supported,
            id_token_signing_alg_values_supported,
            dpop_signing_alg_values_supported,
            authorization_response_iss_parameter_supported: raw
                .authorization_response_iss_parameter_supported,
        })
    }
}

/// The discovery URL of an issuer (Discovery section 4: issuer + `/.well-known/openid-configuration`).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The request that fetches an issuer's metadata.
pub fn discovery_request(issuer: &str) -> HttpRequest {
    HttpRequest::get_json(discovery_url(issuer))
}

/// Whether the authority (`host[:port]`) names the loopback interface.
fn is_loopback_authority(authority: &str) -> bool {
    let host = match super::rsplit_once_byte(authority, b':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether a URL is acceptable for a protocol endpoint: an absolute `https` URL with a
/// host, or `http` on loopback (`localhost`, `127.0.0.1`, `[::1]`) for development
/// (RFC 8252 section 8.3; RFC 6749 section 3.1 and 3.2 require TLS for the endpoints).
/// Any other scheme (`javascript:`, `data:`, ...) is refused, and so are URLs with
/// whitespace, control characters, backslashes or user information (`user@host`),
/// which parsers read differently.
pub fn is_secure_url(url: &str) -> bool {
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return false;
    }
    let (rest, loopback_only) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, false)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, true)
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return false;
    }
    !loopback_only || is_loopback_authority(authority)
}

impl ProviderMetadata {
    /// Parses and validates a discovery document for `expected_issuer`.
    pub fn from_json(body: &[u8], expected_issuer: &str) -> Result<Self, DiscoveryError> {
        let meta: ProviderMetadata = crate::core::json::from_bytes(body)
            .map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
        meta.validate(expected_issuer)?;
        Ok(meta)
    }

    /// Parses the discovery response.
    pub fn from_response(
        response: &HttpResponse,
        expected_issuer: &str,
    ) -> Result<Self, DiscoveryError> {
        if !(200..300).contains(&response.status) {
            return Err(DiscoveryError::Status(response.status));
        }
        Self::from_json(&response.body, expected_issuer)
    }

    fn validate(&self, expected_issuer: &str) -> Result<(), DiscoveryError> {
        // OpenID Connect Discovery 1.0 section 4.3: exact string comparison, no normalization.
        if self.issuer != expected_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected_issuer.to_owned(),
                found: self.issuer.clone(),
            });
        }
        if self.authorization_endpoint.is_empty() {
            return Err(DiscoveryError::MissingEndpoint("authorization_endpoint"));
        }
        let token = self
            .token_endpoint
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(DiscoveryError::MissingEndpoint("token_endpoint"))?;
        if self.jwks_uri.is_empty() {
            return Err(DiscoveryError::MissingEndpoint("jwks_uri"));
        }
        // Every endpoint the client may call or navigate to must be https (loopback
        // http aside): RFC 6749 sections 3.1 and 3.2, RFC 8414 section 2. A
        // `javascript:` end-session URL must never reach the address bar.
        let optional = [
            &self.userinfo_endpoint,
            &self.end_session_endpoint,
            &self.revocation_endpoint,
            &self.introspection_endpoint,
            &self.pushed_authorization_request_endpoint,
            &self.device_authorization_endpoint,
            &self.backchannel_authentication_endpoint,
        ];
        let required = [
            self.issuer.as_str(),
            &self.authorization_endpoint,
            token,
            &self.jwks_uri,
        ];
        let all = required
            .into_iter()
            .chain(optional.into_iter().filter_map(|u| u.as_deref()));
        for url in all {
            if !is_secure_url(url) {
                return Err(DiscoveryError::InsecureEndpoint(url.to_owned()));
            }
        }
        // RFC 7636 + OAuth 2.1: S256 must be offered when the provider lists methods.
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(DiscoveryError::PkceUnsupported);
            }
        }
        Ok(())
    }

    /// The token endpoint (validated to be present).
    pub fn token_endpoint(&self) -> &str {
        self.token_endpoint.as_deref().unwrap_or_default()
    }

    /// Whether the provider supports DPoP (advertises proof algorithms).
    pub fn supports_dpop(&self) -> bool {
        !self.dpop_signing_alg_values_supported.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "end_session_endpoint": format!("{issuer}/session/end"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false
        })
    }

    fn parse(v: &serde_json::Value, issuer: &str) -> Result<ProviderMetadata, DiscoveryError> {
        ProviderMetadata::from_json(v.to_string().as_bytes(), issuer)
    }

    #[test]
    fn parses_valid_document() {
        let m = parse(&doc("https://idp.example"), "https://idp.example").unwrap();
        assert_eq!(m.token_endpoint(), "https://idp.example/token");
        assert!(m.authorization_response_iss_parameter_supported);
        assert!(!m.supports_dpop());
    }

    #[test]
    fn discovery_url_joins_with_one_slash() {
        assert_eq!(
            discovery_url("https://idp.example/realms/a/"),
            "https://idp.example/realms/a/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_must_match_exactly() {
        let err = parse(&doc("https://idp.example"), "https://idp.example/").unwrap_err();
        assert!(matches!(err, DiscoveryError::IssuerMismatch { .. }));
        assert!(err.to_string().contains("does not equal"));
    }

    #[test]
    fn missing_endpoints_are_reported() {
        let mut d = doc("https://idp.example");
        d.as_object_mut().unwrap().remove("token_endpoint");
        assert_eq!(
            parse(&d, "https://idp.example").unwrap_err(),
            DiscoveryError::MissingEndpoint("token_endpoint")
        );
        let mut d = doc("https://idp.example");
        d.as_object_mut().unwrap().remove("jwks_uri");
        assert!(matches!(
            parse(&d, "https://idp.example").unwrap_err(),
            DiscoveryError::Malformed(_)
        ));
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(matches!(
            ProviderMetadata::from_json(b"{not json", "x"),
            Err(DiscoveryError::Malformed(_))
        ));
        assert!(matches!(
            ProviderMetadata::from_json(b"[]", "x"),
            Err(DiscoveryError::Malformed(_))
        ));
    }

    #[test]
    fn http_only_on_loopback() {
        assert!(parse(&doc("http://localhost:9000"), "http://localhost:9000").is_ok());
        assert!(matches!(
            parse(&doc("http://idp.example"), "http://idp.example").unwrap_err(),
            DiscoveryError::InsecureEndpoint(_)
        ));
        assert!(!is_secure_url("http://localhost.evil.example/"));
    }

    #[test]
    fn url_security_rules() {
        for good in [
            "https://idp.example",
            "https://idp.example:8443/a?b#c",
            "http://localhost:9000/x",
            "http://127.0.0.1/",
            "http://[::1]:8080/",
        ] {
            assert!(is_secure_url(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "//idp.example/x",
            "/relative",
            "https://",
            "https:///path",
            "HTTP://idp.example",
            "http://idp.example/",
            "http://localhost@evil.example/",
            "http://127.0.0.1:80@evil.example/",
            "https://user:pw@idp.example/",
            "https://idp.example/\\x",
            "https://idp.example/ x",
            "https://idp\t.example/",
            "ftp://idp.example/",
        ] {
            assert!(!is_secure_url(bad), "{bad}");
        }
    }

    #[test]
    fn every_used_endpoint_must_be_secure() {
        // RFC 6749 sections 3.1 and 3.2; RFC 8414 section 2.
        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "userinfo_endpoint",
            "end_session_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "pushed_authorization_request_endpoint",
            "device_authorization_endpoint",
            "backchannel_authentication_endpoint",
        ] {
            for bad in ["javascript:alert(document.cookie)", "http://idp.example/x"] {
                let mut d = doc("https://idp.example");
                d[field] = serde_json::json!(bad);
                assert_eq!(
                    parse(&d, "https://idp.example").unwrap_err(),
                    DiscoveryError::InsecureEndpoint(bad.into()),
                    "{field}"
                );
            }
            let mut d = doc("https://idp.example");
            d[field] = serde_json::json!("https://idp.example/ok");
            assert!(parse(&d, "https://idp.example").is_ok(), "{field}");
        }
    }

    #[test]
    fn pkce_s256_required_when_listed() {
        let mut d = doc("https://idp.example");
        d["code_challenge_methods_supported"] = serde_json::json!(["plain"]);
        assert_eq!(
            parse(&d, "https://idp.example").unwrap_err(),
            DiscoveryError::PkceUnsupported
        );
    }

    #[test]
    fn non_success_status_is_an_error() {
        let r = HttpResponse {
            status: 404,
            headers: vec![],
            body: vec![],
        };
        assert_eq!(
            ProviderMetadata::from_response(&r, "x").unwrap_err(),
            DiscoveryError::Status(404)
        );
    }
}
