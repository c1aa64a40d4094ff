//! OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414).

use serde::{Deserialize, Serialize};

use super::http::{HttpRequest, HttpResponse};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint (absent only for implicit-only providers, which are not supported).
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// JWK Set document.
    pub jwks_uri: String,
    /// UserInfo endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// RP-initiated logout endpoint.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Token revocation endpoint (RFC 7009).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Token introspection endpoint (RFC 7662).
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Supported scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Supported response types.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Supported PKCE methods. Absent means unknown.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// ID token signing algorithms.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// DPoP proof algorithms (RFC 9449 section 5.1).
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: the provider sends `iss` in authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
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

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether a URL is acceptable for a protocol endpoint: `https`, or `http` on loopback
/// (RFC 8252 section 8.3 style development setups).
pub fn is_secure_url(url: &str) -> bool {
    url.starts_with("https://") || is_loopback_http(url)
}

impl ProviderMetadata {
    /// Parses and validates a discovery document for `expected_issuer`.
    pub fn from_json(body: &[u8], expected_issuer: &str) -> Result<Self, DiscoveryError> {
        let meta: ProviderMetadata =
            serde_json::from_slice(body).map_err(|e| DiscoveryError::Malformed(e.to_string()))?;
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
        for url in [&self.issuer, &self.authorization_endpoint, &self.jwks_uri]
            .into_iter()
            .chain(std::iter::once(&token.to_owned()))
        {
            if !is_secure_url(url) {
                return Err(DiscoveryError::InsecureEndpoint(url.clone()));
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
