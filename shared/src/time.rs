//! Timestamps cross the wire as RFC 3339 UTC strings with milliseconds and are
//! stored as integer milliseconds since the Unix epoch.

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_from_unix_ms(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, ms) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    if !(0..=9999).contains(&year) {
        return format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z");
    }
    // Every field has a fixed width: written digit by digit (a transfer's answer
    // holds several timestamps; `format!` was ~1.5 % of its instructions).
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, i64::from(month));
    put(8, 2, i64::from(day));
    put(11, 2, h);
    put(14, 2, m);
    put(17, 2, s);
    put(20, 3, ms);
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// Milliseconds since the epoch at 00:00 UTC on 1 January of `unix_ms`'s year.
pub fn start_of_year_ms(unix_ms: i64) -> i64 {
    let (year, _, _) = civil_from_days(unix_ms.div_euclid(86_400_000));
    days_from_civil(year, 1, 1) * 86_400_000
}

/// Parses `YYYY-MM-DD` into (year, month, day) if it is a real calendar date.
pub fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i64 = s[0..4].parse().ok()?;
    let month: u32 = s[5..7].parse().ok()?;
    let day: u32 = s[8..10].parse().ok()?;
    let days = days_from_civil(year, month, day);
    (civil_from_days(days) == (year, month, day) && (1..=12).contains(&month)).then_some((year, month, day))
}

/// Parses an RFC 3339 timestamp (`2026-12-01T12:00:00Z`, optional fraction, `Z` or
/// `±HH:MM`) into milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let (date, rest) = s.split_once(['T', 't'])?;
    let (year, month, day) = parse_date(date)?;
    let b = rest.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let num = |r: &str| r.parse::<i64>().ok().filter(|_| r.bytes().all(|c| c.is_ascii_digit()));
    let (h, m, sec) = (num(&rest[0..2])?, num(&rest[3..5])?, num(&rest[6..8])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut tail = &rest[8..];
    let mut millis = 0;
    if let Some(fraction) = tail.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        tail = &fraction[digits..];
    }
    let offset_min = match tail {
        "Z" | "z" => 0,
        _ if tail.len() == 6 && (tail.starts_with('+') || tail.starts_with('-')) && &tail[3..4] == ":" => {
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            sign * (num(&tail[1..3])? * 60 + num(&tail[4..6])?)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + h) * 60 + m - offset_min) * 60_000 + sec * 1000 + millis)
}

/// Howard Hinnant's civil-to-days algorithm.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_from_unix_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_from_unix_ms(1_795_504_389_123), "2026-11-24T07:13:09.123Z");
        assert_eq!(rfc3339_from_unix_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    proptest::proptest! {
        #[test]
        fn formats_every_instant_as_format_would(unix_ms in -70_000_000_000_000i64..300_000_000_000_000) {
            let days = unix_ms.div_euclid(86_400_000);
            let of_day = unix_ms.rem_euclid(86_400_000);
            let (year, month, day) = civil_from_days(days);
            let expected = format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
                of_day / 3_600_000,
                of_day / 60_000 % 60,
                of_day / 1000 % 60,
                of_day % 1000
            );
            let formatted = rfc3339_from_unix_ms(unix_ms);
            proptest::prop_assert_eq!(&formatted, &expected);
            if (0..=9999).contains(&year) {
                proptest::prop_assert_eq!(parse_rfc3339_ms(&formatted), Some(unix_ms));
            }
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        for ms in [0, 1_795_504_389_123, 951_782_400_000] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_from_unix_ms(ms)), Some(ms));
        }
        assert_eq!(parse_rfc3339_ms("2026-11-24T08:13:09+01:00"), parse_rfc3339_ms("2026-11-24T07:13:09Z"));
        for bad in ["2026-11-24", "2026-11-24T25:00:00Z", "2026-11-24T07:13:09", "tomorrow", "2026-11-24T07:13:09.Z"] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn years_and_dates() {
        assert_eq!(rfc3339_from_unix_ms(start_of_year_ms(1_795_504_389_123)), "2026-01-01T00:00:00.000Z");
        assert_eq!(parse_date("2000-02-29"), Some((2000, 2, 29)));
        assert_eq!(parse_date("2001-02-29"), None);
        assert_eq!(parse_date("2001-13-01"), None);
        assert_eq!(parse_date("01-01-2001"), None);
        for days in [-800_000, -1, 0, 1, 20_000, 800_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
