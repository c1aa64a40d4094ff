//! Claims: the standard OpenID Connect claims plus the app's own typed claims.

use serde::de;
use serde::{Deserialize, Deserializer, Serialize};

use super::json::AnyValue;

/// The standard claims of OIDC Core section 5.1. Every field but `sub` is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// Subject: the user's identifier at the issuer.
    pub sub: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Casual name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Shorthand name the user chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Profile page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the e-mail was verified. Also read from `"true"` / `"false"` (sent by
    /// some providers); another value reads as absent rather than refusing the token.
    #[serde(
        default,
        deserialize_with = "super::json::lenient_bool_member",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_verified: Option<bool>,
    /// Locale (BCP 47).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    /// Last update (seconds since the epoch). Also read from a numeric string; another
    /// value (Auth0 sends an RFC 3339 date) reads as absent rather than refusing the
    /// token: it is shown, never checked.
    #[serde(
        default,
        deserialize_with = "super::json::lenient_u64_member",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<u64>,
}

impl StandardClaims {
    /// A name to show: `name`, else `preferred_username`, else `email`, else `sub`.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.preferred_username.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// No additional claims: the default for `C`. Accepts any claim set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoAdditionalClaims {}

/// `aud` is a string or an array of strings (RFC 7519 section 4.1.3); `null` is none.
pub(crate) fn audience<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    audience_of(AnyValue::deserialize(d)?)
}

/// [`audience`] of a parsed value.
pub(crate) fn audience_of<E: de::Error>(value: AnyValue) -> Result<Vec<String>, E> {
    let string = |v: AnyValue| match v {
        AnyValue::Str(s) => Ok(s),
        other => Err(E::invalid_type(other.unexpected(), &"a string")),
    };
    match value {
        AnyValue::Null => Ok(Vec::new()),
        AnyValue::Seq(items) => items.into_iter().map(string).collect(),
        other => string(other).map(|a| vec![a]),
    }
}

/// Numeric dates may be sent as floats; the fraction is dropped (RFC 7519 section 2).
pub(crate) fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    date_of_f64(Option::<f64>::deserialize(d)?)
}

/// [`numeric_date`] of a parsed value: `null` or a number.
pub(crate) fn numeric_date_of<E: de::Error>(value: AnyValue) -> Result<Option<u64>, E> {
    #[allow(clippy::cast_precision_loss)] // As `f64`'s `Deserialize` converts them.
    date_of_f64(match value {
        AnyValue::Null => None,
        AnyValue::U64(n) => Some(n as f64),
        AnyValue::I64(n) => Some(n as f64),
        AnyValue::F64(f) => Some(f),
        other => return Err(E::invalid_type(other.unexpected(), &"f64")),
    })
}

fn date_of_f64<E: de::Error>(value: Option<f64>) -> Result<Option<u64>, E> {
    match value {
        Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        Some(_) => Err(E::custom("invalid NumericDate")),
        None => Ok(None),
    }
}

/// A member read with [`numeric_date`].
pub(crate) struct NumericDate(pub(crate) Option<u64>);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        numeric_date(d).map(NumericDate)
    }
}
