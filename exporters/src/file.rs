//! Local files: `file:///path` or a plain path, written under the configured export directory only.
//!
//! Relative paths are taken from the export directory; absolute ones must lie inside it. `..`
//! components and symlinks that lead out of the directory (a symlinked parent directory, or a
//! symlink at the file itself) are refused, and missing directories are created one level at a
//! time, each only after its parent was found inside, so a refused path creates nothing outside.
//! The checks guard against mistaken and hostile requests, not against another local process
//! swapping directories for symlinks while an export runs: that process already owns the directory.
//!
//! Writes are atomic: a temporary file in the target directory, flushed to disk, then renamed over
//! the target, so readers see the old trace or the new one, never a part. The file is readable by
//! the tracer's user only (traces describe the cluster). File URLs are taken literally, without
//! percent-decoding.

use std::ffi::OsStr;
use std::io::{ErrorKind, Write};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use crate::{Delivered, ExportError, Exporter, ExporterPlugin, ExporterSettings};

/// Temporary files start with this, so a crash's leftovers are recognisable.
const TEMP_PREFIX: &str = ".sk-export-";
/// Gathers a trace's small chunks (the framing between objects) into writes of this size.
const WRITE_BUFFER: usize = 1 << 20;

struct FileExporter {
    root: Option<PathBuf>,
}

fn forbidden(destination: &str, why: impl Into<String>) -> ExportError {
    ExportError::Forbidden { destination: destination.to_string(), why: why.into() }
}

fn bad(destination: &str, why: impl Into<String>) -> ExportError {
    ExportError::BadDestination { destination: destination.to_string(), why: why.into() }
}

/// The path part of a destination: a plain path, or a `file:` URL's absolute path.
fn requested_path(destination: &str) -> Result<&str, ExportError> {
    let Some(rest) = destination.get(..7).filter(|s| s.eq_ignore_ascii_case("file://")).map(|_| &destination[7..])
    else {
        return Ok(destination);
    };
    // RFC 8089 allows `localhost` as the host; any other host, or none and no leading `/`, is
    // most likely a relative path written as a URL, which would be read as a host name.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return Err(bad(
            destination,
            "a file URL needs an absolute path (file:///dir/t.sktrace); use a plain path for a relative one",
        ));
    }
    Ok(rest)
}

/// Where `destination` may be written, creating its missing directories; or why not.
fn target(destination: &str, root: &Path) -> Result<PathBuf, ExportError> {
    let raw = requested_path(destination)?;
    if raw.is_empty() || raw.ends_with('/') {
        return Err(bad(destination, "no file name"));
    }
    let requested = Path::new(raw);
    if requested.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(forbidden(destination, "`..` is not allowed in export paths"));
    }
    let root_real = root.canonicalize().map_err(|e| {
        ExportError::Internal(format!("the export directory {} (export.localDir) is not usable: {e}", root.display()))
    })?;
    let relative = if requested.is_absolute() {
        requested
            .strip_prefix(root)
            .or_else(|_| requested.strip_prefix(&root_real))
            .map_err(|_| forbidden(destination, format!("outside the export directory {}", root.display())))?
    } else {
        requested
    };
    let names: Vec<&OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let Some((file_name, dirs)) = names.split_last() else {
        return Err(bad(destination, "names the export directory itself, not a file in it"));
    };
    let mut dir = root_real.clone();
    for name in dirs {
        dir = enter(destination, &root_real, &dir.join(name))?;
    }
    let file = dir.join(file_name);
    match file.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => Err(forbidden(destination, "the target is a symlink")),
        Ok(m) if m.is_dir() => Err(bad(destination, "the target is a directory")),
        _ => Ok(file),
    }
}

/// `path` as a real directory inside `root` (already canonical), created if missing.
fn enter(destination: &str, root: &Path, path: &Path) -> Result<PathBuf, ExportError> {
    let io = |e: std::io::Error| ExportError::Internal(format!("{}: {e}", path.display()));
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => {
            let real = path.canonicalize().map_err(|e| forbidden(destination, format!("a broken symlink: {e}")))?;
            if !real.starts_with(root) {
                return Err(forbidden(destination, "a symlink leads outside the export directory"));
            }
            if !real.is_dir() {
                return Err(bad(destination, format!("{} is not a directory", path.display())));
            }
            Ok(real)
        }
        Ok(m) if m.is_dir() => Ok(path.to_path_buf()),
        Ok(_) => Err(bad(destination, format!("{} is not a directory", path.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::create_dir(path) {
            // Another export may have created it meanwhile; look again.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => enter(destination, root, path),
            other => other.map(|()| path.to_path_buf()).map_err(io),
        },
        Err(e) => Err(io(e)),
    }
}

fn write_atomically(path: &Path, chunks: &[Bytes]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(dir)?;
    // Small chunks gathered into fewer writes; a chunk as large as the buffer goes straight through.
    let mut out = std::io::BufWriter::with_capacity(WRITE_BUFFER, tmp.as_file_mut());
    for chunk in chunks {
        out.write_all(chunk)?;
    }
    out.flush()?;
    drop(out);
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when `tmp` (or the error holding it) drops.
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename itself is durable only once the directory is; a failure here loses nothing.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait::async_trait]
impl Exporter for FileExporter {
    async fn deliver(&self, destination: &str, trace: Vec<Bytes>) -> Result<Delivered, ExportError> {
        let Some(root) = self.root.clone() else {
            return Err(forbidden(destination, "local exports are off: set export.localDir in the config"));
        };
        let destination = destination.to_string();
        tokio::task::spawn_blocking(move || {
            let path = target(&destination, &root)?;
            write_atomically(&path, &trace)
                .map_err(|e| ExportError::Internal(format!("writing `{destination}` to {}: {e}", path.display())))?;
            let bytes = trace.iter().map(|c| c.len() as u64).sum();
            Ok(Delivered { location: format!("file://{}", path.display()), bytes })
        })
        .await
        .map_err(|e| ExportError::Internal(format!("the export task failed: {e}")))?
    }
}

fn build(section: &serde_json::Value, settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    crate::no_section("file", section, "export.localDir")?;
    Ok(Box::new(FileExporter { root: settings.local_dir.clone() }))
}

inventory::submit! {
    ExporterPlugin { name: "file", schemes: &["file"], describe: "a file under the export directory (file:///path or a plain path)", build }
}

#[cfg(test)]
mod tests;
