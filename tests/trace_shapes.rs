//! `sk-tracer inspect` on every shape of trace file that SimKube's tracers and this one have
//! written, built here byte by byte as those writers lay them out, and on malformed variants of
//! them, which must be refused with the location named.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn sk_tracer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sk-tracer")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn msgpack(v: &impl serde::Serialize) -> Vec<u8> {
    rmp_serde::to_vec_named(v).unwrap()
}

/// Pod hashes are integer map keys in every format, which JSON values cannot hold.
fn by_hash(entries: &[(u64, Value)]) -> BTreeMap<u64, Value> {
    entries.iter().cloned().collect()
}

const T0: i64 = 1_788_000_000;

fn cronjob(ns: &str, sleep: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"annotations": {}, "name": "hello-simkube", "namespace": ns},
           "spec": {"concurrencyPolicy": "Allow", "schedule": "* * * * *", "suspend": false,
                    "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {"name": "simkube-job"},
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "sleeper", "image": "busybox",
                                 "command": ["sleep", sleep]}]}}}}}})
}

fn deployment(name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "demo"},
           "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "main", "image": image}]}}}})
}

fn event(ts: i64, applied: &[Value], deleted: &[Value]) -> Value {
    json!({"ts": ts, "applied_objs": applied, "deleted_objs": deleted})
}

/// A v1 file: `[config, events, index, pod_lifecycles]`, keyed by namespaced name.
fn v1(config: Value, events: Value, index: Value, lifecycles: BTreeMap<&str, BTreeMap<u64, Value>>) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_array_len(&mut out, 4).unwrap();
    for part in [msgpack(&config), msgpack(&events), msgpack(&index), msgpack(&lifecycles)] {
        out.extend(part);
    }
    out
}

/// Owners of SimKube's v2 lifecycle table: `[gvk, ns/name]`, or `ns/name` in its first writers.
enum Owner<'a> {
    Kinded(&'a str, &'a str),
    Named(&'a str),
}

/// A simkube-v2 file, its keys in the order SimKube writes them.
fn v2(config: Value, events: Value, index: Value, lifecycles: Vec<(Owner, BTreeMap<u64, Value>)>) -> Vec<u8> {
    use rmp::encode::{write_array_len, write_map_len, write_str, write_uint};
    let mut out = Vec::new();
    write_map_len(&mut out, 5).unwrap();
    write_str(&mut out, "version").unwrap();
    write_uint(&mut out, 2).unwrap();
    for (key, part) in [("config", config), ("events", events), ("index", index)] {
        write_str(&mut out, key).unwrap();
        out.extend(msgpack(&part));
    }
    write_str(&mut out, "pod_lifecycles").unwrap();
    write_map_len(&mut out, lifecycles.len() as u32).unwrap();
    for (owner, entries) in lifecycles {
        match owner {
            Owner::Kinded(gvk, name) => {
                write_array_len(&mut out, 2).unwrap();
                write_str(&mut out, gvk).unwrap();
                write_str(&mut out, name).unwrap();
            }
            Owner::Named(name) => write_str(&mut out, name).unwrap(),
        }
        out.extend(msgpack(&entries));
    }
    out
}

/// The documented v1 form, as the original description writes it: one `podSpecTemplatePath`.
fn v1_documented() -> Vec<u8> {
    let web = deployment("web", "nginx:1.27");
    v1(
        json!({"trackedObjects": {
            "apps/v1.Deployment": {"podSpecTemplatePath": "/spec/template", "trackLifecycle": true},
            "batch.volcano.sh/v1alpha1.Job": {"podSpecTemplatePath": "/spec/tasks/*/template"}}}),
        json!([event(T0, std::slice::from_ref(&web), &[]), event(T0 + 60, &[], &[web])]),
        json!({"demo/web": 11}),
        BTreeMap::from([(
            "demo/web",
            by_hash(&[(11, json!([{"start_ts": T0 + 1, "end_ts": T0 + 50}, {"start_ts": T0 + 2, "end_ts": null}]))]),
        )]),
    )
}

/// v1 as SimKube 1.x wrote it: `podSpecTemplatePath` as nil for a kind without one,
/// `trackLifecycle` left out when false, lifecycles as SimKube's tagged `PodLifecycleData`.
fn v1_simkube_1x() -> Vec<u8> {
    let web = deployment("web", "nginx:1.27");
    v1(
        json!({"trackedObjects": {
            "apps/v1.Deployment": {"podSpecTemplatePath": "/spec/template", "trackLifecycle": true},
            "v1.ServiceAccount": {"podSpecTemplatePath": null}}}),
        json!([event(T0, &[web], &[])]),
        json!({"demo/web": 11}),
        BTreeMap::from([(
            "demo/web",
            by_hash(&[(11, json!([{"Finished": [T0 + 1, T0 + 50]}, {"Running": T0 + 2}, "Empty"]))]),
        )]),
    )
}

/// v1 with the list of paths, as this tracer writes it.
fn v1_paths_list() -> Vec<u8> {
    let web = deployment("web", "nginx:1.27");
    v1(
        json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePaths": ["/spec/template"], "trackLifecycle": true}}}),
        json!([event(T0, &[web], &[])]),
        json!({"demo/web": 11}),
        BTreeMap::from([("demo/web", by_hash(&[(11, json!([{"start_ts": T0 + 1, "end_ts": T0 + 50}]))]))]),
    )
}

/// The shape of SimKube 2.7's cronjob example: a Deployment entry without paths (SimKube's
/// reader fills in its defaults), a CronJob with paths and lifecycles.
fn v2_simkube_cronjob_example() -> Vec<u8> {
    v2(
        json!({"trackedObjects": {
            "apps/v1.Deployment": {},
            "batch/v1.CronJob": {"podSpecTemplatePaths": ["/spec/jobTemplate/spec/template"], "trackLifecycle": true},
            "apps/v1.StatefulSet": {"podSpecTemplatePaths": ["/spec/template"]}}}),
        json!([
            event(T0, &[], &[]),
            event(T0, &[cronjob("default", "30")], &[]),
            event(
                T0 + 205,
                &[],
                &[json!({"apiVersion": "batch/v1", "kind": "CronJob",
                                          "metadata": {"name": "hello-simkube", "namespace": "default"}})]
            ),
        ]),
        json!({"batch/v1.CronJob": {"default/hello-simkube": 17_186_060_286_392_270_318_u64}}),
        vec![(
            Owner::Kinded("batch/v1.CronJob", "default/hello-simkube"),
            by_hash(&[(
                10_843_540_125_592_602_584,
                json!([{"Finished": [T0 + 38, T0 + 68]}, {"Finished": [T0 + 98, T0 + 128]}, {"Finished": [T0 + 158, T0 + 188]}]),
            )]),
        )],
    )
}

/// simkube-v2 with `podSpecTemplatePaths: nil` (SimKube's `Option` before its defaults are
/// applied), a custom kind without any path, and a running pod beside an `Empty` entry.
fn v2_paths_nil_and_custom_kind() -> Vec<u8> {
    let web = deployment("web", "nginx:1.27");
    v2(
        json!({"trackedObjects": {
            "apps/v1.Deployment": {"podSpecTemplatePaths": null, "trackLifecycle": true},
            "example.com/v1.Widget": {}}}),
        json!([event(T0, &[web], &[])]),
        json!({"apps/v1.Deployment": {"demo/web": 11}}),
        vec![(
            Owner::Kinded("apps/v1.Deployment", "demo/web"),
            by_hash(&[(11, json!([{"Running": T0 + 3}, "Empty"]))]),
        )],
    )
}

/// simkube-v2 as its first writers laid it out: a flat index and owners keyed by name alone.
fn v2_flat_index() -> Vec<u8> {
    let web = deployment("web", "nginx:1.27");
    v2(
        json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePaths": ["/spec/template"], "trackLifecycle": true}}}),
        json!([event(T0, &[web], &[])]),
        json!({"demo/web": 11}),
        vec![(Owner::Named("demo/web"), by_hash(&[(11, json!([{"Finished": [T0 + 1, T0 + 9]}]))]))],
    )
}

struct Shape {
    name: &'static str,
    bytes: Vec<u8>,
    format: &'static str,
    /// Lines `inspect` must print.
    lines: &'static [&'static str],
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "v1-documented",
            bytes: v1_documented(),
            format: "v1",
            lines: &[
                "  apps/v1.Deployment             /spec/template, pod lifecycles",
                "  batch.volcano.sh/v1alpha1.Job  /spec/tasks/*/template",
                "demo/web (apps/v1.Deployment)  1 pod hashes, 2 pods, 1 running",
            ],
        },
        Shape {
            name: "v1-simkube-1x",
            bytes: v1_simkube_1x(),
            format: "v1",
            lines: &[
                "  apps/v1.Deployment  /spec/template, pod lifecycles",
                "  v1.ServiceAccount   no path",
                "demo/web (apps/v1.Deployment)  1 pod hashes, 2 pods, 1 running",
            ],
        },
        Shape {
            name: "v1-paths-list",
            bytes: v1_paths_list(),
            format: "v1",
            lines: &["  apps/v1.Deployment  /spec/template, pod lifecycles", "1 pod hashes, 1 pods, 0 running"],
        },
        Shape {
            name: "v2-simkube-cronjob-example",
            bytes: v2_simkube_cronjob_example(),
            format: "simkube-v2",
            lines: &[
                "  apps/v1.Deployment   /spec/template",
                "  apps/v1.StatefulSet  /spec/template",
                "  batch/v1.CronJob     /spec/jobTemplate/spec/template, pod lifecycles",
                "events:     3",
                "batch/v1.CronJob  1 objects, 1 versions, 1 deletions",
                "default/hello-simkube (batch/v1.CronJob)  1 pod hashes, 3 pods, 0 running",
            ],
        },
        Shape {
            name: "v2-paths-nil-and-custom-kind",
            bytes: v2_paths_nil_and_custom_kind(),
            format: "simkube-v2",
            lines: &[
                "  apps/v1.Deployment     /spec/template, pod lifecycles",
                "  example.com/v1.Widget  no path",
                "demo/web (apps/v1.Deployment)  1 pod hashes, 1 pods, 1 running",
            ],
        },
        Shape {
            name: "v2-flat-index",
            bytes: v2_flat_index(),
            format: "simkube-v2",
            lines: &["index:      1 tracked objects", "demo/web (apps/v1.Deployment)  1 pod hashes, 1 pods, 0 running"],
        },
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(format!("{name}.sktrace"));
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn inspect_reads_every_shape_written() {
    let dir = tempfile::tempdir().unwrap();
    for shape in shapes() {
        let path = write(dir.path(), shape.name, &shape.bytes);

        let out = sk_tracer(&["inspect", &path]);
        assert!(out.status.success(), "{}: {}", shape.name, text(&out.stderr));
        let summary = text(&out.stdout);
        assert!(summary.contains(&format!("(format {},", shape.format)), "{}: {summary}", shape.name);
        for line in shape.lines {
            assert!(summary.contains(line), "{}: missing {line:?} in\n{summary}", shape.name);
        }

        let out = sk_tracer(&["inspect", "--json", &path]);
        assert!(out.status.success(), "{}: {}", shape.name, text(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let config = if shape.format == "v1" { &json[0] } else { &json["config"] };
        // Every kind comes out with its paths resolved, in the list form.
        for (gvk, entry) in config["trackedObjects"].as_object().unwrap() {
            assert!(entry["podSpecTemplatePaths"].is_array(), "{}: {gvk}: {entry}", shape.name);
        }

        let svg = dir.path().join(format!("{}.svg", shape.name));
        let out = sk_tracer(&["inspect", &path, "--timeline", svg.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", shape.name, text(&out.stderr));
        let picture = std::fs::read_to_string(&svg).unwrap();
        assert!(picture.starts_with("<svg") && picture.contains("</svg>"), "{}", shape.name);
    }
}

#[test]
fn lifecycles_of_every_form_keep_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "v1-simkube-1x", &v1_simkube_1x());
    let out = sk_tracer(&["inspect", "--json", &path]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json[3]["demo/web"]["11"],
        json!([{"start_ts": T0 + 1, "end_ts": T0 + 50}, {"start_ts": T0 + 2, "end_ts": null}]),
        "SimKube's Finished and Running read as start and end; Empty has no entry"
    );

    let path = write(dir.path(), "v2-simkube-cronjob-example", &v2_simkube_cronjob_example());
    let out = sk_tracer(&["inspect", "--json", &path]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lcs = &json["pod_lifecycles"]["batch/v1.CronJob default/hello-simkube"]["10843540125592602584"];
    assert_eq!(lcs[0], json!({"Finished": [T0 + 38, T0 + 68]}));
    assert_eq!(json["index"]["batch/v1.CronJob"]["default/hello-simkube"], json!(17_186_060_286_392_270_318_u64));
}

#[test]
fn malformed_variants_are_refused_with_their_location() {
    let events = json!([event(T0, &[deployment("web", "nginx:1.27")], &[])]);
    let lifecycles = |lcs: Value| vec![(Owner::Kinded("apps/v1.Deployment", "demo/web"), by_hash(&[(11, lcs)]))];
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "paths-a-number",
            v2(
                json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePaths": 5}}}),
                json!([]),
                json!({}),
                vec![],
            ),
            &["config.trackedObjects.apps/v1.Deployment.podSpecTemplatePaths", "invalid type"],
        ),
        (
            "path-not-a-pointer",
            v1(
                json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePath": "spec/template"}}}),
                json!([]),
                json!({}),
                BTreeMap::new(),
            ),
            &["config.trackedObjects.apps/v1.Deployment.podSpecTemplatePath", "must start with `/`"],
        ),
        (
            "unknown-config-field",
            v2(json!({"trackedObjects": {"apps/v1.Deployment": {"colour": "red"}}}), json!([]), json!({}), vec![]),
            &["config.trackedObjects.apps/v1.Deployment", "unknown field `colour`"],
        ),
        (
            "lifecycle-paused",
            v2(
                json!({"trackedObjects": {"apps/v1.Deployment": {}}}),
                events.clone(),
                json!({}),
                lifecycles(json!([{"Paused": T0}])),
            ),
            &["pod_lifecycles.[apps/v1.Deployment, demo/web].11[0]: unknown field `Paused`"],
        ),
        (
            "lifecycle-finished-one-time",
            v2(
                json!({"trackedObjects": {"apps/v1.Deployment": {}}}),
                events.clone(),
                json!({}),
                lifecycles(json!([{"Finished": [T0]}])),
            ),
            &["pod_lifecycles.[apps/v1.Deployment, demo/web].11[0].Finished: invalid length 1"],
        ),
        (
            "v1-lifecycle-start-a-string",
            v1(
                json!({"trackedObjects": {"apps/v1.Deployment": {}}}),
                events.clone(),
                json!({}),
                BTreeMap::from([("demo/web", by_hash(&[(11, json!([{"start_ts": "yesterday"}]))]))]),
            ),
            &["pod_lifecycles.demo/web.11[0].start_ts", "wrong type: found a string"],
        ),
        (
            "index-hash-a-string",
            v2(
                json!({"trackedObjects": {"apps/v1.Deployment": {}}}),
                json!([]),
                json!({"apps/v1.Deployment": {"demo/web": "eleven"}}),
                vec![],
            ),
            &["index.apps/v1.Deployment.demo/web", "wrong type: found a string"],
        ),
        (
            "no-config",
            {
                let mut out = Vec::new();
                rmp::encode::write_map_len(&mut out, 2).unwrap();
                rmp::encode::write_str(&mut out, "version").unwrap();
                rmp::encode::write_uint(&mut out, 2).unwrap();
                rmp::encode::write_str(&mut out, "events").unwrap();
                rmp::encode::write_array_len(&mut out, 0).unwrap();
                out
            },
            &["missing field `config`"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, &bytes);
        let out = sk_tracer(&["inspect", &path]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for part in expected {
            assert!(err.contains(part), "{name}: expected {part:?} in {err}");
        }
    }
}
