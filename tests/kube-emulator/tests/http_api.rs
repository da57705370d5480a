//! The API over plain HTTP, as any client sees it: discovery documents, Status errors, selectors,
//! pagination, dry runs, collection deletes, watches (selector transitions, bookmarks, timeouts,
//! 410 Gone), the OpenAPI documents and the admin endpoints.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_emulator::Emulator;
use serde_json::{json, Value};

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

struct Api {
    emu: Emulator,
    http: Http,
}

struct Reply {
    status: u16,
    content_type: String,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn names(&self) -> Vec<String> {
        self.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().into())
            .collect()
    }
}

async fn api() -> Api {
    Api { emu: Emulator::start().await.unwrap(), http: Client::builder(TokioExecutor::new()).build_http() }
}

impl Api {
    async fn call(&self, method: &str, path: &str, content_type: &str, body: Option<Value>) -> Reply {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.emu.url()))
            .header("content-type", content_type)
            .body(Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(10), self.http.request(req)).await.unwrap().unwrap();
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let body = tokio::time::timeout(Duration::from_secs(10), resp.into_body().collect())
            .await
            .unwrap()
            .unwrap()
            .to_bytes();
        Reply { status, content_type, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, "application/json", None).await
    }

    /// A watch that the server ends (by `timeoutSeconds`): its events, in order.
    async fn watch(&self, path: &str) -> Vec<(String, Value)> {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200);
        String::from_utf8_lossy(&reply.body)
            .lines()
            .map(|l| {
                let e: Value = serde_json::from_str(l).unwrap();
                (e["type"].as_str().unwrap().to_string(), e["object"].clone())
            })
            .collect()
    }
}

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "labels": labels}})
}

#[tokio::test]
async fn discovery_describes_built_in_and_late_kinds() {
    let a = api().await;
    assert_eq!(a.get("/version").await.json()["major"], "1");
    assert_eq!(a.get("/api").await.json()["versions"], json!(["v1"]));
    let core = a.get("/api/v1").await.json();
    let pods = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap().clone();
    assert_eq!((pods["kind"].as_str(), pods["namespaced"].as_bool()), (Some("Pod"), Some(true)));
    assert!(pods["verbs"].as_array().unwrap().contains(&json!("watch")));
    let apps = a.get("/apis/apps/v1").await.json();
    let scale = apps["resources"].as_array().unwrap().iter().any(|r| r["name"] == "deployments/scale");
    assert!(scale, "{apps}");

    assert_eq!(a.get("/apis/batch.volcano.sh/v1alpha1").await.status, 404);
    a.emu.register_kind(kube_emulator::kinds::volcano_job());
    let groups = a.get("/apis").await.json();
    assert!(groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "batch.volcano.sh"), "{groups}");
    let volcano = a.get("/apis/batch.volcano.sh/v1alpha1").await.json();
    assert_eq!(volcano["resources"][0]["kind"], "Job");

    let v2 = a.get("/openapi/v2").await;
    assert_eq!((v2.status, v2.content_type.as_str()), (200, "application/octet-stream"));
    assert_eq!(&v2.body[..5], b"\x0a\x032.0");
    assert_eq!(a.get("/openapi/v3").await.status, 200);
}

#[tokio::test]
async fn errors_are_status_objects() {
    let a = api().await;
    let missing = a.get("/api/v1/namespaces/default/configmaps/nope").await;
    assert_eq!(missing.status, 404);
    let s = missing.json();
    assert_eq!(
        (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_u64()),
        (Some("Status"), Some("NotFound"), Some(404))
    );

    let post = |body| a.call("POST", "/api/v1/namespaces/default/configmaps", "application/json", Some(body));
    assert_eq!(post(cm("a", json!({}))).await.status, 201);
    let dup = post(cm("a", json!({}))).await;
    assert_eq!((dup.status, dup.json()["reason"].as_str()), (409, Some("AlreadyExists")));
    let unnamed = post(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})).await;
    assert_eq!((unnamed.status, unnamed.json()["reason"].as_str()), (422, Some("Invalid")));

    let mut stale = a.emu.get("v1", "ConfigMap", "default", "a").unwrap();
    a.emu.update(cm("a", json!({"x": "1"}))).unwrap();
    stale["data"] = json!({"k": "v"});
    let conflict = a.call("PUT", "/api/v1/namespaces/default/configmaps/a", "application/json", Some(stale)).await;
    assert_eq!((conflict.status, conflict.json()["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(a.get("/apis/nope.example/v1/things").await.status, 404);
}

/// Leases, as leader election uses them: an update based on a stale resourceVersion conflicts,
/// and a fault fails writes to them while reads go on.
#[tokio::test]
async fn leases_conflict_on_stale_versions_and_their_writes_can_be_failed() {
    let a = api().await;
    let path = "/apis/coordination.k8s.io/v1/namespaces/sk/leases";
    let lease = |holder: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "tracer", "namespace": "sk"},
               "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}})
    };
    let created = a.call("POST", path, "application/json", Some(lease("a"))).await;
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let first = created.json();

    let mut renewed = first.clone();
    renewed["spec"]["holderIdentity"] = json!("a");
    renewed["spec"]["renewTime"] = json!("2026-12-04T10:00:00.000000Z");
    let ok = a.call("PUT", &format!("{path}/tracer"), "application/json", Some(renewed)).await;
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    assert_ne!(ok.json()["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);

    // A second candidate that read the lease before the renewal loses the race.
    let mut taken = first.clone();
    taken["spec"]["holderIdentity"] = json!("b");
    let lost = a.call("PUT", &format!("{path}/tracer"), "application/json", Some(taken)).await;
    assert_eq!((lost.status, lost.json()["reason"].as_str()), (409, Some("Conflict")));

    a.emu.fail_writes("coordination.k8s.io", "v1", "leases", 403);
    let current = a.get(&format!("{path}/tracer")).await;
    assert_eq!(current.status, 200, "reads go on");
    let refused = a.call("PUT", &format!("{path}/tracer"), "application/json", Some(current.json())).await;
    assert_eq!((refused.status, refused.json()["reason"].as_str()), (403, Some("Forbidden")));
    a.emu.fail_writes("coordination.k8s.io", "v1", "leases", 500);
    let failed = a.call("PUT", &format!("{path}/tracer"), "application/json", Some(current.json())).await;
    assert_eq!(failed.status, 500);
    a.emu.allow_writes("coordination.k8s.io", "v1", "leases");
    let again = a.call("PUT", &format!("{path}/tracer"), "application/json", Some(current.json())).await;
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
}

#[tokio::test]
async fn server_set_fields_on_write() {
    let a = api().await;
    let created = a.emu.create(cm("a", json!({}))).unwrap();
    let m = &created["metadata"];
    for f in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
        assert!(!m[f].is_null(), "{f} is set: {created}");
    }
    assert_eq!(m["generation"], 1);
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
                       "spec": {"replicas": 1}});
    a.emu.create(d.clone()).unwrap();
    d["spec"]["replicas"] = json!(2);
    let updated = a.emu.update(d).unwrap();
    assert_eq!(updated["metadata"]["generation"], 2, "a spec change bumps the generation");
    let rv = |v: &Value| v["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(rv(&updated) > rv(&created), "one global, increasing resource version");
}

#[tokio::test]
async fn selectors_and_pagination() {
    let a = api().await;
    for (i, tier) in ["gold", "silver", "gold", "bronze", "gold"].iter().enumerate() {
        a.emu.create(cm(&format!("cm{i}"), json!({"tier": tier}))).unwrap();
    }
    a.emu
        .create(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "kube-system"}}),
        )
        .unwrap();
    let a = &a;
    let list = |q: &str| {
        let path = format!("/api/v1/configmaps?{q}");
        async move { a.get(&path).await }
    };
    assert_eq!(list("labelSelector=tier%3Dgold").await.names(), ["cm0", "cm2", "cm4"]);
    assert_eq!(list("labelSelector=tier+in+(silver,bronze)").await.names(), ["cm1", "cm3"]);
    assert_eq!(list("labelSelector=tier!%3Dgold").await.names(), ["cm1", "cm3", "other"], "!= matches a missing label");
    assert_eq!(list("labelSelector=!tier").await.names(), ["other"]);
    assert_eq!(list("fieldSelector=metadata.name%3Dcm3").await.names(), ["cm3"]);
    assert_eq!(list("fieldSelector=metadata.namespace%3Dkube-system").await.names(), ["other"]);
    assert_eq!(a.get("/api/v1/namespaces/default/configmaps").await.names().len(), 5);
    assert_eq!(list("fieldSelector=spec.nodeName%3Dx").await.status, 400);

    // limit/continue: every object once, whatever is written between pages.
    let first = list("limit=2").await.json();
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    a.emu.create(cm("cm9", json!({}))).unwrap();
    let mut names: Vec<String> =
        first["items"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap().into()).collect();
    let mut token = Some(token);
    while let Some(t) = token {
        let page = list(&format!("limit=2&continue={t}")).await.json();
        names.extend(page["items"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap().into()));
        token = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    assert_eq!(names, ["cm0", "cm1", "cm2", "cm3", "cm4", "cm9", "other"]);

    // A continue token from before a compaction has expired, as after an etcd compaction.
    let page = list("limit=2").await.json();
    a.emu.create(cm("cm10", json!({}))).unwrap();
    a.emu.compact();
    let expired = list(&format!("limit=2&continue={}", page["metadata"]["continue"].as_str().unwrap())).await;
    assert_eq!((expired.status, expired.json()["reason"].as_str()), (410, Some("Expired")));
}

#[tokio::test]
async fn patches_subresources_dry_runs_and_collection_deletes() {
    let a = api().await;
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
    a.emu.create(d).unwrap();
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let smp = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
                     "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "$patch": "delete"}]}}}});
    let r = a.call("PATCH", path, "application/strategic-merge-patch+json", Some(smp)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["spec"]["template"]["spec"]["containers"], json!([{"name": "a", "image": "a:2"}]));
    let r =
        a.call("PATCH", path, "application/merge-patch+json", Some(json!({"metadata": {"labels": {"x": "y"}}}))).await;
    assert_eq!(r.json()["metadata"]["labels"]["x"], "y");

    // The status subresource changes only the status; the main resource keeps the status.
    let status = json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 9}});
    let r = a.call("PATCH", &format!("{path}/status"), "application/merge-patch+json", Some(status)).await;
    assert_eq!(
        (r.json()["status"]["readyReplicas"].as_u64(), r.json()["spec"]["replicas"].as_u64()),
        (Some(1), Some(1))
    );
    let r = a.call("PATCH", path, "application/merge-patch+json", Some(json!({"status": {"readyReplicas": 5}}))).await;
    assert_eq!(r.json()["status"]["readyReplicas"], 1);

    let scale = a.get(&format!("{path}/scale")).await.json();
    assert_eq!((scale["kind"].as_str(), scale["spec"]["replicas"].as_u64()), (Some("Scale"), Some(1)));
    let r = a
        .call("PATCH", &format!("{path}/scale"), "application/merge-patch+json", Some(json!({"spec": {"replicas": 4}})))
        .await;
    assert_eq!(r.json()["spec"]["replicas"], 4);
    assert_eq!(a.emu.get("apps/v1", "Deployment", "default", "web").unwrap()["spec"]["replicas"], 4);

    // dryRun=All answers as if written, and nothing changes.
    let rv = a.emu.resource_version();
    let r = a
        .call(
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=All",
            "application/json",
            Some(cm("dry", json!({}))),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = a
        .call(
            "PATCH",
            &format!("{path}?dryRun=All"),
            "application/merge-patch+json",
            Some(json!({"spec": {"replicas": 7}})),
        )
        .await;
    assert_eq!(r.json()["spec"]["replicas"], 7);
    assert_eq!(a.call("DELETE", &format!("{path}?dryRun=All"), "application/json", None).await.status, 200);
    assert_eq!(a.emu.resource_version(), rv);
    assert!(a.emu.get("v1", "ConfigMap", "default", "dry").is_err());
    assert_eq!(a.emu.get("apps/v1", "Deployment", "default", "web").unwrap()["spec"]["replicas"], 4);

    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        a.emu.create(cm(name, json!({"tier": tier}))).unwrap();
    }
    let r = a
        .call("DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dx", "application/json", None)
        .await;
    assert_eq!(r.names(), ["a", "b"]);
    assert_eq!(a.get("/api/v1/configmaps").await.names(), ["c"]);
    assert_eq!(a.call("DELETE", path, "application/json", None).await.status, 200);
    assert_eq!(a.call("DELETE", path, "application/json", None).await.status, 404);
}

#[tokio::test]
async fn watches_follow_selectors_bookmarks_and_history() {
    let a = api().await;
    a.emu.create(cm("a", json!({"tier": "gold"}))).unwrap();
    let rv = a.emu.resource_version();
    a.emu.update(cm("a", json!({"tier": "silver"}))).unwrap(); // stops matching: DELETED
    a.emu.update(cm("a", json!({"tier": "gold"}))).unwrap(); // matches again: ADDED
    a.emu.update(cm("a", json!({"tier": "gold", "x": "1"}))).unwrap(); // MODIFIED
    a.emu.create(cm("b", json!({"tier": "silver"}))).unwrap(); // never matches
    a.emu.delete("v1", "ConfigMap", "default", "a").unwrap();
    let events = a
        .watch(&format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&labelSelector=tier%3Dgold&timeoutSeconds=1"))
        .await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["DELETED", "ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(events[0].1["metadata"]["labels"]["tier"], "gold", "the object as it last matched");
    let rvs: Vec<u64> =
        events.iter().map(|(_, o)| o["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");

    // No resource version: the current objects as ADDED, then live changes; bookmarks when asked.
    let watch = a.watch("/api/v1/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=2");
    let writes = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.emu.create(cm("c", json!({}))).unwrap();
    };
    let (events, ()) = tokio::join!(watch, writes);
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(&types[..2], ["ADDED", "ADDED"], "{types:?}");
    assert!(types.contains(&"BOOKMARK"), "{types:?}");
    let bookmark = &events.iter().find(|(t, _)| t == "BOOKMARK").unwrap().1;
    assert!(bookmark["metadata"]["resourceVersion"].as_str().is_some());

    // sendInitialEvents ends the initial state with an annotated bookmark.
    let events = a
        .watch("/api/v1/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1")
        .await;
    let end = events
        .iter()
        .position(|(t, o)| t == "BOOKMARK" && o["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true");
    assert_eq!(end, Some(2), "{events:?}");

    // From before the retained history: an ERROR event carrying a 410 Status.
    a.emu.compact();
    let events = a.watch(&format!("/api/v1/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1")).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "ERROR");
    assert_eq!((events[0].1["code"].as_u64(), events[0].1["reason"].as_str()), (Some(410), Some("Expired")));
}

#[tokio::test]
async fn metadata_only_answers() {
    let a = api().await;
    a.emu.create(cm("a", json!({"tier": "gold"}))).unwrap();
    let req = |path: &str, accept: &str| {
        http::Request::builder()
            .uri(format!("{}{path}", a.emu.url()))
            .header("accept", accept)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let list = a
        .http
        .request(req("/api/v1/configmaps", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"))
        .await
        .unwrap();
    let list: Value = serde_json::from_slice(&list.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["labels"]["tier"], "gold");
    assert!(list["items"][0].get("data").is_none());
}

#[tokio::test]
async fn admin_endpoints_inject_faults_and_count_requests() {
    let a = api().await;
    a.emu.create(cm("a", json!({}))).unwrap();
    a.emu.reset_request_counts();
    assert_eq!(a.get("/admin/fail?n=2&status=429").await.status, 200);
    let r = a.get("/api/v1/configmaps").await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (429, Some(429)));
    assert_eq!(a.get("/api/v1/configmaps").await.status, 429);
    assert_eq!(a.get("/api/v1/configmaps").await.status, 200);

    a.get("/admin/forbid?group=&version=v1&plural=configmaps").await;
    assert_eq!(a.get("/api/v1/configmaps").await.status, 403);
    a.get("/admin/allow?group=&version=v1&plural=configmaps").await;
    assert_eq!(a.get("/api/v1/configmaps").await.status, 200);

    a.get("/admin/delay?ms=300").await;
    let t = std::time::Instant::now();
    a.get("/api/v1/configmaps").await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    a.get("/admin/delay?ms=0").await;

    let rv = a.emu.resource_version();
    a.get("/admin/compact").await;
    let events = a.watch(&format!("/api/v1/configmaps?watch=1&resourceVersion={}&timeoutSeconds=1", rv - 1)).await;
    assert_eq!(events[0].0, "ERROR");

    let counts = a.get("/admin/requests").await.json();
    assert_eq!(counts["by_verb"]["WATCH"], 1);
    assert!(counts["by_route"]["LIST /v1/configmaps"].as_u64().unwrap() >= 5, "{counts}");
    assert_eq!(a.emu.requests_for("WATCH /v1/configmaps"), 1);
    assert_eq!(a.emu.requests_by_verb()["WATCH"], 1);
    assert!(a.emu.request_count() >= 6, "admin paths are not counted");

    // A watch in progress ends when watches are closed over HTTP.
    let uri = format!("{}/api/v1/configmaps?watch=1&timeoutSeconds=30", a.emu.url());
    let mut body = a.http.get(uri.parse().unwrap()).await.unwrap().into_body();
    assert!(body.frame().await.unwrap().is_ok(), "the initial ADDED event");
    let other = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    other.get(format!("{}/admin/close-watches", a.emu.url()).parse().unwrap()).await.unwrap();
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = body.frame().await {} }).await;
    assert!(ended.is_ok(), "the watch ended long before its timeout");
}

#[tokio::test]
async fn restarts_on_the_same_port_over_http() {
    let a = api().await;
    a.emu.create(cm("a", json!({}))).unwrap();
    let addr = a.emu.addr();
    assert_eq!(a.get("/admin/restart?after_ms=200").await.status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let uri = format!("http://{addr}/api/v1/configmaps");
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(2), fresh.get(uri.parse().unwrap())).await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "not back on {addr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.emu.addr(), addr);
    assert_eq!(a.emu.list("v1", "ConfigMap", None).len(), 1, "objects survive a restart");
}
