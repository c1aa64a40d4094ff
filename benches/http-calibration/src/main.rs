//! A calibration server for HTTP load tests of token validation.
//!
//! `GET /api/me` does exactly the signature verifications a request needs, on a fixed
//! message and key, and nothing else: no token parsing, no claims, no replay check.
//! A Bearer request costs one verification with a parsed key: RS256 when the token's
//! header names RS256, else ES256. A request with a `DPoP` header adds one ES256
//! verification with a key parsed for the call, as a proof's key is.
//!
//! Its throughput is the most any token-checking API can reach under the same load
//! generator on the same machine: the reference to compare a real API with, in the
//! same run. Environment: `LISTEN_ADDR` (default `127.0.0.1:9301`).

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, ParsedPublicKey, UnparsedPublicKey};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};

/// The keys and signatures every request verifies.
struct Fixture {
    message: Vec<u8>,
    rsa: ParsedPublicKey,
    rsa_signature: Vec<u8>,
    ec: ParsedPublicKey,
    ec_point: Vec<u8>,
    ec_signature: Vec<u8>,
}

type Error = Box<dyn std::error::Error>;

fn fixture() -> Result<Fixture, Error> {
    let rng = SystemRandom::new();
    // About the size of an access token's signing input.
    let message = vec![b'x'; 600];
    let rsa_key = signature::RsaKeyPair::generate(KeySize::Rsa2048)?;
    let mut rsa_signature = vec![0; rsa_key.public_modulus_len()];
    rsa_key.sign(
        &signature::RSA_PKCS1_SHA256,
        &rng,
        &message,
        &mut rsa_signature,
    )?;
    let rsa = ParsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        rsa_key.public_key().as_ref(),
    )?;
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)?;
    let ec_key = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref())?;
    let ec_signature = ec_key.sign(&rng, &message)?.as_ref().to_vec();
    let ec_point = ec_key.public_key().as_ref().to_vec();
    let ec = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &ec_point)?;
    Ok(Fixture {
        message,
        rsa,
        rsa_signature,
        ec,
        ec_point,
        ec_signature,
    })
}

async fn me(
    fixture: Arc<Fixture>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let f = &*fixture;
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // `{"alg":"RS256"` in base64url, at the start of the token's header.
    let rs256 = authorization.contains("eyJhbGciOiJSUzI1Ni");
    let verified = if rs256 {
        f.rsa.verify_sig(&f.message, &f.rsa_signature)
    } else {
        f.ec.verify_sig(&f.message, &f.ec_signature)
    };
    verified.map_err(|_| StatusCode::UNAUTHORIZED)?;
    if headers.contains_key("dpop") {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &f.ec_point)
            .verify(&f.message, &f.ec_signature)
            .map_err(|_| StatusCode::UNAUTHORIZED)?;
    }
    Ok(Json(serde_json::json!({ "sub": "calibration" })))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let fixture = Arc::new(fixture()?);
    let app = Router::new().route(
        "/api/me",
        get(move |headers| me(Arc::clone(&fixture), headers)),
    );
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:9301".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
