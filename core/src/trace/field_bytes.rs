//! Reading parts of an encoded object in place, without decoding the rest: export filters read an
//! object's labels and owner references, and decoding its spec and status only to skip them cost
//! several times more than the rest of an export's work per object.

/// What export filters look at besides an object's identity, borrowed from the encoded object:
/// the labels map and the owner references list as their msgpack bytes, read entry by entry only
/// when asked, so finding them costs no allocation and no UTF-8 check of entries nobody reads.
/// Entries that are not strings are left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetadataRef<'a> {
    /// A msgpack map, or empty.
    pub(super) labels: &'a [u8],
    /// A msgpack array, or empty.
    pub(super) owner_refs: &'a [u8],
}

impl<'a> MetadataRef<'a> {
    /// The value of the label `key`, if the object has it as a string.
    pub fn label(&self, key: &str) -> Option<&'a str> {
        find_label(self.labels, key)
    }

    /// In the object's order; keys are unique, as the object's were.
    pub fn labels(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        labels(self.labels)
    }

    /// `(apiVersion, kind)` of each owner reference.
    pub fn owner_kinds(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        owner_kinds(self.owner_refs)
    }
}

/// The labels and owner references in the `metadata` of the map `bytes` encodes, borrowed from
/// it. Metadata that is not whole msgpack reads as empty, as do labels that are not a map and
/// owner references that are not a list.
pub(super) fn metadata_ref(bytes: &[u8]) -> MetadataRef<'_> {
    let mut rd = bytes;
    let mut out = MetadataRef::default();
    for _ in 0..map_len(&mut rd).unwrap_or(0) {
        let Some(key) = key_bytes(&mut rd) else { break };
        if key == Some(b"metadata") {
            // Read where it lies rather than skipped whole first: it is read only once this way.
            return read_metadata(&mut rd, &mut out).map_or_else(MetadataRef::default, |()| out);
        }
        if skip_value(&mut rd).is_none() {
            break;
        }
    }
    out
}

fn read_metadata<'a>(rd: &mut &'a [u8], out: &mut MetadataRef<'a>) -> Option<()> {
    for _ in 0..map_len(rd)? {
        let key = key_bytes(rd)?;
        let value = take_value(rd)?;
        match key {
            Some(b"labels") if out.labels.is_empty() && map_len(&mut &value[..]).is_some() => out.labels = value,
            Some(b"ownerReferences") if out.owner_refs.is_empty() && array_len(&mut &value[..]).is_some() => {
                out.owner_refs = value
            }
            _ => {}
        }
    }
    Some(())
}

/// The value of `key` in a labels map, if both are strings. Compares bytes, so that only the value
/// found is checked as UTF-8.
fn find_label<'a>(map: &'a [u8], key: &str) -> Option<&'a str> {
    let (_, value) = map_entries(map).find(|(k, _)| *k == Some(key.as_bytes()))?;
    str_bytes(&mut &value[..]).and_then(|v| std::str::from_utf8(v).ok())
}

/// The entries of a labels map whose key and value are strings.
fn labels(map: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    map_entries(map).filter_map(|(key, mut value)| {
        Some((std::str::from_utf8(key?).ok()?, std::str::from_utf8(str_bytes(&mut value)?).ok()?))
    })
}

/// A map's entries: each key's bytes if it is a string, and the value's msgpack bytes; no entries
/// for anything but a map, and none past where the bytes end.
fn map_entries(map: &[u8]) -> impl Iterator<Item = (Option<&[u8]>, &[u8])> {
    let mut rd = map;
    let n = map_len(&mut rd).unwrap_or(0);
    (0..n).map_while(move |_| Some((key_bytes(&mut rd)?, take_value(&mut rd)?)))
}

/// `(apiVersion, kind)` of each owner reference that has both as strings.
fn owner_kinds(list: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    let mut rd = list;
    let n = array_len(&mut rd).unwrap_or(0);
    (0..n)
        .map_while(move |_| {
            let mut reference = take_value(&mut rd)?;
            let (mut api_version, mut kind) = (None, None);
            for _ in 0..map_len(&mut reference).unwrap_or(0) {
                match key_bytes(&mut reference)? {
                    Some(b"apiVersion") => api_version = str_or_skip(&mut reference)?,
                    Some(b"kind") => kind = str_or_skip(&mut reference)?,
                    _ => take_value(&mut reference).map(drop)?,
                }
            }
            Some((api_version, kind))
        })
        .filter_map(|(a, k)| Some((a?, k?)))
}

/// A map key at the front of `rd`, consumed: its bytes if it is a string, `Some(None)` for any
/// other key (msgpack allows them; JSON never has them); `None` if the bytes end.
fn key_bytes<'a>(rd: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    match str_bytes(rd) {
        Some(key) => Some(Some(key)),
        None => take_value(rd).map(|_| None),
    }
}

/// The UTF-8 string at the front of `rd`, consumed; `Some(None)` (and the value skipped) if the
/// value there is something else; `None` if the bytes end or are not msgpack.
fn str_or_skip<'a>(rd: &mut &'a [u8]) -> Option<Option<&'a str>> {
    match str_bytes(rd) {
        Some(bytes) => Some(std::str::from_utf8(bytes).ok()),
        None => take_value(rd).map(|_| None),
    }
}

/// The bytes of the string at the front of `rd`, consumed; `None`, with `rd` untouched, if the
/// value there is not a whole string. The forms are read by hand: a trace's strings are nearly
/// all short, and reading their one-byte header inline costs a fraction of a call through rmp.
fn str_bytes<'a>(rd: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (header, len): (usize, usize) = match *rd.first()? {
        b @ 0xa0..=0xbf => (1, usize::from(b & 0x1f)),
        0xd9 => (2, usize::from(*rd.get(1)?)),
        0xda => (3, usize::from(u16::from_be_bytes(rd.get(1..3)?.try_into().ok()?))),
        0xdb => (5, usize::try_from(u32::from_be_bytes(rd.get(1..5)?.try_into().ok()?)).ok()?),
        _ => return None,
    };
    let bytes = rd.get(header..header.checked_add(len)?)?;
    *rd = &rd[header + len..];
    Some(bytes)
}

/// The length of the map at the front of `rd`, consumed; `None`, with `rd` untouched, for
/// anything else.
fn map_len(rd: &mut &[u8]) -> Option<u32> {
    container_len(rd, 0x80, 0xde)
}

/// As [`map_len`], for an array.
fn array_len(rd: &mut &[u8]) -> Option<u32> {
    container_len(rd, 0x90, 0xdc)
}

/// A container's length: `fix` is the fixed form's marker (length in its low four bits), `wide`
/// the 16-bit form's (the 32-bit form's follows it).
fn container_len(rd: &mut &[u8], fix: u8, wide: u8) -> Option<u32> {
    let b = *rd.first()?;
    let (header, n) = if b & 0xf0 == fix {
        (1, u32::from(b & 0x0f))
    } else if b == wide {
        (3, u32::from(u16::from_be_bytes(rd.get(1..3)?.try_into().ok()?)))
    } else if b == wide + 1 {
        (5, u32::from_be_bytes(rd.get(1..5)?.try_into().ok()?))
    } else {
        return None;
    };
    *rd = &rd[header..];
    Some(n)
}

/// The bytes of the value at the front of `rd`, consumed.
fn take_value<'a>(rd: &mut &'a [u8]) -> Option<&'a [u8]> {
    let start = *rd;
    skip_value(rd)?;
    Some(&start[..start.len() - rd.len()])
}

fn advance(rd: &mut &[u8], n: usize) -> Option<()> {
    *rd = rd.get(n..)?;
    Some(())
}

fn length(rd: &mut &[u8], width: usize) -> Option<u64> {
    let bytes = rd.get(..width)?;
    let n = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
    *rd = &rd[width..];
    Some(n)
}

/// Moves `rd` past a length of `width` bytes and the `length + extra` bytes after it.
fn skip_sized(rd: &mut &[u8], width: usize, extra: usize) -> Option<()> {
    let n = usize::try_from(length(rd, width)?).ok()?;
    advance(rd, n.checked_add(extra)?)
}

/// Moves `rd` past one msgpack value. Iterative, so nesting depth costs no stack; every step
/// consumes at least one byte, so bad input ends with the bytes. Markers are matched as bytes
/// (see the msgpack spec's format table), which compiles to one jump table.
#[inline]
fn skip_value(rd: &mut &[u8]) -> Option<()> {
    // Most values skipped are short strings: those are skipped here, inline.
    match rd.first() {
        Some(&b @ 0xa0..=0xbf) => advance(rd, 1 + usize::from(b & 0x1f)),
        _ => skip_any(rd),
    }
}

fn skip_any(out: &mut &[u8]) -> Option<()> {
    // A copy, written back once: through the reference, every step would store it.
    let mut bytes = *out;
    let rd = &mut bytes;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let (&byte, rest) = rd.split_first()?;
        *rd = rest;
        match byte {
            // positive and negative fixint, nil, false, true
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => {}
            0x80..=0x8f => pending += 2 * u64::from(byte & 0x0f),
            0x90..=0x9f => pending += u64::from(byte & 0x0f),
            0xa0..=0xbf => advance(rd, usize::from(byte & 0x1f))?,
            0xc1 => return None,
            // bin 8/16/32, then ext 8/16/32, whose type byte follows the length
            0xc4 | 0xd9 => skip_sized(rd, 1, 0)?,
            0xc5 | 0xda => skip_sized(rd, 2, 0)?,
            0xc6 | 0xdb => skip_sized(rd, 4, 0)?,
            0xc7 => skip_sized(rd, 1, 1)?,
            0xc8 => skip_sized(rd, 2, 1)?,
            0xc9 => skip_sized(rd, 4, 1)?,
            // float 32/64, uint 8..64, int 8..64
            0xca => advance(rd, 4)?,
            0xcb => advance(rd, 8)?,
            0xcc | 0xd0 => advance(rd, 1)?,
            0xcd | 0xd1 => advance(rd, 2)?,
            0xce | 0xd2 => advance(rd, 4)?,
            0xcf | 0xd3 => advance(rd, 8)?,
            // fixext 1/2/4/8/16: a type byte and the data
            0xd4 => advance(rd, 2)?,
            0xd5 => advance(rd, 3)?,
            0xd6 => advance(rd, 5)?,
            0xd7 => advance(rd, 9)?,
            0xd8 => advance(rd, 17)?,
            0xdc => pending += length(rd, 2)?,
            0xdd => pending += length(rd, 4)?,
            0xde => pending += 2 * length(rd, 2)?,
            0xdf => pending += 2 * length(rd, 4)?,
        }
    }
    *out = bytes;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The bytes of the top-level field `name`, found by skipping every value before it: a way to
    /// check the skipper against a full decode over any values.
    fn field_bytes<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let mut rd = bytes;
        for _ in 0..map_len(&mut rd)? {
            let key = str_bytes(&mut rd)?;
            let value = take_value(&mut rd)?;
            if key == name.as_bytes() {
                return Some(value);
            }
        }
        None
    }

    fn encode(v: &Value) -> Vec<u8> {
        rmp_serde::to_vec(v).unwrap()
    }

    #[test]
    fn finds_a_field_wherever_it_is_and_whatever_precedes_it() {
        let meta = json!({"name": "a", "labels": {"app": "x"}});
        let obj = json!({
            "apiVersion": "v1", "kind": "Pod",
            "spec": {"n": [1, -1, 300, -300, 70000, -70000, 5_000_000_000u64, -5_000_000_000i64, 1.5, null, true],
                     "s": "x".repeat(40), "long": "y".repeat(70_000), "deep": [[[[{"a": []}]]]]},
            "metadata": meta,
            "status": {},
        });
        let bytes = encode(&obj);
        let found = field_bytes(&bytes, "metadata").unwrap();
        assert_eq!(rmp_serde::from_slice::<Value>(found).unwrap(), meta);
        assert_eq!(rmp_serde::from_slice::<Value>(field_bytes(&bytes, "status").unwrap()).unwrap(), json!({}));
        assert_eq!(field_bytes(&bytes, "absent"), None);
    }

    #[test]
    fn binary_and_extension_values_are_skipped() {
        let mut bytes = Vec::new();
        rmp::encode::write_map_len(&mut bytes, 3).unwrap();
        rmp::encode::write_str(&mut bytes, "bin").unwrap();
        rmp::encode::write_bin(&mut bytes, &[0xc1; 300]).unwrap();
        rmp::encode::write_str(&mut bytes, "ext").unwrap();
        rmp::encode::write_ext_meta(&mut bytes, 16, 5).unwrap();
        bytes.extend_from_slice(&[0xc1; 16]);
        rmp::encode::write_str(&mut bytes, "metadata").unwrap();
        rmp::encode::write_nil(&mut bytes).unwrap();
        assert_eq!(field_bytes(&bytes, "metadata"), Some(&[0xc0][..]));
    }

    #[test]
    fn labels_and_owner_kinds_are_read_in_place_and_odd_entries_left_out() {
        let obj = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {
                "annotations": {"a": "x".repeat(300)},
                "labels": {"app": "web", "n": 3, "tier": "front"},
                "name": "j",
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u"},
                    {"kind": "NoVersion"},
                    "not a map",
                    {"apiVersion": "example.com/v1", "controller": true, "kind": "Workflow"},
                ],
            },
            "spec": {"template": {}},
        });
        let bytes = encode(&obj);
        let meta = metadata_ref(&bytes);
        assert_eq!(meta.labels().collect::<Vec<_>>(), [("app", "web"), ("tier", "front")]);
        assert_eq!(meta.owner_kinds().collect::<Vec<_>>(), [("batch/v1", "CronJob"), ("example.com/v1", "Workflow")]);
        assert_eq!(meta.label("tier"), Some("front"));
        assert_eq!(meta.label("n"), None);

        let odd = encode(&json!({"metadata": {"labels": ["a"], "ownerReferences": {"kind": "X"}}}));
        assert_eq!(metadata_ref(&odd), MetadataRef::default());
        assert_eq!(metadata_ref(&encode(&json!({"metadata": 7}))), MetadataRef::default());
    }

    /// msgpack keys need not be strings: any other key is skipped with its value.
    #[test]
    fn keys_that_are_not_strings_are_skipped_with_their_values() {
        enum T {
            Map(u32),
            List(u32),
            Int(i64),
            Str(&'static str),
        }
        use T::*;
        let tokens = [
            Map(3),
            Int(-1),
            Str("metadata"),
            Str("kind"),
            Str("Pod"),
            Str("metadata"),
            Map(3),
            Int(1),
            Str("labels"),
            Str("labels"),
            Map(2),
            Int(2),
            Str("a"),
            Str("a"),
            Str("b"),
            Str("ownerReferences"),
            List(1),
            Map(3),
            Int(3),
            Str("kind"),
            Str("apiVersion"),
            Str("v1"),
            Str("kind"),
            Str("K"),
        ];
        let mut bytes = Vec::new();
        for t in tokens {
            match t {
                Map(n) => drop(rmp::encode::write_map_len(&mut bytes, n).unwrap()),
                List(n) => drop(rmp::encode::write_array_len(&mut bytes, n).unwrap()),
                Int(n) => drop(rmp::encode::write_sint(&mut bytes, n).unwrap()),
                Str(s) => rmp::encode::write_str(&mut bytes, s).unwrap(),
            }
        }
        let meta = metadata_ref(&bytes);
        assert_eq!(meta.labels().collect::<Vec<_>>(), [("a", "b")]);
        assert_eq!(meta.label("a"), Some("b"));
        assert_eq!(meta.owner_kinds().collect::<Vec<_>>(), [("v1", "K")]);
    }

    #[test]
    fn truncated_metadata_reads_as_empty() {
        let bytes = encode(&json!({"metadata": {"labels": {"a": "1", "b": "2"}}}));
        let cut = &bytes[..bytes.len() - 1];
        assert_eq!(metadata_ref(cut), MetadataRef::default());
    }

    proptest! {
        #[test]
        fn metadata_of_any_bytes_is_answered_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = metadata_ref(&bytes);
        }

        #[test]
        fn labels_agree_with_a_full_decode(labels in prop::collection::btree_map("[a-z./]{1,12}", ".{0,20}", 0..8)) {
            let bytes = encode(&json!({"kind": "Pod", "metadata": {"name": "p", "labels": labels}}));
            let meta = metadata_ref(&bytes);
            let read: std::collections::BTreeMap<String, String> =
                meta.labels().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            for (k, v) in &labels {
                prop_assert_eq!(meta.label(k), Some(v.as_str()));
            }
            prop_assert_eq!(read, labels);
        }

        /// Any bytes at all: an answer or `None`, never a panic; and for a real object, the
        /// answer is what a full decode finds.
        #[test]
        fn any_bytes_are_answered_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = field_bytes(&bytes, "metadata");
        }

        #[test]
        fn agrees_with_a_full_decode(keys in prop::collection::vec("[a-z]{1,3}", 0..6), n in any::<i64>(), s in ".{0,40}") {
            let mut obj = serde_json::Map::new();
            for (i, k) in keys.iter().enumerate() {
                obj.insert(k.clone(), json!([{"n": n, "s": s, "i": i}]));
            }
            let bytes = encode(&Value::Object(obj.clone()));
            for k in keys.iter().map(String::as_str).chain(["absent"]) {
                let found = field_bytes(&bytes, k).map(|b| rmp_serde::from_slice::<Value>(b).unwrap());
                prop_assert_eq!(found.as_ref(), obj.get(k));
            }
        }
    }
}
