//! Compact JWS parsing and access-token validation on arbitrary text: errors, never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_leptos::core::jose::{JwkSet, PreparedKeySet, UnverifiedJws};
use oidc_leptos::core::{AccessTokenValidator, NoAdditionalClaims};

fn keys() -> PreparedKeySet {
    let set = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "k1",
         "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
         "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}
    ]});
    let set: JwkSet = serde_json::from_value(set).unwrap_or_default();
    PreparedKeySet::new(set)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = UnverifiedJws::parse(text).map(|j| j.header().clone());
    let keys = keys();
    let rules = AccessTokenValidator::new("https://idp.example", "api");
    let _ = rules.validate::<NoAdditionalClaims>(text, keys.keys(), &keys.verifier(), 1_700_000_000);
});
