//! Durations as people write them (`24h`, `90m`, `1h 30m`), with errors that show the accepted
//! forms. A bare number is refused: seconds and minutes are both plausible readings of `3600`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

const FORMS: &str = "write a number with a unit, e.g. `24h`, `90m`, `30s` or `1h 30m`";

pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}` is not a duration ({e}); {FORMS}"))
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a duration such as `24h` or `90m`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(format!("`{v}` has no unit; {FORMS}")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(format!("`{v}` has no unit; {FORMS}")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!("`{v}` has no unit; {FORMS}")))
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// Whole hours, minutes or seconds in one unit (`24h`, `90m`), as people write them; anything
/// finer in humantime's own form.
pub fn format(d: Duration) -> String {
    let secs = d.as_secs();
    match (d.subsec_nanos(), secs) {
        (0, 0) => "0s".into(),
        (0, s) if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        (0, s) if s.is_multiple_of(60) => format!("{}m", s / 60),
        (0, s) => format!("{s}s"),
        _ => humantime::format_duration(d).to_string(),
    }
}

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations_and_explains_failures() {
        assert_eq!(parse("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_secs(5_400)));
        let e = parse("soon").unwrap_err();
        assert!(e.contains("`soon` is not a duration") && e.contains("e.g. `24h`"), "{e}");
    }

    #[test]
    fn formats_in_the_largest_whole_unit_and_reparses() {
        for (secs, text) in [(86_400, "24h"), (5_400, "90m"), (61, "61s"), (0, "0s")] {
            assert_eq!(format(Duration::from_secs(secs)), text);
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)));
        }
        let fine = Duration::from_millis(1_500);
        assert_eq!(parse(&format(fine)), Ok(fine));
    }
}
