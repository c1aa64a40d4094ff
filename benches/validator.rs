//! The validator's full checks beside the bare signature verifications they contain,
//! measured in the same run: Bearer RS256, Bearer ES256, and a DPoP-bound ES256 token
//! with its ES256 proof (two verifications, plus the replay store).
//!
//! `cargo bench --features server --bench validator`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_util::FutureExt;
use oidc_leptos::core::jose::{Jwk, JwkSet};
use oidc_leptos::core::{access_token_hash, ManualClock, NoAdditionalClaims};
use oidc_leptos::server::{InMemoryReplayStore, ReplayKey, ReplayStore, Validator};
use p256::ecdsa::signature::Signer;
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://idp.example";
const URL: &str = "https://api.example.com/todos";

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

fn claims(extra: Value) -> Value {
    let mut c = json!({"iss": ISS, "sub": "alice", "aud": "todo-api", "exp": NOW + 300,
        "iat": NOW, "jti": "t1", "client_id": "spa", "scope": "openid todos"});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

struct Ec {
    sk: p256::ecdsa::SigningKey,
}

impl Ec {
    fn new(seed: u8) -> Self {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        Ec {
            sk: p256::ecdsa::SigningKey::from_slice(&bytes).unwrap(),
        }
    }
    fn point(&self) -> Vec<u8> {
        self.sk
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }
    fn jwk(&self, kid: Option<&str>) -> Value {
        let p = self.sk.verifying_key().to_encoded_point(false);
        let mut jwk = json!({"kty": "EC", "crv": "P-256",
            "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())});
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }
    fn sign(&self, header: &Value, claims: &Value) -> (String, Vec<u8>) {
        let input = input(header, claims);
        let sig: p256::ecdsa::Signature = self.sk.sign(input.as_bytes());
        let sig = sig.to_bytes().to_vec();
        (format!("{input}.{}", b64(&sig)), sig)
    }
}

/// The default replay store in its steady state at `PROOFS_PER_SECOND`: the last proof
/// window's proofs are in it, expiring over the window that starts at `NOW`, so that
/// with the clock moving at that rate as many expire as come in.
fn steady_store() -> InMemoryReplayStore {
    let store = InMemoryReplayStore::default();
    let ttl = PROOF_WINDOW + 1;
    for i in 0..ttl * PROOFS_PER_SECOND {
        let key = ReplayKey::new("earlier-client", &i.to_string());
        let at = NOW - ttl + i / PROOFS_PER_SECOND;
        assert_eq!(run(store.check_and_record(key, ttl, at)), Ok(true));
    }
    store
}

fn validator(jwk: Value, clock: Arc<ManualClock>, store: InMemoryReplayStore) -> Validator {
    let keys: JwkSet = serde_json::from_value(json!({ "keys": [jwk] })).unwrap();
    Validator::discover(ISS)
        .audience("todo-api")
        .static_keys(keys)
        .clock(clock)
        .public_url("https://api.example.com")
        .replay_store(Arc::new(store))
        .build_lazy()
        .unwrap()
}

/// The DPoP benchmark's request rate in clock time: with the default proof window the
/// replay store holds about 45,000 live proofs, within its default capacity.
const PROOFS_PER_SECOND: u64 = 500;
/// The validator's default DPoP proof window in seconds: a proof's maximum age (60 s)
/// and the clock leeway (30 s).
const PROOF_WINDOW: u64 = 90;

/// Runs a validation to completion. With static keys and the in-process replay store
/// nothing waits, so one poll finishes it: no runtime cost enters the measurement (in a
/// server the handler is already running on one).
fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    f.now_or_never()
        .expect("the validation completes without waiting")
}

fn bench(c: &mut Criterion) {
    // RS256.
    let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public = rsa.to_public_key();
    let (n, e) = (public.n().to_bytes_be(), public.e().to_bytes_be());
    let rs_jwk = json!({"kty": "RSA", "kid": "r", "n": b64(&n), "e": b64(&e)});
    let rs_input = input(
        &json!({"alg": "RS256", "kid": "r", "typ": "at+jwt"}),
        &claims(json!({})),
    );
    let rs_sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa)
        .sign(rs_input.as_bytes())
        .to_vec();
    let rs_token = format!("{rs_input}.{}", b64(&rs_sig));
    let rs_validator = validator(
        rs_jwk,
        Arc::new(ManualClock::new(NOW)),
        InMemoryReplayStore::default(),
    );
    assert!(run(rs_validator.validate::<NoAdditionalClaims>(&rs_token)).is_ok());
    // The bare verifications use keys parsed once, as fast as the library goes.
    c.bench_function("bare verify RS256 (aws-lc-rs)", |b| {
        let key = RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .unwrap();
        b.iter(|| {
            key.verify_sig(black_box(rs_input.as_bytes()), black_box(&rs_sig))
                .unwrap()
        })
    });
    c.bench_function("full check Bearer RS256", |b| {
        b.iter(|| run(rs_validator.validate::<NoAdditionalClaims>(black_box(&rs_token))).unwrap())
    });

    // ES256.
    let idp = Ec::new(7);
    let es_header = json!({"alg": "ES256", "kid": "e", "typ": "at+jwt"});
    let (es_token, es_sig) = idp.sign(&es_header, &claims(json!({})));
    let es_input = es_token.rsplit_once('.').unwrap().0.to_owned();
    let clock = Arc::new(ManualClock::new(NOW));
    let es_validator = validator(idp.jwk(Some("e")), Arc::clone(&clock), steady_store());
    assert!(run(es_validator.validate::<NoAdditionalClaims>(&es_token)).is_ok());
    let point = idp.point();
    c.bench_function("bare verify ES256 (aws-lc-rs)", |b| {
        let key = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point).unwrap();
        b.iter(|| {
            key.verify_sig(black_box(es_input.as_bytes()), black_box(&es_sig))
                .unwrap()
        })
    });
    // A DPoP proof's key is new to the server: parsed for its one use.
    c.bench_function("bare verify ES256, key parsed per call (aws-lc-rs)", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, black_box(&point))
                .verify(black_box(es_input.as_bytes()), black_box(&es_sig))
                .unwrap()
        })
    });
    c.bench_function("full check Bearer ES256", |b| {
        b.iter(|| run(es_validator.validate::<NoAdditionalClaims>(black_box(&es_token))).unwrap())
    });

    // DPoP: an ES256 token bound to an ES256 proof key; a fresh proof per request
    // (made outside the measurement), so the replay store records each one.
    let holder = Ec::new(9);
    let jwk: Jwk = serde_json::from_value(holder.jwk(None)).unwrap();
    let jkt = jwk.thumbprint().unwrap();
    let (bound, bound_sig) = idp.sign(
        &es_header,
        &claims(json!({"cnf": {"jkt": jkt}, "exp": NOW + 86_400})),
    );
    let ath = access_token_hash(&bound);
    let proof_header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": holder.jwk(None)});
    let mut counter = 0u64;
    let mut proof = || {
        counter += 1;
        if counter.is_multiple_of(PROOFS_PER_SECOND) {
            clock.advance(1);
        }
        let claims = json!({"jti": format!("p{counter}"), "htm": "GET", "htu": URL,
            "iat": NOW + counter / PROOFS_PER_SECOND, "ath": ath});
        holder.sign(&proof_header, &claims)
    };
    let (first, _) = proof();
    assert!(
        run(es_validator.validate_dpop::<NoAdditionalClaims>(&bound, &first, "GET", URL)).is_ok()
    );
    c.bench_function("full check DPoP ES256 + proof ES256", |b| {
        b.iter_batched(
            &mut proof,
            |(p, _)| {
                run(es_validator.validate_dpop::<NoAdditionalClaims>(
                    black_box(&bound),
                    black_box(&p),
                    "GET",
                    URL,
                ))
                .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    // Its two bare verifications under the same conditions: a fresh proof each time,
    // made between batches (which leaves the caches as cold as for the full check).
    let bound_input = bound.rsplit_once('.').unwrap().0.to_owned();
    let holder_point = holder.point();
    c.bench_function(
        "bare verifies for DPoP: token ES256 + proof ES256, key parsed per call (aws-lc-rs)",
        |b| {
            let token_key =
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point).unwrap();
            b.iter_batched(
                &mut proof,
                |(p, sig)| {
                    token_key
                        .verify_sig(black_box(bound_input.as_bytes()), black_box(&bound_sig))
                        .unwrap();
                    let input = black_box(&p).rsplit_once('.').unwrap().0;
                    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &holder_point)
                        .verify(input.as_bytes(), black_box(&sig))
                        .unwrap()
                },
                BatchSize::SmallInput,
            )
        },
    );
}

/// The in-process replay store alone, in its steady state at `PROOFS_PER_SECOND`.
fn replay_store(c: &mut Criterion) {
    let ttl = PROOF_WINDOW + 1;
    let store = steady_store();
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        let at = NOW + n / PROOFS_PER_SECOND;
        (ReplayKey::new("client", &n.to_string()), at)
    };
    c.bench_function("replay store, steady state", |b| {
        b.iter_batched(
            &mut next,
            |(key, at)| assert_eq!(run(store.check_and_record(key, ttl, at)), Ok(true)),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench, replay_store);
criterion_main!(benches);
