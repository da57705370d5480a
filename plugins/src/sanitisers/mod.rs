//! Sanitisers, one file each: what a recorded object must not carry.

mod metadata;
mod node_name;
mod pod_hash;
mod redact;
mod status;

/// Rejects options for sanitisers that take none.
pub(crate) fn no_options(name: &str, options: &serde_json::Value) -> Result<(), String> {
    if options.is_null() {
        Ok(())
    } else {
        Err(format!("`{name}` takes no options, found {options}"))
    }
}

/// Removes `keys` from the map at `obj[field]`, and the map itself if that empties it.
pub(crate) fn remove_keys(obj: &mut serde_json::Value, field: &str, keys: &[&str]) {
    let Some(map) = obj.get_mut(field).and_then(|v| v.as_object_mut()) else { return };
    for k in keys {
        map.remove(*k);
    }
    if map.is_empty() {
        if let Some(o) = obj.as_object_mut() {
            o.remove(field);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::{json, Value};

    /// A Deployment as the apiserver returns it, defaults and server-set fields included.
    pub fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "demo", "uid": "8c0e1d1a-1111-4c44-9c8a-000000000001",
                "resourceVersion": "123456", "generation": 4, "creationTimestamp": "2025-11-24T16:00:00Z",
                "labels": {"app": "web"},
                "annotations": {"deployment.kubernetes.io/revision": "3", "team": "payments",
                                "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\"}"},
                "managedFields": [{"manager": "kubectl", "operation": "Update"}],
            },
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": template()},
            "status": {"replicas": 3, "readyReplicas": 3, "observedGeneration": 4},
        })
    }

    pub fn template() -> Value {
        json!({
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "env": [{"name": "MODE", "value": "prod"}],
                                "resources": {"requests": {"cpu": "100m"}},
                                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
                "securityContext": {}, "terminationGracePeriodSeconds": 30,
            },
        })
    }

    /// A pod the ReplicaSet controller made from `template()`, after admission and scheduling.
    pub fn pod(name: &str, node: &str, template_hash: &str) -> Value {
        let mut spec = template()["spec"].clone();
        spec["nodeName"] = json!(node);
        spec["serviceAccountName"] = json!("default");
        spec["serviceAccount"] = json!("default");
        spec["priority"] = json!(0);
        spec["enableServiceLinks"] = json!(true);
        spec["preemptionPolicy"] = json!("PreemptLowerPriority");
        spec["tolerations"] = json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ]);
        let volume = format!("kube-api-access-{}", &name[name.len() - 5..]);
        spec["volumes"] =
            json!([{"name": volume, "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]);
        spec["containers"][0]["volumeMounts"] =
            json!([{"name": volume, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]);
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "generateName": "web-7d9f8b-", "namespace": "demo", "uid": format!("uid-{name}"),
                         "labels": {"app": "web", "pod-template-hash": template_hash},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b",
                                              "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]},
            "spec": spec,
            "status": {"phase": "Running", "podIP": "10.0.0.7"},
        })
    }
}
