//! Go `time.Duration` text, both ways: nats-server prints limits with it (`Exceeded
//! MaxRequestExpires of 1m30s`, a marker's `Nats-TTL: 1m0s`) and clients send it (a NAK delay
//! as `-NAK 5s`, a message TTL as `Nats-TTL: 1h`).

use crate::core::time::Nanos;

/// Formats nanoseconds as Go's `Duration.String` does: `0s`, `1.5µs`, `100ms`, `1h0m30s`.
pub fn go_duration(ns: Nanos) -> String {
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u == 0 {
        return "0s".to_string();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = split_frac(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (secs, frac) = split_frac(u, 9);
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h{m}m"));
        } else if m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and the fraction as `.ddd` without trailing zeros (or nothing).
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let scale = 10u64.pow(prec);
    let (int, frac) = (v / scale, v % scale);
    if frac == 0 {
        return (int, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (int, format!(".{}", digits.trim_end_matches('0')))
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` (units ns, us, µs, ms,
/// s, m, h), or "0", in exact integer arithmetic. `None` when Go would return an error
/// (nats-server then treats a NAK as having no delay, and a `Nats-TTL` as invalid).
pub fn parse_go_duration(text: &str) -> Option<Nanos> {
    const LIMIT: u128 = 1 << 63;
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut whole: u128 = 0;
        for b in rest[..digits].bytes() {
            whole = whole * 10 + u128::from(b - b'0');
            if whole > LIMIT {
                return None;
            }
        }
        rest = &rest[digits..];
        let (mut fraction, mut scale, mut fraction_digits) = (0u128, 1u128, 0);
        if let Some(after_dot) = rest.strip_prefix('.') {
            fraction_digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            // Go stops accumulating once more digits would overflow; 18 is well inside that.
            for b in after_dot[..fraction_digits].bytes().take(18) {
                fraction = fraction * 10 + u128::from(b - b'0');
                scale *= 10;
            }
            rest = &after_dot[fraction_digits..];
        }
        if digits == 0 && fraction_digits == 0 {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total
            .checked_add(whole.checked_mul(unit)?)?
            .checked_add(fraction * unit / scale)?;
        if total > LIMIT {
            return None;
        }
    }
    if negative {
        Some((-(total as i128)) as i64)
    } else {
        i64::try_from(total).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(500), "500ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(100_000_000), "100ms");
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(-2_000_000_000), "-2s");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_go_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("2h45m"), Some(9_900_000_000_000));
        assert_eq!(parse_go_duration("100ms"), Some(100_000_000));
        assert_eq!(parse_go_duration("-1s"), Some(-1_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("s"), None);
        assert_eq!(parse_go_duration("1x"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("1h1m1.5s"), Some(3_661_500_000_000));
        assert_eq!(parse_go_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_go_duration("2\u{b5}s"), Some(2_000));
        assert_eq!(parse_go_duration("-"), None);
        assert_eq!(parse_go_duration("1.s"), Some(1_000_000_000));
    }

    #[test]
    fn whole_seconds_format_as_nats_server_writes_a_marker_ttl() {
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(60_000_000_000), "1m0s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration((86_400 + 61) * 1_000_000_000), "24h1m1s");
    }
}
