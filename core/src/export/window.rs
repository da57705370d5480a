//! Cutting a window `[start, end)` out of a snapshot, as an export does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::object_filter::{Candidate, ObjectFilter};
use crate::store::{Snapshot, StoredObject};
use crate::trace::view::{Deleted, EventView, LifecyclesRef};
use crate::trace::{IdentityRef, ObjectIdentity, Trace, TraceView};
use crate::tracer_config::TracerConfig;

/// A window `[start, end)` of unix seconds; never empty, since [`Window::new`] is the one way to
/// make one and the one place it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    start: i64,
    end: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowError {
    #[error("end_ts ({end}) must be after start_ts ({start})")]
    Empty { start: i64, end: i64 },
}

impl Window {
    pub fn new(start: i64, end: i64) -> Result<Self, WindowError> {
        if end <= start {
            return Err(WindowError::Empty { start, end });
        }
        Ok(Window { start, end })
    }

    /// Unix seconds, inclusive.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// Unix seconds, exclusive.
    pub fn end(&self) -> i64 {
        self.end
    }
}

/// Maps keyed by the addresses of the snapshot's identities: a fast hash, seeded per process so
/// that no layout of the heap makes every key collide.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl Snapshot {
    /// The trace of `[start, end)`: a first event at `start` applying every object alive then
    /// (changes at exactly `start` included), then the recorded events inside the window. The index
    /// holds every exported object with the hash of its last exported version. Lifecycles are those
    /// of exported owners that overlap the window: a start before the window is clipped to
    /// `start`, and an end at or after `end` is not yet known inside the window, so it is left
    /// open. A window reaching back before the retained history begins at the retention boundary.
    pub fn window(&self, config: &TracerConfig, w: Window, filter: &dyn ObjectFilter) -> Trace {
        self.cut(config, w, filter).to_trace()
    }

    /// [`Snapshot::window`] borrowed from the snapshot, for the encoders to write as it is.
    pub fn cut<'a>(&'a self, config: &'a TracerConfig, w: Window, filter: &dyn ObjectFilter) -> TraceView<'a> {
        let start = w.start.max(self.base_ts.unwrap_or(i64::MIN));
        let mut events_in = self.events().take_while(|ev| ev.ts < w.end).peekable();

        // An object's first exported version decides whether the filters keep it; its later
        // versions and its deletion follow that verdict, since a deletion carries no labels.
        // Room for every object the window could hold, so that the table is never regrown: no more
        // than its versions, nor than the identities the store held.
        let versions =
            self.base.len() + self.events().take_while(|ev| ev.ts < w.end).map(|ev| ev.applied.len()).sum::<usize>();
        let most = versions.min(self.identities);
        let mut exported = Exported {
            filter,
            slots: Vec::with_capacity(most),
            by_id: FastMap::with_capacity_and_hasher(most, Default::default()),
        };

        // Phase 1: the state at `start`, in identity order: the base, with the changes up to
        // `start` laid over it.
        let mut over: BTreeMap<&ObjectIdentity, Option<&StoredObject>> = BTreeMap::new();
        while let Some(ev) = events_in.next_if(|ev| ev.ts <= start) {
            for obj in &ev.applied {
                over.insert(&obj.id, Some(obj));
            }
            for id in &ev.deleted {
                over.insert(id, None);
            }
        }
        let mut first = EventView { ts: start, applied: Vec::new(), deleted: Vec::new() };
        for obj in alive(&self.base, over) {
            if exported.keep(obj) {
                first.applied.push(&obj.obj);
            }
        }
        let mut events = vec![first];

        // Phase 2: the changes inside the window.
        for ev in events_in {
            let mut out = EventView { ts: ev.ts, applied: Vec::new(), deleted: Vec::new() };
            for obj in &ev.applied {
                if exported.keep(obj) {
                    out.applied.push(&obj.obj);
                }
            }
            for id in &ev.deleted {
                if exported.was_kept(id) {
                    out.deleted.push(Deleted::Of(id));
                }
            }
            if !out.applied.is_empty() || !out.deleted.is_empty() {
                events.push(out);
            }
        }

        // Phase 3: the index in key order, sorted by the names' first 16 bytes and only where
        // those tie by the whole key; then the lifecycles of the owners in it, found by walking
        // the snapshot's table, which is in the same order, beside it.
        let mut entries: Vec<(u128, &Slot)> = Vec::with_capacity(exported.slots.len());
        entries.extend(exported.slots.iter().filter(|s| s.last_hash.is_some()).map(|s| (s.key.name_prefix(), s)));
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.key.cmp_key(&b.1.key)));
        let index = entries.iter().filter_map(|(_, s)| Some((s.key, s.last_hash?))).collect();
        let mut owners = self.lifecycles.iter().peekable();
        let mut pod_lifecycles = Vec::with_capacity(entries.len().min(self.lifecycles.len()));
        for (_, slot) in &entries {
            let key = slot.key;
            while let Some(owner) = owners.peek() {
                match key.cmp_owner(owner.prefix(), owner.key()) {
                    std::cmp::Ordering::Greater => {}
                    std::cmp::Ordering::Equal => {
                        let of = owner.lifecycles();
                        pod_lifecycles.push((key, LifecyclesRef::Clipped { of, start, end: w.end }));
                    }
                    std::cmp::Ordering::Less => break,
                }
                owners.next();
            }
        }
        let gaps = self.gaps.iter().filter_map(|g| g.clip(start, w.end)).collect();
        TraceView { config, events, index, pod_lifecycles, gaps }
    }
}

/// The objects alive at a moment, in identity order: those of the base that `over` (the changes
/// since, `None` for a deletion) leaves alone, and those it applies.
fn alive<'a>(
    base: &'a BTreeMap<Arc<ObjectIdentity>, StoredObject>,
    over: BTreeMap<&'a ObjectIdentity, Option<&'a StoredObject>>,
) -> impl Iterator<Item = &'a StoredObject> {
    let mut base = base.iter().peekable();
    let mut over = over.into_iter().peekable();
    std::iter::from_fn(move || loop {
        let from_base = match (base.peek(), over.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((b, _)), Some((o, _))) => match (***b).cmp(*o) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => {
                    base.next();
                    false
                }
                std::cmp::Ordering::Greater => false,
            },
        };
        let next = if from_base { base.next().map(|(_, obj)| obj) } else { over.next().and_then(|(_, obj)| obj) };
        if next.is_some() {
            return next;
        }
    })
}

/// An identity as the verdicts are keyed: its address. The store interns identities, so every
/// version and deletion of an object in a snapshot shares one, and a later version is matched to
/// its verdict without reading its names.
fn id_key(id: &Arc<ObjectIdentity>) -> usize {
    Arc::as_ptr(id) as usize
}

/// Each object seen in the window: whether the filters keep it, and the hash of its last
/// exported version (the index's entry).
struct Slot<'a> {
    key: IdentityRef<'a>,
    keep: bool,
    last_hash: Option<u64>,
}

struct Exported<'a, 'f> {
    filter: &'f dyn ObjectFilter,
    slots: Vec<Slot<'a>>,
    by_id: FastMap<usize, usize>,
}

impl<'a> Exported<'a, '_> {
    /// Whether `o` is exported; if so, it is the latest exported version of its object.
    fn keep(&mut self, o: &'a StoredObject) -> bool {
        let at = *self.by_id.entry(id_key(&o.id)).or_insert_with(|| {
            let keep = self.filter.keep(&Candidate::new(o));
            self.slots.push(Slot { key: IdentityRef::of_identity(&o.id), keep, last_hash: None });
            self.slots.len() - 1
        });
        let slot = &mut self.slots[at];
        if slot.keep {
            slot.last_hash = Some(o.hash);
        }
        slot.keep
    }

    fn was_kept(&self, id: &Arc<ObjectIdentity>) -> bool {
        self.by_id.get(&id_key(id)).is_some_and(|&at| self.slots[at].keep)
    }
}
