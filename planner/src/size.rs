//! Sizes as users write them (`500G`, `1.5T`, `200GiB`) and as Garage wants
//! them: a whole number of bytes. Garage's layout capacities are SI bytes, so
//! `G` means 10^9 here too; `GiB` is there for those who think in powers of 2.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Size(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("K", 1_000),
    ("KB", 1_000),
    ("k", 1_000),
    ("kB", 1_000),
    ("M", 1_000_000),
    ("MB", 1_000_000),
    ("G", 1_000_000_000),
    ("GB", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("TB", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
    ("Ki", 1 << 10),
    ("KiB", 1 << 10),
    ("Mi", 1 << 20),
    ("MiB", 1 << 20),
    ("Gi", 1 << 30),
    ("GiB", 1 << 30),
    ("Ti", 1 << 40),
    ("TiB", 1 << 40),
    ("Pi", 1 << 50),
    ("PiB", 1 << 50),
];

impl Size {
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Parses `500G`, `1.5 T`, `200GiB`, `1024B`. A unit is required: a bare
    /// `500` is more often a mistake than a size in bytes.
    pub fn parse(text: &str) -> Result<Size, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = (&text[..split], text[split..].trim_start());
        if number.is_empty() {
            return Err("a size starts with a number, e.g. \"500G\"".into());
        }
        if unit.is_empty() {
            return Err(format!(
                "\"{text}\" has no unit; write e.g. \"{number}G\" (SI: K, M, G, T, P) or \"{number}GiB\" (binary)"
            ));
        }
        let Some(&(_, multiplier)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!(
                "unknown size unit \"{unit}\"; use B, K, M, G, T, P (powers of 1000) or KiB, MiB, GiB, TiB, PiB (powers of 1024)"
            ));
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
            return Err(format!("\"{number}\" is not a number"));
        }
        // Exact decimal arithmetic: 1.5T must be exactly 1_500_000_000_000.
        let too_big = || format!("\"{text}\" is too large");
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_big())?
        };
        let mut bytes = whole
            .checked_mul(u128::from(multiplier))
            .ok_or_else(too_big)?;
        if !fraction.is_empty() {
            if fraction.len() > 18 {
                return Err(format!("\"{text}\" has too many decimals"));
            }
            let numerator: u128 = fraction.parse().map_err(|_| too_big())?;
            let denominator = 10u128.pow(fraction.len() as u32);
            let scaled = numerator * u128::from(multiplier);
            if !scaled.is_multiple_of(denominator) {
                return Err(format!("\"{text}\" is not a whole number of bytes"));
            }
            bytes += scaled / denominator;
        }
        u64::try_from(bytes).map(Size).map_err(|_| too_big())
    }
}

impl Size {
    /// A computed size as a person reads it: three significant digits in
    /// the file's SI units (`4.93T`, `500G`, `12.3M`, `812B`). Not exact:
    /// for sizes the file did not write, such as a usable capacity.
    pub fn rounded(self) -> String {
        const SI: [(&str, f64); 5] = [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)];
        let bytes = self.0 as f64;
        let Some(&(unit, multiplier)) = SI.iter().find(|(_, m)| bytes >= *m) else {
            return format!("{}B", self.0);
        };
        let value = bytes / multiplier;
        let text = if value >= 100.0 {
            format!("{value:.0}")
        } else if value >= 10.0 {
            format!("{value:.1}")
        } else {
            format!("{value:.2}")
        };
        // 2.50 reads as 2.5, 3.00 as 3.
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        format!("{text}{unit}")
    }
}

impl fmt::Display for Size {
    /// The shortest exact form: SI with up to three decimals (`1.5T`,
    /// `500G`), else a whole binary unit (`1GiB`), else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SI: [(&str, u64); 5] = [
            ("P", 1_000_000_000_000_000),
            ("T", 1_000_000_000_000),
            ("G", 1_000_000_000),
            ("M", 1_000_000),
            ("K", 1_000),
        ];
        const BINARY: [(&str, u64); 5] = [
            ("PiB", 1 << 50),
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ];
        if let Some(&(unit, multiplier)) = SI.iter().find(|(_, m)| self.0 >= *m) {
            let (whole, rest) = (self.0 / multiplier, self.0 % multiplier);
            if rest == 0 {
                return write!(f, "{whole}{unit}");
            }
            for decimals in 1..=3u32 {
                let step = multiplier / 10u64.pow(decimals);
                if rest.is_multiple_of(step) {
                    let digits = decimals as usize;
                    return write!(f, "{whole}.{:0digits$}{unit}", rest / step);
                }
            }
        }
        if let Some(&(unit, multiplier)) = BINARY
            .iter()
            .find(|(_, m)| self.0 >= *m && self.0.is_multiple_of(*m))
        {
            return write!(f, "{}{unit}", self.0 / multiplier);
        }
        write!(f, "{}B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounded_sizes_read_at_a_glance() {
        assert_eq!(Size(2_028_468_598_442).rounded(), "2.03T");
        assert_eq!(Size(500_000_000_000).rounded(), "500G");
        assert_eq!(Size(2_500_000_000).rounded(), "2.5G");
        assert_eq!(Size(12_345_678).rounded(), "12.3M");
        assert_eq!(Size(999).rounded(), "999B");
        assert_eq!(Size(3_000_000_000_000).rounded(), "3T");
    }

    #[test]
    fn accepts_the_forms_users_write() {
        for (text, bytes) in [
            ("500G", 500_000_000_000),
            ("500GB", 500_000_000_000),
            ("1.5T", 1_500_000_000_000),
            ("1.5 T", 1_500_000_000_000),
            ("200GiB", 200 * (1 << 30)),
            ("200Gi", 200 * (1 << 30)),
            ("1024B", 1024),
            ("10k", 10_000),
            ("0.5G", 500_000_000),
            (".5G", 500_000_000),
            ("1.5KiB", 1536),
            ("16P", 16_000_000_000_000_000),
        ] {
            assert_eq!(Size::parse(text), Ok(Size(bytes)), "{text}");
        }
    }

    #[test]
    fn rejects_the_rest_with_a_reason() {
        for (text, reason) in [
            ("500", "no unit"),
            ("G", "starts with a number"),
            ("500X", "unknown size unit"),
            ("5.0.0G", "not a number"),
            ("1.5B", "whole number of bytes"),
            ("99999999999999999999P", "too large"),
            ("20000P", "too large"),
            ("-5G", "starts with a number"),
            ("", "starts with a number"),
            ("500 gb", "unknown size unit"),
        ] {
            let err = Size::parse(text).expect_err(text);
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn displays_the_shortest_exact_form() {
        assert_eq!(Size(1_500_000_000_000).to_string(), "1.5T");
        assert_eq!(Size(500_000_000_000).to_string(), "500G");
        assert_eq!(Size(1_250_000_000_000).to_string(), "1.25T");
        assert_eq!(Size(1023).to_string(), "1.023K");
        assert_eq!(Size(999).to_string(), "999B");
        assert_eq!(Size(1 << 30).to_string(), "1GiB");
        assert_eq!(Size(1536).to_string(), "1.536K");
    }
}
