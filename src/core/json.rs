//! JSON parsing shared by the protocol's readers.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

mod text;

/// Parses a JSON document from bytes (UTF-8, RFC 8259 section 8.1) and reads it as
/// `T`. Every document the client reads goes through the one small text reader
/// ([`text`]) and the one member reader ([`read_members`]), without serde: the
/// browser build carries no deserializer per type. (The app's own claim types go
/// through serde_json.)
pub(crate) fn from_bytes<T: FromJson>(bytes: &[u8]) -> Result<T, JsonError> {
    T::from_value(text::parse(bytes)?)
}

/// Parses a JSON document from bytes into a value tree.
pub(crate) fn parse_value(bytes: &[u8]) -> Result<AnyValue, JsonError> {
    text::parse(bytes)
}

/// A type read from a parsed JSON value.
pub(crate) trait FromJson: Sized {
    /// Reads `value`, as the type's `Deserialize` reads the same document.
    fn from_value(value: AnyValue) -> Result<Self, JsonError>;
}

impl<M: Members> FromJson for M {
    fn from_value(value: AnyValue) -> Result<Self, JsonError> {
        let mut object = M::default();
        read_members(value, M::NAMES, M::KINDS, M::NAME, &mut |i, v| {
            object.member(i, v)
        })?;
        Ok(object)
    }
}

/// Implements `Deserialize` and [`FromJson`] for `$type`, read as its members type
/// `$raw` and then checked by `$type::from_raw` (its required members), so that
/// serde and the client's own reader give the same result.
macro_rules! read_through {
    ($type:ty, $raw:ty) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::from_raw($crate::core::json::read_object::<D, $raw>(d)?)
            }
        }

        impl $crate::core::json::FromJson for $type {
            fn from_value(
                value: $crate::core::json::AnyValue,
            ) -> Result<Self, $crate::core::json::JsonError> {
                Self::from_raw(<$raw as $crate::core::json::FromJson>::from_value(value)?)
            }
        }
    };
}
pub(crate) use read_through;

/// Reads the members of an object into a sink, as [`read_object`] does through
/// serde: unknown members ignored, a repeated one an error. One copy serves every
/// type.
fn read_members(
    value: AnyValue,
    names: &'static [&'static str],
    kinds: &'static [Kind],
    name: &'static str,
    sink: &mut dyn FnMut(usize, Parsed),
) -> Result<(), JsonError> {
    let AnyValue::Map(members) = value else {
        return Err(value.invalid(&format!("struct {name}").as_str()));
    };
    let mut seen = 0u64;
    for (member, value) in members {
        let Some(i) = names.iter().position(|n| *n == member) else {
            continue;
        };
        if seen & (1 << i) != 0 {
            return Err(de::Error::duplicate_field(names[i]));
        }
        seen |= 1 << i;
        sink(i, kind_from_value(kinds[i], value)?);
    }
    Ok(())
}

/// Reads a value of `kind`, with the rules of its `Deserialize` (see [`read_kind`]).
fn kind_from_value(kind: Kind, value: AnyValue) -> Result<Parsed, JsonError> {
    use crate::core::claims::numeric_date_of;
    use crate::core::jose::jwk_from_value;
    Ok(match kind {
        Kind::Str => Parsed::Str(value.string()?),
        Kind::OptStr => Parsed::OptStr(value.optional(AnyValue::string)?),
        Kind::U64 => Parsed::U64(value.u64()?),
        Kind::OptU64 => Parsed::OptU64(value.optional(AnyValue::u64)?),
        Kind::Bool => Parsed::Bool(value.bool()?),
        Kind::List => Parsed::List(value.strings()?),
        Kind::OptList => Parsed::OptList(value.optional(AnyValue::strings)?),
        Kind::Date => Parsed::OptU64(numeric_date_of(value)?),
        Kind::Audience => Parsed::List(crate::core::claims::audience_of(value)?),
        Kind::LenientU64 => Parsed::OptU64(lenient_u64(value)),
        Kind::LenientBool => Parsed::OptBool(lenient_bool(value)),
        Kind::OptJwk => Parsed::OptJwk(value.optional(jwk_from_value)?),
        Kind::Verifier => Parsed::Verifier(
            crate::core::CodeVerifier::new(value.string()?).map_err(de::Error::custom)?,
        ),
        Kind::Pending => Parsed::Pending(Box::new(FromJson::from_value(value)?)),
        Kind::Keys => Parsed::Keys(crate::core::jose::lenient_keys(value.items()?)),
    })
}

/// Why a JSON document could not be read: its syntax (with the byte where reading
/// stopped) or its shape (a missing, repeated or mistyped member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JsonError {}

impl de::Error for JsonError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        JsonError(message.to_string())
    }

    // serde's own wording, but a float is not printed: that would bring the whole
    // float formatter into the browser build for an error message.
    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        JsonError(format!(
            "invalid type: {}, expected {expected}",
            Unexpected(unexpected)
        ))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        JsonError(format!(
            "invalid value: {}, expected {expected}",
            Unexpected(unexpected)
        ))
    }
}

/// What was found, for an error: as serde says it, floats without their value.
struct Unexpected<'a>(de::Unexpected<'a>);

impl fmt::Display for Unexpected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use de::Unexpected as U;
        match self.0 {
            U::Bool(b) => write!(f, "boolean `{b}`"),
            U::Unsigned(n) => write!(f, "integer `{n}`"),
            U::Signed(n) => write!(f, "integer `{n}`"),
            U::Str(s) => write!(f, "string \"{s}\""),
            U::Float(_) => f.write_str("floating point number"),
            U::Unit => f.write_str("null"),
            U::Seq => f.write_str("array"),
            U::Map => f.write_str("object"),
            U::Char(c) => write!(f, "character `{c}`"),
            _ => f.write_str("another value"),
        }
    }
}

/// A type read member by member from a JSON object, without the code a derived
/// `Deserialize` generates for each type: the loop over the members, the name lookup,
/// the duplicate check and the reading of each kind of value are shared by every
/// type; a type only says which members it reads, of which kinds, and where they go.
///
/// The object reads as a derived `Deserialize` would read it: unknown members are
/// ignored, a repeated member is an error, and each member's value is read with its
/// kind's `Deserialize`. Only a JSON object is accepted (every document read this way
/// is specified as one).
pub(crate) trait Members: Default {
    /// The names of the members read, at most 64; others are ignored.
    const NAMES: &'static [&'static str];
    /// How the value of each member of [`NAMES`](Self::NAMES) is read.
    const KINDS: &'static [Kind];
    /// The type's name, for errors.
    const NAME: &'static str;
    /// Takes the value of member `NAMES[index]`, read as `KINDS[index]` says.
    fn member(&mut self, index: usize, value: Parsed);
}

/// How a member's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `String`.
    Str,
    /// `Option<String>`.
    OptStr,
    /// `u64`.
    U64,
    /// `Option<u64>`.
    OptU64,
    /// `bool`.
    Bool,
    /// `Vec<String>`.
    List,
    /// `Option<Vec<String>>`.
    OptList,
    /// A numeric date ([`numeric_date`](crate::core::claims::numeric_date)), as `OptU64`.
    Date,
    /// An audience ([`audience`](crate::core::claims::audience)), as `List`.
    Audience,
    /// A number or a numeric string, unreadable as absent, as `OptU64`.
    LenientU64,
    /// A boolean or `"true"` / `"false"`, unreadable as absent, as `OptBool`.
    LenientBool,
    /// `Option<Jwk>`.
    OptJwk,
    /// A PKCE verifier.
    Verifier,
    /// A pending authorization.
    Pending,
    /// The keys of a JWK Set, read leniently (see [`JwkSet`](crate::core::jose::JwkSet)).
    Keys,
}

/// A member's value, as its [`Kind`] reads it.
#[cfg_attr(test, derive(Debug))]
pub(crate) enum Parsed {
    Str(String),
    OptStr(Option<String>),
    U64(u64),
    OptU64(Option<u64>),
    Bool(bool),
    OptBool(Option<bool>),
    List(Vec<String>),
    OptList(Option<Vec<String>>),
    OptJwk(Option<crate::core::jose::Jwk>),
    Verifier(crate::core::CodeVerifier),
    Pending(Box<crate::core::PendingAuthorization>),
    Keys(Vec<crate::core::jose::Jwk>),
}

impl Parsed {
    /// A `Str` value (`None` for another kind, which a type's kinds rule out).
    pub(crate) fn str(self) -> Option<String> {
        match self {
            Parsed::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An `OptStr` value.
    pub(crate) fn opt_str(self) -> Option<String> {
        match self {
            Parsed::OptStr(s) => s,
            _ => None,
        }
    }

    /// A `U64` value.
    pub(crate) fn u64(self) -> Option<u64> {
        match self {
            Parsed::U64(n) => Some(n),
            _ => None,
        }
    }

    /// An `OptU64` (or `Date`, `LenientU64`) value.
    pub(crate) fn opt_u64(self) -> Option<u64> {
        match self {
            Parsed::OptU64(n) => n,
            _ => None,
        }
    }

    /// A `Bool` value.
    pub(crate) fn bool(self) -> Option<bool> {
        match self {
            Parsed::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// An `OptBool` (`LenientBool`) value.
    pub(crate) fn opt_bool(self) -> Option<bool> {
        match self {
            Parsed::OptBool(b) => b,
            _ => None,
        }
    }

    /// A `List` (or `Audience`) value.
    pub(crate) fn list(self) -> Option<Vec<String>> {
        match self {
            Parsed::List(l) => Some(l),
            _ => None,
        }
    }

    /// An `OptList` value.
    pub(crate) fn opt_list(self) -> Option<Vec<String>> {
        match self {
            Parsed::OptList(l) => l,
            _ => None,
        }
    }
}

/// Reads a value of `kind`. One copy serves every type.
#[inline(never)]
fn read_kind<'de, A: MapAccess<'de>>(map: &mut A, kind: Kind) -> Result<Parsed, A::Error> {
    use crate::core::claims::NumericDate;
    Ok(match kind {
        Kind::Str => Parsed::Str(map.next_value()?),
        Kind::OptStr => Parsed::OptStr(map.next_value()?),
        Kind::U64 => Parsed::U64(map.next_value()?),
        Kind::OptU64 => Parsed::OptU64(map.next_value()?),
        Kind::Bool => Parsed::Bool(map.next_value()?),
        Kind::List => Parsed::List(map.next_value()?),
        Kind::OptList => Parsed::OptList(map.next_value()?),
        Kind::Date => Parsed::OptU64(map.next_value::<NumericDate>()?.0),
        Kind::Audience => Parsed::List(map.next_value::<Audience>()?.0),
        Kind::LenientU64 => Parsed::OptU64(map.next_value::<LenientU64>()?.0),
        Kind::LenientBool => Parsed::OptBool(lenient_bool(map.next_value()?)),
        Kind::OptJwk => Parsed::OptJwk(map.next_value()?),
        Kind::Verifier => Parsed::Verifier(map.next_value()?),
        Kind::Pending => Parsed::Pending(Box::new(map.next_value()?)),
        Kind::Keys => Parsed::Keys(map.next_value::<crate::core::jose::LenientKeys>()?.0),
    })
}

/// A member read with [`audience`](crate::core::claims::audience).
struct Audience(Vec<String>);

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::core::claims::audience(d).map(Audience)
    }
}

/// Some providers send numbers as strings: accept both. Anything else (negative,
/// `true`, an object) reads as absent rather than failing.
struct LenientU64(Option<u64>);

impl<'de> Deserialize<'de> for LenientU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(LenientU64(lenient_u64(AnyValue::deserialize(d)?)))
    }
}

/// A number or a numeric string, anything else absent (see [`LenientU64`]).
fn lenient_u64(value: AnyValue) -> Option<u64> {
    match value {
        AnyValue::U64(n) => Some(n),
        AnyValue::I64(n) => u64::try_from(n).ok(),
        AnyValue::F64(f) if f.is_finite() && f >= 0.0 => Some(f as u64),
        AnyValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean or `"true"` / `"false"` (as some providers send `email_verified`),
/// anything else absent.
fn lenient_bool(value: AnyValue) -> Option<bool> {
    match value {
        AnyValue::Bool(b) => Some(b),
        AnyValue::Str(s) if s == "true" => Some(true),
        AnyValue::Str(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// `deserialize_with` for an optional number read as [`Kind::LenientU64`] reads it.
pub(crate) fn lenient_u64_member<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(LenientU64::deserialize(d)?.0)
}

/// `deserialize_with` for an optional boolean read as [`Kind::LenientBool`] reads
/// it.
pub(crate) fn lenient_bool_member<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<bool>, D::Error> {
    Ok(lenient_bool(AnyValue::deserialize(d)?))
}

/// Reads a [`Members`] type from a JSON object.
pub(crate) fn read_object<'de, D: Deserializer<'de>, M: Members>(d: D) -> Result<M, D::Error> {
    let mut value = M::default();
    d.deserialize_map(ObjectVisitor {
        names: M::NAMES,
        kinds: M::KINDS,
        name: M::NAME,
        sink: &mut |i, v| value.member(i, v),
    })?;
    Ok(value)
}

/// Reads the members of an object into a sink: the same code for every type.
struct ObjectVisitor<'a> {
    names: &'static [&'static str],
    kinds: &'static [Kind],
    name: &'static str,
    sink: &'a mut dyn FnMut(usize, Parsed),
}

impl<'de> Visitor<'de> for ObjectVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0u64;
        while let Some(i) = next_member(&mut map, self.names, &mut seen)? {
            let value = read_kind(&mut map, self.kinds[i])?;
            (self.sink)(i, value);
        }
        Ok(())
    }
}

/// The index of the next member read, skipping the others; `None` at the end. Not
/// inlined: one copy serves every type.
#[inline(never)]
fn next_member<'de, A: MapAccess<'de>>(
    map: &mut A,
    names: &'static [&'static str],
    seen: &mut u64,
) -> Result<Option<usize>, A::Error> {
    while let Some(Name(index)) = map.next_key_seed(NameSeed(names))? {
        let Some(i) = index else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        if *seen & (1 << i) != 0 {
            return Err(de::Error::duplicate_field(names[i]));
        }
        *seen |= 1 << i;
        return Ok(Some(i));
    }
    Ok(None)
}

/// A member name, as its index in the names read (`None`: not read).
struct Name(Option<usize>);

struct NameSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
        Ok(Name(self.0.iter().position(|n| *n == v)))
    }
}

/// A required member that was not read.
pub(crate) fn required<T, E: de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

/// A type written as JSON by hand: the few types the client stores or hands to the
/// browser, without a serializer generated for each.
pub(crate) trait ToJson {
    /// Appends this value's JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

/// The JSON text of `value`, compact, as `serde_json::to_string` writes it (a `Result`
/// as that returns, so that call sites read alike; writing cannot fail).
pub(crate) fn to_string<T: ToJson + ?Sized>(value: &T) -> Result<String, JsonError> {
    let mut out = String::new();
    value.write_json(&mut out);
    Ok(out)
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a JSON object member by member.
pub(crate) struct ObjectWriter<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object.
    pub(crate) fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, first: true }
    }

    /// Starts a member: its name (plain ASCII) and the colon.
    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    /// A member whose value is already JSON text.
    pub(crate) fn raw(&mut self, name: &str, json: &str) -> &mut Self {
        self.key(name).push_str(json);
        self
    }

    /// A member whose name is already a JSON string (quoted and escaped) and whose
    /// value is JSON text.
    pub(crate) fn raw_name(&mut self, quoted_name: &str, json: &str) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(quoted_name);
        self.out.push(':');
        self.out.push_str(json);
        self
    }

    /// A string member.
    pub(crate) fn str(&mut self, name: &str, value: &str) -> &mut Self {
        write_str(self.key(name), value);
        self
    }

    /// A string member, `null` when absent.
    pub(crate) fn opt_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(name, v),
            None => self.raw(name, "null"),
        }
    }

    /// A string member, left out when absent.
    pub(crate) fn some_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.str(name, v);
        }
        self
    }

    /// A number member.
    pub(crate) fn u64(&mut self, name: &str, value: u64) -> &mut Self {
        let text = value.to_string();
        self.raw(name, &text)
    }

    /// A boolean member.
    pub(crate) fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.raw(name, if value { "true" } else { "false" })
    }

    /// Closes the object.
    pub(crate) fn end(&mut self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::jose::{Jwk, JwkSet};

    /// One member of every kind, each value kept as its `Debug` text.
    #[derive(Default, Debug, PartialEq)]
    struct EveryKind(Vec<(usize, String)>);

    impl Members for EveryKind {
        const NAMES: &'static [&'static str] = &[
            "str",
            "opt_str",
            "u64",
            "opt_u64",
            "bool",
            "list",
            "opt_list",
            "date",
            "aud",
            "lenient",
            "jwk",
            "verifier",
            "pending",
            "keys",
            "lenient_bool",
        ];
        const KINDS: &'static [Kind] = &[
            Kind::Str,
            Kind::OptStr,
            Kind::U64,
            Kind::OptU64,
            Kind::Bool,
            Kind::List,
            Kind::OptList,
            Kind::Date,
            Kind::Audience,
            Kind::LenientU64,
            Kind::OptJwk,
            Kind::Verifier,
            Kind::Pending,
            Kind::Keys,
            Kind::LenientBool,
        ];
        const NAME: &'static str = "EveryKind";

        fn member(&mut self, index: usize, value: Parsed) {
            self.0.push((index, format!("{value:?}")));
        }
    }

    impl<'de> Deserialize<'de> for EveryKind {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            read_object(d)
        }
    }

    /// The member reader takes and refuses, kind by kind, what the serde reader
    /// (`read_object`, which native builds use for JWS headers) does.
    #[test]
    fn both_member_readers_read_every_kind_alike() {
        let values = [
            "null",
            "true",
            "false",
            "0",
            "7",
            "-7",
            "1.5",
            "-1.5",
            "1e3",
            "\"\"",
            "\"x\"",
            "\" 42 \"",
            "\"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk\"",
            "[]",
            "[\"a\"]",
            "[\"a\",1]",
            "[null]",
            "{}",
            r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#,
            r#"{"kty":"EC","kty":"EC"}"#,
            r#"{"kid":"k"}"#,
            r#"[{"kty":"RSA","n":"n","e":"AQAB"},{"kid":1},5]"#,
            r#"{"state":"s","nonce":"n","code_verifier":"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk","redirect_uri":"https://app/","created_at":1}"#,
            r#"{"state":"s","nonce":"n","code_verifier":"short","redirect_uri":"https://app/","created_at":1}"#,
            "18446744073709551615",
            "1e400",
        ];
        let mut cases = 0;
        for (i, name) in EveryKind::NAMES.iter().enumerate() {
            for value in values {
                let doc = format!(r#"{{"other":[1,{{"a":null}}],"{name}":{value}}}"#);
                let ours = from_bytes::<EveryKind>(doc.as_bytes());
                let theirs = serde_json::from_str::<EveryKind>(&doc);
                match (&ours, &theirs) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc}"),
                    (Err(_), Err(_)) => {}
                    _ => panic!(
                        "{doc} ({:?}): ours {ours:?}, serde {theirs:?}",
                        Kind::clone(&EveryKind::KINDS[i])
                    ),
                }
                cases += 1;
            }
            let twice = format!(r#"{{"{name}":null,"{name}":null}}"#);
            assert!(
                from_bytes::<EveryKind>(twice.as_bytes()).is_err(),
                "{twice}"
            );
            assert!(
                serde_json::from_str::<EveryKind>(&twice).is_err(),
                "{twice}"
            );
        }
        assert_eq!(cases, 15 * values.len());
        for doc in ["[]", "null", "\"x\"", "{\"str\":\"a\"} 1"] {
            assert!(from_bytes::<EveryKind>(doc.as_bytes()).is_err(), "{doc}");
            assert!(serde_json::from_str::<EveryKind>(doc).is_err(), "{doc}");
        }
    }
    use crate::core::{AuthorizationRequest, ProviderMetadata};

    fn same<T: ToJson + serde::Serialize>(value: &T) {
        assert_eq!(
            to_string(value).unwrap(),
            serde_json::to_string(value).unwrap()
        );
    }

    /// The hand-written JSON is what the derived serializers write.
    #[test]
    fn written_as_the_derived_serializers_write() {
        let doc = serde_json::json!({
            "issuer": "https://idp.example",
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
            "jwks_uri": "https://idp.example/jwks",
            "scopes_supported": ["openid", "a\"b\"\\c\u{1}\u{1f}\n\r\t\u{8}\u{c}\u{e9}"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        });
        let meta =
            ProviderMetadata::from_json(doc.to_string().as_bytes(), "https://idp.example").unwrap();
        // Every character the writer escapes, in a member it writes.
        let (_, pending) =
            AuthorizationRequest::new("a\"b\"\\c\u{1}\u{1f}\n\r\t\u{8}\u{c}\u{e9}", "https://app/")
                .build(&meta, 7)
                .unwrap();
        same(&pending);
        let (_, pending) = AuthorizationRequest::new("spa", "https://app/\t")
            .return_to("/x")
            .build(&meta, 7)
            .unwrap();
        same(&pending);
        let (_, pending) = AuthorizationRequest::new("spa", "https://app/")
            .max_age(60)
            .build(&meta, 7)
            .unwrap();
        same(&pending);
        let keys = JwkSet::from_json(
            br#"{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"a","y":"b","d":"s"},{"kty":"RSA","n":"n","e":"AQAB","use":"sig","alg":"RS256"}]}"#,
        )
        .unwrap();
        same(&keys.keys[0]);
        same(&keys.keys[1]);
        let jwk: Jwk = serde_json::from_str(r#"{"kty":"OKP","crv":"Ed25519","x":"q"}"#).unwrap();
        same(&jwk);
    }
}

/// Any JSON value, for the readers that take several types for one member (a string
/// or an array, a number or a numeric string, a key of any shape): one visitor reads
/// them all, instead of one per reader.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnyValue {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Seq(Vec<AnyValue>),
    /// The members in document order, repeated names kept.
    Map(Vec<(String, AnyValue)>),
}

impl AnyValue {
    /// What the value is, for errors.
    pub(crate) fn unexpected(&self) -> de::Unexpected<'_> {
        use de::Unexpected;
        match self {
            AnyValue::Null => Unexpected::Unit,
            AnyValue::Bool(b) => Unexpected::Bool(*b),
            AnyValue::U64(n) => Unexpected::Unsigned(*n),
            AnyValue::I64(n) => Unexpected::Signed(*n),
            AnyValue::F64(f) => Unexpected::Float(*f),
            AnyValue::Str(s) => Unexpected::Str(s),
            AnyValue::Seq(_) => Unexpected::Seq,
            AnyValue::Map(_) => Unexpected::Map,
        }
    }

    /// The error for a value of the wrong kind.
    pub(crate) fn invalid(&self, expected: &dyn de::Expected) -> JsonError {
        de::Error::invalid_type(self.unexpected(), expected)
    }

    /// A string, as `String`'s `Deserialize` takes it.
    pub(crate) fn string(self) -> Result<String, JsonError> {
        match self {
            AnyValue::Str(s) => Ok(s),
            other => Err(other.invalid(&"a string")),
        }
    }

    /// A `u64`, as its `Deserialize` takes it: a non-negative integer.
    fn u64(self) -> Result<u64, JsonError> {
        match self {
            AnyValue::U64(n) => Ok(n),
            AnyValue::I64(n) => {
                u64::try_from(n).map_err(|_| de::Error::invalid_value(self.unexpected(), &"u64"))
            }
            other => Err(other.invalid(&"u64")),
        }
    }

    /// A `bool`.
    fn bool(self) -> Result<bool, JsonError> {
        match self {
            AnyValue::Bool(b) => Ok(b),
            other => Err(other.invalid(&"a boolean")),
        }
    }

    /// The items of an array.
    fn items(self) -> Result<Vec<AnyValue>, JsonError> {
        match self {
            AnyValue::Seq(items) => Ok(items),
            other => Err(other.invalid(&"a sequence")),
        }
    }

    /// An array of strings.
    fn strings(self) -> Result<Vec<String>, JsonError> {
        self.items()?.into_iter().map(AnyValue::string).collect()
    }

    /// `None` for `null`, else the value as `read` takes it, as `Option`'s
    /// `Deserialize` reads it.
    fn optional<T>(
        self,
        read: impl FnOnce(AnyValue) -> Result<T, JsonError>,
    ) -> Result<Option<T>, JsonError> {
        match self {
            AnyValue::Null => Ok(None),
            other => read(other).map(Some),
        }
    }
}

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<AnyValue, E> {
        Ok(AnyValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnyValue, E> {
        Ok(AnyValue::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnyValue, E> {
        Ok(AnyValue::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<AnyValue, E> {
        Ok(AnyValue::F64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyValue, E> {
        Ok(AnyValue::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<AnyValue, E> {
        Ok(AnyValue::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AnyValue, D::Error> {
        AnyValue::deserialize(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(AnyValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(AnyValue::Map(members))
    }
}
