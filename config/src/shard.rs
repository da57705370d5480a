//! `shard`: which namespaces this replica records when several tracers split a cluster between
//! them (see `sk_core::shard` for the rule).

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::ConfigError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShardConfig {
    /// This replica's shard, from 0. Also taken as a StatefulSet pod's name (`sk-tracer-2` is
    /// 2), so that a replica can be given its ordinal with the downward API on any Kubernetes
    /// version.
    #[serde(deserialize_with = "ordinal")]
    pub index: u32,
    /// How many shards split the cluster: the StatefulSet's replicas.
    pub count: u32,
}

impl ShardConfig {
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message,
        };
        if self.count == 0 {
            return Err(invalid("shard.count", "must be at least 1".into()));
        }
        if self.index >= self.count {
            return Err(invalid(
                "shard.index",
                format!("{} is not below shard.count ({}): shards are numbered from 0", self.index, self.count),
            ));
        }
        Ok(())
    }
}

/// A number, or a name that ends in `-<number>` as a StatefulSet's pods do.
fn ordinal<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    struct Ordinal;

    const EXPECTED: &str = "a whole number from 0, or a StatefulSet pod name ending in its ordinal (`sk-tracer-2`)";

    impl de::Visitor<'_> for Ordinal {
        type Value = u32;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(EXPECTED)
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u32, E> {
            u32::try_from(n).map_err(|_| E::custom(format!("{n} is too large: expected {EXPECTED}")))
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<u32, E> {
            u32::try_from(n).map_err(|_| E::custom(format!("{n} is not valid: expected {EXPECTED}")))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<u32, E> {
            let digits = s.trim().rsplit('-').next().unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::custom(format!("{s:?} is not valid: expected {EXPECTED}")));
            }
            digits.parse().map_err(|_| E::custom(format!("{s:?}: the ordinal is too large")))
        }
    }

    d.deserialize_any(Ordinal)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::{Config, ConfigError, Loader};

    const DEPLOYMENT: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn load(text: &str) -> (Result<Config, ConfigError>, String) {
        let f = file(text);
        (Loader::new().file(f.path()).load(), f.path().display().to_string())
    }

    fn err(text: &str) -> String {
        let (loaded, path) = load(text);
        let e = loaded.unwrap_err().to_string();
        assert!(e.starts_with(&format!("config file {path}: ")), "the message names the file: {e}");
        e
    }

    #[test]
    fn absent_is_everything_and_present_is_one_shard() {
        assert_eq!(load(DEPLOYMENT).0.unwrap().shard, None);
        let c = load(&format!("{DEPLOYMENT}shard: {{index: 2, count: 3}}\n")).0.unwrap();
        let shard = c.shard.unwrap();
        assert_eq!((shard.index, shard.count), (2, 3));
        let yaml = c.to_yaml();
        assert!(yaml.contains("shard:\n  index: 2\n  count: 3\n"), "check-config prints it:\n{yaml}");
        assert_eq!(load(&yaml).0.unwrap(), c);
        assert!(!load(DEPLOYMENT).0.unwrap().to_yaml().contains("shard"));
    }

    #[test]
    fn a_statefulset_pod_name_gives_its_ordinal() {
        for (written, index) in [("sk-tracer-2", 2), ("\"7\"", 7), ("web-0", 0), ("a-b-c-11", 11)] {
            let c = load(&format!("{DEPLOYMENT}shard: {{index: {written}, count: 12}}\n")).0.unwrap();
            assert_eq!(c.shard.unwrap().index, index, "{written}");
        }
    }

    #[test]
    fn bad_shards_name_the_key() {
        for (shard, expected) in [
            ("{index: 0, count: 0}", "shard.count: must be at least 1"),
            ("{index: 3, count: 3}", "shard.index: 3 is not below shard.count (3): shards are numbered from 0"),
            ("{index: sk-tracer-4, count: 3}", "shard.index: 4 is not below shard.count (3)"),
            (
                "{index: sk-tracer, count: 3}",
                "shard.index: \"sk-tracer\" is not valid: expected a whole number from 0, or a StatefulSet pod name",
            ),
            ("{index: -1, count: 3}", "shard.index: -1 is not valid"),
            ("{index: 1}", "shard: missing field `count`"),
            ("{count: 2}", "shard: missing field `index`"),
            ("{index: 0, count: 2, of: 3}", "shard.of: unknown field `of` (allowed: `index`, `count`)"),
            ("3", "shard: expected a map of settings, found the number `3`"),
        ] {
            let e = err(&format!("{DEPLOYMENT}shard: {shard}\n"));
            assert!(e.contains(expected), "{shard}: expected {expected:?} in\n{e}");
        }
    }

    // figment's error type is what `Jail` closures return.
    #[allow(clippy::result_large_err)]
    #[test]
    fn the_environment_sets_the_index_as_a_statefulset_would() {
        let f = file(&format!("{DEPLOYMENT}shard:\n  index: 0\n  count: 3\n"));
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("SK_TRACER_SHARD__INDEX", "sk-tracer-2");
            let c = Loader::new().file(f.path()).env().load().unwrap();
            assert_eq!(c.shard.map(|s| (s.index, s.count)), Some((2, 3)));
            jail.set_env("SK_TRACER_SHARD__INDEX", "1");
            let c = Loader::new().file(f.path()).env().load().unwrap();
            assert_eq!(c.shard.map(|s| s.index), Some(1));
            jail.set_env("SK_TRACER_SHARD__INDEX", "sk-tracer");
            let e = Loader::new().file(f.path()).env().load().unwrap_err().to_string();
            assert!(e.starts_with("environment variable SK_TRACER_SHARD__INDEX: shard.index: "), "{e}");
            Ok(())
        });
    }
}
