//! The validity period of an X.509 certificate, read from its DER encoding (only the
//! few structures in front of it are walked; rustls does the real verification). Used
//! to show an agent's certificate expiry in `holdfast-agent status` and at start.

use std::fmt;

/// A certificate time, to the second, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CertTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl CertTime {
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }
}

impl fmt::Display for CertTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: CertTime,
    pub not_after: CertTime,
}

impl Validity {
    /// Whole days from `now_unix` until expiry (negative once expired).
    pub fn days_left(&self, now_unix: i64) -> i64 {
        (self.not_after.unix_seconds() - now_unix).div_euclid(86_400)
    }
}

/// Reads `tbsCertificate.validity` of a DER certificate.
pub fn validity(der: &[u8]) -> Result<Validity, String> {
    let (cert, _) = element(der, 0x30, "certificate")?;
    let (tbs, _) = element(cert, 0x30, "tbsCertificate")?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0, "version")?.1;
    }
    rest = element(rest, 0x02, "serialNumber")?.1;
    rest = element(rest, 0x30, "signature")?.1;
    rest = element(rest, 0x30, "issuer")?.1;
    let (validity, _) = element(rest, 0x30, "validity")?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Ok(Validity {
        not_before,
        not_after,
    })
}

/// One DER element with tag `tag`: its contents and what follows it.
fn element<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let bad = || format!("not a DER X.509 certificate (at {what})");
    let (&t, rest) = input.split_first().ok_or_else(bad)?;
    if t != tag {
        return Err(bad());
    }
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950..2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(input: &[u8]) -> Result<(CertTime, &[u8]), String> {
    let (tag, year_digits) = match input.first() {
        Some(0x17) => (0x17, 2),
        Some(0x18) => (0x18, 4),
        _ => return Err("not a DER X.509 certificate (at a validity time)".into()),
    };
    let (text, rest) = element(input, tag, "a validity time")?;
    let bad = || {
        format!(
            "unreadable certificate time {:?}",
            String::from_utf8_lossy(text)
        )
    };
    if text.len() != year_digits + 11 || text.last() != Some(&b'Z') {
        return Err(bad());
    }
    let digits = &text[..text.len() - 1];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let num = |from: usize, len: usize| {
        digits[from..from + len]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let mut year = i64::from(num(0, year_digits));
    if year_digits == 2 {
        year += if year >= 50 { 1900 } else { 2000 };
    }
    let at = year_digits;
    let t = CertTime {
        year,
        month: num(at, 2),
        day: num(at + 2, 2),
        hour: num(at + 4, 2),
        minute: num(at + 6, 2),
        second: num(at + 8, 2),
    };
    let valid = (1..=12).contains(&t.month)
        && (1..=31).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second < 61;
    if !valid {
        return Err(bad());
    }
    Ok((t, rest))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if content.len() < 0x80 {
            v.push(content.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(content.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(content);
        v
    }

    fn cert(version: bool, not_before: &[u8], not_after: &[u8]) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(0xa0, &tlv(0x02, &[2])));
        }
        tbs.extend(tlv(0x02, &[0x12; 20]));
        tbs.extend(tlv(0x30, &tlv(0x06, &[1, 2, 3])));
        // A long issuer forces the long length form.
        tbs.extend(tlv(0x30, &[0x31; 300]));
        let mut validity = not_before.to_vec();
        validity.extend_from_slice(not_after);
        tbs.extend(tlv(0x30, &validity));
        tbs.extend(tlv(0x30, &[]));
        tlv(0x30, &tlv(0x30, &tbs))
    }

    #[test]
    fn reads_utc_and_generalized_times() {
        let der = cert(
            true,
            &tlv(0x17, b"261127092216Z"),
            &tlv(0x18, b"20510101000000Z"),
        );
        let v = validity(&der).unwrap();
        assert_eq!(v.not_before.to_string(), "2026-11-27 09:22:16 UTC");
        assert_eq!(v.not_after.to_string(), "2051-01-01 00:00:00 UTC");
        assert_eq!(v.not_after.unix_seconds(), 2_556_144_000);
        let der = cert(
            false,
            &tlv(0x17, b"991231235959Z"),
            &tlv(0x17, b"000101000000Z"),
        );
        let v = validity(&der).unwrap();
        assert_eq!(v.not_before.unix_seconds(), 946_684_799);
        assert_eq!(v.not_after.unix_seconds(), 946_684_800);
        assert_eq!(v.days_left(946_684_800 - 86_400 * 3), 3);
        assert_eq!(v.days_left(946_684_801), -1, "expired");
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = cert(
            true,
            &tlv(0x17, b"261127092216Z"),
            &tlv(0x17, b"271127092216Z"),
        );
        for n in 0..good.len() {
            let _ = validity(&good[..n]);
        }
        assert!(validity(b"").is_err());
        assert!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        for bad in [&b"261327092216Z"[..], b"26112709221xZ", b"2611270922Z"] {
            let der = cert(true, &tlv(0x17, bad), &tlv(0x17, b"271127092216Z"));
            assert!(validity(&der).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = validity(&bytes);
        }
    }
}
