//! Time as an input. The core never reads a clock: callers pass a [`Timestamp`].

/// A point in wall-clock time, as microseconds since the Unix epoch.
///
/// Runtimes build one from the system clock; tests build them from plain numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub unix_micros: u64,
}

impl Timestamp {
    /// A timestamp from microseconds since the Unix epoch.
    pub const fn from_unix_micros(unix_micros: u64) -> Self {
        Timestamp { unix_micros }
    }

    /// Microseconds elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn micros_since(self, earlier: Timestamp) -> u64 {
        self.unix_micros.saturating_sub(earlier.unix_micros)
    }

    /// Writes the timestamp as ISO 8601 with microseconds and a `Z`, as Jupyter headers carry
    /// it: `2026-11-27T02:22:03.123456Z`.
    pub fn write_iso8601(self, out: &mut String) {
        let mut buf = Vec::with_capacity(27);
        self.write_iso8601_bytes(&mut buf);
        // Only ASCII digits and punctuation were written.
        out.push_str(std::str::from_utf8(&buf).expect("ascii"));
    }

    /// [`Timestamp::write_iso8601`] into a byte buffer, without going through `fmt`: it is
    /// on the path of every message the kernel sends.
    pub fn write_iso8601_bytes(self, out: &mut Vec<u8>) {
        let secs = self.unix_micros / 1_000_000;
        let micros = self.unix_micros % 1_000_000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        push_digits(out, y.clamp(0, 9999) as u64, 4);
        out.push(b'-');
        push_digits(out, m as u64, 2);
        out.push(b'-');
        push_digits(out, d as u64, 2);
        out.push(b'T');
        push_digits(out, rem / 3600, 2);
        out.push(b':');
        push_digits(out, (rem / 60) % 60, 2);
        out.push(b':');
        push_digits(out, rem % 60, 2);
        out.push(b'.');
        push_digits(out, micros, 6);
        out.push(b'Z');
    }

    /// The ISO 8601 form of [`Timestamp::write_iso8601`] as a new string.
    pub fn to_iso8601(self) -> String {
        let mut s = String::with_capacity(27);
        self.write_iso8601(&mut s);
        s
    }
}

/// Appends `n` as exactly `width` decimal digits, zero-padded (higher digits are dropped).
fn push_digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, valid for the whole range of `i64` days we can get.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_dates() {
        assert_eq!(
            Timestamp::from_unix_micros(0).to_iso8601(),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2026-11-27T02:22:03.123456Z
        assert_eq!(
            Timestamp::from_unix_micros(1_795_746_123_123_456).to_iso8601(),
            "2026-11-27T02:22:03.123456Z"
        );
        // A leap day.
        assert_eq!(
            Timestamp::from_unix_micros(951_782_400_000_000).to_iso8601(),
            "2000-02-29T00:00:00.000000Z"
        );
    }
}
