//! DPoP proofs and access tokens made by independent implementations (Node's `crypto`,
//! OpenSSL inside; the `jose` npm package) are accepted, and their RFC 7638 thumbprints
//! equal ours. Needs `node` on the `PATH`, and for `jose` the e2e tests' npm packages.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::core::jose::{Algorithm, Jwk, JwkSet};
use crate::core::{AccessTokenError, DpopError, ManualClock, NoAdditionalClaims, TokenBinding};
use crate::test_support::{set, EcKey};

/// Makes a P-256 key, prints its public JWK and thumbprint, then reads lines of
/// `method url token` and answers each with a proof (`iat` from argv).
const PROOF_MAKER: &str = r#"
const crypto = require('node:crypto');
const readline = require('node:readline');
const iat = Number(process.argv[1]);
const b64 = (b) => Buffer.from(b).toString('base64url');
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' });
const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
const jkt = b64(crypto.createHash('sha256').update(canonical).digest());
console.log(JSON.stringify({ jwk, jkt }));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [htm, htu, token] = line.split(' ');
  const ath = b64(crypto.createHash('sha256').update(token).digest());
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk };
  const claims = { jti: crypto.randomUUID(), htm, htu, iat, ath };
  const input = b64(JSON.stringify(header)) + '.' + b64(JSON.stringify(claims));
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  console.log(input + '.' + b64(sig));
});
"#;

const NOW: u64 = 1_700_000_000;

#[tokio::test]
async fn proofs_from_an_independent_implementation_are_accepted() {
    let mut node = Command::new("node")
        .args(["-e", PROOF_MAKER, &NOW.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is needed for this test (the toolchain provides it)");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let key: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let jwk: Jwk = serde_json::from_value(key["jwk"].clone()).unwrap();
    // RFC 7638: both implementations agree on the thumbprint.
    let jkt = jwk.thumbprint().unwrap();
    assert_eq!(key["jkt"], json!(jkt));

    let idp = EcKey::new(1, "k1");
    let token = idp.jwt(
        Some("at+jwt"),
        &json!({"iss": "https://idp.example", "sub": "alice", "aud": "todo-api",
                "exp": NOW + 300, "iat": NOW, "jti": "t1", "client_id": "spa",
                "cnf": {"jkt": jkt}}),
    );
    let validator = Validator::discover("https://idp.example")
        .audience("todo-api")
        .static_keys(set(&[idp.jwk()]))
        .clock(Arc::new(ManualClock::new(NOW)))
        .build_lazy()
        .unwrap();
    let mut proof = |method: &str, url: &str| {
        writeln!(stdin, "{method} {url} {token}").unwrap();
        lines.next().unwrap().unwrap()
    };
    let url = "https://api.example.com/todos";
    for method in ["GET", "POST", "DELETE"] {
        let p = proof(method, url);
        let claims = validator
            .validate_dpop::<NoAdditionalClaims>(&token, &p, method, url)
            .await
            .unwrap();
        assert_eq!(claims.sub, "alice");
        // And the same proof is refused the second time.
        assert!(validator
            .validate_dpop::<NoAdditionalClaims>(&token, &p, method, url)
            .await
            .is_err());
    }
    // A proof for another URL is refused.
    let p = proof("GET", "https://api.example.com/other");
    assert!(validator
        .validate_dpop::<NoAdditionalClaims>(&token, &p, "GET", url)
        .await
        .is_err());
    drop(stdin);
    let _ = node.wait();
}

/// Access tokens and DPoP proofs made by `jose` (tests/e2e/lib/interop-cases.mjs), one
/// case per algorithm this library accepts, for tokens and proofs alike: each bound
/// token passes with its proofs for GET, POST and DELETE (so both sides agree on the
/// RFC 7638 thumbprint of RSA, EC and OKP keys), each proof is refused the second time,
/// the bound token is refused as a bearer token, and an unbound one passes as bearer.
#[tokio::test]
async fn tokens_and_proofs_made_by_jose_are_accepted() {
    let issuer = "https://idp.example";
    let url = "https://api.example.com/todos";
    let output = Command::new("node")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e"))
        .args(["lib/interop-cases.mjs", issuer, "todo-api", url])
        .output()
        .expect("node is needed for this test (the toolchain provides it)");
    assert!(
        output.status.success(),
        "interop-cases.mjs failed (are the npm packages of tests/e2e installed? \
         scripts/lib/install.sh installs them): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let made: Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys: JwkSet = serde_json::from_value(made["jwks"].clone()).unwrap();
    let validator = Validator::discover(issuer)
        .audience("todo-api")
        .static_keys(keys)
        .build_lazy()
        .unwrap();
    let cases = made["cases"].as_array().unwrap();
    let algs: Vec<&str> = cases.iter().map(|c| c["alg"].as_str().unwrap()).collect();
    let ours: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(algs, ours, "one case per accepted algorithm");
    for case in cases {
        let alg = case["alg"].as_str().unwrap();
        let token = case["token"].as_str().unwrap();
        for p in case["proofs"].as_array().unwrap() {
            let method = p["method"].as_str().unwrap();
            let proof = p["proof"].as_str().unwrap();
            let claims = validator
                .validate_dpop::<NoAdditionalClaims>(token, proof, method, url)
                .await
                .unwrap_or_else(|e| panic!("{alg} {method}: {e}"));
            assert_eq!(claims.sub, format!("jose-{alg}"));
            let jkt = case["jkt"].as_str().unwrap();
            assert_eq!(claims.binding(), Ok(TokenBinding::Dpop { jkt }), "{alg}");
            assert_eq!(
                validator
                    .validate_dpop::<NoAdditionalClaims>(token, proof, method, url)
                    .await
                    .unwrap_err(),
                ValidationFailure::InvalidProof(DpopError::Replayed),
                "{alg} {method}"
            );
        }
        assert_eq!(
            validator
                .validate::<NoAdditionalClaims>(token)
                .await
                .unwrap_err(),
            ValidationFailure::Invalid(AccessTokenError::BoundToKey),
            "{alg}"
        );
        let bearer = case["bearer"].as_str().unwrap();
        let claims = validator
            .validate::<NoAdditionalClaims>(bearer)
            .await
            .unwrap_or_else(|e| panic!("{alg} bearer: {e}"));
        assert_eq!(claims.sub, format!("jose-{alg}"));
    }
}
