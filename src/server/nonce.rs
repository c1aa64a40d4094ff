//! Server-provided DPoP nonces (RFC 9449 section 8), stateless: a nonce is a time slot
//! and an HMAC-SHA-256 tag over it, so any instance holding the secret can check it
//! and nothing is stored.

use sha2::{Digest, Sha256};

use crate::core::b64;
use crate::core::constant_time_eq;

const BLOCK: usize = 64;
/// Bytes of the tag kept in the nonce.
const TAG: usize = 16;

fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    // RFC 2104 with a key shorter than the block: zero-padded.
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Issues and checks nonces. A nonce is valid during the slot it was issued in and the
/// next one, so for between one and two lifetimes.
#[derive(Clone)]
pub(crate) struct NonceIssuer {
    secret: [u8; 32],
    lifetime: u64,
}

impl std::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    pub(crate) fn new(secret: [u8; 32], lifetime: u64) -> Self {
        Self {
            secret,
            lifetime: lifetime.max(1),
        }
    }

    fn tag(&self, slot: u64) -> [u8; 32] {
        hmac_sha256(&self.secret, &slot.to_be_bytes())
    }

    /// A fresh nonce for time `now`.
    pub(crate) fn issue(&self, now: u64) -> String {
        let slot = now / self.lifetime;
        let mut bytes = slot.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(slot)[..TAG]);
        b64::encode(&bytes)
    }

    /// Whether `nonce` was issued by this server (same secret) recently enough.
    pub(crate) fn check(&self, nonce: &str, now: u64) -> bool {
        let Ok(bytes) = b64::decode(nonce) else {
            return false;
        };
        if bytes.len() != 8 + TAG {
            return false;
        }
        let mut slot = [0u8; 8];
        slot.copy_from_slice(&bytes[..8]);
        let slot = u64::from_be_bytes(slot);
        let current = now / self.lifetime;
        if slot != current && slot.saturating_add(1) != current {
            return false;
        }
        constant_time_eq(&bytes[8..], &self.tag(slot)[..TAG])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 section 4.2 (test case 1): a 20-byte key of 0x0b over "Hi There". RFC 2104
    // pads keys with zeros to the block size, so the same key zero-padded to 32 bytes
    // gives the same tag.
    #[test]
    fn hmac_matches_rfc_4231_test_case_1() {
        let mut key = [0u8; 32];
        key[..20].copy_from_slice(&[0x0b; 20]);
        let tag = hmac_sha256(&key, b"Hi There");
        assert_eq!(
            b64::encode(&tag),
            b64::encode(&[
                0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b,
                0xf1, 0x2b, 0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c,
                0x2e, 0x32, 0xcf, 0xf7
            ])
        );
    }

    #[test]
    fn nonces_are_valid_for_their_slot_and_the_next() {
        let issuer = NonceIssuer::new([7; 32], 300);
        let n = issuer.issue(1_000_000);
        assert!(issuer.check(&n, 1_000_000));
        assert!(issuer.check(&n, 1_000_000 + 300));
        assert!(!issuer.check(&n, 1_000_000 + 600));
        // Another server's secret, a forged slot, garbage.
        assert!(!NonceIssuer::new([8; 32], 300).check(&n, 1_000_000));
        let mut forged = b64::decode(&n).unwrap_or_default();
        forged[7] ^= 1;
        assert!(!issuer.check(&b64::encode(&forged), 1_000_000));
        assert!(!issuer.check("not a nonce", 1_000_000));
    }
}
