//! What is wrong with bytes that were to be read as a trace.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceDecodeError {
    #[error("the file is empty, not a trace")]
    Empty,
    #[error(
        "this is JSON, not a trace: trace files are msgpack (`sk-tracer inspect --json FILE` shows a trace as JSON)"
    )]
    LooksLikeJson,
    #[error(
        "not a trace: expected a v1 array [config, events, index, pod_lifecycles(, gaps)] or a simkube-v2 map, found {found}"
    )]
    NotATrace { found: String },
    #[error("the trace is truncated: the file ends inside {at}")]
    Truncated { at: String },
    #[error("malformed trace at {at}: {message}")]
    Malformed { at: String, message: String },
    #[error("{count} unexpected bytes follow the end of the trace")]
    TrailingBytes { count: usize },
    #[error("inconsistent trace: {0}")]
    Inconsistent(String),
}
