//! Strict base64url without padding (RFC 4648 section 5, as JOSE uses it: RFC 7515 section 2).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Error decoding base64url text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// A character outside the base64url alphabet (padding `=` included).
    #[error("invalid base64url character at offset {0}")]
    InvalidCharacter(usize),
    /// The length cannot come from encoding whole bytes (length mod 4 == 1).
    #[error("invalid base64url length")]
    InvalidLength,
    /// The last character carries bits that are not zero (non-canonical encoding).
    #[error("non-canonical base64url trailing bits")]
    TrailingBits,
}

/// Encodes bytes as base64url without padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    }))
}

/// Each byte's 6-bit value in the alphabet, or 0xff.
#[cfg(not(target_arch = "wasm32"))]
const DECODE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Native builds (a server decodes every token it sees): decodes the input's whole
/// 4-character chunks into `out`, a table lookup per character and 3 bytes at a time
/// written in place (the output is sized once, not grown per chunk), up to the first
/// chunk with a character outside the alphabet or the short last one. Returns how
/// many input bytes it consumed; the general loop does the rest and reports any error.
#[cfg(not(target_arch = "wasm32"))]
fn whole_chunks(bytes: &[u8], out: &mut Vec<u8>) -> usize {
    let base = out.len();
    out.resize(base + bytes.len() / 4 * 3, 0);
    let mut done = 0;
    for (chunk, dst) in bytes.chunks_exact(4).zip(out[base..].chunks_exact_mut(3)) {
        let [a, b, c, d] = [chunk[0], chunk[1], chunk[2], chunk[3]].map(|x| DECODE[usize::from(x)]);
        // Values are below 64; 0xff has the top bits set.
        if (a | b | c | d) & 0xc0 != 0 {
            break;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        let [_, x, y, z] = n.to_be_bytes();
        dst.copy_from_slice(&[x, y, z]);
        done += 4;
    }
    out.truncate(base + done / 4 * 3);
    done
}

/// Decodes base64url without padding; rejects padding, other alphabets and
/// non-canonical encodings.
pub fn decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = input.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    #[cfg(not(target_arch = "wasm32"))]
    let start = whole_chunks(bytes, &mut out);
    // The browser decodes a few tokens and counts every byte of code: one loop.
    #[cfg(target_arch = "wasm32")]
    let start = 0;
    for (chunk_index, chunk) in bytes[start..].chunks(4).enumerate() {
        let mut n: u32 = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let offset = start + chunk_index * 4 + i;
            let v = value(c).ok_or(Base64Error::InvalidCharacter(offset))?;
            n |= v << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        let all = n.to_be_bytes();
        out.extend_from_slice(&all[1..=produced]);
        // Bits below the produced bytes must be zero for a canonical encoding.
        let mask: u32 = match produced {
            1 => 0xffff,
            2 => 0xff,
            _ => 0,
        };
        if n & mask != 0 {
            return Err(Base64Error::TrailingBits);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 section 10 test vectors (base64url alphabet, padding removed).
    #[test]
    fn rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_alphabet_round_trip() {
        let data: Vec<u8> = (0..=255u8).collect();
        let enc = encode(&data);
        assert!(!enc.contains('+') && !enc.contains('/') && !enc.contains('='));
        assert_eq!(decode(&enc).unwrap(), data);
    }

    #[test]
    fn rejects_padding_and_standard_alphabet() {
        assert_eq!(decode("Zg=="), Err(Base64Error::InvalidCharacter(2)));
        assert_eq!(decode("a+b/"), Err(Base64Error::InvalidCharacter(1)));
        // After whole chunks: the offset counts from the start of the input.
        assert_eq!(decode("AAAAAA+A"), Err(Base64Error::InvalidCharacter(6)));
        assert_eq!(decode("AAAAAAA="), Err(Base64Error::InvalidCharacter(7)));
        assert_eq!(decode("AAAAZh"), Err(Base64Error::TrailingBits));
    }

    #[test]
    fn rejects_bad_length_and_trailing_bits() {
        assert_eq!(decode("Z"), Err(Base64Error::InvalidLength));
        assert_eq!(decode("Zh"), Err(Base64Error::TrailingBits));
    }
}
