//! Event-time helpers: RFC 3339 parsing and formatting, and civil dates.
//!
//! Hand-written rather than pulled from a date crate because parsing
//! `event_time` is on the hot path of every record, and the format the
//! contract allows is small: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, or an
//! integer of epoch milliseconds.

/// Milliseconds in one day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// 0000-01-01T00:00:00Z, the earliest instant RFC 3339 writes, in epoch ms.
pub const MIN_EPOCH_MS: i64 = -62_167_219_200_000;

/// 9999-12-31T23:59:59.999Z, the latest instant RFC 3339 writes, in epoch ms.
pub const MAX_EPOCH_MS: i64 = 253_402_300_799_999;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Why a timestamp string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub &'static str);

fn digits(b: &[u8], at: usize, n: usize) -> Result<u32, TimestampError> {
    let s = b.get(at..at + n).ok_or(TimestampError("too short"))?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(TimestampError("expected a digit"));
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

fn expect(b: &[u8], at: usize, what: &[u8], msg: &'static str) -> Result<(), TimestampError> {
    match b.get(at) {
        Some(c) if what.contains(c) => Ok(()),
        _ => Err(TimestampError(msg)),
    }
}

/// Parses an RFC 3339 timestamp with a mandatory offset into epoch milliseconds (UTC).
///
/// Fractions beyond milliseconds are truncated. A lower-case `t`/`z` and a
/// space between date and time are accepted, as RFC 3339 allows.
pub fn parse_rfc3339_ms(s: &str) -> Result<i64, TimestampError> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    expect(b, 4, b"-", "expected '-' after the year")?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b"-", "expected '-' after the month")?;
    let day = digits(b, 8, 2)?;
    expect(b, 10, b"Tt ", "expected 'T' between date and time")?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b":", "expected ':' after the hour")?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b":", "expected ':' after the minute")?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month) {
        return Err(TimestampError("month out of range"));
    }
    if day == 0 || day > days_in_month(i64::from(year), month) {
        return Err(TimestampError("day out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(TimestampError("time of day out of range"));
    }
    let mut at = 19;
    let mut millis = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            if at - start < 3 {
                millis = millis * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        let n = at - start;
        if n == 0 {
            return Err(TimestampError("expected digits after '.'"));
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_min: i64 = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(c @ (b'+' | b'-')) => {
            let sign = if *c == b'-' { -1 } else { 1 };
            let oh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b":", "expected ':' in the offset")?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimestampError("offset out of range"));
            }
            at += 6;
            sign * i64::from(oh * 60 + om)
        }
        _ => return Err(TimestampError("missing offset (Z or +HH:MM)")),
    };
    if at != b.len() {
        return Err(TimestampError("trailing characters"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    // A leap second (:60) is folded onto the next second.
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Ok((secs - offset_min * 60) * 1000 + i64::from(millis))
}

/// Formats epoch milliseconds as RFC 3339 at a fixed UTC offset, e.g.
/// `2026-03-01T08:15:00.000+08:00`.
pub fn format_rfc3339_ms(ms: i64, offset_minutes: i32) -> String {
    let local = ms + i64::from(offset_minutes) * 60_000;
    let days = local.div_euclid(MS_PER_DAY);
    let rem = local.rem_euclid(MS_PER_DAY);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}");
    if offset_minutes == 0 {
        out.push('Z');
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let o = offset_minutes.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", o / 60, o % 60));
    }
    out
}

/// Formats a day number since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` into a day number since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(b, 0, 4).ok()?;
    let m = digits(b, 5, 2).ok()?;
    let d = digits(b, 8, 2).ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_fractions() {
        let a = parse_rfc3339_ms("2026-03-01T08:15:00+08:00").unwrap();
        let b = parse_rfc3339_ms("2026-03-01T00:15:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, 1_772_324_100_000);
        assert_eq!(parse_rfc3339_ms("2026-03-01T00:15:00.5Z").unwrap(), b + 500);
        assert_eq!(parse_rfc3339_ms("2026-03-01T00:15:00.123456Z").unwrap(), b + 123);
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59.999Z").unwrap(), -1);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-03-01",
            "2026-03-01T08:15:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T08:15:00+0800",
            "2026-03-01T08:15:00Zjunk",
            "yesterday",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 365, 10_957, 20_513, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_date(20_513), "2026-03-01");
        assert_eq!(parse_date("2026-03-01"), Some(20_513));
        assert_eq!(parse_date("2026-02-29"), None);
    }

    #[test]
    fn epoch_bounds_are_the_years_rfc_3339_writes() {
        assert_eq!(parse_rfc3339_ms("0000-01-01T00:00:00Z").unwrap(), MIN_EPOCH_MS);
        assert_eq!(parse_rfc3339_ms("9999-12-31T23:59:59.999Z").unwrap(), MAX_EPOCH_MS);
        assert_eq!(MIN_EPOCH_MS, days_from_civil(0, 1, 1) * MS_PER_DAY);
        assert_eq!(MAX_EPOCH_MS + 1, days_from_civil(10_000, 1, 1) * MS_PER_DAY);
    }

    #[test]
    fn formats_round_trip() {
        let ms = 1_772_324_100_123;
        let s = format_rfc3339_ms(ms, 480);
        assert_eq!(s, "2026-03-01T08:15:00.123+08:00");
        assert_eq!(parse_rfc3339_ms(&s).unwrap(), ms);
        assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms, 0)).unwrap(), ms);
        assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms, -330)).unwrap(), ms);
    }
}
