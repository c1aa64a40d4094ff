//! JSON parsing shared by the protocol's readers.

use serde::de::DeserializeOwned;

/// Parses a JSON document from bytes. The bytes must be UTF-8 (RFC 8259 section 8.1);
/// every reader goes through the one text parser, which the browser build then
/// carries once.
pub(crate) fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| <serde_json::Error as serde::de::Error>::custom("invalid UTF-8"))?;
    serde_json::from_str(text)
}
