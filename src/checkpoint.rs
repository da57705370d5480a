//! Checkpoints on disk or in an object store: written every `checkpoint.every` and at shutdown,
//! read back before an older one is deleted, and the newest sound one restored at startup.
//!
//! Names are `checkpoint-<unix seconds, 12 digits>-<sequence, 6 digits>.skckpt`, ordered by the
//! two numbers. A new name always comes after every name already there, even when this host's
//! clock is behind the one that wrote them (a pod rescheduled onto another node): otherwise the
//! newest state would sort as the oldest, be rotated away, and a restart would restore an older
//! one. A local write goes to a temporary file in the same directory, is synced, then renamed: a
//! crash leaves the old checkpoint or the new one, never half of one. An object-store put is
//! atomic by itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sk_config::CheckpointConfig;
use sk_core::store::Store;
use sk_exporters::ExporterSettings;

const SUFFIX: &str = ".skckpt";
const PREFIX: &str = "checkpoint-";
const READ_TRIES: u32 = 3;

enum Backend {
    Local(PathBuf),
    Remote(Arc<dyn ObjectStore>, StorePath),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CheckpointMetrics {
    pub written: AtomicU64,
    pub failed: AtomicU64,
    pub last_unix: AtomicU64,
    pub last_bytes: AtomicU64,
}

pub struct Checkpoints {
    backend: Backend,
    keep: usize,
    pub every: Duration,
    /// The stamp of the last name handed out, so that two checkpoints in one second (the
    /// periodic one and the final one) get distinct, ordered names.
    last: Mutex<Stamp>,
    /// Checkpoints found damaged at startup: left for inspection, and not counted among the
    /// `keep` sound ones.
    unsound: Mutex<HashSet<String>>,
    pub metrics: Arc<CheckpointMetrics>,
}

/// A name's unix seconds and sequence number.
type Stamp = (i64, u64);

fn stamp(name: &str) -> Option<Stamp> {
    let (secs, seq) = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(secs) || !all_digits(seq) {
        return None;
    }
    Some((secs.parse().ok()?, seq.parse().ok()?))
}

fn name_of((secs, seq): Stamp) -> String {
    format!("{PREFIX}{secs:012}-{seq:06}{SUFFIX}")
}

/// The stamp after both `now` and `floor`: this second if it is later, else the next sequence.
fn next_stamp(now: i64, floor: Stamp) -> Stamp {
    if now > floor.0 {
        (now, 0)
    } else {
        (floor.0, floor.1 + 1)
    }
}

/// Of `names` (newest first; `new`, if among them, is skipped), those to delete: beyond the `keep` newest sound
/// ones, `new` counted first. Damaged ones are left alone and not counted.
fn beyond_keep<'a>(names: &'a [String], new: &str, keep: usize, unsound: &HashSet<String>) -> Vec<&'a String> {
    let mut kept = 1;
    let mut delete = Vec::new();
    for n in names.iter().filter(|n| *n != new && !unsound.contains(*n)) {
        if kept < keep {
            kept += 1;
        } else {
            delete.push(n);
        }
    }
    delete
}

fn is_url(to: &str) -> bool {
    to.contains("://") && !to.starts_with("file://")
}

/// Temporary files that a crash in the middle of a write left behind.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(&format!("{SUFFIX}.tmp")) {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!(file = %e.path().display(), error = %err, "a partly written checkpoint could not be removed");
            }
        }
    }
}

impl Checkpoints {
    pub fn open(config: &CheckpointConfig, settings: &ExporterSettings) -> anyhow::Result<Self> {
        let backend = if is_url(&config.to) {
            let (store, prefix) = sk_exporters::open_url(&config.to, settings).context("checkpoint.to")?;
            Backend::Remote(store, prefix)
        } else {
            let dir = PathBuf::from(config.to.strip_prefix("file://").unwrap_or(&config.to));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("checkpoint.to: creating the directory {}", dir.display()))?;
            remove_leftovers(&dir);
            Backend::Local(dir)
        };
        Ok(Checkpoints {
            backend,
            keep: config.keep.max(1) as usize,
            every: config.every,
            last: Mutex::new((i64::MIN, 0)),
            unsound: Mutex::default(),
            metrics: Arc::default(),
        })
    }

    fn describe(&self, name: &str) -> String {
        match &self.backend {
            Backend::Local(dir) => dir.join(name).display().to_string(),
            Backend::Remote(_, prefix) => format!("{prefix}/{name}"),
        }
    }

    /// Checkpoint names, newest first; other files are not checkpoints and are left alone.
    async fn list(&self) -> anyhow::Result<Vec<String>> {
        let names: Vec<String> = match &self.backend {
            Backend::Local(dir) => {
                let mut names = Vec::new();
                let mut entries = tokio::fs::read_dir(dir).await?;
                while let Some(e) = entries.next_entry().await? {
                    names.push(e.file_name().to_string_lossy().into_owned());
                }
                names
            }
            // Not recursive: objects further down the prefix are someone else's.
            Backend::Remote(store, prefix) => store
                .list_with_delimiter(Some(prefix))
                .await?
                .objects
                .into_iter()
                .filter_map(|m| m.location.filename().map(str::to_string))
                .collect(),
        };
        let mut stamped: Vec<(Stamp, String)> = names.into_iter().filter_map(|n| Some((stamp(&n)?, n))).collect();
        stamped.sort_unstable_by(|a, b| b.cmp(a));
        Ok(stamped.into_iter().map(|(_, n)| n).collect())
    }

    async fn read(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        match &self.backend {
            Backend::Local(dir) => Ok(tokio::fs::read(dir.join(name)).await?),
            Backend::Remote(store, prefix) => Ok(store.get(&prefix.clone().join(name)).await?.bytes().await?.to_vec()),
        }
    }

    /// A failed read of an object store is often passing; falling back to an older checkpoint
    /// would lose what the newer one holds, so a read is tried a few times first.
    async fn read_with_retries(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        let mut delay = Duration::from_millis(500);
        for _ in 1..READ_TRIES {
            match self.read(name).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => {
                    tracing::warn!(checkpoint = %self.describe(name), error = format!("{e:#}"), "reading a checkpoint failed; trying again")
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        self.read(name).await
    }

    async fn write(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Local(dir) => {
                let (dir, name) = (dir.clone(), name.to_string());
                tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes)).await??;
                Ok(())
            }
            Backend::Remote(store, prefix) => {
                store.put(&prefix.clone().join(name), PutPayload::from(bytes)).await?;
                Ok(())
            }
        }
    }

    async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Local(dir) => Ok(tokio::fs::remove_file(dir.join(name)).await?),
            Backend::Remote(store, prefix) => Ok(store.delete(&prefix.clone().join(name)).await?),
        }
    }

    /// The newest checkpoint that reads back whole, as a store; those that do not are reported
    /// and skipped (and kept, for whoever wants to look at them).
    pub async fn restore(&self) -> anyhow::Result<Option<Store>> {
        Ok(self.restore_stamped().await?.map(|(store, _)| store))
    }

    /// As [`Checkpoints::restore`], with the unix seconds its name says it was written at: the
    /// trace it holds is complete up to then.
    pub async fn restore_stamped(&self) -> anyhow::Result<Option<(Store, i64)>> {
        let names = self.list().await.context("checkpoint.to: listing checkpoints")?;
        for name in names {
            let what = self.describe(&name);
            let bytes = match self.read_with_retries(&name).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(checkpoint = %what, error = format!("{e:#}"), "a checkpoint cannot be read; trying an older one");
                    self.unsound.lock().unwrap_or_else(|p| p.into_inner()).insert(name);
                    continue;
                }
            };
            match Store::from_checkpoint(&bytes) {
                Ok(store) => {
                    let stats = store.stats();
                    tracing::info!(checkpoint = %what, events = stats.events, objects = stats.live_objects, bytes = bytes.len(), "restored the trace from a checkpoint; the initial lists reconcile what changed since");
                    let written_at = stamp(&name).map_or(0, |(secs, _)| secs);
                    return Ok(Some((store, written_at)));
                }
                Err(e) => {
                    tracing::error!(checkpoint = %what, error = %e, "a checkpoint is not sound and is skipped; trying an older one");
                    self.unsound.lock().unwrap_or_else(|p| p.into_inner()).insert(name);
                }
            }
        }
        Ok(None)
    }

    /// Writes a checkpoint of `store`, reads it back, and only then deletes those beyond `keep`.
    pub async fn save(&self, store: &Arc<Store>) -> anyhow::Result<()> {
        let result = self.save_inner(store).await;
        let m = &self.metrics;
        match &result {
            Ok(bytes) => {
                m.written.fetch_add(1, Ordering::Relaxed);
                m.last_unix.store(sk_core::sources::unix_now().max(0) as u64, Ordering::Relaxed);
                m.last_bytes.store(*bytes as u64, Ordering::Relaxed);
            }
            Err(_) => {
                m.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        result.map(|_| ())
    }

    async fn save_inner(&self, store: &Arc<Store>) -> anyhow::Result<usize> {
        // Copying the state out holds the store's lock: at the tracer's own priority, so ingest
        // never waits on a thread that yields to it. Encoding it takes longer: below ingest.
        let store = store.clone();
        let state = tokio::task::spawn_blocking(move || store.checkpoint_state()).await?;
        let bytes = sk_core::background::run("checkpoint", move || state.encode()).await?;
        let len = bytes.len();
        let existing = self.list().await.context("listing checkpoints")?;
        let name = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let floor = existing.iter().filter_map(|n| stamp(n)).max().unwrap_or_default().max(*last);
            *last = next_stamp(sk_core::sources::unix_now().max(0), floor);
            name_of(*last)
        };
        let what = self.describe(&name);
        self.write(&name, bytes).await.with_context(|| format!("writing checkpoint {what}"))?;
        let back = self.read(&name).await.with_context(|| format!("reading back checkpoint {what}"))?;
        sk_core::store::verify_checkpoint(&back)
            .with_context(|| format!("checkpoint {what} did not read back whole"))?;
        tracing::debug!(checkpoint = %what, bytes = len, "checkpoint written");
        // The listing taken for the name: the new checkpoint counts first, then these.
        let unsound = self.unsound.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for old in beyond_keep(&existing, &name, self.keep, &unsound) {
            if let Err(e) = self.delete(old).await {
                tracing::warn!(checkpoint = %self.describe(old), error = %e, "an old checkpoint could not be deleted");
            }
        }
        Ok(len)
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    // The rename itself is durable once the directory is synced.
    std::fs::File::open(dir)?.sync_all()
}

/// Writes a checkpoint every `every` until `stop` turns true; one being written then is finished
/// first. Failures are logged and counted, and the next tick tries again. Only while this replica
/// leads: with `ha`, the followers' checkpoints would rotate the leader's away.
pub fn spawn(
    checkpoints: Arc<Checkpoints>,
    store: Arc<Store>,
    role: crate::role::Role,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(checkpoints.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            if !role.leads() {
                continue;
            }
            if let Err(e) = checkpoints.save(&store).await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "checkpoint failed; the next one is tried in {:?}",
                    checkpoints.every
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sk_core::trace::{EncodedObject, ObjectIdentity};

    fn store_with(n: usize) -> Arc<Store> {
        let store = Store::new();
        for i in 0..n {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "d", "name": format!("c{i}")}});
            store.apply(1000 + i as i64, ObjectIdentity::of(&obj).unwrap(), EncodedObject::from_json(&obj), i as u64);
        }
        Arc::new(store)
    }

    fn local(dir: &Path, keep: u32) -> Checkpoints {
        let config = CheckpointConfig { to: dir.display().to_string(), every: Duration::from_secs(60), keep };
        Checkpoints::open(&config, &ExporterSettings::default()).unwrap()
    }

    #[tokio::test]
    async fn keeps_the_newest_and_restores_the_newest_sound_one() {
        let dir = tempfile::tempdir().unwrap();
        let cp = local(dir.path(), 2);
        assert!(cp.restore().await.unwrap().is_none(), "nothing to restore yet");
        for n in 1..=3 {
            cp.save(&store_with(n)).await.unwrap();
        }
        let names = cp.list().await.unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 3);

        // The newest is damaged: the one before it is restored, and the damaged one stays.
        let newest = dir.path().join(&names[0]);
        let mut bytes = std::fs::read(&newest).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&newest, bytes).unwrap();
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 2);
        std::fs::write(&newest, b"short").unwrap();
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 2);
        assert!(newest.exists());
        assert_eq!(cp.metrics.written.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn names_order_by_their_numbers_and_new_ones_come_last() {
        assert_eq!(stamp(&name_of((1_700_000_000, 7))), Some((1_700_000_000, 7)));
        assert_eq!(stamp("checkpoint-12-3.skckpt"), Some((12, 3)));
        for other in ["checkpoint-12.skckpt", "checkpoint--1-2.skckpt", "checkpoint-1-2.skckpt.tmp", "notes.txt"] {
            assert_eq!(stamp(other), None, "{other}");
        }
        assert_eq!(next_stamp(100, (0, 0)), (100, 0));
        assert_eq!(next_stamp(100, (100, 0)), (100, 1), "a second checkpoint in the same second");
        assert_eq!(next_stamp(100, (250, 4)), (250, 5), "a clock behind the one that wrote the newest");
    }

    #[test]
    fn rotation_keeps_the_newest_sound_ones() {
        let names: Vec<String> = ["n5", "n4", "n3", "n2", "n1"].map(String::from).into();
        let none = HashSet::new();
        assert_eq!(beyond_keep(&names, "n5", 2, &none), ["n3", "n2", "n1"]);
        assert_eq!(beyond_keep(&names, "n5", 1, &none), ["n4", "n3", "n2", "n1"]);
        assert!(beyond_keep(&names, "n5", 9, &none).is_empty());
        // A damaged one is neither counted nor deleted.
        let damaged = HashSet::from(["n4".to_string()]);
        assert_eq!(beyond_keep(&names, "n5", 2, &damaged), ["n2", "n1"]);
    }

    #[tokio::test]
    async fn a_checkpoint_after_a_clock_step_back_still_comes_last() {
        let dir = tempfile::tempdir().unwrap();
        let cp = local(dir.path(), 2);
        // Written by a host whose clock was an hour ahead.
        let ahead = name_of((sk_core::sources::unix_now() + 3600, 0));
        std::fs::write(dir.path().join(&ahead), store_with(1).checkpoint()).unwrap();
        cp.save(&store_with(2)).await.unwrap();
        cp.save(&store_with(3)).await.unwrap();
        let names = cp.list().await.unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!names.contains(&ahead), "the older state went first: {names:?}");
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 3);
    }

    #[tokio::test]
    async fn a_damaged_checkpoint_is_kept_but_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let cp = local(dir.path(), 2);
        cp.save(&store_with(1)).await.unwrap();
        cp.save(&store_with(2)).await.unwrap();
        let damaged = cp.list().await.unwrap()[0].clone();
        std::fs::write(dir.path().join(&damaged), b"SKTRCKPT").unwrap();

        // As at startup: the damaged one is skipped, then checkpoints go on.
        let cp = local(dir.path(), 2);
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 1);
        cp.save(&store_with(3)).await.unwrap();
        cp.save(&store_with(4)).await.unwrap();
        let names = cp.list().await.unwrap();
        assert_eq!(names.len(), 3, "two sound ones and the damaged one: {names:?}");
        assert!(names.contains(&damaged));
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 4);
    }

    #[tokio::test]
    async fn an_unreadable_checkpoint_is_tried_again_then_skipped_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cp = local(dir.path(), 1);
        cp.save(&store_with(1)).await.unwrap();
        // A directory where a checkpoint should be: every read fails.
        let unreadable = name_of((sk_core::sources::unix_now() + 60, 0));
        std::fs::create_dir(dir.path().join(&unreadable)).unwrap();
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 1);
        cp.save(&store_with(2)).await.unwrap();
        let names = cp.list().await.unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&unreadable));
    }

    #[test]
    fn a_partly_written_checkpoint_is_removed_at_startup() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(format!(".{}.tmp", name_of((1, 0))));
        std::fs::write(&tmp, b"SKTR").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        local(dir.path(), 1);
        assert!(!tmp.exists());
        assert!(dir.path().join("notes.txt").exists(), "other files are left alone");
    }

    #[tokio::test]
    async fn object_store_checkpoints_round_trip() {
        let config = CheckpointConfig { to: "memory:///checkpoints/a".into(), every: Duration::from_secs(60), keep: 1 };
        let cp = Checkpoints::open(&config, &ExporterSettings::default()).unwrap();
        cp.save(&store_with(2)).await.unwrap();
        cp.save(&store_with(5)).await.unwrap();
        assert_eq!(cp.list().await.unwrap().len(), 1);
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 5);
    }

    #[tokio::test]
    async fn object_store_checkpoints_skip_damaged_and_nested_objects() {
        let config = CheckpointConfig { to: "memory:///checkpoints/b".into(), every: Duration::from_secs(60), keep: 2 };
        let cp = Checkpoints::open(&config, &ExporterSettings::default()).unwrap();
        cp.save(&store_with(2)).await.unwrap();
        let Backend::Remote(store, prefix) = &cp.backend else { panic!("an object store") };
        let later = name_of((sk_core::sources::unix_now() + 60, 0));
        let nested = prefix.clone().join("older-run").join(name_of((sk_core::sources::unix_now() + 120, 0)));
        store.put(&prefix.clone().join(later.as_str()), PutPayload::from(b"SKTRCKPT".to_vec())).await.unwrap();
        store.put(&nested, PutPayload::from(store_with(9).checkpoint())).await.unwrap();

        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 2, "the damaged newest one skipped");
        cp.save(&store_with(3)).await.unwrap();
        cp.save(&store_with(4)).await.unwrap();
        let names = cp.list().await.unwrap();
        assert_eq!(names.len(), 3, "two sound ones and the damaged one: {names:?}");
        assert_eq!(names[2], later, "new names come after the damaged one");
        assert_eq!(cp.restore().await.unwrap().unwrap().stats().live_objects, 4);
        assert!(store.head(&nested).await.is_ok(), "what lies further down the prefix is left alone");
    }

    #[test]
    fn an_unwritable_directory_is_a_startup_error() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let config = CheckpointConfig {
            to: file.path().join("sub").display().to_string(),
            every: Duration::from_secs(60),
            keep: 1,
        };
        let e = Checkpoints::open(&config, &ExporterSettings::default()).err().unwrap();
        assert!(format!("{e:#}").contains("checkpoint.to: creating the directory"), "{e:#}");
    }
}
