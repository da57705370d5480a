//! Gaps: spans in which the trace did not see a kind's changes one by one.
//!
//! When a watch could not resume (a 410 Gone, or any re-list that replaced it), the re-list showed
//! only how objects ended up; a trace that replays the span shows those outcomes at the re-list's
//! time, and the changes in between are missing. A trace file lists those spans so that whoever
//! replays it can tell a complete trace from one with holes. A trace without gaps is written
//! exactly as before gaps existed.
//!
//! In a file a gap is the map `{"kind": "<group/version.Kind>", "from": <unix seconds>,
//! "to": <unix seconds>}`: v1 adds the list of them as a fifth element of its top-level array,
//! simkube-v2 as the top-level key `gaps` (which SimKube's reader ignores). Neither is written when
//! there are none.

use std::io::Write;

use rmp::encode as mp;
use serde::Deserialize;

use super::v1::{len32, EncodeError};
use crate::gvk::Gvk;

/// The changes of `kind` from `from` to `to` (unix seconds, both inclusive) were not seen one by
/// one; the events at `to` hold their outcome.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gap {
    pub kind: Gvk,
    pub from: i64,
    pub to: i64,
}

impl Gap {
    /// The part of the gap inside the window `[start, end)`, or `None` if none is.
    pub fn clip(&self, start: i64, end: i64) -> Option<Gap> {
        (self.from < end && self.to >= start).then(|| Gap {
            kind: self.kind.clone(),
            from: self.from.max(start),
            to: self.to.min(end),
        })
    }

    /// How many seconds it spans.
    pub fn seconds(&self) -> i64 {
        self.to - self.from
    }
}

/// The gaps in time order, those of one kind that overlap made one: the same gap as two
/// overlapping windows clipped it comes out whole.
pub fn union(mut gaps: Vec<Gap>) -> Vec<Gap> {
    gaps.sort();
    let mut out: Vec<Gap> = Vec::with_capacity(gaps.len());
    for g in gaps {
        match out.last_mut() {
            Some(o) if o.kind == g.kind && g.from <= o.to => o.to = o.to.max(g.to),
            _ => out.push(g),
        }
    }
    out.sort_by(|a, b| (a.from, a.to, &a.kind).cmp(&(b.from, b.to, &b.kind)));
    out
}

/// Writes the gaps as a msgpack array of `{kind, from, to}` maps.
pub(super) fn write(w: &mut impl Write, gaps: &[Gap]) -> Result<(), EncodeError> {
    mp::write_array_len(w, len32(gaps.len())?)?;
    for g in gaps {
        mp::write_map_len(w, 3)?;
        mp::write_str(w, "kind")?;
        mp::write_str(w, &g.kind.to_string())?;
        mp::write_str(w, "from")?;
        mp::write_sint(w, g.from)?;
        mp::write_str(w, "to")?;
        mp::write_sint(w, g.to)?;
    }
    Ok(())
}

/// A gap as a file holds it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileGap {
    kind: Gvk,
    from: i64,
    to: i64,
}

impl FileGap {
    pub(super) fn into_gap(self) -> Gap {
        Gap { kind: self.kind, from: self.from, to: self.to }
    }
}

/// The gaps as JSON, for `inspect --json`.
pub fn to_json(gaps: &[Gap]) -> serde_json::Value {
    gaps.iter().map(|g| serde_json::json!({"kind": g.kind.to_string(), "from": g.from, "to": g.to})).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(from: i64, to: i64) -> Gap {
        Gap { kind: "apps/v1.Deployment".parse().unwrap(), from, to }
    }

    #[test]
    fn a_window_keeps_the_part_of_a_gap_it_overlaps() {
        assert_eq!(gap(10, 20).clip(0, 100), Some(gap(10, 20)));
        assert_eq!(gap(10, 20).clip(15, 100), Some(gap(15, 20)));
        assert_eq!(gap(10, 20).clip(0, 15), Some(gap(10, 15)));
        assert_eq!(gap(10, 20).clip(20, 30), Some(gap(20, 20)), "the re-list's second is in the window");
        assert_eq!(gap(10, 20).clip(21, 30), None);
        assert_eq!(gap(10, 20).clip(0, 10), None, "the window ends where the gap starts");
        assert_eq!(gap(10, 10).clip(10, 11), Some(gap(10, 10)));
    }

    #[test]
    fn overlapping_gaps_of_one_kind_are_united() {
        let pods = |from, to| Gap { kind: "v1.Pod".parse().unwrap(), from, to };
        let united = union(vec![gap(15, 20), pods(12, 13), gap(10, 15), gap(30, 31), gap(10, 12)]);
        assert_eq!(united, [gap(10, 20), pods(12, 13), gap(30, 31)]);
    }

    #[test]
    fn gaps_are_written_as_named_maps() {
        let mut out = Vec::new();
        write(&mut out, &[gap(1_700_000_000, 1_700_000_030)]).unwrap();
        let back: Vec<FileGap> = rmp_serde::from_slice(&out).unwrap();
        assert_eq!(back.into_iter().map(FileGap::into_gap).collect::<Vec<_>>(), [gap(1_700_000_000, 1_700_000_030)]);
        let json: serde_json::Value = rmp_serde::from_slice(&out).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"kind": "apps/v1.Deployment", "from": 1_700_000_000, "to": 1_700_000_030}])
        );
    }
}
