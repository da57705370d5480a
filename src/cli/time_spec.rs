//! Times on the command line: RFC 3339 (`2025-11-24T16:00:00Z`), unix seconds (`1764000000`),
//! `now`, or relative to now (`-1h`, `now-30m`, `-1h30m`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a time argument into unix seconds, relative to `now`.
pub fn parse(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(ago) = t.strip_prefix("now-").or_else(|| t.strip_prefix('-')) {
        let d = humantime::parse_duration(ago).map_err(|e| format!("`{text}`: {e} (try `-1h`, `-30m`, `now-2h`)"))?;
        return Ok(now - d.as_secs() as i64);
    }
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs);
    }
    let at = humantime::parse_rfc3339_weak(t).map_err(|_| {
        format!("`{text}` is not a time: use RFC 3339 (2025-11-24T16:00:00Z), unix seconds, `now` or `-1h`")
    })?;
    Ok(at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs() as i64)
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000;

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(parse("now", NOW), Ok(NOW));
        assert_eq!(parse("-1h", NOW), Ok(NOW - 3600));
        assert_eq!(parse("now-1h30m", NOW), Ok(NOW - 5400));
        assert_eq!(parse("1700000000", NOW), Ok(1_700_000_000));
        assert_eq!(parse("2025-11-24T16:00:00Z", NOW), Ok(NOW));
        assert!(parse("yesterday", NOW).unwrap_err().contains("is not a time"));
        assert!(parse("-1 fortnight", NOW).unwrap_err().contains("try `-1h`"));
    }
}
