//! The stable object hash that trace files carry (index entries and pod hashes).
//!
//! A simulator in another language recomputes these hashes, so the definition is part of the file
//! format and is written down in docs/formats.md ("The stable hash"): XXH64 with seed 0 over a canonical,
//! self-delimiting byte encoding of the JSON value. Map keys are sorted by their UTF-8 bytes, and
//! strings, arrays and maps are length-prefixed so that `[[1],[2]]` and `[[1,2]]` differ. Do not
//! change a byte of it without changing the format version.

use serde_json::Value;
use xxhash_rust::xxh64::Xxh64;

const NULL: u8 = 0x00;
const FALSE: u8 = 0x01;
const TRUE: u8 = 0x02;
const INT: u8 = 0x03;
const UINT: u8 = 0x04;
const FLOAT: u8 = 0x05;
const STRING: u8 = 0x06;
const ARRAY: u8 = 0x07;
const MAP: u8 = 0x08;

/// The stable hash of a JSON value.
pub fn stable_hash(value: &Value) -> u64 {
    let mut h = Xxh64::new(0);
    feed(&mut h, value);
    h.digest()
}

/// The stable hash of a JSON string, `stable_hash(&Value::String(s))` without building the value.
pub fn stable_hash_str(s: &str) -> u64 {
    let mut h = Xxh64::new(0);
    h.put(&[STRING]);
    put_str(&mut h, s);
    h.digest()
}

/// Writes the canonical encoding into any sink; `stable_hash` feeds it to XXH64 and the tests read it.
pub trait CanonicalSink {
    fn put(&mut self, bytes: &[u8]);
}

impl CanonicalSink for Xxh64 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl CanonicalSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn put_len(sink: &mut impl CanonicalSink, len: usize) {
    sink.put(&(len as u64).to_be_bytes());
}

fn put_str(sink: &mut impl CanonicalSink, s: &str) {
    put_len(sink, s.len());
    sink.put(s.as_bytes());
}

/// Appends the canonical encoding of `value` to `sink`.
pub fn feed(sink: &mut impl CanonicalSink, value: &Value) {
    match value {
        Value::Null => sink.put(&[NULL]),
        Value::Bool(false) => sink.put(&[FALSE]),
        Value::Bool(true) => sink.put(&[TRUE]),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                sink.put(&[INT]);
                sink.put(&i.to_be_bytes());
            } else if let Some(u) = n.as_u64() {
                sink.put(&[UINT]);
                sink.put(&u.to_be_bytes());
            } else {
                // serde_json numbers are finite, so this is the value itself, never a NaN pattern.
                sink.put(&[FLOAT]);
                sink.put(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => {
            sink.put(&[STRING]);
            put_str(sink, s);
        }
        Value::Array(items) => {
            sink.put(&[ARRAY]);
            put_len(sink, items.len());
            for item in items {
                feed(sink, item);
            }
        }
        Value::Object(map) => {
            sink.put(&[MAP]);
            put_len(sink, map.len());
            let mut entries: Vec<_> = map.iter().collect();
            // serde_json's default map is already sorted by key; sorting keeps the definition
            // independent of that feature (`preserve_order` would change the iteration order).
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, v) in entries {
                put_str(sink, k);
                feed(sink, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn canonical(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        feed(&mut out, v);
        out
    }

    #[test]
    fn canonical_encoding_is_as_documented() {
        assert_eq!(canonical(&json!(null)), [0x00]);
        assert_eq!(canonical(&json!(true)), [0x02]);
        assert_eq!(canonical(&json!(-2)), [0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(canonical(&json!(u64::MAX)), [0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(canonical(&json!(1.5)), [0x05, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(canonical(&json!("ab")), [0x06, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
        assert_eq!(
            canonical(&json!({"b": 1, "a": [null]})),
            [
                0x08, 0, 0, 0, 0, 0, 0, 0, 2, // map of 2
                0, 0, 0, 0, 0, 0, 0, 1, b'a', 0x07, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, // "a": [null]
                0, 0, 0, 0, 0, 0, 0, 1, b'b', 0x03, 0, 0, 0, 0, 0, 0, 0, 1, // "b": 1
            ]
        );
    }

    /// Pinned values: a change here breaks every trace already written, so it must be deliberate.
    #[test]
    fn a_string_hashes_alike_alone_and_as_a_value() {
        for s in ["", "kube-system", "team-ünïcode"] {
            assert_eq!(stable_hash_str(s), stable_hash(&json!(s)));
        }
    }

    #[test]
    fn hash_values_are_pinned() {
        assert_eq!(stable_hash(&json!(null)), 0xe934_a84a_db05_2768);
        assert_eq!(
            stable_hash(&json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})),
            0xf916_c7f7_a161_f53b
        );
    }

    #[test]
    fn nesting_is_unambiguous() {
        assert_ne!(stable_hash(&json!([[1], [2]])), stable_hash(&json!([[1, 2]])));
        assert_ne!(stable_hash(&json!(["ab", "c"])), stable_hash(&json!(["a", "bc"])));
        assert_ne!(stable_hash(&json!({"a": "b"})), stable_hash(&json!(["a", "b"])));
        assert_ne!(stable_hash(&json!(1)), stable_hash(&json!(1.0)));
        assert_ne!(stable_hash(&json!("1")), stable_hash(&json!(1)));
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"x": 1, "y": {"p": [1, 2], "q": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y": {"q": null, "p": [1, 2]}, "x": 1}"#).unwrap();
        assert_eq!(stable_hash(&a), stable_hash(&b));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            "[a-z]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The encoding is injective: distinct values never share a canonical encoding.
        #[test]
        fn distinct_values_have_distinct_encodings(a in arb_json(), b in arb_json()) {
            prop_assert_eq!(a == b, canonical(&a) == canonical(&b));
        }

        /// A value survives the msgpack round trip of the trace file with its hash unchanged.
        #[test]
        fn hash_survives_msgpack(v in arb_json()) {
            let bytes = rmp_serde::to_vec(&v).unwrap();
            let back: Value = rmp_serde::from_slice(&bytes).unwrap();
            prop_assert_eq!(stable_hash(&back), stable_hash(&v));
        }
    }
}
