//! The trace page and what it reads: `GET /` (the page), `GET /api/window` (a window's rows, in
//! pages) and `GET /api/version` (one version and the one before). The reads take an export slot
//! and a snapshot, as an export does, so a page open on a large trace neither piles up work nor
//! holds up ingest.

use std::collections::HashMap;
use std::sync::Arc;

use sk_core::trace::ObjectIdentity;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::{json_error, ServerState};
use crate::page::document::{WindowDocument, MAX_PAGE_ROWS};
use crate::page::of_snapshot::{version_at, window_rows};

/// The window a page asks for when it names no start: the last hour.
const DEFAULT_LOOKBACK_SECS: i64 = 3600;

/// The page's own script and style are inline; it may talk to this server only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
     connect-src 'self'; img-src data: blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn page() -> Response {
    let mut resp = Response::new(crate::page::live_page().into());
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A query parameter as a number, naming it when it is not one.
fn number<T: std::str::FromStr>(query: &HashMap<String, String>, name: &str) -> Result<Option<T>, String> {
    query
        .get(name)
        .map(|v| v.parse::<T>().map_err(|_| format!("query parameter `{name}` must be a whole number, not {v:?}")))
        .transpose()
}

struct WindowQuery {
    start: i64,
    end: i64,
    since: Option<i64>,
    offset: usize,
    limit: usize,
}

impl WindowQuery {
    fn parse(query: &HashMap<String, String>, now: i64) -> Result<Self, String> {
        let known = ["start", "end", "since", "offset", "limit"];
        if let Some(unknown) = query.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(format!("unknown query parameter `{unknown}` (known: {})", known.join(", ")));
        }
        let end = number(query, "end")?.unwrap_or(now + 1);
        let start = number(query, "start")?.unwrap_or(end - DEFAULT_LOOKBACK_SECS);
        if end <= start {
            return Err(format!("end ({end}) must be after start ({start})"));
        }
        let limit = number(query, "limit")?.unwrap_or(MAX_PAGE_ROWS);
        if limit == 0 || limit > MAX_PAGE_ROWS {
            return Err(format!("limit must be between 1 and {MAX_PAGE_ROWS}, not {limit}"));
        }
        Ok(WindowQuery {
            start,
            end,
            since: number(query, "since")?,
            offset: number(query, "offset")?.unwrap_or(0),
            limit,
        })
    }
}

fn busy(state: &ServerState) -> Response {
    state.metrics.count_refused("too_many_exports");
    let mut resp = json_error(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "{} exports or page reads are already in progress (server.maxConcurrentExports); retry after {} s",
            state.exports.slots().max(),
            sk_core::export::limit::RETRY_AFTER_SECS
        ),
    );
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(sk_core::export::limit::RETRY_AFTER_SECS));
    resp
}

pub async fn window(query: HashMap<String, String>, state: Arc<ServerState>) -> Response {
    let now = now();
    let q = match WindowQuery::parse(&query, now) {
        Ok(q) => q,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
    };
    let Some(_slot) = state.exports.slots().try_acquire() else { return busy(&state) };
    let read = state
        .exports
        .read(move |snapshot, _| {
            let rows = window_rows(snapshot, q.start, q.end, q.since);
            let doc =
                WindowDocument::page("live", "sk-tracer".into(), (q.start, q.end), Some(now), &rows, q.offset, q.limit)
                    .with_gaps(&snapshot.gaps);
            serde_json::to_vec(&doc)
        })
        .await;
    match read {
        Ok(Ok(body)) => json_body(body),
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the window: {e}")),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

pub async fn version(query: HashMap<String, String>, state: Arc<ServerState>) -> Response {
    let field = |name: &str| query.get(name).cloned().ok_or_else(|| format!("query parameter `{name}` is required"));
    let parsed = (|| {
        let kind = field("kind")?;
        let gvk = kind.parse::<sk_core::Gvk>().map_err(|e| format!("query parameter `kind`: {e}"))?;
        let ts = number::<i64>(&query, "ts")?.ok_or("query parameter `ts` is required")?;
        let id = ObjectIdentity {
            gvk,
            namespace: query.get("namespace").cloned().unwrap_or_default(),
            name: field("name")?,
        };
        Ok::<_, String>((id, ts))
    })();
    let (id, ts) = match parsed {
        Ok(p) => p,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
    };
    let Some(_slot) = state.exports.slots().try_acquire() else { return busy(&state) };
    let shown = format!("{} {} at {ts}", id.gvk, id.namespaced_name());
    match state.exports.read(move |snapshot, _| version_at(snapshot, &id, ts)).await {
        Ok(Some(pair)) => match serde_json::to_vec(&pair) {
            Ok(body) => json_body(body),
            Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the version: {e}")),
        },
        Ok(None) => json_error(StatusCode::NOT_FOUND, format!("no version of {shown} is recorded")),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn json_body(body: Vec<u8>) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_window_query_defaults_to_the_last_hour_and_names_what_is_wrong() {
        let q = WindowQuery::parse(&query(&[]), 10_000).unwrap();
        assert_eq!((q.start, q.end, q.since, q.offset, q.limit), (10_001 - 3600, 10_001, None, 0, MAX_PAGE_ROWS));
        let q = WindowQuery::parse(&query(&[("start", "5"), ("since", "7"), ("offset", "2"), ("limit", "3")]), 100)
            .unwrap();
        assert_eq!((q.start, q.end, q.since, q.offset, q.limit), (5, 101, Some(7), 2, 3));
        let err = |pairs: &[(&str, &str)]| WindowQuery::parse(&query(pairs), 100).err().unwrap();
        assert!(err(&[("start", "yesterday")]).contains("`start` must be a whole number"));
        assert!(err(&[("start", "50"), ("end", "50")]).contains("end (50) must be after start (50)"));
        assert!(err(&[("limit", "0")]).contains("limit must be between 1 and"));
        assert!(err(&[("colour", "red")]).contains("unknown query parameter `colour`"));
    }
}
