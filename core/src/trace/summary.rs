//! What `sk-tracer inspect` prints: a short account of a trace.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Gap, ObjectIdentity, Trace};
use crate::gvk::Gvk;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct KindSummary {
    /// Distinct objects (namespace and name) seen in the trace.
    pub objects: usize,
    /// Recorded versions: every applied object in every event.
    pub versions: usize,
    pub deletions: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnerSummary {
    pub gvk: Option<Gvk>,
    pub pod_hashes: usize,
    pub pods: usize,
    pub running: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TrackedSummary {
    /// The kind's pod-template paths; empty where the trace gives none.
    pub paths: Vec<String>,
    pub track_lifecycle: bool,
    pub skip_owned: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TraceSummary {
    /// The trace's config: each tracked kind and where its pod templates are.
    pub tracked: BTreeMap<String, TrackedSummary>,
    pub time_span: Option<(i64, i64)>,
    pub events: usize,
    pub kinds: BTreeMap<String, KindSummary>,
    pub index_entries: usize,
    pub owners: BTreeMap<String, OwnerSummary>,
    /// Objects whose identity could not be read (no apiVersion, kind or name).
    pub unnamed_objects: usize,
    /// Where the trace missed a kind's changes; empty for a complete trace.
    pub gaps: Vec<Gap>,
}

impl TraceSummary {
    pub fn of(trace: &Trace) -> Self {
        let tracked = trace
            .config
            .tracked_objects
            .iter()
            .map(|(gvk, cfg)| {
                let t = TrackedSummary {
                    paths: cfg.pod_spec_template_paths.iter().map(ToString::to_string).collect(),
                    track_lifecycle: cfg.track_lifecycle,
                    skip_owned: cfg.skip_owned,
                };
                (gvk.to_string(), t)
            })
            .collect();
        let mut s = TraceSummary {
            tracked,
            time_span: trace.time_span(),
            events: trace.events.len(),
            index_entries: trace.index.len(),
            gaps: trace.gaps.clone(),
            ..Default::default()
        };
        let mut seen: BTreeSet<ObjectIdentity> = BTreeSet::new();
        for ev in &trace.events {
            for (objs, deleted) in [(&ev.applied_objs, false), (&ev.deleted_objs, true)] {
                for obj in objs {
                    let Some(id) = obj.identity() else {
                        s.unnamed_objects += 1;
                        continue;
                    };
                    let kind = s.kinds.entry(id.gvk.to_string()).or_default();
                    if deleted {
                        kind.deletions += 1;
                    } else {
                        kind.versions += 1;
                    }
                    if seen.insert(id) {
                        kind.objects += 1;
                    }
                }
            }
        }
        for (owner, by_hash) in &trace.pod_lifecycles {
            let o = s.owners.entry(owner.name.clone()).or_default();
            o.gvk = owner.gvk.clone();
            o.pod_hashes += by_hash.len();
            for lc in by_hash.values().flatten() {
                o.pods += 1;
                o.running += usize::from(lc.end_ts.is_none());
            }
        }
        s
    }
}

/// Unix seconds as RFC 3339 UTC, or the plain number where it is outside what a date can show.
pub fn format_ts(ts: i64) -> String {
    u64::try_from(ts)
        .ok()
        .and_then(|secs| std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs)))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| ts.to_string())
}

fn format_duration(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        "0s".into()
    } else {
        out
    }
}

impl fmt::Display for TraceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.time_span {
            Some((a, b)) => {
                writeln!(f, "time span:  {} .. {} ({})", format_ts(a), format_ts(b), format_duration(b - a))?
            }
            None => writeln!(f, "time span:  (no events)")?,
        }
        writeln!(f, "events:     {}", self.events)?;
        if self.gaps.is_empty() {
            writeln!(f, "gaps:       none: every change the watches were sent is in the trace")?;
        } else {
            let seconds: i64 = self.gaps.iter().map(Gap::seconds).sum();
            writeln!(
                f,
                "gaps:       {} ({}): changes inside these were not seen one by one, only their outcome at the end",
                self.gaps.len(),
                format_duration(seconds)
            )?;
            let width = self.gaps.iter().map(|g| g.kind.to_string().len()).max().unwrap_or(0);
            for g in &self.gaps {
                let kind = g.kind.to_string();
                writeln!(
                    f,
                    "  {kind:width$}  {} .. {} ({})",
                    format_ts(g.from),
                    format_ts(g.to),
                    format_duration(g.seconds())
                )?;
            }
        }
        writeln!(f, "tracked kinds:")?;
        if self.tracked.is_empty() {
            writeln!(f, "  (none)")?;
        }
        let width = self.tracked.keys().map(String::len).max().unwrap_or(0);
        for (kind, t) in &self.tracked {
            let paths = match t.paths.as_slice() {
                [] => "no path".to_string(),
                // The empty pointer is the whole object; quoted so that it shows.
                paths => paths
                    .iter()
                    .map(|p| if p.is_empty() { "\"\"".into() } else { p.clone() })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let flags: String = [(t.track_lifecycle, ", pod lifecycles"), (t.skip_owned, ", unowned only")]
                .iter()
                .filter(|f| f.0)
                .map(|f| f.1)
                .collect();
            writeln!(f, "  {kind:width$}  {paths}{flags}")?;
        }
        writeln!(f, "index:      {} tracked objects", self.index_entries)?;
        writeln!(f, "objects per kind:")?;
        if self.kinds.is_empty() {
            writeln!(f, "  (none)")?;
        }
        let width = self.kinds.keys().map(String::len).max().unwrap_or(0);
        for (kind, k) in &self.kinds {
            writeln!(f, "  {kind:width$}  {} objects, {} versions, {} deletions", k.objects, k.versions, k.deletions)?;
        }
        if self.unnamed_objects > 0 {
            writeln!(f, "  ({} objects without apiVersion, kind or name)", self.unnamed_objects)?;
        }
        writeln!(f, "owners with pod lifecycles:")?;
        if self.owners.is_empty() {
            writeln!(f, "  (none)")?;
        }
        let labels: Vec<String> = self
            .owners
            .iter()
            .map(|(name, o)| match &o.gvk {
                Some(g) => format!("{name} ({g})"),
                None => name.clone(),
            })
            .collect();
        let width = labels.iter().map(String::len).max().unwrap_or(0);
        for (label, o) in labels.iter().zip(self.owners.values()) {
            writeln!(f, "  {label:width$}  {} pod hashes, {} pods, {} running", o.pod_hashes, o.pods, o.running)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::v1::tests::sample_trace;

    #[test]
    fn counts_objects_versions_deletions_and_lifecycles() {
        let s = TraceSummary::of(&sample_trace());
        assert_eq!(s.time_span, Some((1_700_000_000, 1_700_000_060)));
        assert_eq!(s.kinds["apps/v1.Deployment"], KindSummary { objects: 1, versions: 1, deletions: 1 });
        let owner = &s.owners["demo/web"];
        assert_eq!((owner.pod_hashes, owner.pods, owner.running), (1, 2, 1));
        let text = s.to_string();
        assert!(text.contains("2023-11-14T22:13:20Z .. 2023-11-14T22:14:20Z (1m)"), "{text}");
        assert!(text.contains("apps/v1.Deployment  1 objects, 1 versions, 1 deletions"), "{text}");
        assert!(text.contains("tracked kinds:\n  apps/v1.Deployment  /spec/template, pod lifecycles\n"), "{text}");
        assert!(text.contains("gaps:       none"), "{text}");
    }

    #[test]
    fn lists_the_gaps() {
        let mut trace = sample_trace();
        trace.gaps = vec![Gap { kind: "apps/v1.Deployment".parse().unwrap(), from: 1_700_000_010, to: 1_700_000_040 }];
        let text = TraceSummary::of(&trace).to_string();
        assert!(text.contains("gaps:       1 (30s): changes inside these"), "{text}");
        assert!(text.contains("  apps/v1.Deployment  2023-11-14T22:13:30Z .. 2023-11-14T22:14:00Z (30s)\n"), "{text}");
    }

    #[test]
    fn formats_timestamps() {
        assert_eq!(format_ts(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_ts(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_ts(-5), "-5");
        assert_eq!(format_duration(90_061), "1d1h1m1s");
    }
}
