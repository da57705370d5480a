//! Plugin options: each plugin (sanitiser, filter, exporter) reads its section of the config into
//! a type of its own, which refuses unknown fields, so a misspelt option is named rather than
//! ignored.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A plugin's options from its section: no section (`null`) gives the defaults; an error names
/// the field where it is inside the section.
pub fn plugin_options<O: DeserializeOwned + Default>(section: &Value) -> Result<O, String> {
    if section.is_null() {
        return Ok(O::default());
    }
    serde_path_to_error::deserialize(section).map_err(|e| {
        let mut path = e.path().to_string();
        let message = e.into_inner().to_string();
        // An unknown field's path ends in the field, which the message names already.
        if message.starts_with("unknown field") {
            path = path.rsplit_once('.').map_or(".".into(), |(parent, _)| parent.to_string());
        }
        if path == "." {
            message
        } else {
            format!("{path}: {message}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Options {
        #[serde(default)]
        length_prefix: bool,
        #[serde(default)]
        inner: Inner,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        depth: u8,
    }

    #[test]
    fn defaults_without_a_section_and_named_fields_when_wrong() {
        assert_eq!(plugin_options::<Options>(&Value::Null), Ok(Options::default()));
        let o: Options = plugin_options(&json!({"lengthPrefix": true})).unwrap();
        assert!(o.length_prefix);
        let err = plugin_options::<Options>(&json!({"colour": 1})).unwrap_err();
        assert!(err.starts_with("unknown field `colour`") && err.contains("lengthPrefix"), "{err}");
        let err = plugin_options::<Options>(&json!({"inner": {"colour": 1}})).unwrap_err();
        assert!(err.starts_with("inner: unknown field `colour`"), "{err}");
        let err = plugin_options::<Options>(&json!({"inner": {"depth": "deep"}})).unwrap_err();
        assert!(err.starts_with("inner.depth: invalid type"), "{err}");
    }
}
