//! JWK Set and JWK parsing, thumbprints and key decoding on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_leptos::core::jose::{Jwk, JwkSet, PreparedKeySet};

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = JwkSet::from_json(data) {
        for key in &set.keys {
            let _ = key.thumbprint();
        }
        let _ = PreparedKeySet::new(set);
    }
    if let Ok(key) = Jwk::from_json(data) {
        let _ = key.thumbprint();
    }
});
