//! Reading what the machine keeps in storage and what it reads of a verified token,
//! with the shared object reader (see `core::json`): the same members, types and
//! checks as derived readers, in less code.

use serde::{Deserialize, Deserializer};

use super::{CachedProvider, IssuedAt, StoredPending};
use crate::core::json::{read_object, required, Kind, Members, ObjectWriter, Parsed, ToJson};
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
    const KINDS: &'static [Kind] = &[Kind::Str, Kind::Str, Kind::Bool, Kind::Pending];
    const NAME: &'static str = "StoredPending";

    fn member(&mut self, index: usize, value: Parsed) {
        match index {
            0 => self.issuer = value.str(),
            1 => self.client_id = value.str(),
            2 => self.silent = value.bool(),
            _ => {
                if let Parsed::Pending(p) = value {
                    self.pending = Some(*p);
                }
            }
        }
    }
}

crate::core::json::read_through!(StoredPending, RawStoredPending);

impl StoredPending {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawStoredPending) -> Result<Self, E> {
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
    const KINDS: &'static [Kind] = &[Kind::U64, Kind::Str, Kind::OptStr, Kind::OptStr];
    const NAME: &'static str = "CachedProvider";

    fn member(&mut self, index: usize, value: Parsed) {
        match index {
            0 => self.at = value.u64(),
            1 => self.metadata = value.str(),
            2 => self.keys = value.opt_str(),
            _ => self.silent = value.opt_str(),
        }
    }
}

crate::core::json::read_through!(CachedProvider, RawCachedProvider);

impl CachedProvider {
    /// Checks the members read: the required ones are present.
    fn from_raw<E: serde::de::Error>(raw: RawCachedProvider) -> Result<Self, E> {
        Ok(CachedProvider {
            at: required(raw.at, "at")?,
            metadata: required(raw.metadata, "metadata")?,
            keys: raw.keys,
            silent: raw.silent,
            // For the page's script only: the machine derives its own.
            grace: 0,
        })
    }
}

impl Members for IssuedAt {
    const NAMES: &'static [&'static str] = &["iat"];
    const KINDS: &'static [Kind] = &[Kind::OptU64];
    const NAME: &'static str = "IssuedAt";

    fn member(&mut self, _: usize, value: Parsed) {
        self.iat = value.opt_u64();
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
            .u64("grace", self.grace)
            .end();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::core::json::to_string;
    use crate::core::{CodeVerifier, Nonce, State};

    fn pending(max_age: Option<u64>, return_to: Option<&str>) -> PendingAuthorization {
        PendingAuthorization {
            issuer: "https://idp.example".into(),
            client_id: "spa".into(),
            state: State::new(String::from("st\"ate")),
            nonce: Nonce::new(String::from("n\\once")),
            code_verifier: CodeVerifier::new("v".repeat(43)).unwrap(),
            redirect_uri: "https://app.example/\u{e9}".into(),
            return_to: return_to.map(str::to_owned),
            created_at: 1_700_000_000,
            max_age,
        }
    }

    /// The hand-written writers write what the derived `Serialize` writes: every
    /// member (the page's early script reads some of them), in the same form.
    #[test]
    fn stored_records_are_written_as_the_derived_serialize_writes_them() {
        for (keys, silent) in [(None, None), (Some("{\"keys\":[]}"), Some("https://x/a?b"))] {
            let provider = CachedProvider {
                at: 42,
                metadata: "{\"issuer\":\"https://idp.example\"}".into(),
                keys: keys.map(str::to_owned),
                silent: silent.map(str::to_owned),
                grace: 6_000,
            };
            assert_eq!(
                to_string(&provider).unwrap(),
                serde_json::to_string(&provider).unwrap()
            );
        }
        for (max_age, return_to) in [(None, None), (Some(0), Some("/todos?x=1#y"))] {
            let stored = StoredPending {
                issuer: "https://idp.example".into(),
                client_id: "spa".into(),
                silent: max_age.is_some(),
                pending: pending(max_age, return_to),
            };
            assert_eq!(
                to_string(&stored).unwrap(),
                serde_json::to_string(&stored).unwrap()
            );
        }
    }

    /// The page's early script marks an entry whose code it sent; the app reads it
    /// as before.
    #[test]
    fn a_pending_entry_marked_by_the_early_script_is_read_as_before() {
        let stored = StoredPending {
            issuer: "https://idp.example".into(),
            client_id: "spa".into(),
            silent: false,
            pending: pending(None, Some("/todos")),
        };
        let mut marked: serde_json::Value = serde_json::to_value(&stored).unwrap();
        marked["sent"] = true.into();
        let read: StoredPending =
            crate::core::json::from_bytes(marked.to_string().as_bytes()).unwrap();
        assert_eq!(to_string(&read).unwrap(), to_string(&stored).unwrap());
    }
}
