//! DPoP proof verification on arbitrary proofs: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oidc_leptos::core::jose::NativeVerifier;
use oidc_leptos::core::{normalize_htu, DpopProofValidator, ProofRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input is the proof; its first line also serves as a URL to normalize.
    let _ = normalize_htu(text.lines().next().unwrap_or_default());
    let request = ProofRequest {
        method: "GET",
        url: "https://resource.example.org/protectedresource",
        access_token: "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
        jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
    };
    let _ = DpopProofValidator::default().verify(text, &request, &NativeVerifier, 1_562_262_618);
});
