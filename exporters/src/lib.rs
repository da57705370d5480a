//! Destinations for exported traces. One file per exporter, each registered with
//! `inventory::submit!` under the URL schemes it serves; [`resolve`] picks one by the scheme of an
//! export's destination.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use sk_core::export::{Delivered, Destinations, ExportError, Exporter};

/// Settings shared by all exporters, from the `export` section of the config.
#[derive(Clone, Debug, Default)]
pub struct ExporterSettings {
    /// Local exports are written under this directory only; `None` refuses every local export.
    pub local_dir: Option<PathBuf>,
    /// An S3-compatible endpoint (e.g. `http://127.0.0.1:9000`); otherwise `AWS_ENDPOINT_URL` or AWS.
    pub s3_endpoint: Option<String>,
    /// Per-request timeout for object stores; retries stop after it too. Default 60 s.
    pub request_timeout: Option<std::time::Duration>,
    /// Further object-store settings by the names `object_store`'s builders take (`aws_region`,
    /// `aws_access_key_id`, `google_service_account`, `azure_storage_account_name`,
    /// `allow_http`, ...). They override the environment. One map serves every provider: a key
    /// is applied where the destination's provider knows it; see [`ExporterSettings::validate`].
    pub object_store_options: BTreeMap<String, String>,
    /// Each exporter's own section of the config (`export.<name>`), by exporter name.
    pub sections: BTreeMap<String, serde_json::Value>,
}

impl ExporterSettings {
    /// Settings no exporter can use, e.g. an object-store option no provider knows, for checking
    /// a config before the first export.
    pub fn validate(&self) -> Result<(), String> {
        let unknown = object_store::unknown_options(self);
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown object store options: {}", unknown.join(", ")))
        }
    }
}

/// The registration of an exporter: submit one with `inventory::submit!` from the exporter's
/// file (or from another crate linked into the binary).
pub struct ExporterPlugin {
    /// The exporter's name, which also names its section of the config: `export.<name>`.
    pub name: &'static str,
    /// URL schemes served, e.g. `["s3", "gs"]`; the local exporter also takes plain paths under
    /// the scheme `file`.
    pub schemes: &'static [&'static str],
    /// One line for `sk-tracer plugins`.
    pub describe: &'static str,
    /// Builds the exporter from its options, its own section of the config (`null` when the
    /// config has none), read with [`sk_core::plugin_options::plugin_options`] into a type that
    /// refuses unknown fields, and the settings every exporter shares. Like a sanitiser's or a
    /// filter's build: options first, then what the plugin's kind provides.
    pub build: BuildExporter,
}

/// How an exporter is built: from its section, and the shared settings.
pub type BuildExporter = fn(&serde_json::Value, &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError>;

impl ExporterPlugin {
    /// The exporter registered under `name`.
    pub fn find(name: &str) -> Option<&'static ExporterPlugin> {
        inventory::iter::<ExporterPlugin>.into_iter().find(|p| p.name == name)
    }

    /// Builds it as an export would, from `settings` and its section there.
    pub fn build_from(&self, settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
        (self.build)(settings.sections.get(self.name).unwrap_or(&serde_json::Value::Null), settings)
    }
}

/// For exporters whose settings are the shared ones: a section of their own is a mistake.
pub fn no_section(exporter: &'static str, section: &serde_json::Value, instead: &str) -> Result<(), ExportError> {
    if section.is_null() {
        Ok(())
    } else {
        Err(ExportError::Options {
            exporter,
            message: format!("it takes no section of its own; its settings are {instead}"),
        })
    }
}

inventory::collect!(ExporterPlugin);

mod file;
mod object_store;

pub use self::object_store::open_url;

/// The scheme of a destination; plain paths are `file`.
fn scheme(destination: &str) -> &str {
    match destination.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            scheme
        }
        _ => "file",
    }
}

/// Whether a destination names the storage of whichever process writes it, a disk (a plain path,
/// `file://`) or its memory (`memory://`), rather than storage that every process reaches. Such
/// a destination in a request from SimKube's client names the client's own disk: the tracer's
/// would do it no good, so the trace goes back in the response for the client to write.
pub fn is_local(destination: &str) -> bool {
    matches!(scheme(destination).to_ascii_lowercase().as_str(), "file" | "memory")
}

/// Every registered exporter.
pub fn all() -> Vec<&'static ExporterPlugin> {
    let mut all: Vec<_> = inventory::iter::<ExporterPlugin>.into_iter().collect();
    all.sort_by_key(|p| p.name);
    all
}

/// The exporter for a destination, chosen by its URL scheme (case-insensitive); a destination
/// without one is a local path. An empty destination means the HTTP response: callers handle it.
pub fn resolve(destination: &str, settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    let scheme = scheme(destination).to_ascii_lowercase();
    let plugin = all().into_iter().find(|p| p.schemes.contains(&scheme.as_str())).ok_or_else(|| {
        let known: Vec<&str> = all().iter().flat_map(|p| p.schemes.iter().copied()).collect();
        ExportError::BadDestination {
            destination: destination.to_string(),
            why: format!("unknown scheme `{scheme}` (known: {})", known.join(", ")),
        }
    })?;
    plugin.build_from(settings)
}

impl Destinations for ExporterSettings {
    fn exporter_for(&self, destination: &str) -> Result<Box<dyn Exporter>, ExportError> {
        resolve(destination, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_by_scheme() {
        let settings = ExporterSettings::default();
        for dest in ["s3://bucket/key", "S3://bucket/key", "gs://b/k", "az://c/k", "azure://c/k", "memory:///key"] {
            assert!(resolve(dest, &settings).is_ok(), "{dest}");
        }
        for dest in ["traces/today.sktrace", "/abs/t.sktrace", "file:///abs/t", "odd:name", "a/b://c"] {
            assert_eq!(scheme(dest), "file", "{dest}");
            assert!(resolve(dest, &settings).is_ok(), "{dest}");
        }
    }

    #[test]
    fn paths_files_and_memory_are_local_and_object_stores_are_not() {
        for dest in ["output.sktrace", "/abs/t.sktrace", "file:///abs/t", "FILE:///abs/t", "memory:///key"] {
            assert!(is_local(dest), "{dest}");
        }
        for dest in ["s3://b/k", "gs://b/k", "az://c/k", "azure://c/k", "stdout://", "ftp://h/f"] {
            assert!(!is_local(dest), "{dest}");
        }
    }

    #[test]
    fn an_unknown_scheme_names_it_and_the_known_ones() {
        let err = resolve("ftp://host/file", &ExporterSettings::default()).err().unwrap();
        assert!(matches!(err, ExportError::BadDestination { .. }));
        let msg = err.to_string();
        assert!(msg.contains("`ftp://host/file`") && msg.contains("unknown scheme `ftp`"), "{msg}");
        for known in ["file", "s3", "gs", "az", "azure", "memory"] {
            assert!(msg.contains(known), "{msg}");
        }
    }

    #[test]
    fn every_exporter_is_listed_once_with_a_description() {
        let all = all();
        let schemes: Vec<&str> = all.iter().flat_map(|p| p.schemes.iter().copied()).collect();
        let mut unique = schemes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(schemes.len(), unique.len(), "a scheme is served twice: {schemes:?}");
        assert!(all.iter().all(|p| !p.describe.is_empty()));
        assert!(all.iter().any(|p| p.describe.contains("memory") && p.describe.contains("not persist")));
    }

    #[test]
    fn unknown_object_store_options_are_reported() {
        let mut settings = ExporterSettings::default();
        for key in ["aws_region", "google_service_account", "azure_storage_account_name", "allow_http", "timeout"] {
            settings.object_store_options.insert(key.into(), "x".into());
        }
        assert_eq!(settings.validate(), Ok(()));
        settings.object_store_options.insert("aws_regoin".into(), "x".into());
        assert_eq!(settings.validate(), Err("unknown object store options: aws_regoin".into()));
    }
}
