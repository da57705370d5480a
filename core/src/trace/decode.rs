//! Reading trace files: recognise the format, and turn every kind of bad input into an error that
//! says what is wrong and where.

use std::io::ErrorKind;

use rmp::Marker;

use super::simkube_v2::V2File;
use super::v1::V1File;
use super::{Trace, TraceFormat};

/// Objects in Kubernetes are far shallower than this; the limit keeps hostile input from
/// exhausting the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceDecodeError {
    #[error("the file is empty, not a trace")]
    Empty,
    #[error(
        "this is JSON, not a trace: trace files are msgpack (`sk-tracer inspect --json FILE` shows a trace as JSON)"
    )]
    LooksLikeJson,
    #[error(
        "not a trace: expected a v1 array [config, events, index, pod_lifecycles(, gaps)] or a simkube-v2 map, found {found}"
    )]
    NotATrace { found: String },
    #[error("the trace is truncated: the file ends inside {at}")]
    Truncated { at: String },
    #[error("malformed trace at {at}: {message}")]
    Malformed { at: String, message: String },
    #[error("{count} unexpected bytes follow the end of the trace")]
    TrailingBytes { count: usize },
    #[error("inconsistent trace: {0}")]
    Inconsistent(String),
}

fn describe(marker: Marker) -> String {
    match marker {
        Marker::FixArray(n) => format!("an array of {n} elements"),
        Marker::Array16 | Marker::Array32 => "a large array".into(),
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a string".into(),
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "binary data".into(),
        Marker::Null => "nil".into(),
        Marker::True | Marker::False => "a boolean".into(),
        Marker::F32 | Marker::F64 => "a float".into(),
        Marker::Reserved => "a reserved msgpack byte (0xc1)".into(),
        _ => "a number".into(),
    }
}

/// Reads a trace in any supported format.
pub fn decode(bytes: &[u8]) -> Result<Trace, TraceDecodeError> {
    decode_any(bytes).map(|(_, trace)| trace)
}

/// Reads a trace in any supported format, and says which it was.
pub fn decode_any(bytes: &[u8]) -> Result<(TraceFormat, Trace), TraceDecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(TraceDecodeError::Empty);
    };
    if matches!(first, b'{' | b'[' | b' ' | b'\n' | b'\r' | b'\t')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(TraceDecodeError::LooksLikeJson);
    }
    match Marker::from_u8(first) {
        Marker::FixArray(4 | 5) => decode_v1(bytes).map(|t| (TraceFormat::V1, t)),
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => decode_v2(bytes).map(|t| (TraceFormat::SimkubeV2, t)),
        Marker::Array16 | Marker::Array32 => {
            let len = rmp::decode::read_array_len(&mut &bytes[..])
                .map_err(|_| TraceDecodeError::Truncated { at: "the top-level array header".into() })?;
            if len == 4 || len == 5 {
                decode_v1(bytes).map(|t| (TraceFormat::V1, t))
            } else {
                Err(TraceDecodeError::NotATrace { found: format!("an array of {len} elements") })
            }
        }
        other => Err(TraceDecodeError::NotATrace { found: describe(other) }),
    }
}

fn read<T: serde::de::DeserializeOwned>(bytes: &[u8], location: fn(&str) -> String) -> Result<T, TraceDecodeError> {
    let mut rest = bytes;
    let mut de = rmp_serde::Deserializer::new(&mut rest);
    de.set_max_depth(MAX_DEPTH);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = location(&e.path().to_string());
        match e.into_inner() {
            rmp_serde::decode::Error::InvalidMarkerRead(io) | rmp_serde::decode::Error::InvalidDataRead(io)
                if io.kind() == ErrorKind::UnexpectedEof =>
            {
                TraceDecodeError::Truncated { at }
            }
            rmp_serde::decode::Error::TypeMismatch(marker) => {
                TraceDecodeError::Malformed { at, message: format!("wrong type: found {}", describe(marker)) }
            }
            inner => {
                let message = inner.to_string();
                match owner_in_message(&at, &message) {
                    Some((at, message)) => TraceDecodeError::Malformed { at, message },
                    None => TraceDecodeError::Malformed { at, message },
                }
            }
        }
    })?;
    if !rest.is_empty() {
        return Err(TraceDecodeError::TrailingBytes { count: rest.len() });
    }
    Ok(value)
}

/// A location cannot show an array map key (`?`); where the message names the owner whose
/// lifecycles were wrong (simkube-v2's `[gvk, ns/name]` keys), it takes the key's place.
fn owner_in_message(at: &str, message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("owner [")?;
    let (owner, message) = rest.split_once("]: ")?;
    at.contains(".?").then(|| (at.replacen(".?", &format!(".[{owner}]"), 1), message.to_string()))
}

fn decode_v1(bytes: &[u8]) -> Result<Trace, TraceDecodeError> {
    let trace = read::<V1File>(bytes, v1_location)?.into_trace();
    check_consistency(&trace)?;
    Ok(trace)
}

fn decode_v2(bytes: &[u8]) -> Result<Trace, TraceDecodeError> {
    let file = read::<V2File>(bytes, |p| if p == "." { "the top-level map".into() } else { p.to_string() })?;
    if file.version() != 2 {
        let found = format!("a map of trace format version {} (simkube-v2 is version 2)", file.version());
        return Err(TraceDecodeError::NotATrace { found });
    }
    let trace = file.into_trace();
    check_consistency(&trace)?;
    Ok(trace)
}

/// Names the four elements of a v1 file instead of their positions, so `1[3].ts` reads
/// `events[3].ts`.
pub(super) fn v1_location(path: &str) -> String {
    let names = ["config", "events", "index", "pod_lifecycles", "gaps"];
    if path == "." || path.is_empty() {
        return "the top-level array".into();
    }
    for (i, name) in names.iter().enumerate() {
        if let Some(rest) = path.strip_prefix(&format!("[{i}]")) {
            return format!("{name}{rest}");
        }
    }
    path.to_string()
}

pub(super) fn check_consistency(trace: &Trace) -> Result<(), TraceDecodeError> {
    for (i, pair) in trace.events.windows(2).enumerate() {
        if pair[1].ts < pair[0].ts {
            return Err(TraceDecodeError::Inconsistent(format!(
                "events are not in time order: events[{}].ts = {} comes after {}",
                i + 1,
                pair[1].ts,
                pair[0].ts
            )));
        }
    }
    for (owner, by_hash) in &trace.pod_lifecycles {
        for (hash, lcs) in by_hash {
            for lc in lcs {
                if let Some(end) = lc.end_ts.filter(|end| *end < lc.start_ts) {
                    return Err(TraceDecodeError::Inconsistent(format!(
                        "pod_lifecycles.{:?}.{hash}: end_ts {end} is before start_ts {}",
                        owner.name, lc.start_ts
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::v1::{encode_to_vec, tests::sample_trace};

    #[test]
    fn a_v1_trace_with_gaps_has_five_elements_and_reads_back() {
        let mut trace = sample_trace();
        assert_eq!(encode_to_vec(&trace)[0], 0x94);
        trace.gaps = vec![crate::trace::Gap {
            kind: "apps/v1.Deployment".parse().unwrap(),
            from: 1_700_000_010,
            to: 1_700_000_020,
        }];
        let bytes = encode_to_vec(&trace);
        assert_eq!(bytes[0], 0x95);
        assert_eq!(decode(&bytes).unwrap(), trace);
        let json = crate::trace::v1::to_json(&trace).unwrap();
        assert_eq!(json[4][0]["from"], 1_700_000_010);
        assert_eq!(crate::trace::v1::from_json(json).unwrap(), trace);
        let bad = serde_json::json!([{"trackedObjects": {}}, [], {}, {}, [{"kind": "apps/v1.Deployment", "from": "x", "to": 1}]]);
        let err = decode(&rmp_serde::to_vec(&bad).unwrap()).unwrap_err();
        assert!(err.to_string().contains("gaps[0].from"), "{err}");
    }

    #[test]
    fn rejects_empty_and_json() {
        assert_eq!(decode(b""), Err(TraceDecodeError::Empty));
        assert_eq!(decode(br#"[{"trackedObjects": {}}, [], {}, {}]"#), Err(TraceDecodeError::LooksLikeJson));
        assert_eq!(decode(b"  {\"a\": 1}\n"), Err(TraceDecodeError::LooksLikeJson));
    }

    #[test]
    fn rejects_the_wrong_shape() {
        let three = rmp_serde::to_vec(&(1, 2, 3)).unwrap();
        assert_eq!(decode(&three), Err(TraceDecodeError::NotATrace { found: "an array of 3 elements".into() }));
        let text = rmp_serde::to_vec("hello").unwrap();
        assert_eq!(decode(&text), Err(TraceDecodeError::NotATrace { found: "a string".into() }));
        let err = decode(b"PK\x03\x04 a zip file").unwrap_err();
        assert!(matches!(err, TraceDecodeError::NotATrace { .. }), "{err}");
    }

    #[test]
    fn names_where_a_field_has_the_wrong_type() {
        let bad = serde_json::json!([{"trackedObjects": {}}, [{"ts": "yesterday", "applied_objs": [], "deleted_objs": []}], {}, {}]);
        let err = decode(&rmp_serde::to_vec(&bad).unwrap()).unwrap_err();
        let TraceDecodeError::Malformed { at, message } = &err else { panic!("{err}") };
        assert_eq!(at, "events[0].ts");
        assert_eq!(message, "wrong type: found a string");
    }

    #[test]
    fn rejects_objects_that_are_not_kubernetes_objects() {
        let bad = serde_json::json!([{"trackedObjects": {}}, [{"ts": 1, "applied_objs": [{"spec": {}}], "deleted_objs": []}], {}, {}]);
        let err = decode(&rmp_serde::to_vec(&bad).unwrap()).unwrap_err().to_string();
        assert!(err.contains("events[0].applied_objs[0]") && err.contains("apiVersion"), "{err}");
    }

    #[test]
    fn reports_truncation_and_trailing_bytes() {
        let bytes = encode_to_vec(&sample_trace());
        let err = decode(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(matches!(err, TraceDecodeError::Truncated { .. }), "{err}");
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xc0, 0xc0]);
        assert_eq!(decode(&longer), Err(TraceDecodeError::TrailingBytes { count: 2 }));
    }

    #[test]
    fn rejects_events_out_of_order_and_lifecycles_ending_before_they_start() {
        let mut trace = sample_trace();
        trace.events.swap(0, 1);
        let err = decode(&encode_to_vec(&trace)).unwrap_err();
        assert!(matches!(err, TraceDecodeError::Inconsistent(ref m) if m.contains("time order")), "{err}");

        let mut trace = sample_trace();
        let lcs = trace.pod_lifecycles.values_mut().next().unwrap().values_mut().next().unwrap();
        lcs[0].end_ts = Some(lcs[0].start_ts - 1);
        let err = decode(&encode_to_vec(&trace)).unwrap_err();
        assert!(matches!(err, TraceDecodeError::Inconsistent(ref m) if m.contains("before start_ts")), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut bytes = vec![0x94, 0x81, 0xae];
        bytes.extend_from_slice(b"trackedObjects");
        bytes.extend_from_slice(&[0x80, 0x91, 0x83, 0xa2, b't', b's', 0x01, 0xac]);
        bytes.extend_from_slice(b"applied_objs");
        bytes.push(0x91);
        bytes.extend(std::iter::repeat_n(0x91, 100_000));
        // A small stack, eight times smaller than a tokio worker's, must survive too.
        let handle = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || decode(&bytes)).unwrap();
        let err = handle.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
    }
}
