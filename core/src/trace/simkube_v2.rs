//! The simkube-v2 trace: the map `{version: 2, config, events, index, pod_lifecycles}` that current
//! SimKube releases read (see README, "simkube-v2").
//!
//! It differs from v1 in three ways: the index is keyed by GVK, then namespaced name; the
//! lifecycle table is keyed by the 2-element array `[gvk, ns/name]`; and each lifecycle is
//! SimKube's externally tagged `PodLifecycleData`: `{"Running": start}` or
//! `{"Finished": [start, end]}`. SimKube rejects a built-in kind whose pod-template paths differ
//! from its own defaults, so those are written from SimKube's table whatever the config says.

use std::collections::BTreeMap;
use std::io::Write;

use rmp::encode as mp;
use serde::Deserialize;

use super::file_shapes::{self, kinds_by_name, FileConfig, FileIndexEntry, FileLifecycleTable, FileOwner};
use super::gaps::{self, FileGap};
use super::msgpack_write::{len32, push_int, write_event, write_gaps, write_name, write_owner_with, EncodeError};
use super::{ChunkWriter, IdentityRef, TraceChunks, TraceSink, TraceView};
use super::{PodLifecycle, Trace, TraceEvent, TraceIdentity};
use crate::gvk::Gvk;
use crate::pod_template_path::PodTemplatePath;
use crate::tracer_config::TracerConfig;

/// SimKube's pod-template paths for built-in kinds.
fn simkube_paths(gvk: &Gvk) -> Option<&'static str> {
    match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        ("batch", "v1", "CronJob") => Some("/spec/jobTemplate/spec/template"),
        ("apps", "v1", "DaemonSet" | "Deployment" | "StatefulSet") | ("batch", "v1", "Job") => Some("/spec/template"),
        ("apps", "v1", "ReplicaSet") => Some("/spec"),
        ("", "v1", "Pod") => Some(""),
        _ => None,
    }
}

fn write_config(w: &mut impl Write, config: &TracerConfig) -> Result<(), EncodeError> {
    mp::write_map_len(w, 1)?;
    mp::write_str(w, "trackedObjects")?;
    mp::write_map_len(w, config.tracked_objects.len() as u32)?;
    for (gvk, cfg) in &config.tracked_objects {
        mp::write_str(w, &gvk.to_string())?;
        let fields = 1 + u32::from(cfg.track_lifecycle) + u32::from(cfg.skip_owned);
        mp::write_map_len(w, fields)?;
        mp::write_str(w, "podSpecTemplatePaths")?;
        match simkube_paths(gvk) {
            Some(path) => {
                mp::write_array_len(w, 1)?;
                mp::write_str(w, path)?;
            }
            None => {
                mp::write_array_len(w, cfg.pod_spec_template_paths.len() as u32)?;
                for p in &cfg.pod_spec_template_paths {
                    mp::write_str(w, p.as_str())?;
                }
            }
        }
        if cfg.track_lifecycle {
            mp::write_str(w, "trackLifecycle")?;
            mp::write_bool(w, true)?;
        }
        if cfg.skip_owned {
            mp::write_str(w, "skipOwned")?;
            mp::write_bool(w, true)?;
        }
    }
    Ok(())
}

fn gvk_string(key: &TraceIdentity) -> String {
    key.gvk.as_ref().map(Gvk::to_string).unwrap_or_default()
}

/// Each kind's name as the file writes it, made once per kind rather than once per entry: a
/// window holds a few kinds and thousands of entries.
struct KindNames<'a>(Vec<(Option<&'a Gvk>, String)>);

impl<'a> KindNames<'a> {
    fn of(kinds: impl Iterator<Item = Option<&'a Gvk>>) -> Self {
        let mut names: Vec<(Option<&'a Gvk>, String)> = Vec::new();
        for gvk in kinds {
            if !names.iter().any(|(known, _)| *known == gvk) {
                names.push((gvk, gvk.map(Gvk::to_string).unwrap_or_default()));
            }
        }
        KindNames(names)
    }

    fn name(&self, gvk: Option<&Gvk>) -> &str {
        self.0.iter().find(|(known, _)| *known == gvk).map(|(_, name)| name.as_str()).unwrap_or_default()
    }
}

/// SimKube's `PodLifecycleData`, externally tagged: `{"Running": start}` or
/// `{"Finished": [start, end]}`.
fn push_lifecycle(out: &mut Vec<u8>, lc: &PodLifecycle) {
    match lc.end_ts {
        None => {
            out.extend_from_slice(b"\x81\xa7Running");
            push_int(out, lc.start_ts);
        }
        Some(end) => {
            out.extend_from_slice(b"\x81\xa8Finished\x92");
            push_int(out, lc.start_ts);
            push_int(out, end);
        }
    }
}

/// Writes the trace in the simkube-v2 format, from the same view the v1 writer reads: a window
/// of the store as it is, or a [`Trace`].
pub fn write(view: &TraceView<'_>, w: &mut impl TraceSink) -> Result<(), EncodeError> {
    // `gaps` only where there are some, so that a complete trace is the map SimKube writes.
    mp::write_map_len(w, if view.gaps.is_empty() { 5 } else { 6 })?;
    mp::write_str(w, "version")?;
    mp::write_uint(w, 2)?;
    mp::write_str(w, "config")?;
    write_config(w, view.config)?;
    mp::write_str(w, "events")?;
    mp::write_array_len(w, len32(view.events.len())?)?;
    for ev in &view.events {
        write_event(w, ev)?;
    }

    // The view is in name order, kinds within a name; SimKube's index is by kind, then name.
    mp::write_str(w, "index")?;
    let kinds = KindNames::of(view.index.iter().map(|e| e.0.gvk).chain(view.pod_lifecycles.iter().map(|o| o.0.gvk)));
    let mut by_kind: BTreeMap<&str, Vec<&(IdentityRef<'_>, u64)>> = BTreeMap::new();
    for entry in &view.index {
        by_kind.entry(kinds.name(entry.0.gvk)).or_default().push(entry);
    }
    mp::write_map_len(w, len32(by_kind.len())?)?;
    for (kind, entries) in by_kind {
        mp::write_str(w, kind)?;
        mp::write_map_len(w, len32(entries.len())?)?;
        for (key, hash) in entries {
            write_name(w, key)?;
            mp::write_uint(w, *hash)?;
        }
    }

    // Owners by kind, then name, as a trace's table orders them.
    mp::write_str(w, "pod_lifecycles")?;
    let mut owners: Vec<_> = view.pod_lifecycles.iter().collect();
    owners.sort_by(|a, b| a.0.gvk.cmp(&b.0.gvk).then_with(|| a.0.cmp_names(&b.0)));
    let mut section = Vec::new();
    let mut written = 0;
    for (owner, lcs) in owners {
        let key = |out: &mut Vec<u8>| {
            mp::write_array_len(out, 2)?;
            mp::write_str(out, kinds.name(owner.gvk))?;
            write_name(out, owner)
        };
        if write_owner_with(&mut section, key, *lcs, lcs.keeps_empty(), push_lifecycle)? {
            written += 1;
        }
    }
    mp::write_map_len(w, len32(written)?)?;
    w.write_buffer(section)?;
    if !view.gaps.is_empty() {
        mp::write_str(w, "gaps")?;
        write_gaps(w, &view.gaps)?;
    }
    Ok(())
}

pub fn encode(trace: &Trace, w: &mut impl TraceSink) -> Result<(), EncodeError> {
    write(&TraceView::of(trace), w)
}

/// The view in the simkube-v2 format, in chunks that share the objects' bytes with the store.
pub fn encode_to_chunks(view: &TraceView<'_>) -> TraceChunks {
    let mut out = ChunkWriter::for_objects(view.objects());
    // As for a Vec: nothing fails short of 2^32 entries in one container.
    let _ = write(view, &mut out);
    out.finish()
}

/// SimKube's defaults as its reader applies them to a file's kinds without paths.
fn simkube_default_paths(gvk: &Gvk) -> Option<Vec<PodTemplatePath>> {
    simkube_paths(gvk).and_then(|p| PodTemplatePath::parse(p).ok()).map(|p| vec![p])
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct V2File {
    version: u32,
    config: FileConfig,
    pub(super) events: Vec<TraceEvent>,
    #[serde(default)]
    index: BTreeMap<String, FileIndexEntry>,
    #[serde(default)]
    pod_lifecycles: FileLifecycleTable,
    #[serde(default)]
    gaps: Vec<FileGap>,
}

fn key(gvk: String, name: String) -> TraceIdentity {
    TraceIdentity { gvk: gvk.parse().ok(), name }
}

impl V2File {
    pub(super) fn version(&self) -> u32 {
        self.version
    }

    pub(super) fn into_trace(self) -> Trace {
        let config = self.config.resolve(simkube_default_paths);
        // The first version-2 writers keyed by name alone, as v1 does; kinds come from the events.
        let kinds = kinds_by_name(&config, &self.events);
        let by_name = |name: String| TraceIdentity { gvk: kinds.get(&name).cloned().flatten(), name };
        let mut index = BTreeMap::new();
        for (outer, entry) in self.index {
            match entry {
                FileIndexEntry::Kind(names) => {
                    index.extend(names.into_iter().map(|(name, h)| (key(outer.clone(), name), h)));
                }
                FileIndexEntry::Hash(h) => {
                    index.insert(by_name(outer), h);
                }
            }
        }
        let pod_lifecycles = self
            .pod_lifecycles
            .0
            .into_iter()
            .map(|(owner, by_hash)| {
                let owner = match owner {
                    FileOwner::Kinded(gvk, name) => key(gvk, name),
                    FileOwner::Name(name) => by_name(name),
                };
                (owner, file_shapes::lifecycles(by_hash))
            })
            .collect();
        let gaps = self.gaps.into_iter().map(FileGap::into_gap).collect();
        Trace { config, events: self.events, index, pod_lifecycles, gaps }
    }
}

/// The trace in the simkube-v2 shape as JSON. Lifecycle keys, 2-element arrays in msgpack, become
/// `"<gvk> <ns/name>"` (neither part contains a space), and pod hashes decimal strings.
pub fn to_json(trace: &Trace) -> Result<serde_json::Value, rmp_serde::decode::Error> {
    use serde_json::{json, Map, Value};
    let events = trace.events.iter().map(TraceEvent::to_json).collect::<Result<Vec<_>, _>>()?;
    let mut index: Map<String, Value> = Map::new();
    for (key, hash) in &trace.index {
        let entry = index.entry(gvk_string(key)).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(key.name.clone(), json!(hash));
        }
    }
    let lifecycles: Map<String, Value> = trace
        .pod_lifecycles
        .iter()
        .map(|(owner, by_hash)| {
            let by_hash: Map<String, Value> = by_hash
                .iter()
                .map(|(h, lcs)| {
                    let lcs: Vec<Value> = lcs
                        .iter()
                        .map(|lc| match lc.end_ts {
                            None => json!({"Running": lc.start_ts}),
                            Some(end) => json!({"Finished": [lc.start_ts, end]}),
                        })
                        .collect();
                    (h.to_string(), Value::Array(lcs))
                })
                .collect();
            (format!("{} {}", gvk_string(owner), owner.name), Value::Object(by_hash))
        })
        .collect();
    let config: Value = rmp_serde::from_slice(&{
        let mut buf = Vec::new();
        let _ = write_config(&mut buf, &trace.config);
        buf
    })?;
    let mut out =
        json!({"version": 2, "config": config, "events": events, "index": index, "pod_lifecycles": lifecycles});
    if !trace.gaps.is_empty() {
        out["gaps"] = gaps::to_json(&trace.gaps);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::decode::decode_any;
    use crate::trace::v1::tests::sample_trace;
    use crate::trace::TraceFormat;

    #[test]
    fn round_trips_and_is_recognised() {
        let trace = sample_trace();
        let bytes = encode_to_chunks(&TraceView::of(&trace)).into_bytes();
        let mut flat = Vec::new();
        encode(&trace, &mut flat).unwrap();
        assert_eq!(bytes, flat, "chunks join into what a plain writer writes");
        let (format, back) = decode_any(&bytes).unwrap();
        assert_eq!(format, TraceFormat::SimkubeV2);
        assert_eq!(back, trace);
    }

    fn encode_to_vec(trace: &Trace) -> Vec<u8> {
        let mut out = Vec::new();
        encode(trace, &mut out).unwrap();
        out
    }

    #[test]
    fn gaps_round_trip_under_a_key_of_their_own() {
        let mut trace = sample_trace();
        let without = encode_to_vec(&trace);
        assert_eq!(without[0], 0x85, "five keys without gaps");
        trace.gaps =
            vec![crate::trace::Gap { kind: "v1.Pod".parse().unwrap(), from: 1_700_000_010, to: 1_700_000_020 }];
        let bytes = encode_to_vec(&trace);
        assert_eq!(bytes[0], 0x86);
        let (format, back) = decode_any(&bytes).unwrap();
        assert_eq!((format, back.gaps.clone()), (TraceFormat::SimkubeV2, trace.gaps.clone()));
        assert_eq!(to_json(&trace).unwrap()["gaps"][0]["kind"], "v1.Pod");
        // Bytes after the gaps key are the same as without it: SimKube reads what it always read.
        assert_eq!(&bytes[1..without.len()], &without[1..]);
    }

    #[test]
    fn has_the_simkube_shape() {
        let mut trace = sample_trace();
        // SimKube's own default replaces whatever path the config gives a built-in kind.
        trace
            .config
            .tracked_objects
            .values_mut()
            .for_each(|c| c.pod_spec_template_paths = vec!["/spec/other".parse().unwrap()]);
        let bytes = encode_to_chunks(&TraceView::of(&trace)).into_bytes();
        type Lifecycles = BTreeMap<(String, String), BTreeMap<u64, Vec<BTreeMap<String, serde_json::Value>>>>;
        #[derive(Deserialize)]
        struct Loose {
            version: u32,
            config: serde_json::Value,
            index: BTreeMap<String, BTreeMap<String, u64>>,
            pod_lifecycles: Lifecycles,
        }
        let v: Loose = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(v.version, 2);
        assert_eq!(
            v.config["trackedObjects"]["apps/v1.Deployment"]["podSpecTemplatePaths"],
            serde_json::json!(["/spec/template"])
        );
        assert_eq!(v.config["trackedObjects"]["apps/v1.Deployment"]["trackLifecycle"], true);
        assert!(v.index["apps/v1.Deployment"].contains_key("demo/web"));
        let lcs = &v.pod_lifecycles[&("apps/v1.Deployment".to_string(), "demo/web".to_string())][&42];
        assert_eq!(lcs[0]["Finished"], serde_json::json!([1_700_000_005, 1_700_000_050]));
        assert_eq!(lcs[1]["Running"], serde_json::json!(1_700_000_006));
    }

    #[test]
    fn json_view_turns_array_keys_into_strings() {
        let v = to_json(&sample_trace()).unwrap();
        assert_eq!(
            v["pod_lifecycles"]["apps/v1.Deployment demo/web"]["42"][1],
            serde_json::json!({"Running": 1_700_000_006})
        );
        assert_eq!(v["version"], 2);
    }
}
