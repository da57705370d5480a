//! What identifies one version of a file without reading it: a mounted Secret is updated by
//! swapping a symlink (a new inode), an editor or `echo > file` rewrites in place (new times).
//! One `stat`, through the symlinks, per check.
//!
//! File times come from a coarse clock (a few milliseconds on ext4 and tmpfs), so two writes of
//! the same size within one tick leave equal stamps. As git does for its index, a stamp whose
//! times are that recent is not trusted: the file is read again until it has settled.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

/// How long after a change a stamp is not trusted: far above any file system's time granularity.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

impl Stamp {
    /// Whether an equal stamp later means equal content.
    pub fn settled(&self) -> bool {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let newest = self.mtime.max(self.ctime).0;
        now.as_secs().saturating_sub(SETTLE.as_secs()) as i64 > newest
    }
}

pub fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_just_written_is_not_settled_and_a_rewrite_changes_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a").unwrap();
        let first = stamp(&path).unwrap();
        assert!(!first.settled(), "equal stamps within the file system's tick must not be trusted");
        std::fs::write(&path, "bb").unwrap();
        assert_ne!(stamp(&path).unwrap(), first);
        assert!(stamp(&dir.path().join("missing")).is_err());
    }
}
