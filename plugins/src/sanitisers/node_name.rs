//! `node-name`: drops `spec.nodeName` from pods and pod templates. Placement belongs to the
//! scheduler of the cluster the trace is replayed in.

use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};

use super::no_options;

struct NodeName;

fn drop_node_name(spec_holder: &mut Value) {
    if let Some(spec) = spec_holder.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("nodeName");
    }
}

impl Sanitiser for NodeName {
    fn sanitise_object(&self, obj: &mut Value) {
        let is_pod = obj.get("kind").and_then(Value::as_str) == Some("Pod")
            && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
        if is_pod {
            drop_node_name(obj);
        }
    }

    fn sanitise_template(&self, template: &mut Value) {
        drop_node_name(template);
    }

    fn touches(&self) -> Option<&[&[&str]]> {
        Some(&[&["apiVersion"], &["kind"], &["spec"]])
    }
}

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    no_options("node-name", options)?;
    Ok(Box::new(NodeName))
}

inventory::submit! {
    SanitiserPlugin { name: "node-name", describe: "drops spec.nodeName from pods and pod templates", build }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitisers::test_support::pod;
    use serde_json::json;

    #[test]
    fn drops_node_name_from_pods_and_templates_only() {
        let mut p = pod("web-7d9f8b-abcde", "node-1", "7d9f8b");
        NodeName.sanitise_object(&mut p);
        assert!(p["spec"].get("nodeName").is_none());
        let mut other = json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"nodeName": "keep"}});
        NodeName.sanitise_object(&mut other);
        assert_eq!(other["spec"]["nodeName"], "keep");
        let mut t = json!({"spec": {"nodeName": "n", "containers": []}});
        NodeName.sanitise_template(&mut t);
        assert_eq!(t, json!({"spec": {"containers": []}}));
    }
}
