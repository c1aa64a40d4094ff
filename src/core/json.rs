//! JSON parsing shared by the protocol's readers.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Parses a JSON document from bytes. The bytes must be UTF-8 (RFC 8259 section 8.1);
/// every reader goes through the one text parser, which the browser build then
/// carries once.
pub(crate) fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| <serde_json::Error as serde::de::Error>::custom("invalid UTF-8"))?;
    serde_json::from_str(text)
}

/// A type read member by member from a JSON object, without the code a derived
/// `Deserialize` generates for each type: the loop over the members, the name lookup
/// and the duplicate check are shared.
///
/// The object reads as a derived `Deserialize` would read it: unknown members are
/// ignored, a repeated member is an error, and each member's value is read with its
/// own type's `Deserialize`. Only a JSON object is accepted (every document read this
/// way is specified as one).
pub(crate) trait Members: Default {
    /// The names of the members read, at most 64; others are ignored.
    const NAMES: &'static [&'static str];
    /// The type's name, for errors.
    const NAME: &'static str;
    /// Reads the value of member `NAMES[index]`.
    fn member<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A)
        -> Result<(), A::Error>;
}

/// Reads a [`Members`] type from a JSON object.
pub(crate) fn read_object<'de, D: Deserializer<'de>, M: Members>(d: D) -> Result<M, D::Error> {
    d.deserialize_map(ObjectVisitor(PhantomData))
}

struct ObjectVisitor<M>(PhantomData<M>);

impl<'de, M: Members> Visitor<'de> for ObjectVisitor<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", M::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<M, A::Error> {
        let mut value = M::default();
        let mut seen = 0u64;
        while let Some(i) = next_member(&mut map, M::NAMES, &mut seen)? {
            value.member(i, &mut map)?;
        }
        Ok(value)
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

/// Reads a member's value. Not inlined: each value type is read by one function,
/// whichever type it is a member of.
#[inline(never)]
pub(crate) fn value<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
) -> Result<T, A::Error> {
    map.next_value()
}

/// A type written as JSON by hand: the few types the client stores or hands to the
/// browser, without a serializer generated for each.
pub(crate) trait ToJson {
    /// Appends this value's JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

/// The JSON text of `value`, compact, as `serde_json::to_string` writes it (same
/// signature, so that call sites read alike; writing cannot fail).
pub(crate) fn to_string<T: ToJson + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
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

    /// An array of strings.
    pub(crate) fn list(&mut self, name: &str, values: &[String]) -> &mut Self {
        let out = self.key(name);
        out.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(out, v);
        }
        out.push(']');
        self
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
        same(&meta);
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
        same(&keys);
        same(&keys.keys[0]);
        same(&JwkSet::default());
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
