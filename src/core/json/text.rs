//! The JSON text reader (RFC 8259): a document to an [`AnyValue`] tree, which the
//! types then read through serde (see [`AnyValue`]'s `Deserializer`).
//!
//! It reads as `serde_json` reads: the same grammar, the same numbers (a non-negative
//! integer is a `u64`, a negative one an `i64`, anything else or an integer too large
//! for them an `f64`), strings with every escape and no lone surrogate, at most 128
//! levels of nesting, nothing after the value but whitespace. A test compares the two
//! on valid and broken documents. It is small: the browser build carries no other
//! JSON parser for the protocol's documents.

use super::{AnyValue, JsonError};

/// Nesting is refused from this depth on (127 levels pass, as with serde_json): the
/// reader recurses once per level.
const MAX_DEPTH: usize = 128;

/// Reads a JSON document. The bytes must be UTF-8 (RFC 8259 section 8.1).
pub(crate) fn parse(bytes: &[u8]) -> Result<AnyValue, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        JsonError(format!(
            "invalid UTF-8 at byte {} of the JSON text",
            e.valid_up_to()
        ))
    })?;
    let mut reader = Reader { text, at: 0 };
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.at < text.len() {
        return Err(reader.error("trailing characters"));
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> JsonError {
        JsonError(format!("{what} at byte {} of the JSON text", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// What is left to read.
    fn rest(&self) -> &[u8] {
        self.text.as_bytes().get(self.at..).unwrap_or_default()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skips `byte` (after whitespace) if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn value(&mut self, depth: usize) -> Result<AnyValue, JsonError> {
        self.skip_space();
        let Some(first) = self.peek() else {
            return Err(self.error("unexpected end"));
        };
        if matches!(first, b'{' | b'[') && depth + 1 >= MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        match first {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if self.eat(b'}') {
                    return Ok(AnyValue::Map(members));
                }
                loop {
                    self.skip_space();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a member name"));
                    }
                    let name = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.error("expected `:`"));
                    }
                    members.push((name, self.value(depth + 1)?));
                    if !self.eat(b',') {
                        return self.close(b'}', AnyValue::Map(members));
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(AnyValue::Seq(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    if !self.eat(b',') {
                        return self.close(b']', AnyValue::Seq(items));
                    }
                }
            }
            b'"' => self.string().map(AnyValue::Str),
            b't' => self.word("true", AnyValue::Bool(true)),
            b'f' => self.word("false", AnyValue::Bool(false)),
            b'n' => self.word("null", AnyValue::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    /// The end of an object or array.
    fn close(&mut self, byte: u8, value: AnyValue) -> Result<AnyValue, JsonError> {
        if self.eat(byte) {
            Ok(value)
        } else {
            Err(self.error(if byte == b'}' {
                "expected `,` or `}`"
            } else {
                "expected `,` or `]`"
            }))
        }
    }

    fn word(&mut self, word: &str, value: AnyValue) -> Result<AnyValue, JsonError> {
        if self.rest().starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Only ASCII bytes stop the run: both ends are character boundaries.
            out.push_str(self.text.get(start..self.at).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.at += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low one.
                        if !self.rest().starts_with(b"\\u") {
                            return Err(self.error("lone surrogate in a string"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone surrogate in a string"));
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone surrogate in a string")),
                    _ => unit,
                };
                char::from_u32(code).ok_or_else(|| self.error("invalid escape"))?
            }
            _ => return Err(self.error("invalid escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            unit = unit * 16 + digit;
            self.at += 1;
        }
        Ok(unit)
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<AnyValue, JsonError> {
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        // The significant digits (as many as a u64 holds) and the power of ten they are
        // scaled by; `exact` while no non-zero digit was dropped.
        let mut digits: u64 = 0;
        let mut scale: i64 = 0;
        let mut exact = true;
        let mut push = |d: u8, scale_by: i64, scale: &mut i64| match digits
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d)))
        {
            Some(n) => {
                digits = n;
                *scale += scale_by;
            }
            None => {
                *scale += 1 + scale_by;
                exact &= d == 0;
            }
        };
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    push(d - b'0', 0, &mut scale);
                    self.at += 1;
                }
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            while let Some(d @ b'0'..=b'9') = self.peek() {
                push(d - b'0', -1, &mut scale);
                self.at += 1;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.at += 1;
            let sign = match self.peek() {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            self.at += usize::from(sign != 0);
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number"));
            }
            let mut exponent: i64 = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                exponent = (exponent * 10 + i64::from(d - b'0')).min(100_000);
                self.at += 1;
            }
            scale += if sign < 0 { -exponent } else { exponent };
        }
        if integer && exact && scale == 0 {
            if !negative {
                return Ok(AnyValue::U64(digits));
            }
            // `-0` is a float, as serde_json reads it.
            if let Some(n) = i64::try_from(digits).ok().filter(|n| *n != 0) {
                return Ok(AnyValue::I64(-n));
            }
            if digits == 1 << 63 {
                return Ok(AnyValue::I64(i64::MIN));
            }
        }
        let magnitude = to_f64(digits, scale, exact);
        if !magnitude.is_finite() {
            return Err(self.error("number out of range"));
        }
        Ok(AnyValue::F64(if negative { -magnitude } else { magnitude }))
    }
}

/// `digits` × 10^`scale` as an `f64`. Exact (correctly rounded) when `digits` fits in
/// 53 bits, nothing was dropped and the power of ten is exact (at most 22), which
/// covers the numbers tokens carry (dates with fractions, lifetimes); otherwise within
/// a few units in the last place.
fn to_f64(digits: u64, scale: i64, exact: bool) -> f64 {
    // Powers of ten up to 1e22 are exact in an f64.
    const EXACT_POWER: i64 = 22;
    #[allow(clippy::cast_precision_loss)] // The value is approximate past 2^53, as said.
    let d = digits as f64;
    if digits == 0 {
        return 0.0;
    }
    if exact && digits < 1 << 53 && (-EXACT_POWER..=EXACT_POWER).contains(&scale) {
        let power = pow10(scale.unsigned_abs());
        return if scale < 0 { d / power } else { d * power };
    }
    // Far out of range either way: no need to compute.
    if scale > 400 {
        return f64::INFINITY;
    }
    if scale < -400 {
        return 0.0;
    }
    let mut value = d;
    let mut left = scale;
    while left > 0 {
        let step = left.min(EXACT_POWER);
        value *= pow10(step.unsigned_abs());
        left -= step;
    }
    while left < 0 {
        let step = (-left).min(EXACT_POWER);
        value /= pow10(step.unsigned_abs());
        left += step;
    }
    value
}

/// 10^`n` for `n` up to 22, exactly.
fn pow10(n: u64) -> f64 {
    let mut p = 1.0;
    for _ in 0..n {
        p *= 10.0;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `doc` with serde_json, into the same tree.
    fn serde(doc: &[u8]) -> Result<AnyValue, serde_json::Error> {
        serde_json::from_slice(doc)
    }

    /// Floats may differ in the last places where ours is approximate.
    fn same(a: &AnyValue, b: &AnyValue) -> bool {
        match (a, b) {
            (AnyValue::F64(x), AnyValue::F64(y)) => {
                x.to_bits() == y.to_bits() || ((x - y) / y).abs() < 1e-14
            }
            (AnyValue::Seq(x), AnyValue::Seq(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (AnyValue::Map(x), AnyValue::Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
            }
            _ => a == b,
        }
    }

    fn agrees(doc: &[u8]) {
        match (parse(doc), serde(doc)) {
            (Ok(ours), Ok(theirs)) => assert!(
                same(&ours, &theirs),
                "{:?}: {ours:?} vs {theirs:?}",
                String::from_utf8_lossy(doc)
            ),
            (Err(_), Err(_)) => {}
            (ours, theirs) => panic!(
                "{:?}: ours {ours:?}, serde_json {theirs:?}",
                String::from_utf8_lossy(doc)
            ),
        }
    }

    fn corpus() -> Vec<Vec<u8>> {
        let mut docs: Vec<Vec<u8>> = [
            r#"{"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/auth","jwks_uri":"https://idp.example/jwks","scopes_supported":["openid","profile"],"authorization_response_iss_parameter_supported":true,"x":null}"#,
            r#"{"keys":[{"kty":"RSA","kid":"a","n":"0vx7agoebGcQSuu","e":"AQAB","alg":"RS256","use":"sig"},{"kty":"EC","crv":"P-256","x":"f83O","y":"x_FE"},7,"k"]}"#,
            r#"{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":"300","refresh_expires_in":1800.5,"id_token":"x.y.z","scope":"openid profile"}"#,
            r#"{"iss":"https://idp","sub":"248289761001","aud":["spa","api"],"exp":1311281970,"iat":1311280970.25,"nonce":"n-0S6_WzA2Mj","name":"Jane \"JD\" Doe","address":{"street":"1 Main\nSt","geo":[1.5,-2.25e1]}}"#,
            " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] } \n",
            r#"["\"\\\/\b\f\n\r\t","\u00e9\u20AC\ud83d\ude00","é€😀","\u0000"]"#,
            r#"[0,-0,1,-1,10,1.5,-1.5,1e3,1E+3,1e-3,2.5E-3,0.1,1700000000.123,0e9999,-0.0]"#,
            r#"[18446744073709551615,18446744073709551616,9223372036854775807,-9223372036854775808,-9223372036854775809]"#,
            r#"[123456789012345678901234567890,1.7976931348623157e308,5e-324,1e-400,4.9406564584124654e-324,0.30000000000000004]"#,
            r#"{"a":1,"a":2}"#,
            "true",
            "null",
            "\"x\"",
            "-12",
            // Refused.
            "",
            "   ",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "1e+",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "{'a':1}",
            "[1 2]",
            "{\"a\" 1}",
            "\"a\u{1}b\"",
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            r#""\x""#,
            r#""\u12g4""#,
            "tru",
            "nul",
            "falsey",
            "[1e400]",
            "{\"a\":1} x",
            "\"unterminated",
            "[",
            "{",
        ]
        .iter()
        .map(|d| d.as_bytes().to_vec())
        .collect();
        docs.push(b"[\"\xff\"]".to_vec());
        for depth in [126, 127, 128, 129] {
            docs.push(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes());
            docs.push(format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)).into_bytes());
        }
        docs
    }

    /// The reader accepts exactly what serde_json accepts, with the same values.
    #[test]
    fn reads_as_serde_json_reads() {
        for doc in corpus() {
            agrees(&doc);
        }
    }

    /// The same on broken variants of every document: a byte deleted, replaced or
    /// inserted, tens of thousands of cases.
    #[test]
    fn broken_documents_are_refused_as_serde_json_refuses_them() {
        const BYTES: &[u8] = b"{}[]\":,\\-+.eE0159tfnu \x01\xc3";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap() % bound.max(1)
        };
        for doc in corpus() {
            for _ in 0..800 {
                let mut d = doc.clone();
                let at = next(d.len() + 1);
                match next(3) {
                    0 if at < d.len() => {
                        d.remove(at);
                    }
                    1 if at < d.len() => d[at] = BYTES[next(BYTES.len())],
                    _ => d.insert(at, BYTES[next(BYTES.len())]),
                }
                agrees(&d);
            }
        }
    }

    #[test]
    fn errors_say_where_reading_stopped() {
        let e = parse(b"{\"a\":tru}").unwrap_err();
        assert_eq!(e.to_string(), "expected a value at byte 5 of the JSON text");
        let e = parse(b"[1] [").unwrap_err();
        assert_eq!(
            e.to_string(),
            "trailing characters at byte 4 of the JSON text"
        );
        let e = parse(b"\"\xff\"").unwrap_err();
        assert_eq!(e.to_string(), "invalid UTF-8 at byte 1 of the JSON text");
    }

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(parse(b"7").unwrap(), AnyValue::U64(7));
        assert_eq!(parse(b"-7").unwrap(), AnyValue::I64(-7));
        assert_eq!(
            parse(b"1700000000.75").unwrap(),
            AnyValue::F64(1_700_000_000.75)
        );
        assert_eq!(
            parse(b"18446744073709551615").unwrap(),
            AnyValue::U64(u64::MAX)
        );
        assert_eq!(
            parse(b"-9223372036854775808").unwrap(),
            AnyValue::I64(i64::MIN)
        );
    }
}
