//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and the strategic merge patch
//! that `kubectl apply` sends for built-in kinds (lists of named items merged by name,
//! `$setElementOrder/...`, `$patch: delete|replace`, `$retainKeys`, `$deleteFromPrimitiveList/...`).

use serde_json::{Map, Value};

use crate::status::ApiError;

/// The key that identifies items of a list in a strategic merge, by the list's field name.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "volumeMounts"
        | "env"
        | "imagePullSecrets"
        | "tasks" => Some("name"),
        "ports" => Some("containerPort"),
        "tolerations" => Some("key"),
        _ => None,
    }
}

pub fn apply(content_type: &str, target: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/json-patch+json" => {
            let p: json_patch::Patch = serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut doc = target.clone();
            json_patch::patch(&mut doc, &p).map_err(|e| ApiError::invalid(e.to_string()))?;
            Ok(doc)
        }
        "application/merge-patch+json" | "application/apply-patch+yaml" => {
            let p: Value = serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut doc = target.clone();
            json_patch::merge(&mut doc, &p);
            Ok(doc)
        }
        "application/strategic-merge-patch+json" => {
            let p: Value = serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
            Ok(strategic(target, &p))
        }
        other => Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"))),
    }
}

fn strategic(target: &Value, patch: &Value) -> Value {
    let (Some(t), Some(p)) = (target.as_object(), patch.as_object()) else {
        return patch.clone();
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        return Value::Object(replaced);
    }
    let mut out: Map<String, Value> = t.clone();
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(gone)) = (out.get_mut(field), v) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        // Other directives ($setElementOrder/..., $retainKeys, $patch) are read where they apply.
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(Value::Object(_)), Value::Object(_)) => strategic(&out[k], v),
            (Some(Value::Array(cur)), Value::Array(items)) => match merge_key(k) {
                Some(key) => merge_list(cur, items, key, p.get(&format!("$setElementOrder/{k}"))),
                None => v.clone(),
            },
            _ => strip_directives(v),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn merge_list(current: &[Value], patch: &[Value], key: &str, order: Option<&Value>) -> Value {
    let mut out: Vec<Value> = current.to_vec();
    for item in patch {
        let id = item.get(key);
        let pos = out.iter().position(|c| c.get(key).is_some() && c.get(key) == id);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => out[i] = strategic(&out[i], item),
            (None, false) => out.push(strip_directives(item)),
        }
    }
    if let Some(Value::Array(order)) = order {
        let rank = |v: &Value| order.iter().position(|o| o.get(key) == v.get(key)).unwrap_or(usize::MAX);
        out.sort_by_key(rank);
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let target = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}});
        let patch = json!({"spec": {"replicas": 2, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "$patch": "delete"}, {"name": "c", "image": "c:1"}]}}}});
        let out = apply("application/strategic-merge-patch+json", &target, patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["replicas"], 2);
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:2"}, {"name": "c", "image": "c:1"}])
        );
    }

    #[test]
    fn strategic_directives() {
        let target = json!({"finalizers": ["a", "b", "c"], "spec": {"x": 1, "y": 2}});
        let patch = json!({"$deleteFromPrimitiveList/finalizers": ["b"], "spec": {"$retainKeys": ["x"], "x": 3}});
        let out = apply("application/strategic-merge-patch+json", &target, patch.to_string().as_bytes()).unwrap();
        assert_eq!(out, json!({"finalizers": ["a", "c"], "spec": {"x": 3}}));
    }

    #[test]
    fn merge_and_json_patches() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let out = apply("application/merge-patch+json", &target, br#"{"metadata": {"labels": {"a": null, "c": "3"}}}"#)
            .unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
        let out = apply(
            "application/json-patch+json",
            &target,
            br#"[{"op": "replace", "path": "/metadata/labels/a", "value": "9"}]"#,
        )
        .unwrap();
        assert_eq!(out["metadata"]["labels"]["a"], "9");
        assert_eq!(apply("text/plain", &target, b"").unwrap_err().code, 415);
    }
}
