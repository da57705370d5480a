//! Local files: `file:///path` or a plain path, written under the configured export directory only.
//!
//! `..` components, absolute paths outside the directory, and symlinks that lead out of it (a
//! symlinked parent directory, or a symlink at the file itself) are refused. Writes are atomic: a
//! temporary file in the target directory, flushed to disk, then renamed over the target.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use crate::{Delivered, ExportError, Exporter, ExporterPlugin, ExporterSettings};

struct FileExporter {
    root: Option<PathBuf>,
}

fn forbidden(destination: &str, why: impl Into<String>) -> ExportError {
    ExportError::Forbidden { destination: destination.to_string(), why: why.into() }
}

/// Where `destination` may be written, or why not.
fn target(destination: &str, root: &Path) -> Result<PathBuf, ExportError> {
    let raw = destination.strip_prefix("file://").unwrap_or(destination);
    let requested = Path::new(raw);
    if raw.is_empty() || requested.file_name().is_none() {
        return Err(ExportError::BadDestination { destination: destination.into(), why: "no file name".into() });
    }
    if requested.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(forbidden(destination, "`..` is not allowed in export paths"));
    }
    let root_real = root
        .canonicalize()
        .map_err(|e| ExportError::Internal(format!("the export directory {} is not usable: {e}", root.display())))?;
    let relative = if requested.is_absolute() {
        requested
            .strip_prefix(root)
            .or_else(|_| requested.strip_prefix(&root_real))
            .map_err(|_| forbidden(destination, format!("outside the export directory {}", root.display())))?
    } else {
        requested
    };
    let full = root_real.join(relative);
    let parent = full.parent().unwrap_or(&root_real);
    std::fs::create_dir_all(parent)
        .map_err(|e| ExportError::Internal(format!("creating {}: {e}", parent.display())))?;
    let parent_real = parent.canonicalize().map_err(|e| ExportError::Internal(format!("{}: {e}", parent.display())))?;
    if !parent_real.starts_with(&root_real) {
        return Err(forbidden(destination, "a symlink leads outside the export directory"));
    }
    let file = parent_real.join(full.file_name().unwrap_or_default());
    if file.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(forbidden(destination, "the target is a symlink"));
    }
    Ok(file)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".sk-export-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[async_trait::async_trait]
impl Exporter for FileExporter {
    async fn deliver(&self, destination: &str, trace: Bytes) -> Result<Delivered, ExportError> {
        let Some(root) = self.root.clone() else {
            return Err(forbidden(destination, "local exports are off: set export.localDir in the config"));
        };
        let destination = destination.to_string();
        tokio::task::spawn_blocking(move || {
            let path = target(&destination, &root)?;
            write_atomically(&path, &trace)
                .map_err(|e| ExportError::Internal(format!("writing {}: {e}", path.display())))?;
            Ok(Delivered { location: format!("file://{}", path.display()), bytes: trace.len() as u64 })
        })
        .await
        .map_err(|e| ExportError::Internal(format!("the export task failed: {e}")))?
    }
}

fn build(settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    Ok(Box::new(FileExporter { root: settings.local_dir.clone() }))
}

inventory::submit! {
    ExporterPlugin { schemes: &["file"], describe: "a file under the export directory (file:///path or a plain path)", build }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter(root: &Path) -> Box<dyn Exporter> {
        build(&ExporterSettings { local_dir: Some(root.to_path_buf()), ..Default::default() }).unwrap()
    }

    #[tokio::test]
    async fn writes_relative_absolute_and_file_urls_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let e = exporter(dir.path());
        let d = e.deliver("day1/a.sktrace", Bytes::from_static(b"one")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("day1/a.sktrace")).unwrap(), b"one");
        assert_eq!(d.bytes, 3);
        let abs = dir.path().join("b.sktrace");
        e.deliver(&format!("file://{}", abs.display()), Bytes::from_static(b"two")).await.unwrap();
        e.deliver(abs.to_str().unwrap(), Bytes::from_static(b"three")).await.unwrap();
        assert_eq!(std::fs::read(&abs).unwrap(), b"three", "an existing file is replaced");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".sk-export-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[tokio::test]
    async fn refuses_every_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("target"), dir.path().join("link.sktrace")).unwrap();
        let e = exporter(dir.path());
        for dest in [
            "../x.sktrace".to_string(),
            "a/../../x.sktrace".to_string(),
            "/etc/passwd".to_string(),
            format!("file://{}/x", outside.path().display()),
            "escape/x.sktrace".to_string(),
            "link.sktrace".to_string(),
        ] {
            let err = e.deliver(&dest, Bytes::from_static(b"x")).await.err().unwrap();
            assert!(matches!(err, ExportError::Forbidden { .. }), "{dest}: {err}");
        }
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing was written outside");
        let off = build(&ExporterSettings::default()).unwrap();
        let err = off.deliver("a.sktrace", Bytes::new()).await.err().unwrap();
        assert!(err.to_string().contains("set export.localDir"), "{err}");
    }
}
