//! The body of `POST /export`, compatible with SimKube's v1 export API.

use serde::Deserialize;
use sk_skel::Program;

use super::window::Window;

pub use crate::trace::TraceFormat;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Unix seconds, inclusive.
    pub start_ts: i64,
    /// Unix seconds, exclusive.
    pub end_ts: i64,
    /// Where to deliver the trace; empty or absent: in the response.
    #[serde(default)]
    pub export_path: Option<String>,
    /// Filter name (as registered by a filter plugin) to its options.
    #[serde(default)]
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// `None` when the request names no format: see [`ExportRequest::format`].
    #[serde(default)]
    pub format: Option<TraceFormat>,
    /// A SKEL program applied to the window before the filters, as skctl's `--transform` sends
    /// it.
    #[serde(default)]
    pub transform: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportRequestError {
    #[error("malformed export request: {0}")]
    Malformed(String),
    #[error("invalid export request: {0}")]
    Invalid(String),
}

impl ExportRequest {
    /// Parses and checks a request body, naming the field at fault.
    pub fn parse(body: &[u8]) -> Result<Self, ExportRequestError> {
        let de = &mut serde_json::Deserializer::from_slice(body);
        let req: ExportRequest = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                ExportRequestError::Malformed(inner.to_string())
            } else {
                ExportRequestError::Malformed(format!("{path}: {inner}"))
            }
        })?;
        Ok(req)
    }

    /// The window asked for; the one check that it is not empty.
    pub fn window(&self) -> Result<Window, ExportRequestError> {
        Window::new(self.start_ts, self.end_ts).map_err(|e| ExportRequestError::Invalid(e.to_string()))
    }

    /// The format asked for, v1 where none is named.
    pub fn format(&self) -> TraceFormat {
        self.format.unwrap_or_default()
    }

    /// The transform, parsed; `None` without one, or for a program without commands. A program
    /// that does not parse names its line, column and what was expected there.
    pub fn program(&self) -> Result<Option<Program>, ExportRequestError> {
        let Some(text) = self.transform.as_deref() else { return Ok(None) };
        let program = Program::parse(text).map_err(|e| ExportRequestError::Invalid(format!("transform: {e}")))?;
        Ok((!program.commands.is_empty()).then_some(program))
    }

    /// The destination, or `None` for the response body.
    pub fn destination(&self) -> Option<&str> {
        self.export_path.as_deref().filter(|p| !p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_simkube_shape() {
        let req = ExportRequest::parse(
            br#"{"start_ts": 1700000000, "end_ts": 1700003600, "export_path": "s3://b/k",
                 "filters": {"excluded_namespaces": ["kube-system"], "excluded_labels": [{"matchLabels": {"app": "noise"}}]},
                 "format": "simkube-v2"}"#,
        )
        .unwrap();
        assert_eq!(req.destination(), Some("s3://b/k"));
        assert_eq!(req.format(), TraceFormat::SimkubeV2);
        assert_eq!(req.filters.len(), 2);
        let bare = ExportRequest::parse(br#"{"start_ts": 1, "end_ts": 2, "export_path": ""}"#).unwrap();
        assert_eq!((bare.destination(), bare.format()), (None, TraceFormat::V1));
    }

    #[test]
    fn names_what_is_wrong() {
        let err = |body: &str| ExportRequest::parse(body.as_bytes()).unwrap_err().to_string();
        assert!(err("{").contains("malformed"), "{}", err("{"));
        assert!(err(r#"{"start_ts": 1, "end_ts": 2, "colour": "red"}"#).contains("unknown field `colour`"));
        assert!(err(r#"{"start_ts": "yesterday", "end_ts": 2}"#).contains("start_ts: invalid type"));
        assert!(err(r#"{"end_ts": 2}"#).contains("missing field `start_ts`"));
        let empty = ExportRequest::parse(br#"{"start_ts": 5, "end_ts": 5}"#).unwrap().window().unwrap_err().to_string();
        assert!(empty.contains("end_ts (5) must be after start_ts (5)"), "{empty}");
        assert!(err(r#"{"start_ts": 1, "end_ts": 2, "format": "v3"}"#).contains("format: unknown variant `v3`"));
        assert!(err(r#"{"start_ts": 1, "end_ts": 2, "transform": 5}"#).contains("transform: invalid type"));
    }

    #[test]
    fn the_transform_is_parsed_on_request() {
        let req = |t: &str| {
            ExportRequest::parse(serde_json::json!({"start_ts": 1, "end_ts": 2, "transform": t}).to_string().as_bytes())
                .unwrap()
        };
        assert_eq!(req("remove(status);").program().unwrap().unwrap().commands.len(), 1);
        assert!(req("  # nothing\n").program().unwrap().is_none());
        let bad = req("remove(status);\ndelete(*)").program().unwrap_err().to_string();
        assert!(bad.contains("transform: line 2, column 10: expected `;`"), "{bad}");
        let none = ExportRequest::parse(br#"{"start_ts": 1, "end_ts": 2, "transform": null}"#).unwrap();
        assert!(none.program().unwrap().is_none());
    }
}
