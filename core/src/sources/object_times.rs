//! What an object says about when it changed: the times the apiserver wrote into its metadata,
//! and its resource version as a number. Read from the metadata's text as the watch decode finds
//! it; `managedFields` is walked for its entries' `time` only, its field sets skipped unread.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::Fields;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectTimes {
    /// The newest `metadata.managedFields[].time` (Unix seconds): the apiserver renews a
    /// manager's entry's time at each of its writes that changes a field.
    pub written: Option<i64>,
    /// `metadata.creationTimestamp`.
    pub created: Option<i64>,
    /// `metadata.deletionTimestamp`: when a graceful deletion is due (request time plus grace).
    pub deletion: Option<i64>,
    /// `metadata.deletionGracePeriodSeconds`.
    pub deletion_grace: Option<i64>,
    /// `metadata.resourceVersion` when it is an integer: an etcd revision, in practice, ordered
    /// across every kind the apiserver stores in one etcd.
    pub revision: Option<u64>,
}

impl ObjectTimes {
    /// From the metadata's fields as text.
    pub fn of_metadata(meta: &Fields<'_>) -> Self {
        ObjectTimes {
            written: meta.get("managedFields").and_then(newest_write),
            created: meta.get("creationTimestamp").and_then(json_time),
            deletion: meta.get("deletionTimestamp").and_then(json_time),
            deletion_grace: meta.get("deletionGracePeriodSeconds").and_then(|t| t.trim().parse().ok()),
            revision: meta.get("resourceVersion").and_then(json_revision),
        }
    }

    /// From a decoded object.
    pub fn of_json(obj: &Value) -> Self {
        let Some(meta) = obj.get("metadata") else { return ObjectTimes::default() };
        let time = |k: &str| meta.get(k).and_then(Value::as_str).and_then(unix_seconds);
        let written = meta.get("managedFields").and_then(Value::as_array).and_then(|entries| {
            entries.iter().filter_map(|e| e.get("time").and_then(Value::as_str).and_then(unix_seconds)).max()
        });
        ObjectTimes {
            written,
            created: time("creationTimestamp"),
            deletion: time("deletionTimestamp"),
            deletion_grace: meta.get("deletionGracePeriodSeconds").and_then(Value::as_i64),
            revision: meta.get("resourceVersion").and_then(Value::as_str).and_then(|rv| rv.parse().ok()),
        }
    }

    /// When a graceful deletion was asked for: its due time less its grace period.
    pub fn deletion_requested(&self) -> Option<i64> {
        self.deletion.map(|d| d - self.deletion_grace.unwrap_or(0).max(0))
    }
}

/// RFC 3339 as the apiserver writes `metav1.Time` (`2024-05-01T10:00:00Z`) to Unix seconds.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// A JSON string holding a time, as text with its quotes; one with escapes is no time.
fn json_time(text: &str) -> Option<i64> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        return None;
    }
    unix_seconds(inner)
}

fn json_revision(text: &str) -> Option<u64> {
    text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// The newest `time` of a `managedFields` array's entries, from its text.
///
/// The apiserver writes the entries compactly, and `"time":"` can then be nothing but an entry's
/// time: a key followed by a string, where the field sets (`fieldsV1`) hold only objects, and any
/// quote within their keys is escaped. Found by search, the entries are not walked: walking them
/// cost as much as reading the rest of the metadata. Text written otherwise is walked.
fn newest_write(text: &str) -> Option<i64> {
    const KEY: &str = "\"time\":\"";
    let mut found = false;
    let mut newest = None;
    for (at, _) in text.match_indices(KEY) {
        found = true;
        let value = &text[at + KEY.len()..];
        let time = value.find('"').and_then(|end| unix_seconds(&value[..end]));
        newest = newest.max(time);
    }
    if found {
        return newest;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    NewestTime.deserialize(&mut de).ok().flatten()
}

struct NewestTime;

impl<'de> DeserializeSeed<'de> for NewestTime {
    type Value = Option<i64>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for NewestTime {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("managedFields entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<i64>, A::Error> {
        let mut newest = None;
        while let Some(EntryTime(t)) = seq.next_element()? {
            newest = newest.max(t);
        }
        Ok(newest)
    }
}

/// One entry's `time`; its other fields (the field sets, most of the text) skipped.
struct EntryTime(Option<i64>);

impl<'de> Deserialize<'de> for EntryTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = EntryTime;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a managedFields entry")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<EntryTime, M::Error> {
        let mut time = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Time => time = map.next_value::<TimeText>()?.0,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(EntryTime(time))
    }
}

enum Key {
    Time,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: serde::de::Error>(self, k: &str) -> Result<Key, E> {
                Ok(if k == "time" { Key::Time } else { Key::Other })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A time's text, parsed; anything else (a null, a malformed time) is no time.
struct TimeText(Option<i64>);

impl<'de> Deserialize<'de> for TimeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time")
            }
            fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<TimeText, E> {
                Ok(TimeText(unix_seconds(t)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<TimeText, E> {
                Ok(TimeText(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_714_557_600; // 2024-05-01T10:00:00Z

    fn meta_text(v: &Value) -> String {
        v.to_string()
    }

    #[test]
    fn reads_every_time_the_metadata_holds() {
        let meta = json!({"name": "a", "resourceVersion": "812",
            "creationTimestamp": "2024-05-01T10:00:00Z",
            "deletionTimestamp": "2024-05-01T10:01:30Z", "deletionGracePeriodSeconds": 30,
            "managedFields": [
                {"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "time": "2024-05-01T10:00:05Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"k:{\"name\":\"time\"}": {}}}}},
                {"manager": "kube-controller-manager", "time": "2024-05-01T10:00:42Z", "subresource": "status",
                 "fieldsV1": {"f:status": {"f:time": {}}}},
                {"manager": "old", "time": null}]});
        let text = meta_text(&meta);
        let times = ObjectTimes::of_metadata(&Fields::of(&text).unwrap());
        let expected = ObjectTimes {
            written: Some(T0 + 42),
            created: Some(T0),
            deletion: Some(T0 + 90),
            deletion_grace: Some(30),
            revision: Some(812),
        };
        assert_eq!(times, expected);
        assert_eq!(ObjectTimes::of_json(&json!({ "metadata": meta })), expected, "decoded, the same");
        assert_eq!(times.deletion_requested(), Some(T0 + 60));
    }

    #[test]
    fn what_is_not_a_time_or_a_number_is_left_out() {
        let meta = json!({"resourceVersion": "abc", "creationTimestamp": "yesterday",
                          "managedFields": "not a list", "deletionTimestamp": 5});
        let text = meta_text(&meta);
        assert_eq!(ObjectTimes::of_metadata(&Fields::of(&text).unwrap()), ObjectTimes::default());
        assert_eq!(ObjectTimes::of_json(&json!({ "metadata": meta })), ObjectTimes::default());
        assert_eq!(ObjectTimes::of_json(&json!({"kind": "Pod"})), ObjectTimes::default());
        let escaped = r#"{"creationTimestamp": "2024-05-01T10:00:00\u005a", "managedFields": [{"time": "2024-05-01T10:00:01Z"}, {"\u0074ime": "2024-05-01T11:00:00Z"}]}"#;
        let times = ObjectTimes::of_metadata(&Fields::of(escaped).unwrap());
        assert_eq!(times.created, None, "escaped text is not read as a time");
        assert_eq!(times.written, Some(T0 + 3600), "an escaped key is still the key");
    }

    #[test]
    fn entries_written_with_spaces_are_walked() {
        let spaced = r#"[{"manager": "a", "time": "2024-05-01T10:00:02Z", "fieldsV1": {"f:time": {}}},
                         {"manager": "b", "time": "2024-05-01T10:00:01Z"}]"#;
        assert_eq!(newest_write(spaced), Some(T0 + 2));
        let compact =
            r#"[{"manager":"a","time":"2024-05-01T10:00:02Z","fieldsV1":{"k:{\"time\":\"x\"}":{}}},{"time":"bad"}]"#;
        assert_eq!(newest_write(compact), Some(T0 + 2));
        assert_eq!(newest_write("[]"), None);
    }

    #[test]
    fn fractional_seconds_round_down() {
        assert_eq!(unix_seconds("2024-05-01T10:00:00.999999Z"), Some(T0));
        assert_eq!(unix_seconds("2024-05-01T10:00:00Z"), Some(T0));
        assert_eq!(unix_seconds(""), None);
    }
}
