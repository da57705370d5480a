//! Protobuf request bodies over HTTP, as client-go's typed clients send them: a create and an
//! update of a built-in kind, and the Status errors for what cannot be decoded.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use k8s_pb::api::core::v1::ConfigMap;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kube_emulator::Emulator;
use prost::Message;
use serde_json::{json, Value};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

async fn send(emu: &Emulator, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
    let http = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", emu.url()))
        .header("content-type", PROTOBUF)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), http.request(req)).await.unwrap().unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

/// A body as client-go writes it: the prefix, then a `runtime.Unknown` holding the message.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [b"k8s\0".as_slice(), &unknown.encode_to_vec()].concat()
}

fn config_map(data: &[(&str, &str)], resource_version: &str) -> Vec<u8> {
    let cm = ConfigMap {
        metadata: Some(ObjectMeta {
            name: Some("settings".into()),
            namespace: Some("default".into()),
            resource_version: Some(resource_version.into()),
            generate_name: Some(String::new()),
            ..Default::default()
        }),
        data: data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        immutable: None,
        binary_data: BTreeMap::new(),
    };
    envelope("v1", "ConfigMap", cm.encode_to_vec())
}

#[tokio::test]
async fn a_protobuf_create_and_update_store_json() {
    let emu = Emulator::start().await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let (status, created) = send(&emu, "POST", path, config_map(&[("mode", "fast")], "")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"], json!({"mode": "fast"}));
    assert_eq!(created["metadata"]["generateName"], Value::Null, "zero strings are left out: {created}");

    let rv = created["metadata"]["resourceVersion"].as_str().unwrap();
    let (status, updated) = send(&emu, "PUT", &format!("{path}/settings"), config_map(&[("mode", "slow")], rv)).await;
    assert_eq!(status, 200, "{updated}");
    let stored = emu.get("v1", "ConfigMap", "default", "settings").unwrap();
    assert_eq!(stored["data"], json!({"mode": "slow"}));

    // An update from an older version conflicts, as a JSON one does.
    let (status, conflict) = send(&emu, "PUT", &format!("{path}/settings"), config_map(&[("x", "y")], rv)).await;
    assert_eq!((status, conflict["reason"].as_str()), (409, Some("Conflict")), "{conflict}");
}

#[tokio::test]
async fn bodies_that_cannot_be_decoded_get_status_errors() {
    let emu = Emulator::start().await.unwrap();
    let path = "/api/v1/namespaces/default/configmaps";
    let reason = |v: &Value| (v["kind"].as_str().map(str::to_string), v["reason"].as_str().map(str::to_string));

    let (status, e) = send(&emu, "POST", path, br#"{"kind":"ConfigMap"}"#.to_vec()).await;
    assert_eq!((status, reason(&e)), (400, (Some("Status".into()), Some("BadRequest".into()))), "{e}");
    assert!(e["message"].as_str().unwrap().contains("k8s\\x00"), "{e}");

    let (status, e) = send(&emu, "POST", path, b"k8s\0\x0a\x7f".to_vec()).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("malformed"), "{e}");

    let (status, e) = send(&emu, "POST", path, envelope("v1", "Secret", vec![])).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("Secret"), "{e}");

    emu.register_kind(kube_emulator::kinds::volcano_job());
    let volcano = "/apis/batch.volcano.sh/v1alpha1/namespaces/default/jobs";
    let (status, e) = send(&emu, "POST", volcano, envelope("batch.volcano.sh/v1alpha1", "Job", vec![])).await;
    assert_eq!((status, reason(&e).1), (415, Some("UnsupportedMediaType".into())), "{e}");
    assert!(e["message"].as_str().unwrap().contains("application/json"), "{e}");

    // `/scale` takes an autoscaling/v1 Scale, which has no protobuf form here.
    emu.create_deployment("default", "web", 1, kube_emulator::controllers::template("web", "nginx")).unwrap();
    let scale = "/apis/apps/v1/namespaces/default/deployments/web/scale";
    let (status, e) = send(&emu, "PUT", scale, envelope("autoscaling/v1", "Scale", vec![])).await;
    assert_eq!(status, 415, "{e}");

    assert!(emu.list("v1", "ConfigMap", Some("default")).is_empty());
}
