//! JWT access-token validation for resource servers (RFC 9068 section 4).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::claims::{audience, numeric_date, NoAdditionalClaims};
use super::jose::{typ_is, AlgorithmPolicy, JoseError, JwkSet, SignatureVerifier, UnverifiedJws};

/// Confirmation claim (RFC 7800), used by DPoP-bound tokens (RFC 9449 section 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// JWK SHA-256 thumbprint of the DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// Every other confirmation method (for example `x5t#S256`, RFC 8705 mutual TLS),
    /// none of which this library can verify: a token carrying one is refused.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// How a validated token must be presented, from its `cnf` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenBinding<'a> {
    /// No `cnf`: a bearer token (RFC 6750).
    Bearer,
    /// Bound to a DPoP key (RFC 9449 section 6): usable only with a proof signed by the
    /// key whose RFC 7638 thumbprint is `jkt`.
    Dpop {
        /// The key's thumbprint.
        jkt: &'a str,
    },
}

/// The claims of a validated access token (RFC 9068 section 2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned", serialize = "C: Serialize"))]
#[non_exhaustive]
pub struct AccessTokenClaims<C = NoAdditionalClaims> {
    /// Issuer.
    pub iss: String,
    /// Subject.
    #[serde(default)]
    pub sub: String,
    /// Audiences.
    #[serde(default, deserialize_with = "audience")]
    pub aud: Vec<String>,
    /// Expiry.
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<u64>,
    /// Not before.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<u64>,
    /// Token ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Proof-of-possession confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// The app's own claims.
    #[serde(flatten)]
    pub additional: C,
}

impl<C> AccessTokenClaims<C> {
    /// How the token must be presented. RFC 7800 section 3.1: a confirmation method the
    /// recipient cannot verify makes the token unusable, so any `cnf` member other than
    /// `jkt` (or an empty `cnf`) is an error.
    pub fn binding(&self) -> Result<TokenBinding<'_>, AccessTokenError> {
        match &self.cnf {
            None => Ok(TokenBinding::Bearer),
            Some(c) if !c.other.is_empty() => Err(AccessTokenError::UnsupportedConfirmation),
            Some(Confirmation { jkt: Some(jkt), .. }) => Ok(TokenBinding::Dpop { jkt }),
            Some(_) => Err(AccessTokenError::UnsupportedConfirmation),
        }
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenError {
    /// Not a valid JWS, or the signature fails.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The claims are not valid JSON for the expected shape.
    #[error("the access token claims are malformed: {0}")]
    Malformed(String),
    /// RFC 9068 section 4: `typ` must be `at+jwt`.
    #[error("the token is not a JWT access token (typ `{0}`)")]
    WrongType(String),
    /// RFC 9068 section 4: `iss` must equal the issuer exactly.
    #[error("the token issuer is not trusted")]
    IssuerMismatch,
    /// RFC 9068 section 4: `aud` must contain this resource server.
    #[error("the token is not intended for this resource")]
    AudienceMismatch,
    /// RFC 9068 section 4: the token has expired.
    #[error("the token has expired")]
    Expired,
    /// RFC 7519 section 4.1.5: not valid yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// RFC 9068 section 2.2: a required claim is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// The token is longer than the configured maximum.
    #[error("the token is longer than {0} bytes")]
    TooLarge(usize),
    /// RFC 9068 section 4 / RFC 7517 section 4.5: the key set has several keys and
    /// the token names none (`kid`).
    #[error("the token has no `kid` and the key set has several keys")]
    MissingKid,
    /// `exp`, `nbf` and `iat` contradict each other (`exp` not after `iat`, or `nbf`
    /// after `exp`).
    #[error("the token's time claims are inconsistent")]
    InvalidTimes,
    /// RFC 9449 section 7.1 / RFC 7800: the token is bound to a key (`cnf.jkt`) and was
    /// presented as a bearer token.
    #[error("the token is bound to a DPoP key and cannot be used as a bearer token")]
    BoundToKey,
    /// RFC 7800 section 3.1: the token carries a confirmation method (`cnf`) that this
    /// server cannot verify, such as a certificate thumbprint (RFC 8705).
    #[error("the token has a confirmation method this server cannot verify")]
    UnsupportedConfirmation,
}

/// Largest accepted access token by default, in bytes.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 16 * 1024;

/// Validates RFC 9068 access tokens for one resource server.
///
/// Rules (each configurable where a provider needs it, defaults first): compact JWS of
/// at most 16 KiB; `alg` from the allow-list (never `none` or HMAC); `crit` refused;
/// `typ` `at+jwt`; `kid` required when the key set has several keys; signature; `iss`
/// equal to the issuer; `aud` containing this resource; `exp` required and not passed;
/// `nbf` and `iat` not in the future; `exp` after `iat`; `sub`, `iat`, `client_id`
/// and `jti` present (RFC 9068 section 2.2). [`validate`](Self::validate) does not
/// look at `cnf`: use [`validate_bearer`](Self::validate_bearer) or
/// [`AccessTokenClaims::binding`].
#[derive(Debug, Clone)]
pub struct AccessTokenValidator {
    issuer: String,
    audiences: Vec<String>,
    leeway: u64,
    policy: AlgorithmPolicy,
    require_client_id: bool,
    require_jti: bool,
    accept_jwt_typ: bool,
    max_size: usize,
}

impl AccessTokenValidator {
    /// A validator for tokens from `issuer` for the resource `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            leeway: 60,
            policy: AlgorithmPolicy::default(),
            require_client_id: true,
            require_jti: true,
            accept_jwt_typ: false,
            max_size: DEFAULT_MAX_TOKEN_SIZE,
        }
    }

    /// Whether `client_id` must be present (RFC 9068 section 2.2). Defaults to `true`;
    /// turn off only for a provider that omits it.
    pub fn require_client_id(mut self, required: bool) -> Self {
        self.require_client_id = required;
        self
    }

    /// Whether `jti` must be present (RFC 9068 section 2.2). Defaults to `true`; turn
    /// off only for a provider that omits it.
    pub fn require_jti(mut self, required: bool) -> Self {
        self.require_jti = required;
        self
    }

    /// Also accepts tokens typed `JWT` or untyped, for providers that do not use the
    /// RFC 9068 `at+jwt` type (Keycloak and Microsoft Entra ID, for example). Defaults
    /// to `false`. The type is what tells an access token from an ID token signed by
    /// the same keys (RFC 8725 section 3.11); with this on, an ID token whose `aud`
    /// names this API would pass, so keep the API's audience distinct from every
    /// client ID.
    pub fn accept_jwt_typ(mut self, accept: bool) -> Self {
        self.accept_jwt_typ = accept;
        self
    }

    /// The largest accepted token, in bytes. Defaults to [`DEFAULT_MAX_TOKEN_SIZE`]
    /// (16 KiB).
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }

    /// The same rules for the audience `aud` only (replacing the configured ones).
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences = vec![aud.into()];
        self
    }

    /// Accepts one more audience value for this resource.
    pub fn also_audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Clock leeway in seconds for `exp`, `nbf` and `iat`. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Accepted algorithms. Defaults to every asymmetric algorithm (RFC 9068 section 4:
    /// never `none`).
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates a token at time `now`. The binding (`cnf`) is not checked here; see
    /// [`validate_bearer`](Self::validate_bearer).
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl SignatureVerifier,
        now: u64,
    ) -> Result<AccessTokenClaims<C>, AccessTokenError> {
        if token.len() > self.max_size {
            return Err(AccessTokenError::TooLarge(self.max_size));
        }
        // Parsing refuses `none`, HMAC and any `crit` (RFC 7515 section 4.1.11).
        let jws = UnverifiedJws::parse(token)?;
        // RFC 9068 section 4: typ must be `at+jwt` (or `application/at+jwt`, RFC 7515
        // section 4.1.9).
        let typ = jws.header().typ.as_deref().unwrap_or_default();
        let typ_ok = typ_is(typ, "at+jwt")
            || (self.accept_jwt_typ && (typ.is_empty() || typ_is(typ, "jwt")));
        if !typ_ok {
            return Err(AccessTokenError::WrongType(typ.to_owned()));
        }
        // RFC 9068 section 4 (RFC 7517 section 4.5): with several keys the token must
        // say which one signed it, rather than the validator trying keys.
        if jws.header().kid.is_none() && keys.keys.len() > 1 {
            return Err(AccessTokenError::MissingKid);
        }
        let verified = jws.verify(keys, &self.policy, verifier)?;
        self.check_claims(verified.payload(), now)
    }

    /// Validates an unsigned token (`alg` `none`, empty signature) of a mock session:
    /// every rule of [`validate`](Self::validate) but the signature. Only a validator
    /// built for mock mode calls this.
    #[cfg(feature = "server")]
    pub(crate) fn validate_mock<C: DeserializeOwned>(
        &self,
        token: &str,
        now: u64,
    ) -> Result<AccessTokenClaims<C>, AccessTokenError> {
        #[derive(serde::Deserialize)]
        struct Header {
            alg: String,
            typ: Option<String>,
        }
        let malformed = |what: &str| AccessTokenError::Malformed(format!("mock token: {what}"));
        if token.len() > self.max_size {
            return Err(AccessTokenError::TooLarge(self.max_size));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(""), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not an unsigned JWT"));
        };
        let header: Header = crate::core::b64::decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| malformed("bad header"))?;
        if header.alg != "none" {
            return Err(malformed("alg is not none"));
        }
        let typ = header.typ.unwrap_or_default();
        if !typ_is(&typ, "at+jwt") {
            return Err(AccessTokenError::WrongType(typ));
        }
        let payload = crate::core::b64::decode(payload).map_err(|_| malformed("bad payload"))?;
        self.check_claims(&payload, now)
    }

    /// The claim rules of RFC 9068 on a verified payload.
    fn check_claims<C: DeserializeOwned>(
        &self,
        payload: &[u8],
        now: u64,
    ) -> Result<AccessTokenClaims<C>, AccessTokenError> {
        let claims: AccessTokenClaims<C> = serde_json::from_slice(payload)
            .map_err(|e| AccessTokenError::Malformed(e.to_string()))?;
        // RFC 9068 section 4: exact string comparison.
        if claims.iss != self.issuer {
            return Err(AccessTokenError::IssuerMismatch);
        }
        // RFC 9068 section 4: `aud` required and must name this resource.
        if !claims.aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(AccessTokenError::AudienceMismatch);
        }
        // RFC 9068 section 4 / RFC 7519 section 4.1.4: expiry, with leeway.
        let exp = claims.exp.ok_or(AccessTokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(AccessTokenError::Expired);
        }
        // RFC 7519 section 4.1.5.
        if let Some(nbf) = claims.nbf {
            if nbf > now.saturating_add(self.leeway) {
                return Err(AccessTokenError::NotYetValid);
            }
            if nbf > exp {
                return Err(AccessTokenError::InvalidTimes);
            }
        }
        // RFC 9068 section 2.2: `iat` required; a token from the future is refused.
        let iat = claims.iat.ok_or(AccessTokenError::MissingClaim("iat"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(AccessTokenError::NotYetValid);
        }
        if exp <= iat {
            return Err(AccessTokenError::InvalidTimes);
        }
        // RFC 9068 section 2.2: `sub`, `client_id` and `jti` are required.
        if claims.sub.is_empty() {
            return Err(AccessTokenError::MissingClaim("sub"));
        }
        if self.require_client_id && claims.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(AccessTokenError::MissingClaim("client_id"));
        }
        if self.require_jti && claims.jti.as_deref().is_none_or(str::is_empty) {
            return Err(AccessTokenError::MissingClaim("jti"));
        }
        Ok(claims)
    }

    /// Validates a token presented as a bearer token: as [`validate`](Self::validate),
    /// and refuses any token with a `cnf` claim (RFC 9449 section 7.1, RFC 7800 section
    /// 3.1), since a bound token used without its proof may be stolen.
    pub fn validate_bearer<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl SignatureVerifier,
        now: u64,
    ) -> Result<AccessTokenClaims<C>, AccessTokenError> {
        let claims = self.validate(token, keys, verifier, now)?;
        match claims.binding()? {
            TokenBinding::Bearer => Ok(claims),
            TokenBinding::Dpop { .. } => Err(AccessTokenError::BoundToKey),
        }
    }
}

#[cfg(all(test, feature = "rust-crypto"))]
mod tests {
    //! One failing case per rule, with the attacks on JWT validation.
    #![allow(clippy::unwrap_used)]

    use p256::ecdsa::signature::Signer;
    use serde_json::json;

    use super::*;
    use crate::core::b64;
    use crate::core::jose::RustCryptoVerifier;
    use crate::test_support::{rsa_jwk, set, EcKey};

    const ISS: &str = "https://idp.example";
    const NOW: u64 = 1_700_000_000;
    type E = AccessTokenError;

    fn claims() -> serde_json::Value {
        json!({"iss": ISS, "sub": "alice", "aud": "api", "exp": NOW + 300, "iat": NOW,
               "jti": "j1", "client_id": "spa"})
    }

    fn with(mut c: serde_json::Value, k: &str, v: serde_json::Value) -> serde_json::Value {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v;
        }
        c
    }

    fn rules() -> AccessTokenValidator {
        AccessTokenValidator::new(ISS, "api")
    }

    fn check_with(
        rules: &AccessTokenValidator,
        key: &EcKey,
        token: &str,
    ) -> Result<AccessTokenClaims, E> {
        rules.validate_bearer(token, &set(&[key.jwk()]), &RustCryptoVerifier, NOW)
    }

    fn check(token: &str) -> Result<AccessTokenClaims, E> {
        check_with(&rules(), &EcKey::new(1, "k"), token)
    }

    fn at(c: &serde_json::Value) -> String {
        EcKey::new(1, "k").jwt(Some("at+jwt"), c)
    }

    /// Signs raw header and payload text (for members serde_json would not write).
    fn sign_raw(header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            b64::encode(header.as_bytes()),
            b64::encode(payload.as_bytes())
        );
        let sig: p256::ecdsa::Signature = EcKey::new(1, "k").sk.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(&sig.to_bytes()))
    }

    #[test]
    fn a_valid_token_passes() {
        assert_eq!(check(&at(&claims())).unwrap().sub, "alice");
    }

    // RFC 9068 section 2.2: client_id and jti are required, unless configured off.
    #[test]
    fn client_id_and_jti_are_required_unless_configured_off() {
        for name in ["client_id", "jti"] {
            let token = at(&with(claims(), name, json!(null)));
            assert!(matches!(check(&token), Err(E::MissingClaim(n)) if n == name));
            let token = at(&with(claims(), name, json!("")));
            assert!(matches!(check(&token), Err(E::MissingClaim(n)) if n == name));
        }
        let relaxed = rules().require_client_id(false).require_jti(false);
        let token = at(&with(
            with(claims(), "jti", json!(null)),
            "client_id",
            json!(null),
        ));
        assert!(check_with(&relaxed, &EcKey::new(1, "k"), &token).is_ok());
    }

    // RFC 9068 section 2.1 / 4: typ at+jwt; `JWT` only when configured.
    #[test]
    fn typ_must_be_at_jwt_unless_configured() {
        let key = EcKey::new(1, "k");
        let jwt = key.jwt(Some("JWT"), &claims());
        let untyped = key.jwt(None, &claims());
        let id_token_like = key.jwt(Some("id_token+jwt"), &claims());
        assert_eq!(check(&jwt), Err(E::WrongType("JWT".into())));
        assert_eq!(check(&untyped), Err(E::WrongType(String::new())));
        let relaxed = rules().accept_jwt_typ(true);
        assert!(check_with(&relaxed, &key, &jwt).is_ok());
        assert!(check_with(&relaxed, &key, &untyped).is_ok());
        assert!(check_with(&relaxed, &key, &id_token_like).is_err());
        assert!(check(&key.jwt(Some("application/at+jwt"), &claims())).is_ok());
        assert!(check(&key.jwt(Some("Application/AT+JWT"), &claims())).is_ok());
        assert!(check(&key.jwt(Some("text/at+jwt"), &claims())).is_err());
        let app_jwt = key.jwt(Some("application/jwt"), &claims());
        assert!(check(&app_jwt).is_err());
        assert!(check_with(&relaxed, &key, &app_jwt).is_ok());
    }

    // RFC 9068 section 4: the issuer compares exactly.
    #[test]
    fn issuer_compares_exactly() {
        for iss in [
            "https://idp.example/",
            "https://IDP.example",
            "https://idp.example.evil",
        ] {
            assert_eq!(
                check(&at(&with(claims(), "iss", json!(iss)))),
                Err(E::IssuerMismatch)
            );
        }
    }

    // RFC 9068 section 4: aud required; a string or an array that names this API.
    #[test]
    fn audience_is_required_and_may_be_an_array() {
        assert!(check(&at(&with(claims(), "aud", json!(["other", "api"])))).is_ok());
        for aud in [
            json!(null),
            json!([]),
            json!(["other"]),
            json!("API"),
            json!(""),
        ] {
            assert_eq!(
                check(&at(&with(claims(), "aud", aud.clone()))),
                Err(E::AudienceMismatch),
                "{aud}"
            );
        }
        // Nested arrays and other types are malformed, not matched loosely.
        for aud in [json!([["api"]]), json!({"api": true}), json!(1)] {
            assert!(matches!(
                check(&at(&with(claims(), "aud", aud))),
                Err(E::Malformed(_))
            ));
        }
    }

    // RFC 7519 section 4.1.4/4.1.5/4.1.6 and RFC 9068 section 2.2: time claims.
    #[test]
    fn time_claims_are_sane() {
        let t = |k: &str, v: serde_json::Value| check(&at(&with(claims(), k, v)));
        assert_eq!(t("exp", json!(NOW - 61)), Err(E::Expired));
        assert_eq!(t("exp", json!(null)), Err(E::MissingClaim("exp")));
        assert_eq!(t("iat", json!(null)), Err(E::MissingClaim("iat")));
        assert_eq!(t("iat", json!(NOW + 61)), Err(E::NotYetValid));
        assert_eq!(t("nbf", json!(NOW + 61)), Err(E::NotYetValid));
        // exp not after iat, nbf after exp.
        let exp_at_iat = with(
            with(claims(), "iat", json!(NOW + 30)),
            "exp",
            json!(NOW + 30),
        );
        assert_eq!(check(&at(&exp_at_iat)), Err(E::InvalidTimes));
        let nbf_after_exp = with(
            with(claims(), "exp", json!(NOW + 10)),
            "nbf",
            json!(NOW + 20),
        );
        assert_eq!(check(&at(&nbf_after_exp)), Err(E::InvalidTimes));
        // A string exp (or negative, or boolean) is malformed, not coerced.
        for exp in [json!("1700000300"), json!(-1), json!(true)] {
            assert!(matches!(t("exp", exp), Err(E::Malformed(_))));
        }
    }

    // RFC 8725 section 3.1/3.2: no `none`, no HMAC (RS/HS key confusion).
    #[test]
    fn alg_none_and_hmac_are_refused() {
        let none = format!(
            "{}.{}.",
            b64::encode(br#"{"alg":"none","typ":"at+jwt"}"#),
            b64::encode(claims().to_string().as_bytes())
        );
        assert_eq!(check(&none), Err(E::Jose(JoseError::AlgNone)));
        // An HMAC "signature" keyed with the RSA public key's JSON: refused before any
        // key is looked at.
        let rsa = rsa_jwk("k");
        let input = format!(
            "{}.{}",
            b64::encode(br#"{"alg":"HS256","kid":"k","typ":"at+jwt"}"#),
            b64::encode(claims().to_string().as_bytes())
        );
        let hs = format!("{input}.{}", b64::encode(b"mac-over-public-key"));
        assert_eq!(
            rules().validate_bearer::<NoAdditionalClaims>(
                &hs,
                &set(&[rsa]),
                &RustCryptoVerifier,
                NOW
            ),
            Err(E::Jose(JoseError::SymmetricAlg("HS256".into())))
        );
        // The allow-list: ES256 is refused when only RS256 is allowed.
        let rs_only =
            rules().algorithms(AlgorithmPolicy::only([crate::core::jose::Algorithm::RS256]));
        assert_eq!(
            check_with(&rs_only, &EcKey::new(1, "k"), &at(&claims())),
            Err(E::Jose(JoseError::AlgNotAllowed(
                crate::core::jose::Algorithm::ES256
            )))
        );
    }

    // RFC 7515 section 4.1.11: crit is refused.
    #[test]
    fn crit_is_refused() {
        let token = EcKey::new(1, "k").sign(
            &json!({"alg": "ES256", "kid": "k", "typ": "at+jwt", "crit": ["exp"], "exp": 1}),
            &claims(),
        );
        assert_eq!(
            check(&token),
            Err(E::Jose(JoseError::UnsupportedCrit("exp".into())))
        );
    }

    // RFC 9068 section 4: with several keys the token must name its key.
    #[test]
    fn kid_is_required_when_the_set_has_several_keys() {
        let key = EcKey::new(1, "k");
        let token = key.sign(&json!({"alg": "ES256", "typ": "at+jwt"}), &claims());
        let one = set(&[key.jwk()]);
        assert!(rules()
            .validate::<NoAdditionalClaims>(&token, &one, &RustCryptoVerifier, NOW)
            .is_ok());
        // A second key, even of another type, makes the kid necessary.
        let two = set(&[key.jwk(), rsa_jwk("r")]);
        assert_eq!(
            rules().validate::<NoAdditionalClaims>(&token, &two, &RustCryptoVerifier, NOW),
            Err(E::MissingKid)
        );
    }

    #[test]
    fn oversized_tokens_are_refused_before_parsing() {
        let big = at(&with(
            claims(),
            "pad",
            json!("x".repeat(DEFAULT_MAX_TOKEN_SIZE)),
        ));
        assert_eq!(check(&big), Err(E::TooLarge(DEFAULT_MAX_TOKEN_SIZE)));
        assert!(check_with(
            &rules().max_token_size(64 * 1024),
            &EcKey::new(1, "k"),
            &big
        )
        .is_ok());
    }

    // A key embedded in the token's header (jwk, jku, x5u) is never used: the
    // attacker's signature does not verify with the provider's key.
    #[test]
    fn embedded_keys_in_the_header_are_ignored() {
        let attacker = EcKey::new(9, "k");
        let jwk = serde_json::to_value(attacker.jwk()).unwrap();
        for extra in [
            json!({"jwk": jwk}),
            json!({"jku": "https://evil.example/jwks"}),
            json!({"x5u": "https://evil.example/cert"}),
        ] {
            let mut header = json!({"alg": "ES256", "kid": "k", "typ": "at+jwt"});
            for (k, v) in extra.as_object().unwrap() {
                header[k] = v.clone();
            }
            let token = attacker.sign(&header, &claims());
            assert_eq!(
                check(&token),
                Err(E::Jose(JoseError::InvalidSignature)),
                "{extra}"
            );
        }
    }

    // ECDSA with r = s = 0 ("psychic signatures") never verifies.
    #[test]
    fn ecdsa_zero_signature_is_refused() {
        let token = at(&claims());
        let input = token.rsplit_once('.').unwrap().0;
        let zero = format!("{input}.{}", b64::encode(&[0u8; 64]));
        assert_eq!(check(&zero), Err(E::Jose(JoseError::InvalidSignature)));
    }

    #[test]
    fn duplicate_members_and_non_canonical_base64_are_refused() {
        let header = r#"{"alg":"ES256","kid":"k","typ":"at+jwt"}"#;
        let dup_iss = format!(
            r#"{{"iss":"https://evil.example","iss":"{ISS}","sub":"a","aud":"api","exp":{},"iat":{NOW},"jti":"j","client_id":"c"}}"#,
            NOW + 300
        );
        assert!(matches!(
            check(&sign_raw(header, &dup_iss)),
            Err(E::Malformed(_))
        ));
        let dup_alg = r#"{"alg":"none","alg":"ES256","kid":"k","typ":"at+jwt"}"#;
        assert!(matches!(
            check(&sign_raw(dup_alg, &claims().to_string())),
            Err(E::Jose(JoseError::Json { part: "header", .. }))
        ));
        // The same signature with non-zero padding bits in its last character.
        let token = at(&claims());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let last = sig.chars().last().unwrap();
        // 64 bytes -> 86 characters; the last one carries 4 bits that must be zero.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.find(last).unwrap();
        let tweaked = alphabet.chars().nth(idx ^ 1).unwrap();
        let non_canonical = format!("{input}.{}{tweaked}", &sig[..sig.len() - 1]);
        assert!(matches!(
            check(&non_canonical),
            Err(E::Jose(JoseError::Base64 {
                part: "signature",
                ..
            }))
        ));
    }

    // RFC 7800 section 3.1 / RFC 9449 section 7.1: bound tokens are not bearer tokens.
    #[test]
    fn confirmation_makes_a_token_unusable_as_bearer() {
        let t = |cnf: serde_json::Value| check(&at(&with(claims(), "cnf", cnf)));
        assert_eq!(t(json!({"jkt": "abc"})), Err(E::BoundToKey));
        assert_eq!(
            t(json!({"x5t#S256": "abc"})),
            Err(E::UnsupportedConfirmation)
        );
        assert_eq!(
            t(json!({"jkt": "abc", "x5t#S256": "abc"})),
            Err(E::UnsupportedConfirmation)
        );
        assert_eq!(t(json!({})), Err(E::UnsupportedConfirmation));
        assert!(matches!(t(json!("abc")), Err(E::Malformed(_))));
        // The binding of a DPoP-bound token.
        let c: AccessTokenClaims = rules()
            .validate(
                &at(&with(claims(), "cnf", json!({"jkt": "abc"}))),
                &set(&[EcKey::new(1, "k").jwk()]),
                &RustCryptoVerifier,
                NOW,
            )
            .unwrap();
        assert_eq!(c.binding(), Ok(TokenBinding::Dpop { jkt: "abc" }));
    }
}
