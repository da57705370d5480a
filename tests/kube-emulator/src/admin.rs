//! `/admin/...`: fault injection over HTTP, for scripts and for people poking at a running
//! emulator. `close-watches`, `fail?n=3&status=500`, `forbid?group=apps&version=v1&plural=deployments`,
//! `allow?...`, `delay?ms=200`, `compact`, `requests`, `reset-requests`, `restart?after_ms=500`,
//! `hold-watches`, `release-watches`,
//! `reset-connections?ms=5000` (new connections are reset, and open watches end, for that long).

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use crate::server::{Body, Shared};

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn reply(status: StatusCode, v: serde_json::Value) -> http::Response<Body> {
    use http_body_util::BodyExt;
    let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(v.to_string())).boxed_unsync());
    *r.status_mut() = status;
    r
}

pub fn handle(shared: &Arc<Shared>, what: &str, q: &[(String, String)]) -> http::Response<Body> {
    let kind_key = || {
        format!(
            "{}/{}/{}",
            param(q, "group").unwrap_or(""),
            param(q, "version").unwrap_or("v1"),
            param(q, "plural").unwrap_or("")
        )
    };
    match what {
        "close-watches" => shared.close_watches(),
        "fail" => {
            let n = param(q, "n").and_then(|n| n.parse().ok()).unwrap_or(1);
            let status = param(q, "status").and_then(|s| s.parse().ok()).unwrap_or(500);
            shared.faults.fail_next(n, status);
        }
        "forbid" => shared.faults.forbid(kind_key()),
        "allow" => shared.faults.allow(&kind_key()),
        "delay" => {
            shared.faults.set_delay(Duration::from_millis(param(q, "ms").and_then(|m| m.parse().ok()).unwrap_or(0)))
        }
        "compact" => shared.lock().compact(),
        "hold-watches" => shared.faults.hold_watches(true),
        "release-watches" => shared.faults.hold_watches(false),
        "reset-connections" => {
            // Over HTTP it ends by itself: a request to end it would be reset too.
            let lasts = Duration::from_millis(param(q, "ms").and_then(|m| m.parse().ok()).unwrap_or(5000));
            shared.faults.set_reset_connections(true);
            shared.close_watches();
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(lasts).await;
                shared.faults.set_reset_connections(false);
            });
        }
        "requests" => {
            return reply(
                StatusCode::OK,
                json!({"total": shared.counters.total(), "by_verb": shared.counters.by_verb(), "by_route": shared.counters.by_route()}),
            );
        }
        "reset-requests" => shared.counters.reset(),
        "restart" => {
            let after = Duration::from_millis(param(q, "after_ms").and_then(|m| m.parse().ok()).unwrap_or(500));
            let shared = shared.clone();
            tokio::spawn(async move {
                // Let this response go out before the listener closes.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = crate::restart(&shared, after).await;
            });
        }
        other => return reply(StatusCode::NOT_FOUND, json!({"error": format!("no admin action `{other}`")})),
    }
    reply(StatusCode::OK, json!({"ok": true}))
}
