//! The kinds the emulator serves, and the discovery documents that describe them.

use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindSpec {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The resource name in URLs, e.g. `deployments`.
    pub plural: String,
    pub namespaced: bool,
    /// Whether `/scale` is served (Deployments, ReplicaSets, StatefulSets).
    pub scale: bool,
}

impl KindSpec {
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        KindSpec {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            scale: false,
        }
    }

    pub fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.kind == "CustomResourceDefinition"
    }

    /// The kinds a CustomResourceDefinition serves: one per served version.
    pub fn served_by_crd(crd: &Value) -> Vec<KindSpec> {
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) =
            (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
        else {
            return Vec::new();
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let versions = spec["versions"].as_array().map(Vec::as_slice).unwrap_or_default();
        versions
            .iter()
            .filter(|v| v["served"].as_bool().unwrap_or(true))
            .filter_map(|v| v["name"].as_str())
            .map(|version| KindSpec::new(group, version, kind, plural, namespaced))
            .collect()
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `group/version/plural`, the key objects are stored under.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.group, self.version, self.plural)
    }

    /// The short names kubectl accepts for built-in kinds (`deploy`, `po`...).
    fn short_names(&self) -> &'static [&'static str] {
        match (self.group.as_str(), self.plural.as_str()) {
            ("", "pods") => &["po"],
            ("", "namespaces") => &["ns"],
            ("", "configmaps") => &["cm"],
            ("", "services") => &["svc"],
            ("", "serviceaccounts") => &["sa"],
            ("", "resourcequotas") => &["quota"],
            ("apps", "deployments") => &["deploy"],
            ("apps", "replicasets") => &["rs"],
            ("apps", "statefulsets") => &["sts"],
            ("apps", "daemonsets") => &["ds"],
            ("batch", "cronjobs") => &["cj"],
            ("networking.k8s.io", "ingresses") => &["ing"],
            ("policy", "poddisruptionbudgets") => &["pdb"],
            ("scheduling.k8s.io", "priorityclasses") => &["pc"],
            ("batch.volcano.sh", "jobs") => &["vcjob", "vj"],
            ("apiextensions.k8s.io", "customresourcedefinitions") => &["crd", "crds"],
            _ => &[],
        }
    }

    fn resources(&self) -> Vec<Value> {
        let verbs = json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]);
        let singular = self.kind.to_lowercase();
        let mut out = vec![json!({"name": self.plural, "singularName": singular, "namespaced": self.namespaced,
                                  "kind": self.kind, "verbs": verbs, "shortNames": self.short_names()})];
        out.push(json!({"name": format!("{}/status", self.plural), "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]}));
        if self.scale {
            out.push(json!({"name": format!("{}/scale", self.plural), "singularName": "", "namespaced": self.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
        out
    }
}

/// The kinds a fresh emulator serves: what the tracer and its tests use, what kubectl needs to
/// apply the deployment manifests, and what `kubectl create <generator>` creates.
pub fn built_in() -> Vec<KindSpec> {
    let mut kinds = vec![
        KindSpec::new("", "v1", "Pod", "pods", true),
        KindSpec::new("", "v1", "Namespace", "namespaces", false),
        KindSpec::new("", "v1", "ConfigMap", "configmaps", true),
        KindSpec::new("", "v1", "Service", "services", true),
        KindSpec::new("", "v1", "ServiceAccount", "serviceaccounts", true),
        KindSpec::new("", "v1", "Secret", "secrets", true),
        KindSpec::new("", "v1", "ResourceQuota", "resourcequotas", true),
        KindSpec::new("apps", "v1", "Deployment", "deployments", true),
        KindSpec::new("apps", "v1", "ReplicaSet", "replicasets", true),
        KindSpec::new("apps", "v1", "StatefulSet", "statefulsets", true),
        KindSpec::new("apps", "v1", "DaemonSet", "daemonsets", true),
        KindSpec::new("batch", "v1", "Job", "jobs", true),
        KindSpec::new("batch", "v1", "CronJob", "cronjobs", true),
        KindSpec::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
        KindSpec::new("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
        KindSpec::new("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        KindSpec::new("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
        KindSpec::new("networking.k8s.io", "v1", "Ingress", "ingresses", true),
        KindSpec::new("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true),
        KindSpec::new("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false),
        // Installing one serves its kind (see `State::create`).
        KindSpec::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
        // What leader election holds: a conflict (409) on a stale resourceVersion is the protocol.
        KindSpec::new("coordination.k8s.io", "v1", "Lease", "leases", true),
    ];
    for k in kinds.iter_mut() {
        k.scale = matches!(k.kind.as_str(), "Deployment" | "ReplicaSet" | "StatefulSet");
    }
    kinds
}

/// The Volcano job kind, whose `spec.tasks[*].template` hold pod templates.
pub fn volcano_job() -> KindSpec {
    KindSpec::new("batch.volcano.sh", "v1alpha1", "Job", "jobs", true)
}

pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

pub fn resource_list(group_version: &str, kinds: &[KindSpec]) -> Value {
    let resources: Vec<Value> =
        kinds.iter().filter(|k| k.api_version() == group_version).flat_map(KindSpec::resources).collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

pub fn group_list(kinds: &[KindSpec]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for k in kinds.iter().filter(|k| !k.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) if !versions.contains(&k.version) => versions.push(k.version.clone()),
            Some(_) => {}
            None => groups.push((k.group.clone(), vec![k.version.clone()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let vs: Vec<Value> =
                versions.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
            json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}
