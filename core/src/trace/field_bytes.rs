//! Reading parts of an encoded object in place, without decoding the rest: export filters read an
//! object's labels and owner references, and decoding its spec and status only to skip them cost
//! several times more than the rest of an export's work per object.

use super::object::MetadataRef;

/// The msgpack bytes of the value of the top-level field `name` of the map `bytes` encodes;
/// `None` if there is no such field or the bytes are not a msgpack map with string keys.
pub fn field_bytes<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut rd = bytes;
    let fields = rmp::decode::read_map_len(&mut rd).ok()?;
    for _ in 0..fields {
        let key_len = rmp::decode::read_str_len(&mut rd).ok()? as usize;
        let key = rd.get(..key_len)?;
        rd = &rd[key_len..];
        let value = rd;
        skip_value(&mut rd)?;
        if key == name.as_bytes() {
            return Some(&value[..value.len() - rd.len()]);
        }
    }
    None
}

/// The labels and owner kinds in the `metadata` of the map `bytes` encodes, borrowed from it.
/// Entries that are not strings are left out; metadata that is not whole msgpack reads as
/// empty.
pub fn metadata_ref(bytes: &[u8]) -> MetadataRef<'_> {
    let mut out = MetadataRef::default();
    if let Some(mut rd) = field_bytes(bytes, "metadata") {
        let _ = read_metadata(&mut rd, &mut out);
    }
    out
}

fn read_metadata<'a>(rd: &mut &'a [u8], out: &mut MetadataRef<'a>) -> Option<()> {
    for _ in 0..map_len_or_skip(rd)? {
        match str_or_skip(rd)? {
            Some("labels") => {
                for _ in 0..map_len_or_skip(rd)? {
                    let (key, value) = (str_or_skip(rd)?, str_or_skip(rd)?);
                    if let (Some(key), Some(value)) = (key, value) {
                        out.labels.push((key, value));
                    }
                }
            }
            Some("ownerReferences") => {
                for _ in 0..array_len_or_skip(rd)? {
                    let (mut api_version, mut kind) = (None, None);
                    for _ in 0..map_len_or_skip(rd)? {
                        match str_or_skip(rd)? {
                            Some("apiVersion") => api_version = str_or_skip(rd)?,
                            Some("kind") => kind = str_or_skip(rd)?,
                            _ => skip_value(rd)?,
                        }
                    }
                    if let (Some(api_version), Some(kind)) = (api_version, kind) {
                        out.owner_kinds.push((api_version, kind));
                    }
                }
            }
            _ => skip_value(rd)?,
        }
    }
    Some(())
}

/// The string at the front of `rd`, borrowed; `Some(None)` (and the value skipped) if the value
/// there is something else; `None` if the bytes end or are not msgpack.
fn str_or_skip<'a>(rd: &mut &'a [u8]) -> Option<Option<&'a str>> {
    let mut probe = *rd;
    match rmp::decode::read_str_len(&mut probe) {
        Ok(n) => {
            let bytes = probe.get(..n as usize)?;
            *rd = &probe[n as usize..];
            Some(std::str::from_utf8(bytes).ok())
        }
        Err(_) => skip_value(rd).map(|()| None),
    }
}

/// The length of the map at the front of `rd`; 0 (and the value skipped) for anything else.
fn map_len_or_skip(rd: &mut &[u8]) -> Option<u32> {
    len_or_skip(rd, |probe| rmp::decode::read_map_len(probe).ok())
}

/// The length of the array at the front of `rd`; 0 (and the value skipped) for anything else.
fn array_len_or_skip(rd: &mut &[u8]) -> Option<u32> {
    len_or_skip(rd, |probe| rmp::decode::read_array_len(probe).ok())
}

fn len_or_skip(rd: &mut &[u8], read_len: impl Fn(&mut &[u8]) -> Option<u32>) -> Option<u32> {
    let mut probe = *rd;
    match read_len(&mut probe) {
        Some(n) => {
            *rd = probe;
            Some(n)
        }
        None => skip_value(rd).map(|()| 0),
    }
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
/// consumes at least one byte, so bad input ends with the bytes.
fn skip_value(rd: &mut &[u8]) -> Option<()> {
    use rmp::Marker::*;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        match rmp::decode::read_marker(rd).ok()? {
            FixPos(_) | FixNeg(_) | Null | True | False => {}
            U8 | I8 => advance(rd, 1)?,
            U16 | I16 => advance(rd, 2)?,
            U32 | I32 | F32 => advance(rd, 4)?,
            U64 | I64 | F64 => advance(rd, 8)?,
            FixStr(n) => advance(rd, usize::from(n))?,
            Str8 | Bin8 => skip_sized(rd, 1, 0)?,
            Str16 | Bin16 => skip_sized(rd, 2, 0)?,
            Str32 | Bin32 => skip_sized(rd, 4, 0)?,
            FixArray(n) => pending += u64::from(n),
            Array16 => pending += length(rd, 2)?,
            Array32 => pending += length(rd, 4)?,
            FixMap(n) => pending += 2 * u64::from(n),
            Map16 => pending += 2 * length(rd, 2)?,
            Map32 => pending += 2 * length(rd, 4)?,
            FixExt1 => advance(rd, 2)?,
            FixExt2 => advance(rd, 3)?,
            FixExt4 => advance(rd, 5)?,
            FixExt8 => advance(rd, 9)?,
            FixExt16 => advance(rd, 17)?,
            // An extension's type byte follows its length.
            Ext8 => skip_sized(rd, 1, 1)?,
            Ext16 => skip_sized(rd, 2, 1)?,
            Ext32 => skip_sized(rd, 4, 1)?,
            Reserved => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

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
        assert_eq!(meta.labels, [("app", "web"), ("tier", "front")]);
        assert_eq!(meta.owner_kinds, [("batch/v1", "CronJob"), ("example.com/v1", "Workflow")]);
        assert_eq!(meta.label("tier"), Some("front"));
        assert_eq!(meta.label("n"), None);

        let odd = encode(&json!({"metadata": {"labels": ["a"], "ownerReferences": {"kind": "X"}}}));
        assert_eq!(metadata_ref(&odd), MetadataRef::default());
        assert_eq!(metadata_ref(&encode(&json!({"metadata": 7}))), MetadataRef::default());
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
                meta.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
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
