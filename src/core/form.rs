//! `application/x-www-form-urlencoded` encoding and query-string parsing
//! (WHATWG URL standard, section 5), without a URL library.

/// Percent-encodes a value for a query string or form body.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0xf)]));
            }
        }
    }
    out
}

/// Serializes pairs as `k1=v1&k2=v2`.
pub fn serialize<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form-encoded component (`+` is a space; invalid escapes stay literal,
/// invalid UTF-8 is replaced, as browsers do).
pub fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string (with or without the leading `?`) into decoded pairs,
/// keeping order and duplicates.
pub fn parse(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(part), String::new()),
        })
        .collect()
}

/// Appends serialized pairs to a URL that may already carry a query.
pub fn append_query<'a>(url: &str, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let query = serialize(pairs);
    if query.is_empty() {
        return url.to_owned();
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    let mut out = format!("{base}{sep}{query}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn decode_round_trips_and_tolerates_bad_escapes() {
        assert_eq!(decode(&encode("x y/é?&")), "x y/é?&");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%41"), "A");
    }

    #[test]
    fn parses_queries() {
        let q = parse("?code=abc&state=x%2By&empty&iss=https%3A%2F%2Fidp");
        assert_eq!(
            q,
            vec![
                ("code".into(), "abc".into()),
                ("state".into(), "x+y".into()),
                ("empty".into(), String::new()),
                ("iss".into(), "https://idp".into()),
            ]
        );
    }

    #[test]
    fn appends_to_existing_query_and_keeps_fragment() {
        assert_eq!(append_query("https://a/b", [("x", "1")]), "https://a/b?x=1");
        assert_eq!(
            append_query("https://a/b?y=2", [("x", "1")]),
            "https://a/b?y=2&x=1"
        );
        assert_eq!(
            append_query("https://a/b?y#f", [("x", "1")]),
            "https://a/b?y&x=1#f"
        );
    }
}
