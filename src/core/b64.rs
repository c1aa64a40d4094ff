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

/// Each byte's 6-bit value in the alphabet, or `INVALID`: one lookup per character.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const INVALID: u8 = 0xff;

fn value(c: u8) -> Option<u32> {
    match DECODE[usize::from(c)] {
        INVALID => None,
        v => Some(u32::from(v)),
    }
}

/// Decodes one chunk of at most 4 characters (at `offset` in the input) into the
/// bytes it encodes, checking the alphabet and, for a short last chunk, that the
/// unused low bits are zero (a canonical encoding).
fn chunk(chunk: &[u8], offset: usize) -> Result<([u8; 3], usize), Base64Error> {
    let mut n: u32 = 0;
    for (i, &c) in chunk.iter().enumerate() {
        let v = value(c).ok_or(Base64Error::InvalidCharacter(offset + i))?;
        n |= v << (18 - 6 * i);
    }
    let produced = chunk.len().saturating_sub(1);
    // Bits below the produced bytes must be zero for a canonical encoding.
    let mask: u32 = match produced {
        1 => 0xffff,
        2 => 0xff,
        _ => 0,
    };
    if n & mask != 0 {
        return Err(Base64Error::TrailingBits);
    }
    let [_, a, b, c] = n.to_be_bytes();
    Ok(([a, b, c], produced))
}

/// Decodes a whole chunk of 4 characters into 3 bytes, or `None` when a character
/// is outside the alphabet (the caller then finds which through [`chunk`]).
#[inline]
fn whole_chunk(c: &[u8]) -> Option<[u8; 3]> {
    let [a, b, c, d] = [c[0], c[1], c[2], c[3]].map(|x| DECODE[usize::from(x)]);
    // Values are below 64; `INVALID` has the top bits set.
    if (a | b | c | d) & 0xc0 != 0 {
        return None;
    }
    let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
    let [_, x, y, z] = n.to_be_bytes();
    Some([x, y, z])
}

/// Decodes `input`, handing the bytes to `emit` a chunk at a time.
fn decode_with(input: &str, mut emit: impl FnMut(&[u8])) -> Result<(), Base64Error> {
    let bytes = input.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }
    let mut whole = bytes.chunks_exact(4);
    for (index, c) in (&mut whole).enumerate() {
        match whole_chunk(c) {
            Some(decoded) => emit(&decoded),
            // The slow path names the offending character.
            None => {
                return Err(chunk(c, index * 4)
                    .err()
                    .unwrap_or(Base64Error::InvalidCharacter(index * 4)))
            }
        }
    }
    let rest = whole.remainder();
    if !rest.is_empty() {
        let (decoded, produced) = chunk(rest, bytes.len() - rest.len())?;
        emit(&decoded[..produced]);
    }
    Ok(())
}

/// Decodes base64url without padding; rejects padding, other alphabets and
/// non-canonical encodings.
pub fn decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    decode_with(input, |bytes| out.extend_from_slice(bytes))?;
    Ok(out)
}

/// The number of significant bits of the big-endian unsigned integer that `input`
/// encodes (leading zero bits not counted), with the checks of [`decode`] and without
/// allocating: an RSA modulus's size, on every verification.
pub fn significant_bits(input: &str) -> Result<usize, Base64Error> {
    let mut bits = 0;
    decode_with(input, |bytes| {
        for &byte in bytes {
            if bits > 0 {
                bits += 8;
            } else if byte != 0 {
                bits = 8 - byte.leading_zeros() as usize;
            }
        }
    })?;
    Ok(bits)
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
        assert_eq!(decode("AAAAAA+A"), Err(Base64Error::InvalidCharacter(6)));
        assert_eq!(decode("AAAAAAA="), Err(Base64Error::InvalidCharacter(7)));
        assert_eq!(
            significant_bits("AAAAA/AA"),
            Err(Base64Error::InvalidCharacter(5))
        );
    }

    #[test]
    fn rejects_bad_length_and_trailing_bits() {
        assert_eq!(decode("Z"), Err(Base64Error::InvalidLength));
        assert_eq!(decode("Zh"), Err(Base64Error::TrailingBits));
        assert_eq!(significant_bits("Z"), Err(Base64Error::InvalidLength));
        assert_eq!(significant_bits("Zh"), Err(Base64Error::TrailingBits));
        assert_eq!(
            significant_bits("AA=A"),
            Err(Base64Error::InvalidCharacter(2))
        );
    }

    #[test]
    fn significant_bits_skip_leading_zeros() {
        for bytes in [
            Vec::<u8>::new(),
            vec![0],
            vec![0, 0, 0, 0],
            vec![1],
            vec![0x80],
            vec![0, 0x7f, 0xff],
            vec![0, 0, 0, 0, 3, 0, 0],
            vec![0xff; 256],
        ] {
            let expected = match bytes.iter().position(|b| *b != 0) {
                Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
                None => 0,
            };
            assert_eq!(significant_bits(&encode(&bytes)), Ok(expected), "{bytes:?}");
        }
    }
}
