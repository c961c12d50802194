//! Lengths of time as users write them (`30d`, `12h`, `2w`): how long a
//! vault keeps what the backup bucket deleted. One whole number and one
//! unit, as systemd and restic's `--keep-within` write them.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Duration(u64);

/// From the largest unit down: `Display` picks the first that divides.
const UNITS: &[(&str, u64)] = &[
    ("w", 7 * 86_400),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

impl Duration {
    pub const fn from_seconds(seconds: u64) -> Duration {
        Duration(seconds)
    }

    pub fn seconds(self) -> u64 {
        self.0
    }

    /// Parses `30d`, `12h`, `90m`, `45s`, `2w`. A unit is required, and a
    /// month or a year is not one: their length varies.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = (&text[..split], text[split..].trim_start());
        if number.is_empty() {
            return Err("a duration starts with a whole number, e.g. \"30d\"".into());
        }
        if unit.is_empty() {
            return Err(format!(
                "\"{text}\" has no unit; write e.g. \"{number}d\" (w, d, h, m or s)"
            ));
        }
        let Some(&(_, multiplier)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown duration unit \"{unit}\"; use w (weeks), d (days), h (hours), m (minutes) or s (seconds)"
            ));
        };
        let number: u64 = number
            .parse()
            .map_err(|_| format!("\"{text}\" is too long"))?;
        number
            .checked_mul(multiplier)
            .map(Duration)
            .ok_or_else(|| format!("\"{text}\" is too long"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return write!(f, "0s");
        }
        let (unit, multiplier) = UNITS
            .iter()
            .find(|(_, m)| self.0.is_multiple_of(*m))
            .expect("seconds divide everything");
        write!(f, "{}{unit}", self.0 / multiplier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_users_write() {
        assert_eq!(Duration::parse("30d"), Ok(Duration(30 * 86_400)));
        assert_eq!(Duration::parse("2w"), Ok(Duration(14 * 86_400)));
        assert_eq!(Duration::parse("12h"), Ok(Duration(43_200)));
        assert_eq!(Duration::parse("90m"), Ok(Duration(5_400)));
        assert_eq!(Duration::parse(" 45 s "), Ok(Duration(45)));
    }

    #[test]
    fn refuses_the_rest_with_a_reason() {
        assert!(Duration::parse("30").unwrap_err().contains("no unit"));
        assert!(Duration::parse("d").unwrap_err().contains("whole number"));
        assert!(Duration::parse("1.5d").unwrap_err().contains("unit"));
        assert!(Duration::parse("1y").unwrap_err().contains("unknown"));
        assert!(
            Duration::parse("99999999999999999999w")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn shows_the_largest_unit_that_divides() {
        assert_eq!(Duration(30 * 86_400).to_string(), "30d");
        assert_eq!(Duration(14 * 86_400).to_string(), "2w");
        assert_eq!(Duration(5_400).to_string(), "90m");
        assert_eq!(Duration(61).to_string(), "61s");
        assert_eq!(Duration(0).to_string(), "0s");
    }
}
