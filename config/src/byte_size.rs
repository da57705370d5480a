//! Byte sizes as people write them: `2GiB`, `512MiB`, `1G`, `1500000`.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

const FORMS: &str = "write a number of bytes or a size such as `2GiB`, `512MiB` or `1G`";

pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("`{text}` is not a size; {FORMS}"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" => 1_000,
        "Ki" | "KiB" => 1 << 10,
        "M" | "MB" => 1_000_000,
        "Mi" | "MiB" => 1 << 20,
        "G" | "GB" => 1_000_000_000,
        "Gi" | "GiB" => 1 << 30,
        "T" | "TB" => 1_000_000_000_000,
        "Ti" | "TiB" => 1 << 40,
        other => return Err(format!("`{text}`: unknown unit `{other}` (use B, KiB, MiB, GiB, TiB, K, M, G or T)")),
    };
    let bytes = number * factor as f64;
    // `u64::MAX as f64` rounds up to 2^64, which itself does not fit.
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as u64)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a size such as `2GiB` or a number of bytes")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("`{v}` is negative; {FORMS}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(E::custom(format!("`{v}` is not a whole number of bytes; {FORMS}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse(v).map_err(E::custom)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(SizeVisitor)
}

/// The largest binary unit that divides the size exactly (`2GiB`), else the plain number.
pub fn format(bytes: u64) -> Option<String> {
    [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]
        .into_iter()
        .find(|(_, shift)| bytes != 0 && bytes.is_multiple_of(1u64 << shift))
        .map(|(unit, shift)| format!("{}{unit}", bytes >> shift))
}

pub fn serialize<S: Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
    match format(*bytes) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_u64(*bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!(parse("2GiB"), Ok(2 << 30));
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("1G"), Ok(1_000_000_000));
        assert_eq!(parse("1.5Ki"), Ok(1536));
        assert_eq!(parse("42"), Ok(42));
        assert!(parse("2 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("GiB").unwrap_err().contains("is not a size"));
        assert!(parse("1..2G").unwrap_err().contains("is not a size"));
        assert!(parse("99999999999TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn formats_round_sizes_with_their_unit() {
        assert_eq!(format(2 << 30).as_deref(), Some("2GiB"));
        assert_eq!(format(1536 << 20).as_deref(), Some("1536MiB"));
        assert_eq!(format(1_000_000_000), None);
        assert_eq!(format(0), None);
        for n in [2u64 << 30, 1536 << 20, 3 << 10, 5 << 40] {
            assert_eq!(format(n).map(|t| parse(&t)), Some(Ok(n)));
        }
    }
}
