//! Byte sizes as people write them: `2GiB`, `512MiB`, `1G`, `1500000`.

use serde::{Deserialize, Deserializer, Serializer};

pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a size (try 2GiB, 512MiB or a number of bytes)"))?;
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
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as u64)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Number(n) => Ok(n),
        Size::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

pub fn serialize<S: Serializer>(bytes: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(*bytes)
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
    }
}
