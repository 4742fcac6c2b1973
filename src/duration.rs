//! Durations as operators write them in YAML: `30s`, `5m`, `2h`, `1h30m`, `0s`.

use serde::{de, Deserialize, Deserializer};
use std::time::Duration;

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
        let step = match unit.as_str() {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86400),
            _ => {
                return Err(format!(
                    "unknown unit `{unit}` in duration `{text}`: use ms, s, m, h or d"
                ))
            }
        };
        total += step;
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
}
