//! Checkpoints: the store's whole state as bytes, and back, so that a restarted tracer goes on
//! with the trace it had.
//!
//! Layout: the 8 bytes `SKTRCKPT`, the format version (u32, little-endian), the length of the
//! state that follows (u64, LE), its XXH64 checksum (seed 0, u64, LE), then the state as msgpack:
//! the base state and its time, every event (objects as the msgpack bytes they are stored as,
//! with their stable hash), every pod lifecycle with its launch order, the pods whose lifecycles
//! may still end, the eviction count, and the gaps (a key left out when there are none). Anything that does not check out is refused whole: a
//! checkpoint is never half loaded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh64::xxh64;

use super::{Gone, Live, State, StoredEvent, StoredObject, CHUNK_EVENTS};
use crate::trace::lifecycles::{LaunchKey, Lifecycles};
use crate::trace::{EncodedObject, Gap, ObjectIdentity, PodLifecycle, TraceIdentity};

pub const MAGIC: &[u8; 8] = b"SKTRCKPT";
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("not a checkpoint: it does not begin with SKTRCKPT")]
    NotACheckpoint,
    #[error("checkpoint format version {found}; this tracer reads version {VERSION}")]
    Version { found: u32 },
    #[error("truncated: the header announces {expected} bytes of state, {found} follow")]
    Truncated { expected: u64, found: u64 },
    #[error("{extra} bytes follow the state the header announces")]
    Trailing { extra: u64 },
    #[error("the checksum does not match: the checkpoint is corrupt")]
    Checksum,
    #[error("the state does not decode: {0}")]
    Decode(String),
}

/// Bytes as msgpack `bin`, not as an array of integers. Saving shares the stored objects' bytes,
/// so the store's lock is held only while pointers are copied; the encoding happens after.
enum Bin {
    Shared(EncodedObject),
    Owned(Vec<u8>),
}

impl Bin {
    fn into_object(self) -> EncodedObject {
        match self {
            Bin::Shared(o) => o,
            Bin::Owned(v) => EncodedObject::from_bytes(v),
        }
    }
}

impl Serialize for Bin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Bin::Shared(o) => s.serialize_bytes(o.as_bytes()),
            Bin::Owned(v) => s.serialize_bytes(v),
        }
    }
}

impl<'de> Deserialize<'de> for Bin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bin;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bin, E> {
                Ok(Bin::Owned(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bin, E> {
                Ok(Bin::Owned(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

#[derive(Serialize, Deserialize)]
struct Id {
    gvk: String,
    namespace: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Obj {
    id: Id,
    hash: u64,
    bytes: Bin,
}

#[derive(Serialize, Deserialize)]
struct Event {
    ts: i64,
    applied: Vec<Obj>,
    deleted: Vec<Id>,
}

#[derive(Serialize, Deserialize)]
struct Owner {
    gvk: Option<String>,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct Lifecycle {
    owner: Owner,
    hash: u64,
    start_ts: i64,
    seq: u64,
    end_ts: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Pod {
    uid: String,
    owner: Owner,
    hash: u64,
    start_ts: i64,
    seq: u64,
}

#[derive(Serialize, Deserialize)]
struct SavedGap {
    kind: String,
    from: i64,
    to: i64,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    base_ts: Option<i64>,
    base: Vec<Obj>,
    events: Vec<Event>,
    lifecycles: Vec<Lifecycle>,
    pods: Vec<Pod>,
    evicted: u64,
    /// Left out when there are none, so that such a checkpoint is the bytes it was before gaps
    /// were recorded; a checkpoint from before then reads as one without gaps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<SavedGap>,
}

fn id_out(id: &ObjectIdentity) -> Id {
    Id { gvk: id.gvk.to_string(), namespace: id.namespace.clone(), name: id.name.clone() }
}

fn obj_out(o: &StoredObject) -> Obj {
    Obj { id: id_out(&o.id), hash: o.hash, bytes: Bin::Shared(o.obj.clone()) }
}

fn owner_out(k: &TraceIdentity) -> Owner {
    Owner { gvk: k.gvk.as_ref().map(ToString::to_string), name: k.name.clone() }
}

/// Restoring shares one `Arc` per identity, as recording does.
#[derive(Default)]
struct Ids(HashMap<ObjectIdentity, Arc<ObjectIdentity>>);

impl Ids {
    fn get(&mut self, id: Id) -> Result<Arc<ObjectIdentity>, CheckpointError> {
        let gvk = id.gvk.parse().map_err(|e| CheckpointError::Decode(format!("object kind `{}`: {e}", id.gvk)))?;
        let id = ObjectIdentity { gvk, namespace: id.namespace, name: id.name };
        Ok(self.0.entry(id.clone()).or_insert_with(|| Arc::new(id)).clone())
    }

    fn obj(&mut self, o: Obj) -> Result<StoredObject, CheckpointError> {
        Ok(StoredObject::new(self.get(o.id)?, o.bytes.into_object(), o.hash))
    }
}

fn owner_in(o: Owner) -> Result<TraceIdentity, CheckpointError> {
    let gvk = match o.gvk {
        Some(g) => Some(g.parse().map_err(|e| CheckpointError::Decode(format!("owner kind `{g}`: {e}")))?),
        None => None,
    };
    Ok(TraceIdentity { gvk, name: o.name })
}

impl State {
    fn save(&self) -> Saved {
        let events = self
            .sealed
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c[if i == 0 { self.sealed_skip.min(c.len()) } else { 0 }..].iter())
            .chain(self.open.iter())
            .map(|e| Event {
                ts: e.ts,
                applied: e.applied.iter().map(obj_out).collect(),
                deleted: e.deleted.iter().map(|d| id_out(d)).collect(),
            })
            .collect();
        // Sorted, so that one state always gives the same bytes.
        let mut entries = self.lifecycles.entries();
        entries.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
        let mut pod_entries = self.lifecycles.pods();
        pod_entries.sort_by(|a, b| a.0.cmp(&b.0));
        let lifecycles = entries
            .into_iter()
            .map(|(owner, hash, (start_ts, seq), lc)| Lifecycle {
                owner: owner_out(&owner),
                hash,
                start_ts,
                seq,
                end_ts: lc.end_ts,
            })
            .collect();
        let pods = pod_entries
            .into_iter()
            .map(|(uid, owner, hash, (start_ts, seq))| Pod { uid, owner: owner_out(&owner), hash, start_ts, seq })
            .collect();
        Saved {
            base_ts: self.base_ts,
            base: self.base.values().map(obj_out).collect(),
            events,
            lifecycles,
            pods,
            evicted: self.evicted,
            gaps: self.gaps.iter().map(|g| SavedGap { kind: g.kind.to_string(), from: g.from, to: g.to }).collect(),
        }
    }

    fn restore(saved: Saved) -> Result<State, CheckpointError> {
        let mut ids = Ids::default();
        let mut st = State { base_ts: saved.base_ts, evicted: saved.evicted, ..Default::default() };
        let mut base = BTreeMap::new();
        let mut live: HashMap<Arc<ObjectIdentity>, Live> = HashMap::new();
        for o in saved.base {
            let o = ids.obj(o)?;
            st.base_bytes += o.obj.as_bytes().len() as u64;
            let last = saved.base_ts.unwrap_or(i64::MIN);
            live.insert(o.id.clone(), Live { hash: o.hash, obj: o.clone(), last, new_in_last: false });
            base.insert(o.id.clone(), o);
        }
        st.base = Arc::new(base);
        let mut events = Vec::with_capacity(saved.events.len());
        let mut gone: HashMap<Arc<ObjectIdentity>, Gone> = HashMap::new();
        let mut last_ts: Option<i64> = None;
        for e in saved.events {
            // One event per second, in time order: what finding a second's event relies on.
            if let Some(last) = last_ts.filter(|last| e.ts <= *last) {
                return Err(CheckpointError::Decode(format!("event at {} after one at {last}", e.ts)));
            }
            last_ts = Some(e.ts);
            let mut ev = StoredEvent { ts: e.ts, ..Default::default() };
            for o in e.applied {
                let o = ids.obj(o)?;
                st.bytes += o.obj.as_bytes().len() as u64;
                let new_in_last = !live.contains_key(&o.id);
                gone.remove(&o.id);
                live.insert(o.id.clone(), Live { hash: o.hash, obj: o.clone(), last: e.ts, new_in_last });
                ev.applied.push(o);
            }
            for d in e.deleted {
                let d = ids.get(d)?;
                live.remove(&d);
                gone.insert(d.clone(), Gone { ts: e.ts, recorded: true });
                ev.deleted.push(d);
            }
            st.versions += ev.applied.len();
            events.push(ev);
        }
        st.events = events.len();
        st.live = live;
        st.gone = gone;
        // A change in the newest event's second still merges into it: where its objects lie.
        if let Some(last) = events.last() {
            st.latest_at = last.applied.iter().enumerate().map(|(at, o)| (o.id.clone(), at)).collect();
        }
        let open_from = events.len().saturating_sub(1) / CHUNK_EVENTS * CHUNK_EVENTS;
        st.open = events.split_off(open_from);
        for chunk in events.chunks(CHUNK_EVENTS) {
            st.sealed.push_back(chunk.to_vec().into());
        }
        let mut entries = Vec::with_capacity(saved.lifecycles.len());
        for l in saved.lifecycles {
            let lc = PodLifecycle { start_ts: l.start_ts, end_ts: l.end_ts };
            entries.push((owner_in(l.owner)?, l.hash, (l.start_ts, l.seq) as LaunchKey, lc));
        }
        let mut pods = Vec::with_capacity(saved.pods.len());
        for p in saved.pods {
            pods.push((p.uid, owner_in(p.owner)?, p.hash, (p.start_ts, p.seq)));
        }
        st.lifecycles = Lifecycles::restore(entries, pods);
        for g in saved.gaps {
            let kind = g.kind.parse().map_err(|e| CheckpointError::Decode(format!("gap kind `{}`: {e}", g.kind)))?;
            st.gaps.push(Gap { kind, from: g.from, to: g.to });
        }
        st.ids = ids.0.into_values().collect();
        st.sweep_ids();
        Ok(st)
    }
}

impl super::Store {
    /// The whole state as a checkpoint file's bytes.
    pub fn checkpoint(&self) -> Vec<u8> {
        self.checkpoint_state().encode()
    }

    /// The state a checkpoint holds, copied out under the lock: the bookkeeping is copied, the
    /// objects shared. Encoding it, the larger part of the work, needs no lock.
    pub fn checkpoint_state(&self) -> CheckpointState {
        CheckpointState(self.lock().save())
    }
}

/// A store's state on its way to a checkpoint file.
pub struct CheckpointState(Saved);

impl CheckpointState {
    /// The checkpoint file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Encoding plain structs into a Vec cannot fail.
        let payload = rmp_serde::to_vec_named(&self.0).unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&xxh64(&payload, 0).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

impl super::Store {
    /// A store holding the checkpoint's state, or why the bytes are not a sound checkpoint.
    pub fn from_checkpoint(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let payload = verify(bytes)?;
        let saved: Saved = rmp_serde::from_slice(payload).map_err(|e| CheckpointError::Decode(e.to_string()))?;
        Ok(super::Store { state: std::sync::Mutex::new(State::restore(saved)?) })
    }
}

/// Checks the header and checksum; returns the state's bytes.
pub fn verify(bytes: &[u8]) -> Result<&[u8], CheckpointError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::NotACheckpoint);
    }
    if bytes.len() < HEADER_LEN {
        return Err(CheckpointError::Truncated { expected: 0, found: 0 });
    }
    let word = |at: usize, n: usize| bytes[at..at + n].iter().rev().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let version = word(8, 4) as u32;
    if version != VERSION {
        return Err(CheckpointError::Version { found: version });
    }
    let expected = word(12, 8);
    let checksum = word(20, 8);
    let payload = &bytes[HEADER_LEN..];
    let found = payload.len() as u64;
    if found < expected {
        return Err(CheckpointError::Truncated { expected, found });
    }
    if found > expected {
        return Err(CheckpointError::Trailing { extra: found - expected });
    }
    if xxh64(payload, 0) != checksum {
        return Err(CheckpointError::Checksum);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{KeepAll, Window};
    use crate::store::Store;
    use crate::TracerConfig;
    use serde_json::json;

    fn deployment(name: &str, image: &str) -> (ObjectIdentity, EncodedObject) {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": name},
                         "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        (ObjectIdentity::of(&obj).unwrap(), EncodedObject::from_json(&obj))
    }

    fn owner() -> TraceIdentity {
        TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a")
    }

    /// A store with a base state (retention folded the first events), sealed chunks, an open
    /// event, lifecycles ended and running.
    fn sample() -> Store {
        let store = Store::new();
        for i in 0..600i64 {
            let (id, obj) = deployment(&format!("n{}", i % 50), &format!("img:{i}"));
            store.apply(1000 + i, id.clone(), obj, i as u64);
            if i % 7 == 0 {
                store.delete(1000 + i, &id);
            }
        }
        store.record_lifecycle("p1", owner(), 1, PodLifecycle { start_ts: 1001, end_ts: None });
        store.record_lifecycle("p2", owner(), 1, PodLifecycle { start_ts: 1002, end_ts: Some(1010) });
        store.record_lifecycle("p3", owner(), 2, PodLifecycle { start_ts: 1500, end_ts: None });
        store.evict(1200, crate::store::Retention { max_age_secs: 0, max_bytes: u64::MAX });
        store.evict(1100, crate::store::Retention { max_age_secs: 0, max_bytes: u64::MAX });
        store
    }

    fn config() -> TracerConfig {
        let mut c = TracerConfig::default();
        c.tracked_objects.insert(
            "apps/v1.Deployment".parse().unwrap(),
            crate::TrackedObjectConfig { pod_spec_template_paths: vec![], track_lifecycle: true, skip_owned: false },
        );
        c
    }

    fn everything(store: &Store) -> crate::Trace {
        store.snapshot().window(&config(), Window::new(0, i64::MAX).unwrap(), &KeepAll)
    }

    #[test]
    fn a_restored_store_exports_and_records_as_the_original() {
        let original = sample();
        let bytes = original.checkpoint();
        let restored = Store::from_checkpoint(&bytes).unwrap();
        assert_eq!(everything(&restored), everything(&original));
        assert_eq!(restored.stats(), original.stats());
        assert!(restored.checkpoint() == bytes, "a restored store checkpoints to the same bytes");

        // Both go on the same way: a change in the open event's second merges, an unchanged
        // object records nothing, a running pod's lifecycle still ends.
        for s in [&original, &restored] {
            let (id, obj) = deployment("n3", "img:599");
            assert!(s.apply(1599, id, obj, 599) || s.live_hash(&deployment("n3", "x").0) == Some(599));
            let (id, obj) = deployment("late", "v");
            s.apply(2000, id, obj, 7);
            // Late: into a restored sealed chunk, and before the restored base state's time.
            let (id, obj) = deployment("n8", "img:late");
            s.apply(1250, id, obj, 8);
            let (id, obj) = deployment("older", "v");
            s.apply(1100, id, obj, 9);
            s.pod_deleted("p1", 2001);
            s.record_lifecycle("p3", owner(), 2, PodLifecycle { start_ts: 1500, end_ts: Some(2002) });
        }
        assert_eq!(everything(&restored), everything(&original));
    }

    #[test]
    fn gaps_round_trip_and_a_checkpoint_without_them_is_as_before() {
        let store = sample();
        let without = store.checkpoint();
        assert!(!without.windows(4).any(|w| w == b"gaps"), "no key for no gaps");
        let gap = Gap { kind: "apps/v1.Deployment".parse().unwrap(), from: 1500, to: 1530 };
        store.record_gap(gap.clone());
        let restored = Store::from_checkpoint(&store.checkpoint()).unwrap();
        assert_eq!(restored.gaps(), [gap]);
        assert_eq!(everything(&restored), everything(&store));
        // A checkpoint written before gaps were recorded reads as one without gaps.
        assert!(Store::from_checkpoint(&without).unwrap().gaps().is_empty());
    }

    #[test]
    fn an_empty_store_round_trips() {
        let restored = Store::from_checkpoint(&Store::new().checkpoint()).unwrap();
        assert_eq!(restored.stats(), Store::new().stats());
    }

    #[test]
    fn every_truncation_and_every_single_byte_corruption_is_refused() {
        let store = Store::new();
        let (id, obj) = deployment("a", "v");
        store.apply(1000, id, obj, 1);
        store.record_lifecycle("p", owner(), 1, PodLifecycle { start_ts: 1000, end_ts: None });
        let bytes = store.checkpoint();
        for len in 0..bytes.len() {
            assert!(Store::from_checkpoint(&bytes[..len]).is_err(), "truncated to {len}");
        }
        // Every other value of every byte, header included.
        for i in 0..bytes.len() {
            for x in 1..=255u8 {
                let mut bad = bytes.clone();
                bad[i] ^= x;
                assert!(Store::from_checkpoint(&bad).is_err(), "byte {i} xor {x:#04x}");
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Store::from_checkpoint(&longer).err(), Some(CheckpointError::Trailing { extra: 1 }));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let bytes = Store::new().checkpoint();
        assert_eq!(Store::from_checkpoint(b"\x93\x01\x02").err(), Some(CheckpointError::NotACheckpoint));
        assert_eq!(
            Store::from_checkpoint(b"SKTRACE1").err().unwrap().to_string(),
            "not a checkpoint: it does not begin with SKTRCKPT"
        );
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert_eq!(
            Store::from_checkpoint(&v2).err().unwrap().to_string(),
            "checkpoint format version 2; this tracer reads version 1"
        );
        let e = Store::from_checkpoint(&bytes[..bytes.len() - 1]).err().unwrap().to_string();
        assert!(e.starts_with("truncated: the header announces"), "{e}");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(Store::from_checkpoint(&flipped).err(), Some(CheckpointError::Checksum));
    }
}
