//! Validation rules of the core, each with a failing case, plus RFC vectors.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::jose::{
    dangerous, Algorithm, AlgorithmPolicy, JoseError, Jwk, JwkSet, RustCryptoVerifier,
    UnverifiedJws,
};
use super::*;
use crate::test_support::{rsa_jwk, rsa_sign, set, EcKey};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://idp.example";

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/vectors/jose.json")).unwrap()
}

fn vector_jwk(v: &serde_json::Value) -> Jwk {
    serde_json::from_value(v["jwk"].clone()).unwrap()
}

fn verify_vector(name: &str) -> Result<(), JoseError> {
    let v = &vectors()[name];
    let jws = UnverifiedJws::parse(v["jws"].as_str().unwrap())?;
    jws.verify(
        &set(&[vector_jwk(v)]),
        &AlgorithmPolicy::default(),
        &RustCryptoVerifier,
    )
    .map(|_| ())
}

// RFC 7515 appendix A.2 (RS256), A.3 (ES256); RFC 7520 section 4.1 (RS256 with kid);
// RFC 8037 appendix A.4 (EdDSA).
#[test]
fn rfc_signature_vectors_verify() {
    for name in [
        "rfc7515_a2_rs256",
        "rfc7515_a3_es256",
        "rfc7520_4_1_rs256",
        "rfc8037_a4_eddsa",
    ] {
        verify_vector(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn rfc_vectors_fail_when_tampered() {
    for name in ["rfc7515_a2_rs256", "rfc7515_a3_es256", "rfc8037_a4_eddsa"] {
        let v = &vectors()[name];
        let token = v["jws"].as_str().unwrap();
        // Flip one payload character: the signature no longer covers the input.
        let (head, rest) = token.split_once('.').unwrap();
        let mut payload: Vec<char> = rest.chars().collect();
        payload[3] = if payload[3] == 'A' { 'B' } else { 'A' };
        let tampered = format!("{head}.{}", payload.into_iter().collect::<String>());
        let jws = UnverifiedJws::parse(&tampered).unwrap();
        let err = jws
            .verify(
                &set(&[vector_jwk(v)]),
                &AlgorithmPolicy::default(),
                &RustCryptoVerifier,
            )
            .unwrap_err();
        assert_eq!(err, JoseError::InvalidSignature, "{name}");
    }
}

// RFC 7520 section 4.3: ES512 is not supported, and says so.
#[test]
fn unsupported_alg_is_typed() {
    let v = &vectors()["rfc7520_4_3_es512"];
    assert_eq!(
        UnverifiedJws::parse(v["jws"].as_str().unwrap()).unwrap_err(),
        JoseError::UnsupportedAlg("ES512".into())
    );
}

// RFC 7515 A.1 (HS256) and A.5 (unsecured): refused at parse time (RFC 8725 3.1, 3.2).
#[test]
fn hmac_and_none_are_refused() {
    let v = vectors();
    assert_eq!(
        UnverifiedJws::parse(v["rfc7515_a1_hs256"]["jws"].as_str().unwrap()).unwrap_err(),
        JoseError::SymmetricAlg("HS256".into())
    );
    assert_eq!(
        UnverifiedJws::parse(v["rfc7515_a5_unsecured"]["jws"].as_str().unwrap()).unwrap_err(),
        JoseError::AlgNone
    );
}

// RFC 7638 section 3.1 and RFC 8037 appendix A.3.
#[test]
fn rfc_thumbprints() {
    let v = vectors();
    for name in ["rfc7638_3_1", "rfc8037_a3_thumbprint"] {
        let jwk = vector_jwk(&v[name]);
        assert_eq!(
            jwk.thumbprint().unwrap(),
            v[name]["thumbprint"].as_str().unwrap(),
            "{name}"
        );
    }
    let key = EcKey::new(3, "k");
    let mut other = key.jwk();
    other.kid = Some("different kid, same key".into());
    assert_eq!(key.jwk().thumbprint().unwrap(), other.thumbprint().unwrap());
}

#[test]
fn malformed_jws_is_typed() {
    assert_eq!(
        UnverifiedJws::parse("a.b").unwrap_err(),
        JoseError::PartCount(2)
    );
    assert_eq!(
        UnverifiedJws::parse("a.b.c.d").unwrap_err(),
        JoseError::PartCount(4)
    );
    assert!(matches!(
        UnverifiedJws::parse("e=.e30.AA").unwrap_err(),
        JoseError::Base64 { part: "header", .. }
    ));
    let h = b64::encode(b"{\"alg\":");
    assert!(matches!(
        UnverifiedJws::parse(&format!("{h}.e30.AA")).unwrap_err(),
        JoseError::Json { part: "header", .. }
    ));
    let h = b64::encode(b"{\"typ\":\"JWT\"}");
    assert!(matches!(
        UnverifiedJws::parse(&format!("{h}.e30.AA")).unwrap_err(),
        JoseError::Json { part: "header", .. }
    ));
    let h = b64::encode(b"{\"alg\":\"ES256\"}");
    assert!(matches!(
        UnverifiedJws::parse(&format!("{h}.e30.A")).unwrap_err(),
        JoseError::Base64 {
            part: "signature",
            ..
        }
    ));
    assert!(matches!(
        UnverifiedJws::parse(&format!("{h}.%%.AA")).unwrap_err(),
        JoseError::Base64 {
            part: "payload",
            ..
        }
    ));
}

#[test]
fn crit_header_is_refused() {
    let key = EcKey::new(1, "k1");
    let token = key.sign(&json!({"alg":"ES256","crit":["exp"],"exp":1}), &json!({}));
    assert_eq!(
        UnverifiedJws::parse(&token).unwrap_err(),
        JoseError::UnsupportedCrit("exp".into())
    );
}

#[test]
fn key_selection_rules() {
    let a = EcKey::new(1, "a");
    let b = EcKey::new(2, "b");
    let keys = set(&[a.jwk(), b.jwk()]);
    let policy = AlgorithmPolicy::default();
    // By kid.
    let t = b.jwt(None, &json!({"x":1}));
    let ok = UnverifiedJws::parse(&t)
        .unwrap()
        .verify(&keys, &policy, &RustCryptoVerifier)
        .unwrap();
    assert_eq!(ok.claims::<serde_json::Value>().unwrap()["x"], 1);
    // Unknown kid.
    let c = EcKey::new(3, "c");
    let t = c.jwt(None, &json!({}));
    assert_eq!(
        UnverifiedJws::parse(&t)
            .unwrap()
            .verify(&keys, &policy, &RustCryptoVerifier)
            .unwrap_err(),
        JoseError::UnknownKid("c".into())
    );
    // No kid with several fitting keys.
    let t = a.sign(&json!({"alg":"ES256"}), &json!({}));
    assert_eq!(
        UnverifiedJws::parse(&t)
            .unwrap()
            .verify(&keys, &policy, &RustCryptoVerifier)
            .unwrap_err(),
        JoseError::AmbiguousKey
    );
    // No kid, and beside the good key one whose members are invalid (RFC 7517
    // section 5: ignored) or too weak: the good key is the only candidate.
    let by_b = b.sign(&json!({"alg":"ES256"}), &json!({}));
    let bad_point = json!({"kty": "EC", "crv": "P-256", "x": "!!", "y": "!!"});
    let short_point = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"});
    for bad in [bad_point, short_point] {
        let keys = set(&[serde_json::from_value(bad).unwrap(), b.jwk()]);
        assert!(UnverifiedJws::parse(&by_b)
            .unwrap()
            .verify(&keys, &policy, &RustCryptoVerifier)
            .is_ok());
    }
    // No kid with one fitting key: accepted.
    assert!(UnverifiedJws::parse(&t)
        .unwrap()
        .verify(&set(&[a.jwk(), rsa_jwk("r")]), &policy, &RustCryptoVerifier)
        .is_ok());
    // A key of another type never fits (no algorithm confusion).
    assert_eq!(
        UnverifiedJws::parse(&t)
            .unwrap()
            .verify(&set(&[rsa_jwk("r")]), &policy, &RustCryptoVerifier)
            .unwrap_err(),
        JoseError::NoMatchingKey(Algorithm::ES256)
    );
    // An encryption key is not used for signatures.
    let mut enc = a.jwk();
    enc.use_ = Some("enc".into());
    assert_eq!(
        UnverifiedJws::parse(&t)
            .unwrap()
            .verify(&set(&[enc]), &policy, &RustCryptoVerifier)
            .unwrap_err(),
        JoseError::NoMatchingKey(Algorithm::ES256)
    );
}

#[test]
fn alg_allow_list_is_enforced() {
    let a = EcKey::new(1, "a");
    let t = a.jwt(None, &json!({}));
    let err = UnverifiedJws::parse(&t)
        .unwrap()
        .verify(
            &set(&[a.jwk()]),
            &AlgorithmPolicy::only([Algorithm::RS256]),
            &RustCryptoVerifier,
        )
        .unwrap_err();
    assert_eq!(err, JoseError::AlgNotAllowed(Algorithm::ES256));
}

#[test]
fn rsa_pkcs1_and_pss_verify_and_fail_when_tampered() {
    let keys = set(&[rsa_jwk("r")]);
    for alg in ["RS256", "PS256"] {
        let t = rsa_sign(alg, "r", &json!({"a": 1}));
        assert!(UnverifiedJws::parse(&t)
            .unwrap()
            .verify(&keys, &AlgorithmPolicy::default(), &RustCryptoVerifier)
            .is_ok());
        let mut sig = b64::decode(t.rsplit('.').next().unwrap()).unwrap();
        sig[10] ^= 1;
        let (input, _) = t.rsplit_once('.').unwrap();
        let bad = format!("{input}.{}", b64::encode(&sig));
        assert_eq!(
            UnverifiedJws::parse(&bad)
                .unwrap()
                .verify(&keys, &AlgorithmPolicy::default(), &RustCryptoVerifier)
                .unwrap_err(),
            JoseError::InvalidSignature,
            "{alg}"
        );
    }
}

#[test]
fn weak_rsa_key_is_refused() {
    let jwk: Jwk =
        serde_json::from_value(json!({"kty":"RSA","n": b64::encode(&[0xff; 128]),"e":"AQAB"}))
            .unwrap();
    let t = rsa_sign("RS256", "r", &json!({}));
    let err = UnverifiedJws::parse(&t)
        .unwrap()
        .verify_with_key(&jwk, &AlgorithmPolicy::default(), &RustCryptoVerifier)
        .unwrap_err();
    assert!(
        matches!(err, JoseError::InvalidKey(ref m) if m.contains("1024 bits")),
        "{err}"
    );
}

/// A verifier that accepts every signature, as a platform verifier that does not look
/// at key sizes would: the core's own rules must still refuse weak keys.
struct AcceptAll;

impl super::jose::SignatureVerifier for AcceptAll {
    fn verify(&self, _: Algorithm, _: &Jwk, _: &[u8], _: &[u8]) -> Result<(), JoseError> {
        Ok(())
    }
}

impl super::jose::AsyncSignatureVerifier for AcceptAll {
    fn verify(
        &self,
        _: Algorithm,
        _: &Jwk,
        _: &[u8],
        _: &[u8],
    ) -> impl std::future::Future<Output = Result<(), JoseError>> {
        std::future::ready(Ok(()))
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the test future is always ready"),
    }
}

#[test]
fn weak_rsa_key_is_refused_by_key_selection() {
    // RFC 7518 section 3.3: RSA keys of 2048 bits or more.
    let weak: Jwk = serde_json::from_value(
        json!({"kty":"RSA","kid":"w","n": b64::encode(&[0xff; 255]),"e":"AQAB"}),
    )
    .unwrap();
    assert_eq!(weak.rsa_modulus_bits().unwrap(), 2040);
    let mut n = vec![0u8; 257];
    n[1] = 0x80;
    let strong: Jwk =
        serde_json::from_value(json!({"kty":"RSA","kid":"s","n": b64::encode(&n),"e":"AQAB"}))
            .unwrap();
    assert_eq!(strong.rsa_modulus_bits().unwrap(), 2048);
    let token = |kid: Option<&str>| {
        let mut h = json!({"alg":"RS256"});
        if let Some(k) = kid {
            h["kid"] = k.into();
        }
        format!(
            "{}.{}.AAAA",
            b64::encode(h.to_string().as_bytes()),
            b64::encode(b"{}")
        )
    };
    let policy = AlgorithmPolicy::default();
    let refused = JoseError::InvalidKey("RSA key of 2040 bits is below 2048".into());
    for kid in [Some("w"), None] {
        let jws = UnverifiedJws::parse(&token(kid)).unwrap();
        assert_eq!(
            jws.select_key(&set(std::slice::from_ref(&weak))),
            Err(refused.clone())
        );
        assert_eq!(
            jws.clone()
                .verify(&set(std::slice::from_ref(&weak)), &policy, &AcceptAll)
                .unwrap_err(),
            refused
        );
        assert_eq!(
            block_on(jws.clone().verify_async(
                &set(std::slice::from_ref(&weak)),
                &policy,
                &AcceptAll
            ))
            .unwrap_err(),
            refused
        );
        assert_eq!(
            jws.verify_with_key(&weak, &policy, &AcceptAll).unwrap_err(),
            refused
        );
    }
    let jws = UnverifiedJws::parse(&token(Some("s"))).unwrap();
    assert!(block_on(jws.verify_async(&set(&[strong, weak]), &policy, &AcceptAll)).is_ok());
}

#[test]
fn jwks_keeps_unknown_key_types_out_of_selection() {
    let doc = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "ok"},
        {"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "kid": "ok", "x5c": ["MII"]},
    ]});
    let keys = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(keys.keys.len(), 2);
    assert!(!keys.keys[0].fits(Algorithm::ES256));
    assert!(keys.keys[1].fits(Algorithm::ES256));
    assert!(matches!(
        JwkSet::from_json(b"nope"),
        Err(JoseError::Json { .. })
    ));
    // RFC 7517 section 5: malformed keys are ignored, not fatal to the set.
    assert_eq!(
        JwkSet::from_json(br#"{"keys": [{"kty": 5}]}"#).unwrap(),
        JwkSet::default()
    );
    let private =
        Jwk::from_json(br#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}"#).unwrap();
    assert!(private.is_private());
    assert!(!serde_json::to_string(&private).unwrap().contains("secret"));
}

#[test]
fn jwks_skips_malformed_keys_and_keeps_good_ones() {
    // RFC 7517 section 5: implementations SHOULD ignore JWKs with members they do not
    // understand or that are invalid; the other keys of the set stay usable.
    let good = EcKey::new(1, "good");
    let doc = json!({"keys": [
        {"kty": 5, "kid": "bad-type"},
        "not an object",
        7,
        null,
        {"kty": "RSA", "kid": "bad-n", "n": 12, "e": "AQAB"},
        {"kid": "no-kty"},
        good.jwk(),
        {"kty": "EC", "crv": ["P-256"], "x": "a", "y": "b"},
    ]});
    let keys = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].kid.as_deref(), Some("good"));
    let t = good.jwt(None, &json!({"ok": true}));
    assert!(UnverifiedJws::parse(&t)
        .unwrap()
        .verify(&keys, &AlgorithmPolicy::default(), &RustCryptoVerifier)
        .is_ok());
    // The document itself must still be a JSON object with a `keys` array.
    for bad in [
        &b"not json"[..],
        b"{}",
        br#"{"keys": {}}"#,
        br#"{"keys": "x"}"#,
        b"[]",
        br#"{"keys": [1, 2"#,
    ] {
        assert!(
            matches!(JwkSet::from_json(bad), Err(JoseError::Json { .. })),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn dangerous_decode_reads_without_verifying() {
    let t = EcKey::new(1, "a").jwt(None, &json!({"sub":"x"}));
    let claims: serde_json::Value = dangerous::insecure_decode_claims(&t).unwrap();
    assert_eq!(claims["sub"], "x");
    let t = EcKey::new(1, "a").jwt(None, &json!({"iat": NOW, "exp": NOW as f64 + 60.5}));
    assert_eq!(dangerous::insecure_jwt_iat(&t), Some(NOW));
    assert_eq!(dangerous::insecure_jwt_exp(&t), Some(NOW + 60));
    let t = EcKey::new(1, "a").jwt(None, &json!({"iat": "now"}));
    assert_eq!(dangerous::insecure_jwt_iat(&t), None);
    assert_eq!(dangerous::insecure_jwt_iat("opaque-token"), None);
}

// ---- ID token (OIDC Core 3.1.3.7) ----

fn id_claims() -> serde_json::Value {
    json!({
        "iss": ISS, "sub": "alice", "aud": "spa", "exp": NOW + 300, "iat": NOW - 10,
        "nonce": "n-1", "name": "Alice", "groups": ["admin"],
    })
}

fn validate_id(token: &str, keys: &JwkSet) -> Result<IdTokenClaims, IdTokenError> {
    IdTokenValidator::new(ISS, "spa").validate(
        token,
        keys,
        &RustCryptoVerifier,
        Some(&Nonce::new("n-1")),
        NOW,
    )
}

fn with(mut v: serde_json::Value, k: &str, x: serde_json::Value) -> serde_json::Value {
    if x.is_null() {
        v.as_object_mut().unwrap().remove(k);
    } else {
        v[k] = x;
    }
    v
}

#[test]
fn id_token_valid_with_typed_claims() {
    #[derive(serde::Deserialize, Debug)]
    struct Groups {
        groups: Vec<String>,
        // A standard claim the app's type names too.
        name: Option<String>,
    }
    let key = EcKey::new(1, "k");
    let t = key.jwt(Some("JWT"), &id_claims());
    let c: IdTokenClaims<Groups> = IdTokenValidator::new(ISS, "spa")
        .validate(
            &t,
            &set(&[key.jwk()]),
            &RustCryptoVerifier,
            Some(&Nonce::new("n-1")),
            NOW,
        )
        .unwrap();
    assert_eq!(c.standard.sub, "alice");
    assert_eq!(c.standard.display_name(), "Alice");
    assert_eq!(c.additional.groups, ["admin"]);
    assert_eq!(c.additional.name.as_deref(), Some("Alice"));
}

#[test]
fn id_token_rs256_valid() {
    let t = rsa_sign("RS256", "r", &id_claims());
    assert!(validate_id(&t, &set(&[rsa_jwk("r")])).is_ok());
}

#[test]
fn id_token_rules_each_fail() {
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let check = |claims: serde_json::Value| validate_id(&key.jwt(None, &claims), &keys);
    use IdTokenError as E;
    assert_eq!(
        check(with(id_claims(), "exp", json!(NOW - 61))),
        Err(E::Expired)
    );
    assert!(
        check(with(id_claims(), "exp", json!(NOW - 59))).is_ok(),
        "within leeway"
    );
    assert_eq!(
        check(with(id_claims(), "exp", json!(null))),
        Err(E::MissingClaim("exp"))
    );
    assert_eq!(
        check(with(id_claims(), "iss", json!("https://evil"))),
        Err(E::IssuerMismatch("https://evil".into()))
    );
    assert_eq!(
        check(with(id_claims(), "iss", json!("https://idp.example/"))),
        Err(E::IssuerMismatch("https://idp.example/".into()))
    );
    assert_eq!(
        check(with(id_claims(), "aud", json!("other"))),
        Err(E::AudienceMismatch)
    );
    assert_eq!(
        check(with(id_claims(), "aud", json!(["spa", "x"]))),
        Err(E::UntrustedAudience("x".into()))
    );
    assert_eq!(
        check(with(id_claims(), "azp", json!("other"))),
        Err(E::AzpMismatch("other".into()))
    );
    assert_eq!(
        check(with(id_claims(), "nonce", json!("n-2"))),
        Err(E::NonceMismatch)
    );
    assert_eq!(
        check(with(id_claims(), "nonce", json!(null))),
        Err(E::NonceMismatch)
    );
    assert_eq!(
        check(with(id_claims(), "iat", json!(NOW + 120))),
        Err(E::IssuedInFuture)
    );
    assert_eq!(
        check(with(id_claims(), "iat", json!(null))),
        Err(E::MissingClaim("iat"))
    );
    assert_eq!(
        check(with(id_claims(), "sub", json!(""))),
        Err(E::MissingClaim("sub"))
    );
    assert!(matches!(
        check(with(id_claims(), "exp", json!("soon"))),
        Err(E::Malformed(_))
    ));
    assert!(matches!(
        check(with(id_claims(), "sub", json!(null))),
        Err(E::Malformed(_))
    ));
}

#[test]
fn id_token_multiple_audiences_need_trust_and_azp() {
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let v = IdTokenValidator::new(ISS, "spa").trusted_audience("api");
    let t = key.jwt(None, &with(id_claims(), "aud", json!(["spa", "api"])));
    assert_eq!(
        v.validate::<NoAdditionalClaims>(
            &t,
            &keys,
            &RustCryptoVerifier,
            Some(&Nonce::new("n-1")),
            NOW
        ),
        Err(IdTokenError::MissingClaim("azp"))
    );
    let t = key.jwt(
        None,
        &with(
            with(id_claims(), "aud", json!(["spa", "api"])),
            "azp",
            json!("spa"),
        ),
    );
    assert!(v
        .validate::<NoAdditionalClaims>(
            &t,
            &keys,
            &RustCryptoVerifier,
            Some(&Nonce::new("n-1")),
            NOW
        )
        .is_ok());
}

#[test]
fn id_token_signature_rules_fail() {
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    // alg none
    let none = format!(
        "{}.{}.",
        b64::encode(br#"{"alg":"none"}"#),
        b64::encode(id_claims().to_string().as_bytes())
    );
    assert_eq!(
        validate_id(&none, &keys),
        Err(IdTokenError::Jose(JoseError::AlgNone))
    );
    // HS256 with the public key as secret
    let hs = format!(
        "{}.{}.AAAA",
        b64::encode(br#"{"alg":"HS256","kid":"k"}"#),
        b64::encode(id_claims().to_string().as_bytes())
    );
    assert_eq!(
        validate_id(&hs, &keys),
        Err(IdTokenError::Jose(JoseError::SymmetricAlg("HS256".into())))
    );
    // signed by another key with the same kid
    let impostor = EcKey::new(9, "k");
    assert_eq!(
        validate_id(&impostor.jwt(None, &id_claims()), &keys),
        Err(IdTokenError::Jose(JoseError::InvalidSignature))
    );
    // unknown kid
    assert_eq!(
        validate_id(&EcKey::new(1, "other").jwt(None, &id_claims()), &keys),
        Err(IdTokenError::Jose(JoseError::UnknownKid("other".into())))
    );
    // payload swapped under a valid signature
    let good = key.jwt(None, &id_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = b64::encode(
        with(id_claims(), "sub", json!("mallory"))
            .to_string()
            .as_bytes(),
    );
    assert_eq!(
        validate_id(&format!("{}.{forged}.{}", parts[0], parts[2]), &keys),
        Err(IdTokenError::Jose(JoseError::InvalidSignature))
    );
    // payload not JSON
    let t = key.sign(&json!({"alg":"ES256","kid":"k"}), &json!("text"));
    assert!(matches!(
        validate_id(&t, &keys),
        Err(IdTokenError::Malformed(_))
    ));
}

#[test]
fn refreshed_id_token_must_keep_identity() {
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let first = validate_id(&key.jwt(None, &id_claims()), &keys).unwrap();
    let v = IdTokenValidator::new(ISS, "spa");
    let same: IdTokenClaims = v
        .validate(
            &key.jwt(None, &with(id_claims(), "nonce", json!(null))),
            &keys,
            &RustCryptoVerifier,
            None,
            NOW,
        )
        .unwrap();
    assert!(check_refresh_continuity(&first, &same).is_ok());
    let other: IdTokenClaims = v
        .validate(
            &key.jwt(None, &with(id_claims(), "sub", json!("bob"))),
            &keys,
            &RustCryptoVerifier,
            None,
            NOW,
        )
        .unwrap();
    assert_eq!(
        check_refresh_continuity(&first, &other),
        Err(IdTokenError::RefreshMismatch("sub"))
    );
}

#[test]
fn id_token_nbf_is_checked_with_leeway() {
    // RFC 7519 section 4.1.5: the token must not be accepted before nbf.
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let check = |claims: serde_json::Value| validate_id(&key.jwt(None, &claims), &keys);
    assert_eq!(
        check(with(id_claims(), "nbf", json!(NOW + 61))),
        Err(IdTokenError::NotYetValid)
    );
    assert!(check(with(id_claims(), "nbf", json!(NOW + 59))).is_ok());
    assert!(check(with(id_claims(), "nbf", json!(NOW - 10))).is_ok());
    assert!(matches!(
        check(with(id_claims(), "nbf", json!("later"))),
        Err(IdTokenError::Malformed(_))
    ));
}

#[test]
fn id_token_max_age_requires_recent_auth_time() {
    // OIDC Core 3.1.2.1 and 3.1.3.7 step 13.
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let v = IdTokenValidator::new(ISS, "spa").max_age(Some(600));
    let check = |claims: serde_json::Value| {
        v.validate::<NoAdditionalClaims>(
            &key.jwt(None, &claims),
            &keys,
            &RustCryptoVerifier,
            Some(&Nonce::new("n-1")),
            NOW,
        )
    };
    assert_eq!(
        check(id_claims()),
        Err(IdTokenError::MissingClaim("auth_time"))
    );
    // auth_time + max_age + leeway (60) >= now
    assert!(check(with(id_claims(), "auth_time", json!(NOW - 660))).is_ok());
    assert_eq!(
        check(with(id_claims(), "auth_time", json!(NOW - 661))),
        Err(IdTokenError::AuthenticationTooOld)
    );
    // Without max_age, auth_time is neither required nor checked.
    assert!(validate_id(&key.jwt(None, &id_claims()), &keys).is_ok());
    assert!(validate_id(
        &key.jwt(None, &with(id_claims(), "auth_time", json!(NOW - 100_000))),
        &keys
    )
    .is_ok());
}

#[test]
fn id_token_trusted_audiences() {
    // OIDC Core 3.1.3.7 step 3: other audiences are accepted only when trusted.
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let claims = with(
        with(id_claims(), "aud", json!(["spa", "api", "web"])),
        "azp",
        json!("spa"),
    );
    let t = key.jwt(None, &claims);
    let run = |v: IdTokenValidator| {
        v.validate::<NoAdditionalClaims>(
            &t,
            &keys,
            &RustCryptoVerifier,
            Some(&Nonce::new("n-1")),
            NOW,
        )
    };
    assert_eq!(
        run(IdTokenValidator::new(ISS, "spa")),
        Err(IdTokenError::UntrustedAudience("api".into()))
    );
    assert_eq!(
        run(IdTokenValidator::new(ISS, "spa").trusted_audience("api")),
        Err(IdTokenError::UntrustedAudience("web".into()))
    );
    assert!(run(IdTokenValidator::new(ISS, "spa").trusted_audiences(["api", "web"])).is_ok());
    // Trusting an audience never replaces the client: aud must still contain it.
    let t = key.jwt(None, &with(claims.clone(), "aud", json!(["api"])));
    assert_eq!(
        IdTokenValidator::new(ISS, "spa")
            .trusted_audience("api")
            .validate::<NoAdditionalClaims>(
                &t,
                &keys,
                &RustCryptoVerifier,
                Some(&Nonce::new("n-1")),
                NOW
            ),
        Err(IdTokenError::AudienceMismatch)
    );
}

fn refresh_claims(v: serde_json::Value) -> IdTokenClaims {
    serde_json::from_value(v).unwrap()
}

#[test]
fn refresh_continuity_rules_each_fail() {
    // OIDC Core 12.2.
    let base = with(
        with(id_claims(), "auth_time", json!(NOW - 100)),
        "azp",
        json!("spa"),
    );
    let original = refresh_claims(base.clone());
    let check = |v: serde_json::Value| check_refresh_continuity(&original, &refresh_claims(v));
    use IdTokenError::RefreshMismatch as M;
    // iat and exp may differ; nonce and auth_time may be absent.
    assert!(check(with(
        with(base.clone(), "iat", json!(NOW + 5)),
        "exp",
        json!(NOW + 900)
    ))
    .is_ok());
    assert!(check(with(base.clone(), "nonce", json!(null))).is_ok());
    assert!(check(with(base.clone(), "auth_time", json!(null))).is_ok());
    // aud compares as a set.
    let two = with(base.clone(), "aud", json!(["spa", "api"]));
    let original_two = refresh_claims(two.clone());
    assert!(check_refresh_continuity(
        &original_two,
        &refresh_claims(with(two.clone(), "aud", json!(["api", "spa"])))
    )
    .is_ok());
    assert_eq!(
        check_refresh_continuity(
            &original_two,
            &refresh_claims(with(two, "aud", json!(["spa"])))
        ),
        Err(M("aud"))
    );
    assert_eq!(
        check(with(base.clone(), "iss", json!("https://other"))),
        Err(M("iss"))
    );
    assert_eq!(
        check(with(base.clone(), "sub", json!("bob"))),
        Err(M("sub"))
    );
    assert_eq!(
        check(with(base.clone(), "aud", json!(["spa", "x"]))),
        Err(M("aud"))
    );
    assert_eq!(
        check(with(base.clone(), "azp", json!("other"))),
        Err(M("azp"))
    );
    assert_eq!(check(with(base.clone(), "azp", json!(null))), Err(M("azp")));
    assert_eq!(
        check_refresh_continuity(
            &refresh_claims(with(base.clone(), "azp", json!(null))),
            &original
        ),
        Err(M("azp"))
    );
    assert_eq!(
        check(with(base.clone(), "auth_time", json!(NOW))),
        Err(M("auth_time"))
    );
    assert_eq!(
        check(with(base.clone(), "nonce", json!("n-2"))),
        Err(M("nonce"))
    );
    assert_eq!(
        check_refresh_continuity(
            &refresh_claims(with(base.clone(), "nonce", json!(null))),
            &original
        ),
        Err(M("nonce"))
    );
}

#[test]
fn jws_debug_shows_no_payload_or_signature() {
    let key = EcKey::new(1, "k");
    let t = key.jwt(None, &json!({"secret_claim": "the-secret-value"}));
    let jws = UnverifiedJws::parse(&t).unwrap();
    let shown = format!("{jws:?}");
    assert!(shown.contains("ES256"), "{shown}");
    let payload = t.split('.').nth(1).unwrap();
    let signature = t.split('.').nth(2).unwrap();
    assert!(!shown.contains("the-secret-value"), "{shown}");
    assert!(!shown.contains(payload), "{shown}");
    assert!(!shown.contains(signature), "{shown}");
    let verified = jws
        .verify(
            &set(&[key.jwk()]),
            &AlgorithmPolicy::default(),
            &RustCryptoVerifier,
        )
        .unwrap();
    let shown = format!("{verified:?}");
    assert!(!shown.contains("the-secret-value"), "{shown}");
}

// ---- Access token (RFC 9068 section 4) ----

fn at_claims() -> serde_json::Value {
    json!({
        "iss": ISS, "sub": "alice", "aud": "api", "exp": NOW + 300, "iat": NOW - 5,
        "jti": "j1", "client_id": "spa", "scope": "openid todos:write",
    })
}

fn validate_at(token: &str, keys: &JwkSet) -> Result<AccessTokenClaims, AccessTokenError> {
    AccessTokenValidator::new(ISS, "api").validate(token, keys, &RustCryptoVerifier, NOW)
}

#[test]
fn access_token_valid() {
    let key = EcKey::new(1, "k");
    let c = validate_at(&key.jwt(Some("at+jwt"), &at_claims()), &set(&[key.jwk()])).unwrap();
    assert_eq!(c.sub, "alice");
    assert!(c.has_scope("todos:write"));
    assert!(!c.has_scope("todos"));
    let c = validate_at(
        &key.jwt(Some("application/AT+JWT"), &at_claims()),
        &set(&[key.jwk()]),
    );
    assert!(c.is_ok());
}

#[test]
fn access_token_rules_each_fail() {
    let key = EcKey::new(1, "k");
    let keys = set(&[key.jwk()]);
    let check =
        |typ: Option<&str>, claims: serde_json::Value| validate_at(&key.jwt(typ, &claims), &keys);
    use AccessTokenError as E;
    let at = Some("at+jwt");
    assert_eq!(
        check(Some("JWT"), at_claims()),
        Err(E::WrongType("JWT".into()))
    );
    assert_eq!(check(None, at_claims()), Err(E::WrongType(String::new())));
    assert_eq!(
        check(at, with(at_claims(), "iss", json!("https://evil"))),
        Err(E::IssuerMismatch)
    );
    assert_eq!(
        check(at, with(at_claims(), "aud", json!(["other"]))),
        Err(E::AudienceMismatch)
    );
    assert_eq!(
        check(at, with(at_claims(), "aud", json!(null))),
        Err(E::AudienceMismatch)
    );
    assert_eq!(
        check(at, with(at_claims(), "exp", json!(NOW - 61))),
        Err(E::Expired)
    );
    assert_eq!(
        check(at, with(at_claims(), "exp", json!(null))),
        Err(E::MissingClaim("exp"))
    );
    assert_eq!(
        check(at, with(at_claims(), "nbf", json!(NOW + 120))),
        Err(E::NotYetValid)
    );
    assert_eq!(
        check(at, with(at_claims(), "iat", json!(NOW + 120))),
        Err(E::NotYetValid)
    );
    assert_eq!(
        check(at, with(at_claims(), "iat", json!(null))),
        Err(E::MissingClaim("iat"))
    );
    assert_eq!(
        check(at, with(at_claims(), "sub", json!(null))),
        Err(E::MissingClaim("sub"))
    );
    let other = EcKey::new(2, "k");
    assert_eq!(
        validate_at(&other.jwt(at, &at_claims()), &keys),
        Err(E::Jose(JoseError::InvalidSignature))
    );
}

#[test]
fn access_token_confirmation_is_parsed() {
    let key = EcKey::new(1, "k");
    let c = validate_at(
        &key.jwt(
            Some("at+jwt"),
            &with(at_claims(), "cnf", json!({"jkt": "abc"})),
        ),
        &set(&[key.jwk()]),
    )
    .unwrap();
    assert_eq!(c.cnf.unwrap().jkt.as_deref(), Some("abc"));
}

#[test]
fn es384_verifies_and_fails_when_tampered() {
    use p384::ecdsa::signature::Signer;
    let sk = p384::ecdsa::SigningKey::from_slice(&[5u8; 48]).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-384", "kid": "p384",
        "x": b64::encode(point.x().unwrap()), "y": b64::encode(point.y().unwrap()),
    }))
    .unwrap();
    let input = format!(
        "{}.{}",
        b64::encode(br#"{"alg":"ES384","kid":"p384"}"#),
        b64::encode(br#"{"sub":"x"}"#)
    );
    let sig: p384::ecdsa::Signature = sk.sign(input.as_bytes());
    let keys = set(&[jwk]);
    let good = format!("{input}.{}", b64::encode(&sig.to_bytes()));
    assert!(UnverifiedJws::parse(&good)
        .unwrap()
        .verify(&keys, &AlgorithmPolicy::default(), &RustCryptoVerifier)
        .is_ok());
    let mut bytes = sig.to_bytes().to_vec();
    bytes[0] ^= 1;
    let bad = format!("{input}.{}", b64::encode(&bytes));
    assert_eq!(
        UnverifiedJws::parse(&bad)
            .unwrap()
            .verify(&keys, &AlgorithmPolicy::default(), &RustCryptoVerifier)
            .unwrap_err(),
        JoseError::InvalidSignature
    );
}
