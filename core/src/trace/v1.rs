//! The v1 trace file: a msgpack array `[config, events, index, pod_lifecycles]` whose maps carry
//! field names, so generic msgpack tools show it readably; a trace with gaps (see
//! [`super::gaps`]) has them as a fifth element.
//!
//! The encoder writes msgpack directly so that objects, already encoded in the store, are copied
//! as bytes rather than decoded and re-encoded.

use std::collections::BTreeMap;
use std::io::Write;

use rmp::encode as mp;
use serde::Deserialize;

use super::chunks::{ChunkWriter, TraceChunks, TraceSink};
use super::file_shapes::{self, FileConfig, FileLifecycles};
use super::gaps::{self, FileGap};
use super::view::{EventView, IdentityRef, LifecyclesRef, TraceView};
use super::{EncodedObject, PodLifecycle, Trace, TraceEvent, TraceIdentity};
use crate::gvk::Gvk;
use crate::tracer_config::{default_pod_template_paths, TracerConfig};

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("writing the trace: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding the trace config: {0}")]
    Config(#[from] rmp_serde::encode::Error),
}

impl From<mp::ValueWriteError> for EncodeError {
    fn from(e: mp::ValueWriteError) -> Self {
        match e {
            mp::ValueWriteError::InvalidMarkerWrite(e) | mp::ValueWriteError::InvalidDataWrite(e) => EncodeError::Io(e),
        }
    }
}

#[inline]
pub(super) fn len32(n: usize) -> Result<u32, EncodeError> {
    u32::try_from(n)
        .map_err(|_| EncodeError::Io(std::io::Error::other("more than 2^32 entries in one msgpack container")))
}

pub fn write_event(w: &mut impl TraceSink, ev: &EventView<'_>) -> Result<(), EncodeError> {
    mp::write_map_len(w, 3)?;
    mp::write_str(w, "ts")?;
    mp::write_sint(w, ev.ts)?;
    mp::write_str(w, "applied_objs")?;
    mp::write_array_len(w, len32(ev.applied.len())?)?;
    for obj in &ev.applied {
        w.write_object(obj)?;
    }
    mp::write_str(w, "deleted_objs")?;
    mp::write_array_len(w, len32(ev.deleted.len())?)?;
    for deleted in &ev.deleted {
        w.write_object(&deleted.to_record())?;
    }
    Ok(())
}

/// Appends a lifecycle to `out` in one piece: the field names are constants, and a trace holds
/// more lifecycles than anything else.
fn push_lifecycle(out: &mut Vec<u8>, lc: &PodLifecycle) {
    out.extend_from_slice(b"\x82\xa8start_ts");
    push_int(out, lc.start_ts);
    out.extend_from_slice(b"\xa6end_ts");
    match lc.end_ts {
        Some(end) => push_int(out, end),
        None => out.push(0xc0),
    }
}

/// An integer as `rmp::encode::write_sint` writes it (the smallest form), with the form of
/// timestamps of this century first.
pub(super) fn push_int(out: &mut Vec<u8>, n: i64) {
    if (1 << 16..1 << 32).contains(&n) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = mp::write_sint(out, n);
    }
}

/// An unsigned integer as `rmp::encode::write_uint` writes it (the smallest form), with the form
/// of pod hashes (full 64-bit) first.
fn push_uint(out: &mut Vec<u8>, n: u64) {
    if n > u64::from(u32::MAX) {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = mp::write_uint(out, n);
    }
}

pub(super) fn write_name(w: &mut impl Write, key: &IdentityRef<'_>) -> Result<(), EncodeError> {
    mp::write_str_len(w, len32(key.name_len())?)?;
    for piece in key.name_pieces() {
        w.write_all(piece.as_bytes())?;
    }
    Ok(())
}

/// v1 keys the index and lifecycles by namespaced name alone; entries of different kinds that
/// share a name are merged (the index keeps the first kind's hash, lifecycles are combined). The
/// view's entries are in name order with kinds in order, so those of one name are adjacent.
fn index_by_name<'v, 'a>(view: &'v TraceView<'a>) -> impl Iterator<Item = &'v (IdentityRef<'a>, u64)> + Clone {
    view.index.chunk_by(|a, b| a.0.cmp_names(&b.0).is_eq()).map(|run| &run[0])
}

/// Writes the trace in the v1 format.
pub fn write(view: &TraceView<'_>, w: &mut impl TraceSink) -> Result<(), EncodeError> {
    // The fifth element only where there are gaps, so that a complete trace is the documented
    // four-element array.
    mp::write_array_len(w, if view.gaps.is_empty() { 4 } else { 5 })?;
    rmp_serde::encode::write_named(w, view.config)?;

    mp::write_array_len(w, len32(view.events.len())?)?;
    for ev in &view.events {
        write_event(w, ev)?;
    }

    let index = index_by_name(view);
    mp::write_map_len(w, len32(index.clone().count())?)?;
    for (key, hash) in index {
        write_name(w, key)?;
        mp::write_uint(w, *hash)?;
    }

    // Each owner's lifecycles are read once, as they are written: straight into the section, with
    // one byte left for each length that msgpack writes first and filled in once it is known.
    let mut section = Vec::with_capacity(lifecycles_size_hint(view));
    let mut owners = 0;
    for run in view.pod_lifecycles.chunk_by(|a, b| a.0.cmp_names(&b.0).is_eq()) {
        let merged;
        let (lcs, keeps_empty) = match run {
            [(_, one)] => (*one, one.keeps_empty()),
            _ => {
                merged = merge_lifecycles(run);
                (LifecyclesRef::Held(&merged.0), merged.1)
            }
        };
        if write_owner(&mut section, &run[0].0, lcs, keeps_empty)? {
            owners += 1;
        }
    }
    mp::write_map_len(w, len32(owners)?)?;
    w.write_buffer(section)?;
    if !view.gaps.is_empty() {
        gaps::write(w, &view.gaps)?;
    }
    Ok(())
}

/// Writes one owner's lifecycles into `out`; false, with nothing written, where clipping left it
/// none and it keeps none empty.
fn write_owner(
    out: &mut Vec<u8>,
    owner: &IdentityRef<'_>,
    lcs: LifecyclesRef<'_>,
    keeps_empty: bool,
) -> Result<bool, EncodeError> {
    write_owner_with(out, |out| write_name(out, owner), lcs, keeps_empty, push_lifecycle)
}

/// [`write_owner`] in any format: `write_key` writes the owner's map key and `push` one lifecycle;
/// the lengths in between are msgpack's, filled in once known.
pub(super) fn write_owner_with(
    out: &mut Vec<u8>,
    write_key: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
    lcs: LifecyclesRef<'_>,
    keeps_empty: bool,
    push: impl Fn(&mut Vec<u8>, &PodLifecycle),
) -> Result<bool, EncodeError> {
    let owner_start = out.len();
    write_key(out)?;
    let map_at = out.len();
    out.push(0);
    let mut written = 0;
    let mut result = Ok(());
    lcs.for_each(|hash, launches| {
        let hash_start = out.len();
        push_uint(out, hash);
        let array_at = out.len();
        out.push(0);
        let n = launches.map(|lc| push(out, &lc)).count();
        if n > 0 || keeps_empty {
            written += 1;
            if result.is_ok() {
                result = fill_len(out, array_at, n, Container::Array);
            }
        } else {
            out.truncate(hash_start);
        }
    });
    result?;
    if written == 0 && !keeps_empty {
        out.truncate(owner_start);
        return Ok(false);
    }
    fill_len(out, map_at, written, Container::Map)?;
    Ok(true)
}

enum Container {
    Map,
    Array,
}

/// Fills in a container's length at `at`, where one byte was left for it, as rmp writes it: in
/// the smallest form, moving what follows it where that takes more than the byte.
fn fill_len(out: &mut Vec<u8>, at: usize, n: usize, kind: Container) -> Result<(), EncodeError> {
    let n = len32(n)?;
    let mut header = [0u8; 5];
    let mut rest = &mut header[..];
    match kind {
        Container::Map => mp::write_map_len(&mut rest, n)?,
        Container::Array => mp::write_array_len(&mut rest, n)?,
    };
    match 5 - rest.len() {
        1 => out[at] = header[0],
        used => drop(out.splice(at..=at, header[..used].iter().copied())),
    }
    Ok(())
}

/// Lifecycles of kinds that share a name, merged as v1 keys them by name alone, and whether
/// empty ones are kept, as the first of them keeps them.
fn merge_lifecycles(run: &[(IdentityRef<'_>, LifecyclesRef<'_>)]) -> (BTreeMap<u64, Vec<PodLifecycle>>, bool) {
    let mut map = BTreeMap::new();
    for (_, lcs) in run {
        lcs.for_each(|hash, more| {
            let more: Vec<_> = more.collect();
            if !more.is_empty() || lcs.keeps_empty() {
                map.entry(hash).or_insert_with(Vec::new).extend(more);
            }
        });
    }
    (map, run.first().is_some_and(|(_, l)| l.keeps_empty()))
}

/// The lifecycles section's size before clipping, near enough that it is allocated once.
fn lifecycles_size_hint(view: &TraceView<'_>) -> usize {
    view.pod_lifecycles.iter().map(|(key, lcs)| key.name_len() + 16 + lcs.unclipped_len() * 40).sum()
}

/// Writes a [`Trace`] in the v1 format.
pub fn encode(trace: &Trace, w: &mut impl TraceSink) -> Result<(), EncodeError> {
    write(&TraceView::of(trace), w)
}

/// Close to the encoded size, so the output is allocated once rather than grown (and copied)
/// a dozen times on the way to megabytes.
fn size_hint(trace: &Trace) -> usize {
    let objects: usize = trace
        .events
        .iter()
        .flat_map(|e| e.applied_objs.iter().chain(&e.deleted_objs))
        .map(|o| o.as_bytes().len())
        .sum();
    let lifecycles: usize = trace.pod_lifecycles.values().flat_map(|m| m.values()).map(Vec::len).sum();
    1024 + objects + 48 * trace.events.len() + 96 * trace.index.len() + 40 * lifecycles
}

pub fn encode_to_vec(trace: &Trace) -> Vec<u8> {
    let mut out = Vec::with_capacity(size_hint(trace));
    // Writing into a Vec fails only for containers of 2^32 entries, which memory rules out first.
    let _ = encode(trace, &mut out);
    out
}

/// The view in the v1 format, in chunks that share the objects' bytes with the store.
pub fn encode_to_chunks(view: &TraceView<'_>) -> TraceChunks {
    let mut out = ChunkWriter::for_objects(view.objects());
    // As for a Vec: nothing fails short of 2^32 entries in one container.
    let _ = write(view, &mut out);
    out.finish()
}

/// The trace in the v1 shape as JSON, for people and JSON tools: pod hashes, integer map keys in
/// msgpack, become decimal strings since JSON keys are strings.
pub fn to_json(trace: &Trace) -> Result<serde_json::Value, rmp_serde::decode::Error> {
    use serde_json::{json, Map, Value};
    let events = trace
        .events
        .iter()
        .map(|ev| {
            let objs = |list: &[EncodedObject]| list.iter().map(EncodedObject::to_json).collect::<Result<Vec<_>, _>>();
            Ok(json!({"ts": ev.ts, "applied_objs": objs(&ev.applied_objs)?, "deleted_objs": objs(&ev.deleted_objs)?}))
        })
        .collect::<Result<Vec<_>, rmp_serde::decode::Error>>()?;
    let view = TraceView::of(trace);
    let index: Map<String, Value> = index_by_name(&view).map(|(k, h)| (k.namespaced_name(), json!(h))).collect();
    let lifecycles: Map<String, Value> = view
        .pod_lifecycles
        .chunk_by(|a, b| a.0.cmp_names(&b.0).is_eq())
        .map(|run| {
            let merged = match run {
                [(_, one)] => one.to_map(),
                _ => merge_lifecycles(run).0,
            };
            let by_hash: Map<String, Value> = merged.into_iter().map(|(h, lcs)| (h.to_string(), json!(lcs))).collect();
            (run[0].0.namespaced_name(), Value::Object(by_hash))
        })
        .collect();
    if trace.gaps.is_empty() {
        Ok(json!([trace.config, events, index, lifecycles]))
    } else {
        Ok(json!([trace.config, events, index, lifecycles, gaps::to_json(&trace.gaps)]))
    }
}

/// Reads the JSON shape that [`to_json`] writes, with the same checks as the msgpack decoder.
pub fn from_json(json: serde_json::Value) -> Result<Trace, super::TraceDecodeError> {
    let file: V1File = serde_path_to_error::deserialize(json).map_err(|e| super::TraceDecodeError::Malformed {
        at: super::decode::v1_location(&e.path().to_string()),
        message: e.into_inner().to_string(),
    })?;
    let trace = file.into_trace();
    super::decode::check_consistency(&trace)?;
    Ok(trace)
}

/// The v1 file as serde reads it, before names are resolved to kinds; the gaps are the optional
/// fifth element.
#[derive(Deserialize)]
pub(super) struct V1File(
    pub FileConfig,
    pub Vec<TraceEvent>,
    pub BTreeMap<String, u64>,
    pub BTreeMap<String, FileLifecycles>,
    #[serde(default)] pub Vec<FileGap>,
);

impl V1File {
    pub(super) fn into_trace(self) -> Trace {
        let V1File(config, events, index, lifecycles, gaps) = self;
        let config = config.resolve(default_pod_template_paths);
        let kinds = kinds_by_name(&config, &events);
        let key = |name: String| TraceIdentity { gvk: kinds.get(&name).cloned().flatten(), name };
        Trace {
            index: index.into_iter().map(|(n, h)| (key(n), h)).collect(),
            pod_lifecycles: lifecycles.into_iter().map(|(n, l)| (key(n), file_shapes::lifecycles(l))).collect(),
            config,
            events,
            gaps: gaps.into_iter().map(FileGap::into_gap).collect(),
        }
    }
}

/// For each namespaced name of a tracked kind in the events, its kind; `None` where two tracked
/// kinds share the name.
pub(super) fn kinds_by_name(config: &TracerConfig, events: &[TraceEvent]) -> BTreeMap<String, Option<Gvk>> {
    let mut kinds: BTreeMap<String, Option<Gvk>> = BTreeMap::new();
    for obj in events.iter().flat_map(|e| e.applied_objs.iter().chain(&e.deleted_objs)) {
        let Some(id) = obj.identity() else { continue };
        if config.get(&id.gvk).is_none() {
            continue;
        }
        kinds
            .entry(id.namespaced_name())
            .and_modify(|k| {
                if k.as_ref() != Some(&id.gvk) {
                    *k = None;
                }
            })
            .or_insert(Some(id.gvk));
    }
    kinds
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::trace::decode;
    use crate::TrackedObjectConfig;
    use proptest::prelude::*;
    use serde_json::json;

    pub(crate) fn deployment(ns: &str, name: &str, image: &str) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name},
               "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    }

    pub(crate) fn sample_trace() -> Trace {
        let gvk: Gvk = "apps/v1.Deployment".parse().unwrap();
        let mut config = TracerConfig::default();
        config.tracked_objects.insert(
            gvk.clone(),
            TrackedObjectConfig {
                pod_spec_template_paths: vec!["/spec/template".parse().unwrap()],
                track_lifecycle: true,
                skip_owned: false,
            },
        );
        let web = deployment("demo", "web", "nginx:1.27");
        Trace {
            config,
            events: vec![
                TraceEvent {
                    ts: 1_700_000_000,
                    applied_objs: vec![EncodedObject::from_json(&web)],
                    deleted_objs: vec![],
                },
                TraceEvent {
                    ts: 1_700_000_060,
                    applied_objs: vec![],
                    deleted_objs: vec![EncodedObject::from_json(
                        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "demo", "name": "web"}}),
                    )],
                },
            ],
            index: [(TraceIdentity::new(gvk.clone(), "demo/web"), crate::stable_hash(&web))].into(),
            pod_lifecycles: [(
                TraceIdentity::new(gvk, "demo/web"),
                [(
                    42u64,
                    vec![
                        PodLifecycle { start_ts: 1_700_000_005, end_ts: Some(1_700_000_050) },
                        PodLifecycle { start_ts: 1_700_000_006, end_ts: None },
                    ],
                )]
                .into(),
            )]
            .into(),
            gaps: Vec::new(),
        }
    }

    #[test]
    fn lifecycles_are_written_as_rmp_writes_them() {
        let times = [
            0,
            1,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            1_764_000_000,
            u32::MAX as i64,
            1 << 32,
            -1,
            -33,
            -200,
            i64::MIN,
        ];
        for start in times {
            for end in times.iter().copied().map(Some).chain([None]) {
                let lc = PodLifecycle { start_ts: start, end_ts: end };
                let mut expected = Vec::new();
                mp::write_map_len(&mut expected, 2).unwrap();
                mp::write_str(&mut expected, "start_ts").unwrap();
                mp::write_sint(&mut expected, start).unwrap();
                mp::write_str(&mut expected, "end_ts").unwrap();
                match end {
                    Some(e) => drop(mp::write_sint(&mut expected, e).unwrap()),
                    None => mp::write_nil(&mut expected).unwrap(),
                }
                let mut got = Vec::new();
                push_lifecycle(&mut got, &lc);
                assert_eq!(got, expected, "{lc:?}");
                assert_eq!(rmp_serde::from_slice::<PodLifecycle>(&got).unwrap(), lc);
            }
        }
    }

    /// Lengths are filled in after the entries are written: every form msgpack has for them,
    /// against rmp's encoding of the same maps.
    #[test]
    fn lifecycle_lengths_of_every_form_are_written_as_rmp_writes_them() {
        let mut trace = Trace::default();
        let lc = |i: i64| PodLifecycle { start_ts: i, end_ts: (i % 2 == 0).then_some(i + 1) };
        for (name, hashes, per_hash) in [("a", 1, 0), ("b", 1, 15), ("c", 1, 16), ("d", 20, 2), ("e", 1, 70_000)] {
            // Hashes of every width, from one byte to full 64-bit ones.
            let hash = |h: u64| h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (h * 3 % 64);
            let by_hash = (0..hashes).map(|h| (hash(h), (0..per_hash).map(lc).collect())).collect();
            trace.pod_lifecycles.insert(TraceIdentity { gvk: None, name: name.into() }, by_hash);
        }
        let by_name: BTreeMap<&str, _> = trace.pod_lifecycles.iter().map(|(k, v)| (k.name.as_str(), v)).collect();
        let expected = rmp_serde::to_vec_named(&by_name).unwrap();
        let bytes = encode_to_vec(&trace);
        assert!(bytes.ends_with(&expected));
        assert_eq!(decode(&bytes).unwrap().pod_lifecycles, trace.pod_lifecycles);
    }

    #[test]
    fn sample_round_trips_and_keeps_kinds() {
        let trace = sample_trace();
        let bytes = encode_to_vec(&trace);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, trace);
        assert_eq!(encode_to_vec(&back), bytes);
    }

    #[test]
    fn generic_msgpack_sees_named_fields() {
        let bytes = encode_to_vec(&sample_trace());
        type Lifecycles = BTreeMap<String, BTreeMap<u64, serde_json::Value>>;
        let (config, events, index, lifecycles): (serde_json::Value, serde_json::Value, serde_json::Value, Lifecycles) =
            rmp_serde::from_slice(&bytes).unwrap();
        let arr = [config, events, index];
        assert_eq!(arr[0]["trackedObjects"]["apps/v1.Deployment"]["podSpecTemplatePaths"][0], "/spec/template");
        assert_eq!(arr[1][0]["ts"], 1_700_000_000);
        assert_eq!(arr[1][0]["applied_objs"][0]["metadata"]["name"], "web");
        assert_eq!(arr[1][1]["deleted_objs"][0]["kind"], "Deployment");
        assert!(arr[2]["demo/web"].is_u64());
        assert_eq!(lifecycles["demo/web"][&42][1], json!({"start_ts": 1_700_000_006, "end_ts": null}));
    }

    #[test]
    fn json_view_has_the_v1_shape_with_string_hash_keys() {
        let v = to_json(&sample_trace()).unwrap();
        assert_eq!(v[1][0]["applied_objs"][0]["spec"]["replicas"], 2);
        assert_eq!(v[3]["demo/web"]["42"][0], json!({"start_ts": 1_700_000_005, "end_ts": 1_700_000_050}));
    }

    #[test]
    fn names_shared_by_two_kinds_merge_in_v1() {
        let mut trace = sample_trace();
        let job: Gvk = "batch/v1.Job".parse().unwrap();
        trace.index.insert(TraceIdentity::new(job.clone(), "demo/web"), 7);
        trace.pod_lifecycles.insert(
            TraceIdentity::new(job, "demo/web"),
            [(43u64, vec![PodLifecycle { start_ts: 1, end_ts: Some(2) }])].into(),
        );
        let back = decode(&encode_to_vec(&trace)).unwrap();
        assert_eq!(back.index.len(), 1);
        let lcs = back.pod_lifecycles.values().next().unwrap();
        assert_eq!(lcs.keys().copied().collect::<Vec<_>>(), vec![42, 43]);
    }

    fn arb_object() -> impl Strategy<Value = serde_json::Value> {
        ("[a-z]{1,4}", "[a-z]{1,6}", prop::option::of("[a-z0-9:.]{1,8}"), any::<i32>()).prop_map(
            |(ns, name, image, n)| {
                let mut d = deployment(&ns, &name, image.as_deref().unwrap_or(""));
                d["spec"]["replicas"] = json!(n);
                d
            },
        )
    }

    fn arb_trace() -> impl Strategy<Value = Trace> {
        let event = (0i64..100, prop::collection::vec(arb_object(), 0..3), prop::collection::vec(arb_object(), 0..2));
        (
            prop::collection::vec(event, 0..5),
            prop::collection::btree_map("[a-z]{1,3}/[a-z]{1,3}", any::<u64>(), 0..4),
            prop::collection::btree_map(
                "[a-z]{1,3}/[a-z]{1,3}",
                prop::collection::btree_map(
                    any::<u64>(),
                    prop::collection::vec((0i64..1000, prop::option::of(0i64..1000)), 1..3),
                    1..3,
                ),
                0..3,
            ),
        )
            .prop_map(|(events, index, lifecycles)| {
                let mut ts = 1_600_000_000;
                let events = events
                    .into_iter()
                    .map(|(gap, applied, deleted)| {
                        ts += gap;
                        TraceEvent {
                            ts,
                            applied_objs: applied.iter().map(EncodedObject::from_json).collect(),
                            deleted_objs: deleted.iter().map(EncodedObject::from_json).collect(),
                        }
                    })
                    .collect();
                Trace {
                    config: sample_trace().config,
                    events,
                    index: index.into_iter().map(|(n, h)| (TraceIdentity { gvk: None, name: n }, h)).collect(),
                    pod_lifecycles: lifecycles
                        .into_iter()
                        .map(|(n, by_hash)| {
                            let by_hash = by_hash
                                .into_iter()
                                .map(|(h, lcs)| {
                                    let lcs = lcs
                                        .into_iter()
                                        .map(|(s, len)| PodLifecycle { start_ts: s, end_ts: len.map(|l| s + l) })
                                        .collect();
                                    (h, lcs)
                                })
                                .collect();
                            (TraceIdentity { gvk: None, name: n }, by_hash)
                        })
                        .collect(),
                    gaps: Vec::new(),
                }
            })
    }

    proptest! {
        #[test]
        fn any_trace_round_trips_byte_for_byte(trace in arb_trace()) {
            let bytes = encode_to_vec(&trace);
            let back = decode(&bytes).unwrap();
            prop_assert_eq!(&back.events, &trace.events);
            // Decoding may find a key's kind in the events, which moves the key in the map's order
            // of kinds: compared by name.
            fn by_name<V: Clone>(m: &BTreeMap<TraceIdentity, V>) -> BTreeMap<String, V> {
                m.iter().map(|(k, v)| (k.name.clone(), v.clone())).collect()
            }
            prop_assert_eq!(by_name(&back.index), by_name(&trace.index));
            prop_assert_eq!(by_name(&back.pod_lifecycles), by_name(&trace.pod_lifecycles));
            prop_assert_eq!(encode_to_vec(&back), bytes);
        }

        /// Every prefix of a valid trace is rejected with an error, never a panic.
        #[test]
        fn truncated_traces_are_rejected(trace in arb_trace(), cut in any::<prop::sample::Index>()) {
            let bytes = encode_to_vec(&trace);
            let cut = cut.index(bytes.len());
            prop_assert!(decode(&bytes[..cut]).is_err());
        }

        /// Arbitrary bytes never panic the decoder.
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
