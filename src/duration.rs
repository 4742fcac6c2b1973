//! Durations as operators write them in YAML: `30s`, `5m`, `2h`, `1h30m`, `0s`.

use serde::{de, Deserialize, Deserializer};
use std::time::Duration;

/// The longest duration seesaw accepts anywhere: ten years. Longer values
/// are typos, and refusing them keeps every sum and product of durations
/// (deadlines, doubled timeouts) far from overflow.
pub const MAX: Duration = Duration::from_secs(10 * 365 * 86400);

pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected a duration such as 30s, 5m or 2h, got an empty string".into());
    }
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap_or('s'));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("expected a duration such as 30s, 5m or 2h, got `{text}`"))?;
        digits.clear();
        let too_long = || format!("duration `{text}` is longer than the maximum of 10 years");
        let step = match unit.as_str() {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "d" => n.checked_mul(86400).map(Duration::from_secs),
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in duration `{text}`: use ms, s, m, h or d"
                ))
            }
        }
        .ok_or_else(too_long)?;
        total = total
            .checked_add(step)
            .filter(|t| *t <= MAX)
            .ok_or_else(too_long)?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "duration `{text}` has a number without a unit: write e.g. `{digits}s`"
        ));
    }
    Ok(total)
}

/// Serde adapter: `#[serde(deserialize_with = "crate::duration::deserialize")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(de::Error::custom)
}

/// Serde adapter for a duration that must be above zero (a timeout of 0
/// would make every attempt fail at once).
pub fn deserialize_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let value = deserialize(d)?;
    if value.is_zero() {
        return Err(de::Error::custom(
            "must be more than 0 (a timeout of 0 fails every attempt at once); e.g. 10s",
        ));
    }
    Ok(value)
}

/// Serde adapter for an optional duration.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| parse(&t).map_err(de::Error::custom))
        .transpose()
}

/// `2h`, `5m`, `1m30s`: the inverse of [`parse`] for whole seconds.
pub fn format(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 {
        out += &format!("{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(parse("").is_err());
        assert!(parse("10").unwrap_err().contains("without a unit"));
        assert!(parse("5x").unwrap_err().contains("unknown unit"));
        assert!(parse("m").is_err());
    }

    #[test]
    fn values_that_would_overflow_are_errors_not_panics() {
        for text in [
            "18446744073709551615s",
            "307445734561825861h",
            "18446744073709551615d",
            "18446744073709551615s1s",
            "3651d",
            "99999999999999999999s",
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains("maximum of 10 years") || err.contains("expected a duration"),
                "{text}: {err}"
            );
        }
        assert_eq!(parse("3650d"), Ok(MAX));
        // Every accepted value leaves room for the sums seesaw makes.
        assert!(MAX.checked_mul(4).is_some());
    }
}
