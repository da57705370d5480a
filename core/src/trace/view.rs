//! A trace borrowed from where it is held: a window of the store's snapshot, or a [`Trace`]. The
//! v1 encoder writes from it, so an export writes the store's objects and lifecycles as they are,
//! with no trace of its own built first.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{EncodedObject, ObjectIdentity, PodLifecycle, Trace, TraceEvent, TrackedKey};
use crate::gvk::Gvk;
use crate::store::{deletion_record, Launches, OwnerLifecycles};
use crate::tracer_config::TracerConfig;

pub struct TraceView<'a> {
    pub config: &'a TracerConfig,
    /// In time order.
    pub events: Vec<EventView<'a>>,
    /// In key order ([`KeyRef::cmp_key`]), one entry per key.
    pub index: Vec<(KeyRef<'a>, u64)>,
    /// In key order, one entry per key; one clipped to nothing is left out by those who read it.
    pub pod_lifecycles: Vec<(KeyRef<'a>, LifecyclesRef<'a>)>,
}

pub struct EventView<'a> {
    pub ts: i64,
    pub applied: Vec<&'a EncodedObject>,
    pub deleted: Vec<Deleted<'a>>,
}

impl<'a> EventView<'a> {
    pub fn of(event: &'a TraceEvent) -> Self {
        EventView {
            ts: event.ts,
            applied: event.applied_objs.iter().collect(),
            deleted: event.deleted_objs.iter().map(Deleted::Record).collect(),
        }
    }
}

/// A deletion, as a trace file records it or as the store does (by identity alone).
#[derive(Clone, Copy)]
pub enum Deleted<'a> {
    Record(&'a EncodedObject),
    Of(&'a ObjectIdentity),
}

impl Deleted<'_> {
    pub fn to_record(self) -> EncodedObject {
        match self {
            Deleted::Record(obj) => obj.clone(),
            Deleted::Of(id) => deletion_record(id),
        }
    }
}

/// A tracked object's key, borrowed: its kind (if known) and its namespaced name in two parts.
/// The name is `namespace/name`, or `name` alone where the namespace is empty; a [`TrackedKey`]'s
/// name is split at its first `/`, which changes nothing about the name it spells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef<'a> {
    pub gvk: Option<&'a Gvk>,
    pub namespace: &'a str,
    pub name: &'a str,
    /// [`KeyRef::name_prefix`], found once: an export compares keys many times, and the prefix
    /// settles most comparisons without reading the names. Two halves rather than a `u128`, whose
    /// alignment would pad every key by 8 bytes.
    prefix: [u64; 2],
}

impl<'a> KeyRef<'a> {
    pub fn new(gvk: Option<&'a Gvk>, namespace: &'a str, name: &'a str) -> Self {
        let mut key = KeyRef { gvk, namespace, name, prefix: [0; 2] };
        let mut bytes = [0u8; 16];
        let mut at = 0;
        for piece in key.name_pieces() {
            let n = piece.len().min(16 - at);
            bytes[at..at + n].copy_from_slice(&piece.as_bytes()[..n]);
            at += n;
        }
        let prefix = u128::from_be_bytes(bytes);
        key.prefix = [(prefix >> 64) as u64, prefix as u64];
        key
    }

    pub fn of_identity(id: &'a ObjectIdentity) -> Self {
        KeyRef::new(Some(&id.gvk), &id.namespace, &id.name)
    }

    pub fn of_tracked(key: &'a TrackedKey) -> Self {
        let (namespace, name) = match key.name.split_once('/') {
            Some((ns, name)) if !ns.is_empty() => (ns, name),
            _ => ("", key.name.as_str()),
        };
        KeyRef::new(key.gvk.as_ref(), namespace, name)
    }

    /// The length of the namespaced name in bytes.
    pub fn name_len(&self) -> usize {
        if self.namespace.is_empty() {
            self.name.len()
        } else {
            self.namespace.len() + 1 + self.name.len()
        }
    }

    /// The first 16 bytes of the namespaced name, big-endian and padded with zeros: ordered as the
    /// names are wherever they differ (names hold no NUL), and equal only where the names are or
    /// one's first 16 bytes are the other's.
    pub fn name_prefix(&self) -> u128 {
        (u128::from(self.prefix[0]) << 64) | u128::from(self.prefix[1])
    }

    /// [`KeyRef::cmp_tracked`] against an owner whose name prefix is known: names of at most 16
    /// bytes with equal prefixes and lengths are equal without being read.
    pub fn cmp_owner(&self, other_prefix: u128, other: &TrackedKey) -> Ordering {
        match names_by_prefix((self.name_prefix(), self.name_len()), (other_prefix, other.name.len())) {
            Some(names) => names.then_with(|| self.gvk.cmp(&other.gvk.as_ref())),
            None => self.cmp_tracked(other),
        }
    }

    /// The namespaced name in at most three pieces, to write without building it.
    pub fn name_pieces(&self) -> [&'a str; 3] {
        if self.namespace.is_empty() {
            [self.name, "", ""]
        } else {
            [self.namespace, "/", self.name]
        }
    }

    pub fn namespaced_name(&self) -> String {
        self.name_pieces().concat()
    }

    pub fn to_tracked(self) -> TrackedKey {
        TrackedKey { gvk: self.gvk.cloned(), name: self.namespaced_name() }
    }

    /// Namespaced names in byte order, then kinds (an unknown kind first). Namespaces hold no
    /// `/`, so where both are set and differ, `namespace/` decides alone; only a prefix needs
    /// the byte after it.
    pub fn cmp_names(&self, other: &Self) -> Ordering {
        if let Some(names) =
            names_by_prefix((self.name_prefix(), self.name_len()), (other.name_prefix(), other.name_len()))
        {
            return names;
        }
        let (a, b) = (self.namespace.as_bytes(), other.namespace.as_bytes());
        if a == b {
            return self.name.cmp(other.name);
        }
        if a.is_empty() || b.is_empty() {
            let (x, y) = (self.name_pieces(), other.name_pieces());
            return x.iter().flat_map(|p| p.bytes()).cmp(y.iter().flat_map(|p| p.bytes()));
        }
        let common = a.len().min(b.len());
        match a[..common].cmp(&b[..common]) {
            Ordering::Equal => {
                let next = |ns: &[u8]| ns.get(common).copied().unwrap_or(b'/');
                next(a).cmp(&next(b))
            }
            unequal => unequal,
        }
    }

    /// The order of a view's index and lifecycles.
    pub fn cmp_key(&self, other: &Self) -> Ordering {
        self.cmp_names(other).then_with(|| self.gvk.cmp(&other.gvk))
    }

    /// [`KeyRef::cmp_key`] against a [`TrackedKey`], without splitting its name.
    pub fn cmp_tracked(&self, other: &TrackedKey) -> Ordering {
        let mut rest = other.name.as_bytes();
        for piece in self.name_pieces().map(str::as_bytes) {
            let n = piece.len().min(rest.len());
            match piece[..n].cmp(&rest[..n]) {
                Ordering::Equal if n < piece.len() => return Ordering::Greater,
                Ordering::Equal => rest = &rest[n..],
                unequal => return unequal,
            }
        }
        let names = if rest.is_empty() { Ordering::Equal } else { Ordering::Less };
        names.then_with(|| self.gvk.cmp(&other.gvk.as_ref()))
    }
}

/// The order of two names known by their prefix and length, where those settle it: prefixes
/// that differ, or equal ones of names of at most 16 bytes (padded with zeros, the shorter is the
/// start of the longer). `None` where the names must be read.
fn names_by_prefix(a: (u128, usize), b: (u128, usize)) -> Option<Ordering> {
    match a.0.cmp(&b.0) {
        Ordering::Equal if a.1.max(b.1) <= 16 => Some(a.1.cmp(&b.1)),
        Ordering::Equal => None,
        unequal => Some(unequal),
    }
}

/// One owner's lifecycles by pod hash.
#[derive(Clone, Copy)]
pub enum LifecyclesRef<'a> {
    /// As a [`Trace`] holds them, written as they are.
    Held(&'a BTreeMap<u64, Vec<PodLifecycle>>),
    /// As the store holds them, clipped to the window `[start, end)` as they are read. A hash
    /// left without a lifecycle in the window is left out, and an owner left without any too.
    Clipped { of: &'a OwnerLifecycles, start: i64, end: i64 },
}

impl LifecyclesRef<'_> {
    /// Whether a hash or an owner without lifecycles is kept (as a trace holds it) rather than
    /// left out (as clipping left it).
    pub fn keeps_empty(&self) -> bool {
        matches!(self, LifecyclesRef::Held(_))
    }

    /// The number of lifecycles before clipping.
    pub fn unclipped_len(&self) -> usize {
        match self {
            LifecyclesRef::Held(map) => map.values().map(Vec::len).sum(),
            LifecyclesRef::Clipped { of, .. } => of.len(),
        }
    }

    /// Calls `f` with each pod hash in ascending order and its lifecycles in launch order; once
    /// clipped, a hash may have none.
    pub fn for_each(&self, mut f: impl FnMut(u64, HashLifecycles<'_>)) {
        match *self {
            LifecyclesRef::Held(map) => {
                for (hash, lcs) in map {
                    f(*hash, HashLifecycles::Held(lcs.iter()));
                }
            }
            LifecyclesRef::Clipped { of, start, end } => {
                for (hash, launches) in of.by_hash() {
                    f(hash, HashLifecycles::Clipped { launches, start, end });
                }
            }
        }
    }

    /// The lifecycles as a map, without the hashes that clipping left empty.
    pub fn to_map(self) -> BTreeMap<u64, Vec<PodLifecycle>> {
        let mut out = BTreeMap::new();
        self.for_each(|hash, lcs| {
            let lcs: Vec<_> = lcs.collect();
            if !lcs.is_empty() || self.keeps_empty() {
                out.insert(hash, lcs);
            }
        });
        out
    }
}

/// One pod hash's lifecycles in launch order, as a [`LifecyclesRef`] holds them: a concrete
/// type rather than a boxed iterator, since an export reads every lifecycle through it.
#[derive(Clone, Debug)]
pub enum HashLifecycles<'a> {
    Held(std::slice::Iter<'a, PodLifecycle>),
    Clipped { launches: Launches<'a>, start: i64, end: i64 },
}

impl Iterator for HashLifecycles<'_> {
    type Item = PodLifecycle;

    fn next(&mut self) -> Option<PodLifecycle> {
        match self {
            HashLifecycles::Held(lcs) => lcs.next().copied(),
            HashLifecycles::Clipped { launches, start, end } => launches.find_map(|lc| clip(lc, *start, *end)),
        }
    }
}

/// A lifecycle clipped to a window: a start before it moves to its start, and an end at or after
/// its end is not yet known inside it, so it is left open. `None` if it lies wholly outside.
fn clip(lc: PodLifecycle, start: i64, end: i64) -> Option<PodLifecycle> {
    let overlaps = lc.start_ts < end && lc.end_ts.is_none_or(|e| e >= start);
    overlaps.then(|| PodLifecycle { start_ts: lc.start_ts.max(start), end_ts: lc.end_ts.filter(|e| *e < end) })
}

impl<'a> TraceView<'a> {
    pub fn of(trace: &'a Trace) -> Self {
        let events = trace.events.iter().map(EventView::of).collect();
        let mut index: Vec<_> = trace.index.iter().map(|(k, h)| (KeyRef::of_tracked(k), *h)).collect();
        index.sort_unstable_by(|a, b| a.0.cmp_key(&b.0));
        let mut pod_lifecycles: Vec<_> =
            trace.pod_lifecycles.iter().map(|(k, l)| (KeyRef::of_tracked(k), LifecyclesRef::Held(l))).collect();
        pod_lifecycles.sort_unstable_by(|a, b| a.0.cmp_key(&b.0));
        TraceView { config: &trace.config, events, index, pod_lifecycles }
    }

    /// The trace as an owned [`Trace`], for the encoders and tools that read one.
    pub fn to_trace(&self) -> Trace {
        Trace {
            config: self.config.clone(),
            events: self
                .events
                .iter()
                .map(|e| TraceEvent {
                    ts: e.ts,
                    applied_objs: e.applied.iter().map(|o| (*o).clone()).collect(),
                    deleted_objs: e.deleted.iter().map(|d| d.to_record()).collect(),
                })
                .collect(),
            index: self.index.iter().map(|(k, h)| (k.to_tracked(), *h)).collect(),
            pod_lifecycles: self
                .pod_lifecycles
                .iter()
                .filter_map(|(k, l)| {
                    let map = l.to_map();
                    (l.keeps_empty() || !map.is_empty()).then(|| (k.to_tracked(), map))
                })
                .collect(),
        }
    }

    /// Objects applied and deleted, over all events.
    pub fn objects(&self) -> usize {
        self.events.iter().map(|e| e.applied.len() + e.deleted.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(ns: &'a str, name: &'a str) -> KeyRef<'a> {
        KeyRef::new(None, ns, name)
    }

    #[test]
    fn keys_sort_as_their_namespaced_names_do() {
        let keys = [
            key("a", "x"),
            key("a-b", "x"),
            key("", "a"),
            key("", "a-c"),
            key("", "a/w"),
            key("ab", "a"),
            key("a", "y"),
            key("", "b"),
            key("b", ""),
            key("", "a0"),
            key("a0", "a"),
            // Names of 16 bytes and more, whose prefixes tie.
            key("namespace-long", "x"),
            key("namespace-long", "xy"),
            key("namespace-long", "xx"),
            key("", "namespace-long/x"),
            key("", "namespace-long/xy"),
            key("namespace-lon", "g/x"),
            key("namespace-longer", ""),
            key("namespace-longer", "a"),
            key("", "abcdefghijklmnop"),
            key("", "abcdefghijklmno"),
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp_names(b), a.namespaced_name().cmp(&b.namespaced_name()), "{a:?} {b:?}");
                let tracked = b.to_tracked();
                assert_eq!(a.cmp_tracked(&tracked), a.cmp_key(&KeyRef::of_tracked(&tracked)), "{a:?} {b:?}");
                let prefix = KeyRef::of_tracked(&tracked).name_prefix();
                assert_eq!(a.cmp_owner(prefix, &tracked), a.cmp_tracked(&tracked), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn tracked_keys_split_into_the_same_name() {
        for name in ["ns/a", "a", "a/b/c", "/a", ""] {
            let t = TrackedKey { gvk: None, name: name.into() };
            assert_eq!(KeyRef::of_tracked(&t).namespaced_name(), name);
            assert_eq!(KeyRef::of_tracked(&t).name_len(), name.len());
        }
    }

    #[test]
    fn clipping_moves_early_starts_and_opens_late_ends() {
        let lcs = [
            PodLifecycle { start_ts: 0, end_ts: Some(5) },
            PodLifecycle { start_ts: 5, end_ts: Some(12) },
            PodLifecycle { start_ts: 12, end_ts: Some(20) },
            PodLifecycle { start_ts: 15, end_ts: None },
            PodLifecycle { start_ts: 20, end_ts: None },
        ];
        let clipped: Vec<_> = lcs.iter().filter_map(|lc| clip(*lc, 10, 20)).collect();
        assert_eq!(
            clipped,
            [
                PodLifecycle { start_ts: 10, end_ts: Some(12) },
                PodLifecycle { start_ts: 12, end_ts: None },
                PodLifecycle { start_ts: 15, end_ts: None },
            ]
        );
    }
}
