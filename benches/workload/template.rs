//! The pod template the benchmarks' workloads carry, shared by the benchmarks that build one.

use serde_json::{json, Value};

/// A pod template of the size production ones have (~3-4 KB of JSON): several containers with
/// env, resources, probes and mounts.
pub fn template(app: &str, image: &str) -> Value {
    let container = |name: &str| {
        let env: Vec<Value> = (0..12).map(|i| json!({"name": format!("{}_SETTING_{i}", name.to_uppercase()), "value": format!("value-{i}-{app}")})).collect();
        json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "env": env,
               "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
               "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
               "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
               "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 20},
               "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "cache", "mountPath": "/cache"}],
               "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
    };
    json!({"metadata": {"labels": {"app": app, "team": "payments", "tier": "backend"},
                        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}},
           "spec": {"containers": [container("app"), container("proxy")],
                    "volumes": [{"name": "config", "configMap": {"name": format!("{app}-config")}}, {"name": "cache", "emptyDir": {}}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                    "securityContext": {"runAsNonRoot": true}, "terminationGracePeriodSeconds": 30}})
}
