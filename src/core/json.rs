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
