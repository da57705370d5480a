//! The two ways `POST /export` answers a successful export, chosen by the request's `Accept`.
//!
//! SimKube's, by default, so that SimKube's own client (`skctl export`, which accepts anything)
//! works unchanged: it sends its output path as the destination and writes whatever non-empty
//! body comes back there. So a destination on a disk or in memory is the client's, and the trace
//! comes back for it to write; a destination in an object store is written by the tracer and
//! answered with an empty body, which the client leaves alone.
//!
//! Ours, for a request that accepts `application/json`: every destination is written by the
//! tracer (local paths under `export.localDir`), and answered with a JSON summary of what was
//! written. Without a destination, both answer with the trace.
//!
//! Errors are answered alike in both: a status and a JSON `{"error"}` body.

use sk_core::export::{ExportRequest, TraceFormat};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// The trace for a destination on a disk or in memory, an empty body for one in storage.
    SimKube,
    /// `{"location","bytes","events","objects"}` for every destination.
    Summary,
}

impl Contract {
    /// `Summary` when `accept` lists `application/json` (and does not refuse it with `q=0`).
    pub fn of(accept: Option<&str>) -> Contract {
        let wants_json = accept.unwrap_or_default().split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.split_once('=')
                    .is_some_and(|(k, v)| k.trim().eq_ignore_ascii_case("q") && v.trim().parse() == Ok(0.0))
            });
            media.eq_ignore_ascii_case("application/json") && !refused
        });
        if wants_json {
            Contract::Summary
        } else {
            Contract::SimKube
        }
    }

    /// The request the tracer performs: under SimKube's contract a local destination is the
    /// client's to write, so the tracer writes nothing and answers with the trace; and a request
    /// that names no format gets simkube-v2, the one SimKube's own tools (skctl, its driver)
    /// read, since its client never names one.
    pub fn performed(self, request: &ExportRequest) -> ExportRequest {
        let mut performed = request.clone();
        if self == Contract::SimKube {
            if request.destination().is_some_and(sk_exporters::is_local) {
                performed.export_path = None;
            }
            performed.format.get_or_insert(TraceFormat::SimkubeV2);
        }
        performed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_asked_for_by_media_range() {
        for accept in
            ["application/json", "Application/JSON", "text/plain, application/json;q=0.5", "*/*,application/json"]
        {
            assert_eq!(Contract::of(Some(accept)), Contract::Summary, "{accept}");
        }
        for accept in ["*/*", "application/*", "application/msgpack", "application/json;q=0", "application/jsonx", ""] {
            assert_eq!(Contract::of(Some(accept)), Contract::SimKube, "{accept}");
        }
        assert_eq!(Contract::of(None), Contract::SimKube);
    }

    #[test]
    fn only_simkubes_contract_hands_local_destinations_back() {
        let request = |path: &str| {
            ExportRequest::parse(format!(r#"{{"start_ts": 1, "end_ts": 2, "export_path": "{path}"}}"#).as_bytes())
                .unwrap()
        };
        for local in ["output.sktrace", "file:///tmp/t.sktrace", "memory:///t.sktrace"] {
            assert_eq!(Contract::SimKube.performed(&request(local)).destination(), None, "{local}");
            assert_eq!(Contract::Summary.performed(&request(local)).destination(), Some(local));
        }
        for remote in ["s3://b/t.sktrace", "gs://b/t", "az://c/t", "ftp://h/t"] {
            assert_eq!(Contract::SimKube.performed(&request(remote)).destination(), Some(remote));
            assert_eq!(Contract::Summary.performed(&request(remote)).destination(), Some(remote));
        }
    }

    #[test]
    fn simkubes_contract_defaults_to_the_format_simkube_reads() {
        let parse = |body: &str| ExportRequest::parse(body.as_bytes()).unwrap();
        let unnamed = parse(r#"{"start_ts": 1, "end_ts": 2}"#);
        assert_eq!(Contract::SimKube.performed(&unnamed).format(), TraceFormat::SimkubeV2);
        assert_eq!(Contract::Summary.performed(&unnamed).format(), TraceFormat::V1);
        let named = parse(r#"{"start_ts": 1, "end_ts": 2, "format": "v1"}"#);
        assert_eq!(Contract::SimKube.performed(&named).format(), TraceFormat::V1);
    }
}
