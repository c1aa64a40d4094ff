//! Reading what the machine keeps in storage and what it reads of a verified token,
//! with the shared object reader (see `core::json`): the same members, types and
//! checks as derived readers, in less code.

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer};

use super::{CachedProvider, IssuedAt, StoredPending};
use crate::core::json::{read_object, required, value, Members, ObjectWriter, ToJson};
use crate::core::PendingAuthorization;

#[derive(Default)]
struct RawStoredPending {
    issuer: Option<String>,
    client_id: Option<String>,
    silent: Option<bool>,
    pending: Option<PendingAuthorization>,
}

impl Members for RawStoredPending {
    const NAMES: &'static [&'static str] = &["issuer", "client_id", "silent", "pending"];
    const NAME: &'static str = "StoredPending";

    fn member<'de, A: MapAccess<'de>>(
        &mut self,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => self.issuer = Some(value(map)?),
            1 => self.client_id = Some(value(map)?),
            2 => self.silent = Some(value(map)?),
            _ => self.pending = Some(value(map)?),
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for StoredPending {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: RawStoredPending = read_object(d)?;
        Ok(StoredPending {
            issuer: required(raw.issuer, "issuer")?,
            client_id: required(raw.client_id, "client_id")?,
            silent: required(raw.silent, "silent")?,
            pending: required(raw.pending, "pending")?,
        })
    }
}

#[derive(Default)]
struct RawCachedProvider {
    at: Option<u64>,
    metadata: Option<String>,
    keys: Option<String>,
    silent: Option<String>,
}

impl Members for RawCachedProvider {
    const NAMES: &'static [&'static str] = &["at", "metadata", "keys", "silent"];
    const NAME: &'static str = "CachedProvider";

    fn member<'de, A: MapAccess<'de>>(
        &mut self,
        index: usize,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match index {
            0 => self.at = Some(value(map)?),
            1 => self.metadata = Some(value(map)?),
            2 => self.keys = value(map)?,
            _ => self.silent = value(map)?,
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for CachedProvider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: RawCachedProvider = read_object(d)?;
        Ok(CachedProvider {
            at: required(raw.at, "at")?,
            metadata: required(raw.metadata, "metadata")?,
            keys: raw.keys,
            silent: raw.silent,
        })
    }
}

impl Members for IssuedAt {
    const NAMES: &'static [&'static str] = &["iat"];
    const NAME: &'static str = "IssuedAt";

    fn member<'de, A: MapAccess<'de>>(&mut self, _: usize, map: &mut A) -> Result<(), A::Error> {
        self.iat = value(map)?;
        Ok(())
    }
}

impl<'de> Deserialize<'de> for IssuedAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_object(d)
    }
}

impl ToJson for StoredPending {
    // As the derived `Serialize` writes it.
    fn write_json(&self, out: &mut String) {
        let mut pending = String::new();
        self.pending.write_json(&mut pending);
        ObjectWriter::new(out)
            .str("issuer", &self.issuer)
            .str("client_id", &self.client_id)
            .bool("silent", self.silent)
            .raw("pending", &pending)
            .end();
    }
}

impl ToJson for CachedProvider {
    // As the derived `Serialize` writes it.
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .u64("at", self.at)
            .str("metadata", &self.metadata)
            .opt_str("keys", self.keys.as_deref())
            .opt_str("silent", self.silent.as_deref())
            .end();
    }
}
