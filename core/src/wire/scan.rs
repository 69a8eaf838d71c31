//! A validating scanner for message headers: the header of every message that arrives is
//! checked to be one JSON object (RFC 8259), and the five string fields the kernel reads
//! are found, in one pass, without a parse tree, and without copying a string that has no
//! escapes.
//!
//! It accepts and rejects what `serde_json` accepts and rejects when deserializing a
//! [`super::Header`]'s five fields (as `String`s) from an object (tested side by side on generated inputs): any JSON inside,
//! unknown keys ignored, a duplicate known key refused, known keys holding strings (the
//! first two required), escapes decoded (a lone surrogate refused in a value we keep),
//! nothing but whitespace after the object. Three differences, all refusals no Jupyter
//! client meets: a frame that is not UTF-8 anywhere (`serde_json` lets invalid bytes pass
//! in a string it skips; the header comes back as the parent header of every reply, so it
//! must be valid), nesting deeper than 128 (`serde_json` skips ignored values without a
//! limit; this scanner recurses, so it bounds its stack), and an array of values in place
//! of the object (which a derived `Deserialize` takes).

use super::header::Field;

/// Deepest nesting accepted, as `serde_json`'s recursion limit.
const MAX_DEPTH: usize = 128;

/// Scans `frame` as a header: msg_id, msg_type, session, username and version (the first
/// two required, the others empty when absent).
pub(super) fn header(frame: &[u8]) -> Result<[Field; 5], String> {
    // One check for the whole frame: invalid UTF-8 inside a string is an error for serde
    // too, and outside strings only ASCII is valid JSON anyway.
    let text = std::str::from_utf8(frame).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let mut s = Scanner {
        t: text,
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    if s.peek() != Some(b'{') {
        return Err(s.error("expected a JSON object"));
    }
    s.i += 1;
    let mut fields: [Option<Field>; 5] = Default::default();
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            if s.peek() != Some(b'"') {
                return Err(s.error("expected a key"));
            }
            s.i += 1;
            let key = s.string()?;
            let slot = match key.text(s.t)?.as_ref() {
                "msg_id" => Some(0),
                "msg_type" => Some(1),
                "session" => Some(2),
                "username" => Some(3),
                "version" => Some(4),
                _ => None,
            };
            s.ws();
            if s.peek() != Some(b':') {
                return Err(s.error("expected ':'"));
            }
            s.i += 1;
            s.ws();
            match slot {
                Some(n) => {
                    if fields[n].is_some() {
                        return Err(s.error(&format!("duplicate field `{}`", NAMES[n])));
                    }
                    if s.peek() != Some(b'"') {
                        return Err(s.error(&format!("`{}` is not a string", NAMES[n])));
                    }
                    s.i += 1;
                    let value = s.string()?;
                    fields[n] = Some(if value.escaped {
                        Field::Owned(value.text(s.t)?.into_owned().into_boxed_str())
                    } else {
                        // Frames are far smaller than 4 GiB (the ZMTP size limit).
                        let at = |i: usize| u32::try_from(i).map_err(|_| "header too large");
                        Field::Span(at(value.start)?, at(value.end)?)
                    });
                }
                None => s.value(1)?,
            }
            s.ws();
            match s.peek() {
                Some(b',') => s.i += 1,
                Some(b'}') => {
                    s.i += 1;
                    break;
                }
                _ => return Err(s.error("expected ',' or '}'")),
            }
        }
    }
    s.ws();
    if s.i != s.b.len() {
        return Err(s.error("trailing characters"));
    }
    let [msg_id, msg_type, session, username, version] = fields;
    Ok([
        msg_id.ok_or("missing field `msg_id`")?,
        msg_type.ok_or("missing field `msg_type`")?,
        session.unwrap_or_default(),
        username.unwrap_or_default(),
        version.unwrap_or_default(),
    ])
}

const NAMES: [&str; 5] = ["msg_id", "msg_type", "session", "username", "version"];

struct Scanner<'a> {
    /// The frame, checked to be UTF-8.
    t: &'a str,
    /// The same bytes.
    b: &'a [u8],
    i: usize,
}

/// A string scanned in place: its bytes between the quotes, and whether it has escapes.
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Span {
    /// The string's value: borrowed when it has no escapes.
    fn text<'a>(&self, t: &'a str) -> Result<std::borrow::Cow<'a, str>, String> {
        // A span starts after and ends before an ASCII quote: both are char boundaries.
        let raw = t.get(self.start..self.end).ok_or("invalid string")?;
        if self.escaped {
            unescape(raw).map(std::borrow::Cow::Owned)
        } else {
            Ok(std::borrow::Cow::Borrowed(raw))
        }
    }
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }

    /// Skips string bytes that need no attention (not a quote, a backslash or a control
    /// character), eight at a time.
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        // A byte of `x` is zero: (x - 1) & !x has its high bit set (exact for the first
        // such byte, which is all we look for).
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let x = u64::from_le_bytes(w);
            // Below 0x20: x - 0x20 borrows into the high bit of a byte whose own high bit
            // was clear.
            let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
            let stop =
                zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\'))) | control;
            if stop != 0 {
                self.i += (stop.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while let Some(c) = self.peek() {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return;
            }
            self.i += 1;
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The rest of a string whose opening quote was consumed, up to and past its closing
    /// quote. Escapes are checked, not decoded.
    fn string(&mut self) -> Result<Span, String> {
        let start = self.i;
        let mut escaped = false;
        loop {
            self.skip_plain();
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match c {
                b'"' => {
                    let end = self.i;
                    self.i += 1;
                    return Ok(Span {
                        start,
                        end,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("invalid \\u escape"));
                            }
                            self.i += 5;
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => self.i += 1,
            }
        }
    }

    /// Any JSON value, checked and skipped; `depth` is its nesting level.
    fn value(&mut self, depth: usize) -> Result<(), String> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                self.string().map(drop)
            }
            Some(b'{') => self.container(depth, b'}', true),
            Some(b'[') => self.container(depth, b']', false),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a value")),
        }
    }

    /// An object (`keys`) or an array, from its opening bracket.
    fn container(&mut self, depth: usize, close: u8, keys: bool) -> Result<(), String> {
        if depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if keys {
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                self.i += 1;
                self.string()?;
                self.ws();
                if self.peek() != Some(b':') {
                    return Err(self.error("expected ':'"));
                }
                self.i += 1;
                self.ws();
            }
            self.value(depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or a closing bracket")),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.error("invalid number"));
            }
            self.digits();
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }
}

/// Decodes the escapes of a string's raw text (already checked by [`Scanner::string`]).
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("invalid escape")?;
        out.push(match e {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(&mut chars)?;
                match hi {
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by an escaped trailing one.
                        if chars.next() != Some('\\') || chars.next() != Some('u') {
                            return Err("lone leading surrogate in hex escape".into());
                        }
                        let lo = hex4(&mut chars)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err("lone leading surrogate in hex escape".into());
                        }
                        let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(code).ok_or("invalid unicode code point")?
                    }
                    0xDC00..=0xDFFF => return Err("lone trailing surrogate in hex escape".into()),
                    _ => char::from_u32(hi).ok_or("invalid unicode code point")?,
                }
            }
            _ => return Err("invalid escape".into()),
        });
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u32, String> {
    let mut n = 0;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or("invalid \\u escape")?;
        n = n * 16 + d;
    }
    Ok(n)
}
