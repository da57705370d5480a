//! What a trace read from a file must satisfy beyond its shape: events in time order, lifecycles
//! that end no earlier than they start. Every reader checks it, whatever the encoding.

use super::{Trace, TraceDecodeError};

pub(super) fn check_consistency(trace: &Trace) -> Result<(), TraceDecodeError> {
    for (i, pair) in trace.events.windows(2).enumerate() {
        if pair[1].ts < pair[0].ts {
            return Err(TraceDecodeError::Inconsistent(format!(
                "events are not in time order: events[{}].ts = {} comes after {}",
                i + 1,
                pair[1].ts,
                pair[0].ts
            )));
        }
    }
    for (owner, by_hash) in &trace.pod_lifecycles {
        for (hash, lcs) in by_hash {
            for lc in lcs {
                if let Some(end) = lc.end_ts.filter(|end| *end < lc.start_ts) {
                    return Err(TraceDecodeError::Inconsistent(format!(
                        "pod_lifecycles.{:?}.{hash}: end_ts {end} is before start_ts {}",
                        owner.name, lc.start_ts
                    )));
                }
            }
        }
    }
    Ok(())
}
