//! The tracer pipeline end to end: the real `sk-tracer run` binary against the API emulator, read
//! back through `POST /export`.

mod support;

use kube_emulator::controllers::template;
use kube_emulator::Emulator;
use serde_json::json;
use support::*;

fn pod_names(emu: &Emulator, ns: &str, prefix: &str) -> Vec<String> {
    emu.list("v1", "Pod", Some(ns))
        .into_iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Changes within one second merge into one event; steps a test wants to see apart wait this long.
fn next_second() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

#[test]
fn deployment_create_scale_rollout_delete() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n");
    tracer.wait_ready();

    emu.create_deployment("demo", "web", 2, template("web", "nginx:1.27")).unwrap();
    let t0 = now();
    for p in pod_names(&emu, "demo", "web-") {
        emu.set_pod_running("demo", &p, t0).unwrap();
    }
    next_second();
    emu.scale_deployment("demo", "web", 3).unwrap();
    for p in pod_names(&emu, "demo", "web-") {
        emu.set_pod_running("demo", &p, t0).unwrap();
    }
    next_second();
    let mut rollout = template("web", "nginx:1.28");
    rollout["metadata"]["labels"]["app"] = json!("web");
    emu.update_deployment_template("demo", "web", rollout).unwrap();
    let t1 = now();
    for p in pod_names(&emu, "demo", "web-") {
        emu.set_pod_running("demo", &p, t1).unwrap();
    }
    next_second();
    emu.delete_deployment("demo", "web").unwrap();

    wait_until(15, "the deletion and the pods' ends to be recorded", || {
        let t = tracer.export_all();
        let lcs = lifecycles(&t, "demo/web");
        deleted(&t, "Deployment") == ["web"]
            && lcs.values().flatten().count() == 6
            && lcs.values().flatten().all(|lc| lc.end_ts.is_some())
    });
    let trace = tracer.export_all();
    assert_eq!(applied(&trace, "Deployment"), ["web", "web", "web"], "create, scale, rollout");
    assert!(
        applied(&trace, "ReplicaSet").is_empty() && applied(&trace, "Pod").is_empty(),
        "only tracked kinds are recorded"
    );
    let first = trace.events.iter().flat_map(|e| &e.applied_objs).next().unwrap().to_json().unwrap();
    for gone in ["uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"] {
        assert!(first["metadata"].get(gone).is_none(), "{gone} is sanitised away: {first}");
    }
    assert!(first.get("status").is_none());

    let lcs = lifecycles(&trace, "demo/web");
    assert_eq!(lcs.len(), 2, "two templates, two pod hashes: {lcs:?}");
    let mut counts: Vec<usize> = lcs.values().map(Vec::len).collect();
    counts.sort();
    assert_eq!(counts, [3, 3], "three pods of each template");
    assert!(lcs.values().flatten().all(|lc| lc.end_ts.is_some()), "every pod ended, by rollout or deletion: {lcs:?}");
    assert!(lcs.values().flatten().all(|lc| lc.start_ts == t0 || lc.start_ts == t1));
}

#[test]
fn jobs_cronjobs_and_a_volcano_job_record_lifecycles_under_the_exported_owner() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.register_kind(kube_emulator::kinds::volcano_job());
    let config = "trackedObjects:
  batch/v1.Job:
    trackLifecycle: true
  batch/v1.CronJob:
    trackLifecycle: true
  batch.volcano.sh/v1alpha1.Job:
    podSpecTemplatePath: /spec/tasks/*/template
    trackLifecycle: true
  apps/v1.Deployment: {}
";
    let tracer = start_tracer(&emu, config);
    tracer.wait_ready();
    let t0 = now() - 10;

    let (_, pods) = emu.create_job("demo", "once", 2, template("once", "busybox")).unwrap();
    emu.create_cronjob("demo", "nightly", "0 3 * * *", 1, template("nightly", "busybox")).unwrap();
    let (cron_job, cron_pods) = emu.run_cronjob_once("demo", "nightly").unwrap();
    let ps = template("ps", "trainer:2");
    let worker = template("worker", "trainer:2");
    let (_, volcano_pods) = emu.create_custom_job("ml", "train", &[("ps", 1, ps), ("worker", 2, worker)]).unwrap();
    emu.create_deployment("demo", "untracked-lifecycles", 1, template("u", "nginx")).unwrap();
    for p in pods.iter().chain(&cron_pods) {
        let (ns, name) = (p["metadata"]["namespace"].as_str().unwrap(), p["metadata"]["name"].as_str().unwrap());
        emu.set_pod_running(ns, name, t0).unwrap();
        emu.set_pod_terminated(ns, name, t0 + 5, 0).unwrap();
    }
    for p in volcano_pods.iter().chain(
        emu.list("v1", "Pod", Some("demo"))
            .iter()
            .filter(|p| p["metadata"]["name"].as_str().unwrap().starts_with("untracked")),
    ) {
        emu.set_pod_running(p["metadata"]["namespace"].as_str().unwrap(), p["metadata"]["name"].as_str().unwrap(), t0)
            .unwrap();
    }

    wait_until(15, "the volcano pods' lifecycles", || {
        lifecycles(&tracer.export_all(), "ml/train").values().flatten().count() == 3
    });
    let trace = tracer.export_all();
    let once = lifecycles(&trace, "demo/once");
    assert_eq!(once.values().flatten().cloned().collect::<Vec<_>>().len(), 2);
    assert!(once.values().flatten().all(|lc| lc.start_ts == t0 && lc.end_ts == Some(t0 + 5)));
    let nightly = lifecycles(&trace, "demo/nightly");
    assert_eq!(
        nightly.values().flatten().count(),
        1,
        "the CronJob's pod is recorded under the CronJob: {:?}",
        trace.pod_lifecycles.keys()
    );
    let job_name = format!("demo/{}", cron_job["metadata"]["name"].as_str().unwrap());
    assert!(lifecycles(&trace, &job_name).is_empty(), "not under its Job, which exports leave out");
    assert!(!applied(&trace, "Job").iter().any(|n| n.starts_with("nightly-")), "the CronJob's Job is not exported");
    let volcano = lifecycles(&trace, "ml/train");
    assert_eq!(volcano.len(), 2, "two task templates, two pod hashes");
    let mut sizes: Vec<usize> = volcano.values().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, [1, 2]);
    assert!(lifecycles(&trace, "demo/untracked-lifecycles").is_empty(), "no lifecycles without trackLifecycle");
}

/// A Spark application as its operator runs it: the application kind declares no pod template;
/// the driver pod it owns starts executor pods that the driver owns.
#[test]
fn a_template_less_kind_records_the_pods_it_owns_through_its_driver_pod() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.register_kind(kube_emulator::kinds::KindSpec::new(
        "sparkoperator.k8s.io",
        "v1beta2",
        "SparkApplication",
        "sparkapplications",
        true,
    ));
    let config = "trackedObjects:\n  sparkoperator.k8s.io/v1beta2.SparkApplication:\n    trackLifecycle: true\n";
    let tracer = start_tracer(&emu, config);
    tracer.wait_ready();
    let t0 = now() - 10;

    let app = emu
        .create(json!({"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
            "metadata": {"namespace": "spark", "name": "pi"},
            "spec": {"type": "Scala", "mainClass": "org.apache.spark.examples.SparkPi", "image": "spark:3.5",
                     "driver": {"cores": 1, "memory": "512m"}, "executor": {"instances": 3, "cores": 1}}}))
        .unwrap();
    let driver = emu.create_pod("spark", "pi-driver", &template("pi-driver", "spark:3.5"), &app).unwrap();
    let executors: Vec<_> = (0..3)
        .map(|_| emu.create_pod("spark", "pi-exec", &template("pi-exec", "spark:3.5"), &driver).unwrap())
        .collect();
    for p in std::iter::once(&driver).chain(&executors) {
        emu.set_pod_running("spark", p["metadata"]["name"].as_str().unwrap(), t0).unwrap();
    }

    wait_until(15, "the driver's and executors' lifecycles", || {
        lifecycles(&tracer.export_all(), "spark/pi").values().flatten().count() == 4
    });
    let trace = tracer.export_all();
    assert_eq!(applied(&trace, "SparkApplication"), ["pi"], "the application is recorded whole");
    let spark = lifecycles(&trace, "spark/pi");
    let mut sizes: Vec<usize> = spark.values().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, [1, 3], "one hash for the driver's shape, one for the executors'");
    assert!(spark.values().flatten().all(|lc| lc.start_ts == t0));
    assert_eq!(trace.pod_lifecycles.len(), 1, "nothing is recorded under the driver pod");
}

/// A PyTorchJob keeps its pod templates in a map of replica specs, which `*` spans as it spans
/// an array.
#[test]
fn a_map_wildcard_path_sanitises_and_hashes_every_replica_template() {
    use sk_core::pipeline::{PodHasher, SanitiserChain};
    use sk_plugins as _;

    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.register_kind(kube_emulator::kinds::KindSpec::new("kubeflow.org", "v1", "PyTorchJob", "pytorchjobs", true));
    let config = "trackedObjects:\n  kubeflow.org/v1.PyTorchJob:\n    podSpecTemplatePath: \
                  /spec/pytorchReplicaSpecs/*/template\n    trackLifecycle: true\n";
    let tracer = start_tracer(&emu, config);
    tracer.wait_ready();
    let t0 = now() - 10;

    let replica = |name: &str, image: &str| {
        let mut t = template(name, image);
        // What the node-name sanitiser removes from every template it is pointed at.
        t["spec"]["nodeName"] = json!("gpu-node-7");
        t
    };
    let (master, worker) = (replica("master", "trainer:2"), replica("worker", "trainer:2-cuda"));
    let job = emu
        .create(json!({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "metadata": {"namespace": "ml", "name": "mnist"},
            "spec": {"pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": master},
                "Worker": {"replicas": 2, "restartPolicy": "OnFailure", "template": worker}}}}))
        .unwrap();
    let mut pods = vec![emu.create_pod("ml", "mnist-master", &master, &job).unwrap()];
    for _ in 0..2 {
        pods.push(emu.create_pod("ml", "mnist-worker", &worker, &job).unwrap());
    }
    for p in &pods {
        emu.set_pod_running("ml", p["metadata"]["name"].as_str().unwrap(), t0).unwrap();
    }

    wait_until(15, "the replicas' lifecycles", || {
        lifecycles(&tracer.export_all(), "ml/mnist").values().flatten().count() == 3
    });
    let trace = tracer.export_all();
    let recorded = trace
        .events
        .iter()
        .flat_map(|e| &e.applied_objs)
        .rfind(|o| o.identity().is_some_and(|id| id.name == "mnist"))
        .unwrap()
        .to_json()
        .unwrap();
    let templates: Vec<&serde_json::Value> =
        ["Master", "Worker"].iter().map(|r| &recorded["spec"]["pytorchReplicaSpecs"][r]["template"]).collect();
    assert!(templates.iter().all(|t| t["spec"].get("nodeName").is_none()), "both templates sanitised: {recorded}");
    assert_eq!(recorded["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"], 2);

    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let none = serde_json::Map::new();
    let hasher = PodHasher {
        sanitisers: SanitiserChain::build(&names(&["metadata", "status", "node-name", "redact"]), &none).unwrap(),
        pod_hash_sanitisers: SanitiserChain::build(&names(&["pod-hash"]), &none).unwrap(),
    };
    let by_hash = lifecycles(&trace, "ml/mnist");
    let (master_hash, worker_hash) = (hasher.hash(templates[0]), hasher.hash(templates[1]));
    assert_ne!(master_hash, worker_hash);
    assert_eq!(by_hash.get(&master_hash).map(Vec::len), Some(1), "the master's pod under its template's hash");
    assert_eq!(by_hash.get(&worker_hash).map(Vec::len), Some(2), "the workers' pods under theirs");
}

#[test]
fn owner_resolution_requests_do_not_grow_with_pods() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n");
    tracer.wait_ready();
    let t0 = now();
    let mut lifecycles_expected = 0;
    for round in 0..3 {
        // Each round adds ten times more pods than the one before.
        let (deployments, replicas) = [(2, 1), (5, 4), (10, 10)][round];
        for d in 0..deployments {
            let name = format!("r{round}-d{d}");
            emu.create_deployment("load", &name, replicas, template(&name, "nginx")).unwrap();
            for p in pod_names(&emu, "load", &format!("{name}-")) {
                emu.set_pod_running("load", &p, t0).unwrap();
            }
        }
        lifecycles_expected += deployments * replicas;
        wait_until(20, "every pod's lifecycle", || {
            tracer.export_all().pod_lifecycles.values().flat_map(|m| m.values()).map(Vec::len).sum::<usize>()
                == lifecycles_expected
        });
        let routes = emu.requests_by_route();
        let replicaset_requests: u64 = routes.iter().filter(|(r, _)| r.contains("replicasets")).map(|(_, n)| n).sum();
        let pod_gets: u64 = routes
            .iter()
            .filter(|(r, _)| r.starts_with("GET v1/pods") || r.starts_with("GET /v1/pods"))
            .map(|(_, n)| n)
            .sum();
        assert!(
            replicaset_requests <= 3,
            "round {round}: one list and one watch on ReplicaSets, whatever the pods: {routes:?}"
        );
        assert_eq!(pod_gets, 0, "no request per pod: {routes:?}");
    }
    assert_eq!(lifecycles_expected, 122);
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_owner_resolution_watches 1"), "{metrics}");
    // A pod is decoded whole for its first lifecycle only; its creation and later writes are read
    // in part, and ReplicaSets come from the metadata watch.
    let sum = |name: &str| -> f64 {
        metrics.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    let (decoded, events) = (sum("sk_tracer_objects_decoded_whole_total"), sum("sk_tracer_watch_events_total"));
    assert!(decoded >= 122.0 && decoded * 2.0 < events, "{decoded} decoded whole of {events} events: {metrics}");
}
