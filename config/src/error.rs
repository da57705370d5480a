//! Config errors: each names where the bad value came from (the file, an environment variable or
//! the command line), the key, and what is wrong, in words an operator can act on.

use figment::error::{Actual, Kind};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {file}: cannot read it: {message}")]
    Unreadable { file: String, message: String },
    #[error("config file {file}: YAML syntax error: {message}")]
    Syntax { file: String, message: String },
    #[error("config file {file}: {message} (each key may appear only once)")]
    DuplicateKey { file: String, message: String },
    #[error("{source_name}: {key}: {message}")]
    Invalid { source_name: String, key: String, message: String },
    #[error("{source_name}: {message}")]
    Whole { source_name: String, message: String },
}

/// The environment variable prefix; `__` separates nesting levels after it.
pub(crate) const ENV_PREFIX: &str = "SK_TRACER_";

/// Maps whose keys are free-form: a number under them is a key, not a list index.
const FREE_FORM_MAPS: &[&str] = &["trackedObjects", "options", "filters", "objectStore"];

/// Renders a key path as written in YAML: `trackedObjects."apps/v1.Deployment".trackLifecycle`,
/// `exports[1].every`. Keys that are not plain identifiers (GVKs) are quoted so the dots in a GVK
/// are not mistaken for nesting.
pub fn key_path<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    let mut parent: Option<&str> = None;
    for k in path {
        let k = k.as_ref();
        let is_index = !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_digit())
            && parent.is_some_and(|p| !FREE_FORM_MAPS.contains(&p));
        if is_index {
            out.push_str(&format!("[{k}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&quote_key(k));
        }
        parent = Some(k);
    }
    out
}

/// A key as YAML paths in messages write it: quoted unless it is a plain identifier.
pub fn quote_key(k: &str) -> String {
    let plain = k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// `["retention", "maxAge"]` → `SK_TRACER_RETENTION__MAX_AGE`: the variable that set a key.
fn env_var_name<S: AsRef<str>>(path: &[S]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|k| {
            let mut out = String::new();
            for c in k.as_ref().chars() {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_uppercase());
            }
            out
        })
        .collect();
    format!("{ENV_PREFIX}{}", parts.join("__"))
}

/// What serde calls the expected type, as an operator would say it.
fn expected_in_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            let max = match expected {
                "u8" => u8::MAX.to_string(),
                "u16" => u16::MAX.to_string(),
                "u32" => u32::MAX.to_string(),
                _ => return "a whole number of 0 or more".into(),
            };
            format!("a whole number from 0 to {max}")
        }
        "struct RawTrackedObject" => {
            "a map of settings (podSpecTemplatePath, trackLifecycle...), or nothing for a built-in kind".into()
        }
        "a sequence" => "a list".into(),
        other if other.starts_with("struct ") || other.starts_with("a map") => "a map of settings".into(),
        other => other.to_string(),
    }
}

fn actual_in_words(actual: &Actual) -> String {
    match actual {
        Actual::Bool(b) => format!("the boolean `{b}`"),
        Actual::Unsigned(n) => format!("the number `{n}`"),
        Actual::Signed(n) => format!("the number `{n}`"),
        Actual::Float(n) => format!("the number `{n}`"),
        Actual::Char(c) => format!("the string {:?}", c.to_string()),
        Actual::Str(s) => format!("the string {s:?}"),
        Actual::Unit | Actual::Option => "an empty value".into(),
        Actual::Seq => "a list".into(),
        Actual::Map => "a map".into(),
        other => other.to_string(),
    }
}

fn allowed_list(allowed: &[&str]) -> String {
    allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
}

fn message_of(kind: &Kind) -> String {
    match kind {
        Kind::UnknownField(found, allowed) => format!("unknown field `{found}` (allowed: {})", allowed_list(allowed)),
        Kind::UnknownVariant(found, allowed) => {
            format!("unknown value `{found}` (allowed: {})", allowed_list(allowed))
        }
        Kind::MissingField(field) => format!("missing field `{field}`"),
        Kind::DuplicateField(field) => format!("field `{field}` is given twice"),
        Kind::InvalidType(found, expected) => {
            format!("expected {}, found {}", expected_in_words(expected), actual_in_words(found))
        }
        Kind::InvalidValue(found, expected) => {
            format!("{} is not valid here: expected {}", actual_in_words(found), expected_in_words(expected))
        }
        Kind::InvalidLength(len, expected) => format!("{len} entries is not valid: expected {expected}"),
        Kind::Message(m) => m.clone(),
        other => other.to_string(),
    }
}

impl ConfigError {
    pub(crate) fn from_figment(e: figment::Error, file: Option<&str>) -> Self {
        // An unknown field's own name is the last element of the path; other errors stop at the key
        // whose value is wrong.
        let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
        let source_name = match e.metadata.as_ref() {
            Some(m) => match &m.source {
                Some(figment::Source::File(p)) => format!("config file {}", p.display()),
                // The only layer given in code is the command line's overrides.
                Some(figment::Source::Code(_)) => "command line".to_string(),
                Some(other) => other.to_string(),
                None if m.name.contains("environment") && !path.is_empty() => {
                    format!("environment variable {}", env_var_name(&path))
                }
                None => m.name.to_string(),
            },
            None => file.map(|f| format!("config file {f}")).unwrap_or_else(|| "config".into()),
        };
        let mut message = message_of(&e.kind);
        if path.is_empty() && message.starts_with("invalid type") {
            message = format!("the top level must be a map with `trackedObjects:` and the other sections ({message})");
        }
        if path.is_empty() {
            ConfigError::Whole { source_name, message }
        } else {
            ConfigError::Invalid { source_name, key: key_path(&path), message }
        }
    }

    /// serde_yaml reports duplicate keys as errors of the document; they are not syntax errors to
    /// whoever wrote them, so they get their own wording.
    pub(crate) fn from_yaml(e: serde_yaml::Error, file: String) -> Self {
        let message = e.to_string();
        if message.contains("duplicate entry with key") {
            return ConfigError::DuplicateKey {
                file,
                message: message.replacen("duplicate entry with key", "duplicate key", 1),
            };
        }
        ConfigError::Syntax { file, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_quote_what_is_not_an_identifier() {
        assert_eq!(key_path(&["trackedObjects", "apps/v1.Deployment", "x"]), "trackedObjects.\"apps/v1.Deployment\".x");
        assert_eq!(key_path(&["trackedObjects", "5"]), "trackedObjects.\"5\"");
        assert_eq!(key_path(&["exports", "1", "every"]), "exports[1].every");
        assert_eq!(key_path(&["pipeline", "sanitisers", "0"]), "pipeline.sanitisers[0]");
        assert_eq!(key_path(&["retention", "maxAge"]), "retention.maxAge");
    }

    #[test]
    fn environment_keys_map_back_to_their_variable() {
        assert_eq!(env_var_name(&["retention", "maxAge"]), "SK_TRACER_RETENTION__MAX_AGE");
        assert_eq!(env_var_name(&["retention", "maxage"]), "SK_TRACER_RETENTION__MAXAGE");
        assert_eq!(env_var_name(&["server"]), "SK_TRACER_SERVER");
    }
}
