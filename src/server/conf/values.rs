//! Bare tokens as typed values (booleans, numbers with size suffixes) and durations, as
//! nats-server reads them.

use serde_json::{Number, Value};

/// Reads a bare token as a boolean, a number (with size suffix) or else a string.
pub(super) fn bare_value(token: &str) -> Value {
    match token.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Value::Bool(true),
        "false" | "no" | "off" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = token.parse::<i64>() {
        return Value::Number(n.into());
    }
    if let Some(n) = parse_size(token) {
        return Value::Number(n.into());
    }
    if token.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        if let Ok(f) = token.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(token.to_string())
}

/// `1K` = 1000, `1KB`/`1Ki`/`1KiB` = 1024, and so on up to `E`, as nats-server reads sizes.
fn parse_size(token: &str) -> Option<i64> {
    let digits = token.strip_prefix('-').unwrap_or(token);
    let digits_end = digits.find(|c: char| !c.is_ascii_digit())?;
    if digits_end == 0 {
        return None;
    }
    let split = token.len() - digits.len() + digits_end;
    let (num, suffix) = token.split_at(split);
    let num: i64 = num.parse().ok()?;
    let suffix = suffix.to_ascii_lowercase();
    let mut chars = suffix.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    num.checked_mul(base.checked_pow(power)?)
}

/// A duration value in nats-server's forms: a number of seconds or a string like `2m`, `30s`,
/// `500ms`, `1h`. Negative, not-a-number or too large to represent: `None` (never a panic).
pub fn duration(value: &Value) -> Option<std::time::Duration> {
    use std::time::Duration;
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
            let (num, unit) = s.split_at(split);
            let num: f64 = num.parse().ok()?;
            let secs = match unit {
                "ms" => num / 1000.0,
                "s" => num,
                "m" => num * 60.0,
                "h" => num * 3600.0,
                _ => return None,
            };
            Duration::try_from_secs_f64(secs).ok()
        }
        _ => None,
    }
}
