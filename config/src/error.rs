//! Config errors: each names where the bad value came from (the file, or the environment), the
//! key, and what is wrong.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("config file {file}: YAML syntax error: {message}")]
    Syntax { file: String, message: String },
    #[error("{source_name}: {key}: {message}")]
    Invalid { source_name: String, key: String, message: String },
    #[error("{source_name}: {message}")]
    Whole { source_name: String, message: String },
}

/// Renders a key path as written in YAML: `trackedObjects."apps/v1.Deployment".trackLifecycle`.
pub fn key_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for k in path {
        let k = k.as_ref();
        if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{k}]"));
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            out.push_str(k);
        } else {
            out.push_str(&format!("{k:?}"));
        }
    }
    out
}

impl ConfigError {
    pub(crate) fn from_figment(e: figment::Error, file: Option<&str>) -> Self {
        let source_name = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
            Some(figment::Source::File(p)) => format!("config file {}", p.display()),
            Some(other) => other.to_string(),
            None => match e.metadata.as_ref() {
                Some(m) => m.name.to_string(),
                None => file.map(|f| format!("config file {f}")).unwrap_or_else(|| "config".into()),
            },
        };
        let message = match &e.kind {
            figment::error::Kind::UnknownField(found, allowed) => {
                format!(
                    "unknown field `{found}` (allowed: {})",
                    allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                )
            }
            figment::error::Kind::MissingField(field) => format!("missing field `{field}`"),
            figment::error::Kind::InvalidType(found, expected) => format!("expected {expected}, found {found}"),
            other => other.to_string(),
        };
        if e.path.is_empty() {
            ConfigError::Whole { source_name, message }
        } else {
            ConfigError::Invalid { source_name, key: key_path(&e.path), message }
        }
    }
}
