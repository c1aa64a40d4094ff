//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7) and refresh
//! continuity (section 12.2).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::claims::{audience, numeric_date, NoAdditionalClaims, StandardClaims};
use super::jose::{
    AlgorithmPolicy, AsyncSignatureVerifier, JoseError, JwkSet, SignatureVerifier, UnverifiedJws,
    VerifiedJws,
};
use super::json::{required, Kind, Members, Parsed};
use super::random::Nonce;

/// The claims of a validated ID token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned", serialize = "C: Serialize"))]
#[non_exhaustive]
pub struct IdTokenClaims<C = NoAdditionalClaims> {
    /// Issuer.
    pub iss: String,
    /// Audiences.
    #[serde(deserialize_with = "audience")]
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<u64>,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<u64>,
    /// Not before (RFC 7519 section 4.1.5), if present.
    #[serde(
        default,
        deserialize_with = "numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<u64>,
    /// Nonce from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Time of authentication.
    #[serde(default, deserialize_with = "numeric_date")]
    pub auth_time: Option<u64>,
    /// Session ID (front/back-channel logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The standard profile claims.
    #[serde(flatten)]
    pub standard: StandardClaims,
    /// The app's own claims.
    #[serde(flatten)]
    pub additional: C,
}

/// The claims of an ID token with no additional claims. They read as
/// `IdTokenClaims<NoAdditionalClaims>` does (the same members, types, required members
/// and duplicate checks; other members ignored), member by member.
struct StandardIdClaims(IdTokenClaims);

/// [`StandardIdClaims`] as read, before its required members are checked.
#[derive(Default)]
struct RawIdClaims {
    iss: Option<String>,
    aud: Option<Vec<String>>,
    /// `exp`, `iat`, `nbf`, `auth_time`.
    dates: [Option<u64>; 4],
    /// `nonce`, `azp`, `sid`.
    strings: [Option<String>; 3],
    standard: StandardClaims,
    sub: Option<String>,
}

impl Members for RawIdClaims {
    const NAMES: &'static [&'static str] = &[
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "auth_time",
        "nonce",
        "azp",
        "sid",
        "sub",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "email",
        "locale",
        "zoneinfo",
        "email_verified",
        "updated_at",
    ];
    const KINDS: &'static [Kind] = &[
        Kind::Str,
        Kind::Audience,
        Kind::Date,
        Kind::Date,
        Kind::Date,
        Kind::Date,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::Str,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::OptStr,
        Kind::LenientBool,
        Kind::LenientU64,
    ];
    const NAME: &'static str = "IdTokenClaims";

    fn member(&mut self, index: usize, value: Parsed) {
        let s = &mut self.standard;
        let slot = match index {
            0 => return self.iss = value.str(),
            1 => return self.aud = value.list(),
            2..=5 => return self.dates[index - 2] = value.opt_u64(),
            6..=8 => &mut self.strings[index - 6],
            9 => return self.sub = value.str(),
            10 => &mut s.name,
            11 => &mut s.given_name,
            12 => &mut s.family_name,
            13 => &mut s.nickname,
            14 => &mut s.preferred_username,
            15 => &mut s.profile,
            16 => &mut s.picture,
            17 => &mut s.email,
            18 => &mut s.locale,
            19 => &mut s.zoneinfo,
            20 => return s.email_verified = value.opt_bool(),
            _ => return s.updated_at = value.opt_u64(),
        };
        *slot = value.opt_str();
    }
}

crate::core::json::read_through!(StandardIdClaims, RawIdClaims);

impl StandardIdClaims {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawIdClaims) -> Result<Self, E> {
        let iss = required(raw.iss, "iss")?;
        let aud = required(raw.aud, "aud")?;
        let [exp, iat, nbf, auth_time] = raw.dates;
        let [nonce, azp, sid] = raw.strings;
        let standard = StandardClaims {
            sub: required(raw.sub, "sub")?,
            ..raw.standard
        };
        Ok(StandardIdClaims(IdTokenClaims {
            iss,
            aud,
            exp,
            iat,
            nbf,
            nonce,
            azp,
            auth_time,
            sid,
            standard,
            additional: NoAdditionalClaims {},
        }))
    }
}

impl<C: DeserializeOwned> IdTokenClaims<C> {
    /// Reads the claims of a JSON payload: the registered and standard claims, and the
    /// app's `C` from the whole payload, so that `C` may name standard claims too
    /// (`email`, `preferred_username`...), which a single flattened read would keep
    /// from it.
    pub(crate) fn from_payload(payload: &[u8]) -> Result<Self, crate::core::json::JsonError> {
        let base = IdTokenClaims::standard_from_json(payload)?;
        let additional: C = serde_json::from_slice(payload).map_err(serde::de::Error::custom)?;
        Ok(base.with_additional(additional))
    }
}

impl IdTokenClaims {
    /// Reads the claims of a JSON payload, member by member.
    pub(crate) fn standard_from_json(payload: &[u8]) -> Result<Self, crate::core::json::JsonError> {
        crate::core::json::from_bytes::<StandardIdClaims>(payload).map(|c| c.0)
    }

    /// These claims with `additional` as the app's own.
    pub(crate) fn with_additional<D>(self, additional: D) -> IdTokenClaims<D> {
        IdTokenClaims {
            iss: self.iss,
            aud: self.aud,
            exp: self.exp,
            iat: self.iat,
            nbf: self.nbf,
            nonce: self.nonce,
            azp: self.azp,
            auth_time: self.auth_time,
            sid: self.sid,
            standard: self.standard,
            additional,
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token is not a valid JWS, or its signature fails.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The claims are not valid JSON for the expected shape.
    #[error("the ID token claims are malformed: {0}")]
    Malformed(String),
    /// 3.1.3.7 step 2: `iss` must equal the issuer exactly.
    #[error("the ID token issuer `{0}` is not the expected issuer")]
    IssuerMismatch(String),
    /// 3.1.3.7 step 3: `aud` must contain the client ID.
    #[error("the ID token is not issued to this client")]
    AudienceMismatch,
    /// 3.1.3.7 step 3: other audiences must be trusted.
    #[error("the ID token names an untrusted audience `{0}`")]
    UntrustedAudience(String),
    /// 3.1.3.7 steps 4-5: `azp`, when present, must be the client ID.
    #[error("the ID token azp `{0}` is not this client")]
    AzpMismatch(String),
    /// 3.1.3.7 step 9: the token has expired (or has no `exp`).
    #[error("the ID token has expired")]
    Expired,
    /// A required claim is absent.
    #[error("the ID token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// 3.1.3.7 step 10: `iat` is in the future beyond the leeway.
    #[error("the ID token is issued in the future")]
    IssuedInFuture,
    /// RFC 7519 section 4.1.5: `nbf` is in the future beyond the leeway.
    #[error("the ID token is not valid yet (nbf in the future)")]
    NotYetValid,
    /// 3.1.3.7 step 13: with `max_age` sent, `auth_time + max_age` has passed.
    #[error("the sign-in is older than the requested max_age; please sign in again")]
    AuthenticationTooOld,
    /// 3.1.3.7 step 11: the nonce must equal the one sent.
    #[error("the ID token nonce does not match the sign-in request")]
    NonceMismatch,
    /// Section 12.2: a refreshed ID token must keep `iss`, `sub`, `aud`, `azp`,
    /// `auth_time` and (if it has one) `nonce`.
    #[error("the refreshed ID token changed `{0}`")]
    RefreshMismatch(&'static str),
    /// Section 12.2: a refreshed ID token's `iat` is the time it was issued, so it
    /// cannot predate the refresh request.
    #[error("the refreshed ID token was issued before the refresh request")]
    StaleRefresh,
}

/// Validates ID tokens for one client of one issuer.
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    leeway: u64,
    policy: AlgorithmPolicy,
    trusted_audiences: Vec<String>,
    max_age: Option<u64>,
}

impl IdTokenValidator {
    /// A validator for `client_id` at `issuer`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            leeway: 60,
            policy: AlgorithmPolicy::default(),
            trusted_audiences: Vec::new(),
            max_age: None,
        }
    }

    /// Clock leeway in seconds for `exp`, `iat`, `nbf` and `max_age`. Defaults to 60.
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Accepted signature algorithms. Defaults to [`AlgorithmPolicy::default`]
    /// (all asymmetric algorithms; never `none` or HMAC).
    pub fn algorithms(mut self, policy: AlgorithmPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Trusts an additional audience besides the client ID (OIDC Core 3.1.3.7 step 3),
    /// e.g. an API the provider adds to every token's `aud`. Defaults to none: an ID
    /// token naming any audience but the client is refused.
    pub fn trusted_audience(mut self, aud: impl Into<String>) -> Self {
        self.trusted_audiences.push(aud.into());
        self
    }

    /// Trusts several additional audiences; see [`trusted_audience`](Self::trusted_audience).
    pub fn trusted_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_audiences
            .extend(audiences.into_iter().map(Into::into));
        self
    }

    /// The `max_age` sent in the authorization request (see
    /// [`PendingAuthorization::max_age`](crate::core::PendingAuthorization::max_age)).
    /// When set, `auth_time` is required and `auth_time + max_age` (plus leeway) must
    /// not have passed (OIDC Core 3.1.2.1, 3.1.3.7 step 13). Defaults to `None`: not
    /// checked. Leave it unset for ID tokens from a refresh, whose `auth_time` is the
    /// original sign-in's.
    pub fn max_age(mut self, max_age: Option<u64>) -> Self {
        self.max_age = max_age;
        self
    }

    /// The accepted signature algorithms.
    pub fn algorithm_policy(&self) -> &AlgorithmPolicy {
        &self.policy
    }

    /// Verifies the signature against `keys` and checks the claims at time `now`.
    /// `nonce` is the one sent in the authorization request (None on refresh).
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl SignatureVerifier,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let verified = UnverifiedJws::parse(token)?.verify(keys, &self.policy, verifier)?;
        self.check_claims(&verified, nonce, now)
    }

    /// As [`validate`](Self::validate), with asynchronous crypto.
    pub async fn validate_async<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &JwkSet,
        verifier: &impl AsyncSignatureVerifier,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let verified = UnverifiedJws::parse(token)?
            .verify_async(keys, &self.policy, verifier)
            .await?;
        self.check_claims(&verified, nonce, now)
    }

    /// Checks the claims of a token whose signature is verified.
    pub fn check_claims<C: DeserializeOwned>(
        &self,
        verified: &VerifiedJws,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        let claims = IdTokenClaims::<C>::from_payload(verified.payload())
            .map_err(|e| IdTokenError::Malformed(e.to_string()))?;
        self.check_parsed(claims, nonce, now)
    }

    /// As [`check_claims`](Self::check_claims) with no additional claims, read
    /// without buffering the members as the flattened derived reader does.
    pub(crate) fn check_standard_claims(
        &self,
        verified: &VerifiedJws,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let claims: StandardIdClaims = crate::core::json::from_bytes(verified.payload())
            .map_err(|e| IdTokenError::Malformed(e.to_string()))?;
        self.check_parsed(claims.0, nonce, now)
    }

    fn check_parsed<C>(
        &self,
        claims: IdTokenClaims<C>,
        nonce: Option<&Nonce>,
        now: u64,
    ) -> Result<IdTokenClaims<C>, IdTokenError> {
        // Step 2: exact issuer match.
        if claims.iss != self.issuer {
            return Err(IdTokenError::IssuerMismatch(claims.iss));
        }
        // Step 3: the client is an audience; any other audience must be trusted.
        if !claims.aud.iter().any(|a| a == &self.client_id) {
            return Err(IdTokenError::AudienceMismatch);
        }
        if let Some(other) = claims
            .aud
            .iter()
            .find(|a| *a != &self.client_id && !self.trusted_audiences.contains(a))
        {
            return Err(IdTokenError::UntrustedAudience(other.clone()));
        }
        // Steps 4-5: azp, when present (and required with several audiences), is the client.
        match &claims.azp {
            Some(azp) if azp != &self.client_id => {
                return Err(IdTokenError::AzpMismatch(azp.clone()))
            }
            None if claims.aud.len() > 1 => return Err(IdTokenError::MissingClaim("azp")),
            _ => {}
        }
        if claims.standard.sub.is_empty() {
            return Err(IdTokenError::MissingClaim("sub"));
        }
        // Step 9: now must be before exp (with leeway).
        let exp = claims.exp.ok_or(IdTokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(IdTokenError::Expired);
        }
        // Step 10: iat must be present and not in the future.
        let iat = claims.iat.ok_or(IdTokenError::MissingClaim("iat"))?;
        if iat > now.saturating_add(self.leeway) {
            return Err(IdTokenError::IssuedInFuture);
        }
        // RFC 7519 section 4.1.5: not to be accepted before nbf (with leeway).
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(self.leeway))
        {
            return Err(IdTokenError::NotYetValid);
        }
        // Step 13 (and 3.1.2.1): with max_age sent, auth_time is required and the
        // authentication must be recent enough.
        if let Some(max_age) = self.max_age {
            let auth_time = claims
                .auth_time
                .ok_or(IdTokenError::MissingClaim("auth_time"))?;
            if auth_time
                .saturating_add(max_age)
                .saturating_add(self.leeway)
                < now
            {
                return Err(IdTokenError::AuthenticationTooOld);
            }
        }
        // Step 11: the nonce must equal the one sent (constant-time compare).
        if let Some(expected) = nonce {
            match &claims.nonce {
                Some(n) if expected.matches(n) => {}
                _ => return Err(IdTokenError::NonceMismatch),
            }
        }
        Ok(claims)
    }
}

/// OIDC Core section 12.2: an ID token from a refresh must continue the original
/// sign-in. Checked: the same `iss` and `sub`; `aud` equal as a set; `azp` equal
/// (absent in both, or the same value); `auth_time`, when the new token has one, equal
/// to the original's (it is the time of the original authentication); `nonce`, when the
/// new token has one, equal to the original's. `iat` and `exp` may differ. The refreshed
/// token must also pass [`IdTokenValidator::check_claims`] (without nonce and max_age).
///
/// Compare each refreshed token with the claims of the original authentication (or of
/// the last re-authentication), not with the last refreshed token: a refreshed token
/// may leave `auth_time` out, and the next one must still carry the original's.
pub fn check_refresh_continuity<A, B>(
    original: &IdTokenClaims<A>,
    refreshed: &IdTokenClaims<B>,
) -> Result<(), IdTokenError> {
    if original.iss != refreshed.iss {
        return Err(IdTokenError::RefreshMismatch("iss"));
    }
    if original.standard.sub != refreshed.standard.sub {
        return Err(IdTokenError::RefreshMismatch("sub"));
    }
    let same_set = |a: &[String], b: &[String]| {
        a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
    };
    if !same_set(&original.aud, &refreshed.aud) {
        return Err(IdTokenError::RefreshMismatch("aud"));
    }
    if original.azp != refreshed.azp {
        return Err(IdTokenError::RefreshMismatch("azp"));
    }
    if refreshed.auth_time.is_some()
        && original.auth_time.is_some()
        && refreshed.auth_time != original.auth_time
    {
        return Err(IdTokenError::RefreshMismatch("auth_time"));
    }
    if refreshed.nonce.is_some() && refreshed.nonce != original.nonce {
        return Err(IdTokenError::RefreshMismatch("nonce"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::from_bytes;

    /// Display claims in a form other providers send (Auth0's RFC 3339
    /// `updated_at`, a string `email_verified`) do not refuse the token.
    #[test]
    fn profile_claims_in_provider_forms_are_read_not_refused() {
        let doc = r#"{"iss":"i","aud":"a","sub":"s","email_verified":"true","updated_at":"2025-12-23T10:59:07.841Z"}"#;
        let standard = from_bytes::<StandardIdClaims>(doc.as_bytes()).unwrap().0;
        assert_eq!(standard.standard.email_verified, Some(true));
        assert_eq!(standard.standard.updated_at, None);
        let typed: IdTokenClaims = serde_json::from_str(doc).unwrap();
        assert_eq!(typed, standard);
        let doc =
            r#"{"iss":"i","aud":"a","sub":"s","email_verified":false,"updated_at":"1700000000"}"#;
        let standard = from_bytes::<StandardIdClaims>(doc.as_bytes()).unwrap().0;
        assert_eq!(standard.standard.email_verified, Some(false));
        assert_eq!(standard.standard.updated_at, Some(1_700_000_000));
    }

    /// The member-by-member reader accepts and refuses what the derived one does.
    #[test]
    fn standard_reader_reads_as_the_derived_one() {
        let docs = [
            r#"{"iss":"i","aud":"a","sub":"s"}"#,
            r#"{"iss":"i","aud":["a","b"],"sub":"s","exp":1.5,"iat":2,"nbf":null,"auth_time":3}"#,
            r#"{"iss":"i","aud":null,"sub":"s","name":"n","email_verified":true,"updated_at":7}"#,
            r#"{"iss":"i","aud":"a","sub":"s","nonce":"x","azp":"a","sid":"y","extra":{"k":[1]}}"#,
            r#"{"iss":"i","aud":"a","sub":"s","locale":null,"zoneinfo":"z","picture":"p"}"#,
            r#"{"iss":"i","aud":"a"}"#,
            r#"{"aud":"a","sub":"s"}"#,
            r#"{"iss":"i","sub":"s"}"#,
            r#"{"iss":null,"aud":"a","sub":"s"}"#,
            r#"{"iss":"i","aud":"a","sub":null}"#,
            r#"{"iss":"i","aud":"a","sub":"s","iss":"j"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","name":"n","name":"m"}"#,
            r#"{"iss":"i","aud":[1],"sub":"s"}"#,
            r#"{"iss":"i","aud":5,"sub":"s"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","exp":-1}"#,
            r#"{"iss":"i","aud":"a","sub":"s","exp":"soon"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","updated_at":1.5}"#,
            r#"{"iss":"i","aud":"a","sub":"s","email_verified":"yes"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","email_verified":"true","updated_at":"17"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","updated_at":"2025-12-23T10:59:07.841Z"}"#,
            r#"{"iss":"i","aud":"a","sub":"s","email_verified":{},"updated_at":[1]}"#,
            r#"{"iss":"i","aud":"a","sub":5}"#,
            r#"["i","a","s"]"#,
            r#"{"iss":"i","aud":"a","sub":"s""#,
            "null",
        ];
        for doc in docs {
            let derived = serde_json::from_slice::<IdTokenClaims>(doc.as_bytes());
            let standard = from_bytes::<StandardIdClaims>(doc.as_bytes());
            match (derived, standard) {
                (Ok(a), Ok(b)) => assert_eq!(a, b.0, "{doc}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{doc}: {:?} / {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }
}
