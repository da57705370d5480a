//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl's generators
//! (`kubectl create deployment ...`) and other client-go typed clients send them, decoded with
//! k8s-pb's messages into the JSON the apiserver would store. Answers stay JSON, which those
//! clients accept.
//!
//! A body is the prefix `k8s\0`, then a `runtime.Unknown` whose `raw` holds the kind's own message.
//! Go's protobuf encoding writes every non-pointer field, zero or not, where its JSON leaves zero
//! `omitempty` fields out: `fields.rs` says, for each message, which fields keep their zero, so
//! that the JSON here is the JSON kubectl would have sent for the same object.

use std::collections::BTreeMap;

use base64::Engine;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{FieldsV1, Time};
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use k8s_pb::{api, Resource};
use prost::Message;
use serde_json::{Map, Value};

use crate::status::ApiError;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// Each message's JSON: its fields by their JSON names, as Go's `encoding/json` writes them.
trait ToJson {
    fn to_json(&self) -> Result<Value, ApiError>;

    /// Whether Go's JSON leaves the value out of an `omitempty` field.
    fn is_zero(&self) -> bool {
        false
    }
}

/// How a field of each shape goes into its message's JSON object.
trait Field {
    /// `keep`: the field is kept when zero (a Go pointer, or a field without `omitempty`).
    fn put(&self, name: &str, keep: bool, out: &mut Map<String, Value>) -> Result<(), ApiError>;
}

impl<T: ToJson> Field for Option<T> {
    fn put(&self, name: &str, keep: bool, out: &mut Map<String, Value>) -> Result<(), ApiError> {
        match self {
            Some(v) if keep || !v.is_zero() => {
                out.insert(name.to_string(), v.to_json()?);
            }
            _ => {}
        }
        Ok(())
    }
}

impl<T: ToJson> Field for Vec<T> {
    fn put(&self, name: &str, keep: bool, out: &mut Map<String, Value>) -> Result<(), ApiError> {
        if !self.is_empty() {
            let items = self.iter().map(ToJson::to_json).collect::<Result<_, _>>()?;
            out.insert(name.to_string(), Value::Array(items));
        } else if keep {
            // Protobuf has no empty list: Go decodes it as nil, which a field without `omitempty`
            // writes as null.
            out.insert(name.to_string(), Value::Null);
        }
        Ok(())
    }
}

impl<T: ToJson> Field for BTreeMap<String, T> {
    fn put(&self, name: &str, keep: bool, out: &mut Map<String, Value>) -> Result<(), ApiError> {
        if !self.is_empty() {
            let entries = self.iter().map(|(k, v)| Ok((k.clone(), v.to_json()?))).collect::<Result<_, ApiError>>()?;
            out.insert(name.to_string(), Value::Object(entries));
        } else if keep {
            out.insert(name.to_string(), Value::Null);
        }
        Ok(())
    }
}

/// A Go embedded struct (`json:",inline"`): its fields go into its parent's object.
fn inline<T: ToJson>(value: &Option<T>, out: &mut Map<String, Value>) -> Result<(), ApiError> {
    if let Some(Value::Object(fields)) = value.as_ref().map(ToJson::to_json).transpose()? {
        out.extend(fields);
    }
    Ok(())
}

impl ToJson for String {
    fn to_json(&self) -> Result<Value, ApiError> {
        Ok(Value::String(self.clone()))
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Result<Value, ApiError> {
        Ok(Value::Bool(*self))
    }

    fn is_zero(&self) -> bool {
        !*self
    }
}

impl ToJson for i32 {
    fn to_json(&self) -> Result<Value, ApiError> {
        Ok((*self).into())
    }

    fn is_zero(&self) -> bool {
        *self == 0
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Result<Value, ApiError> {
        Ok((*self).into())
    }

    fn is_zero(&self) -> bool {
        *self == 0
    }
}

/// `bytes` (a Secret's data, a ConfigMap's binaryData): base64 in JSON, as Go writes `[]byte`.
impl ToJson for Vec<u8> {
    fn to_json(&self) -> Result<Value, ApiError> {
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(self)))
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl ToJson for Quantity {
    fn to_json(&self) -> Result<Value, ApiError> {
        // Go decodes a Quantity without its string as zero, written "0".
        Ok(Value::String(self.string.clone().unwrap_or_else(|| "0".into())))
    }
}

impl ToJson for IntOrString {
    fn to_json(&self) -> Result<Value, ApiError> {
        match self.r#type.unwrap_or(0) {
            0 => Ok(self.int_val.unwrap_or(0).into()),
            1 => Ok(Value::String(self.str_val.clone().unwrap_or_default())),
            other => Err(malformed(format!("an IntOrString of type {other} (0 is an int, 1 a string)"))),
        }
    }
}

/// The Unix time of Go's zero `time.Time`, January 1 of year 1.
const GO_ZERO_TIME: i64 = -62_135_596_800;

impl ToJson for Time {
    fn to_json(&self) -> Result<Value, ApiError> {
        // Go writes an empty Time message for its zero time, and the JSON of that is null
        // (`creationTimestamp: null` in every new object's metadata).
        let seconds = match self.seconds {
            None | Some(GO_ZERO_TIME) if self.nanos.unwrap_or(0) == 0 => return Ok(Value::Null),
            s => s.unwrap_or(0),
        };
        // metav1.Time is written in whole seconds, UTC.
        rfc3339(seconds).map(Value::String)
    }
}

impl ToJson for FieldsV1 {
    fn to_json(&self) -> Result<Value, ApiError> {
        match self.raw.as_deref() {
            None | Some([]) => Ok(Value::Null),
            Some(raw) => {
                serde_json::from_slice(raw).map_err(|e| malformed(format!("managedFields[].fieldsV1 is not JSON: {e}")))
            }
        }
    }
}

/// `seconds` since 1970 as `2006-01-02T15:04:05Z`.
fn rfc3339(seconds: i64) -> Result<String, ApiError> {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days: the proleptic Gregorian calendar for any day.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return Err(malformed(format!("a time {seconds}s from 1970, outside the years 0 to 9999")));
    }
    let (h, m, s) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    Ok(format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"))
}

/// Implements `ToJson` for each message from its fields: `name: "jsonName"`, `name: "jsonName"
/// keep` (kept when zero) or `name: inline`. The struct pattern names every field, so a k8s-pb
/// upgrade that adds one fails to build here until fields.rs is regenerated.
macro_rules! messages {
    ($($($segment:ident)::+ { $($field:ident : $json:tt $($keep:ident)?),* $(,)? })*) => {
        $(impl $crate::protobuf::ToJson for $($segment)::+ {
            fn to_json(&self) -> Result<::serde_json::Value, $crate::status::ApiError> {
                let $($segment)::+ { $($field),* } = self;
                let mut out = ::serde_json::Map::new();
                $(messages!(@field out, $field, $json $($keep)?);)*
                Ok(::serde_json::Value::Object(out))
            }
        })*
    };
    (@field $out:ident, $value:ident, inline) => {
        $crate::protobuf::inline($value, &mut $out)?
    };
    (@field $out:ident, $value:ident, $json:literal) => {
        $crate::protobuf::Field::put($value, $json, false, &mut $out)?
    };
    (@field $out:ident, $value:ident, $json:literal keep) => {
        $crate::protobuf::Field::put($value, $json, true, &mut $out)?
    };
}

mod fields;

type Decoder = fn(&[u8]) -> Result<Value, ApiError>;

fn decode_as<M: Message + Default + ToJson>(raw: &[u8]) -> Result<Value, ApiError> {
    M::decode(raw).map_err(|e| malformed(format!("{e}")))?.to_json()
}

const fn kind<M: Resource + Message + Default + ToJson>() -> (&'static str, &'static str, Decoder) {
    (M::API_VERSION, M::KIND, decode_as::<M>)
}

/// The kinds a protobuf body may hold: the emulator's built-in kinds. Custom resources have no
/// protobuf form, as with the apiserver.
const KINDS: &[(&str, &str, Decoder)] = &[
    kind::<api::core::v1::Pod>(),
    kind::<api::core::v1::Namespace>(),
    kind::<api::core::v1::ConfigMap>(),
    kind::<api::core::v1::Secret>(),
    kind::<api::core::v1::Service>(),
    kind::<api::core::v1::ServiceAccount>(),
    kind::<api::core::v1::ResourceQuota>(),
    kind::<api::apps::v1::Deployment>(),
    kind::<api::apps::v1::ReplicaSet>(),
    kind::<api::apps::v1::StatefulSet>(),
    kind::<api::apps::v1::DaemonSet>(),
    kind::<api::batch::v1::Job>(),
    kind::<api::batch::v1::CronJob>(),
    kind::<api::rbac::v1::ClusterRole>(),
    kind::<api::rbac::v1::ClusterRoleBinding>(),
    kind::<api::rbac::v1::Role>(),
    kind::<api::rbac::v1::RoleBinding>(),
    kind::<api::networking::v1::Ingress>(),
    kind::<api::policy::v1::PodDisruptionBudget>(),
    kind::<api::scheduling::v1::PriorityClass>(),
];

/// Whether a request's `Content-Type` is Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(MEDIA_TYPE)
}

/// A protobuf body sent to an endpoint that takes `kind` in `api_version`, as the JSON object the
/// apiserver would store (before it sets its own fields).
pub fn decode(body: &[u8], api_version: &str, kind: &str) -> Result<Value, ApiError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(ApiError::bad_request(format!(
            "the body is not Kubernetes protobuf: it does not start with the 4 bytes \"k8s\\x00\" (Content-Type: {MEDIA_TYPE})"
        )));
    };
    let unknown = Unknown::decode(envelope).map_err(|e| malformed(format!("runtime.Unknown: {e}")))?;
    if let Some(encoding) = unknown.content_encoding.as_deref().filter(|e| !e.is_empty()) {
        return Err(unsupported(format!("the content encoding {encoding:?} is not supported")));
    }
    if let Some(inner) = unknown.content_type.as_deref().filter(|t| !t.is_empty() && !is_protobuf(t)) {
        return Err(unsupported(format!("a runtime.Unknown holding {inner:?} is not supported")));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let (sent_version, sent_kind) = (type_meta.api_version.unwrap_or_default(), type_meta.kind.unwrap_or_default());
    if (!sent_version.is_empty() || !sent_kind.is_empty()) && (sent_version != api_version || sent_kind != kind) {
        return Err(ApiError::bad_request(format!(
            "the body is a {sent_kind} in {sent_version}, but this endpoint takes a {kind} in {api_version}"
        )));
    }
    let Some((_, _, decoder)) = KINDS.iter().find(|(v, k, _)| *v == api_version && *k == kind) else {
        return Err(unsupported(format!(
            "protobuf bodies are not supported for {kind} in {api_version}: send application/json"
        )));
    };
    let mut object = decoder(unknown.raw.as_deref().unwrap_or_default())?;
    if let Some(fields) = object.as_object_mut() {
        fields.insert("apiVersion".into(), api_version.into());
        fields.insert("kind".into(), kind.into());
    }
    Ok(object)
}

fn malformed(what: String) -> ApiError {
    ApiError::bad_request(format!("the protobuf body is malformed: {what}"))
}

fn unsupported(message: String) -> ApiError {
    ApiError::new(415, "UnsupportedMediaType", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use k8s_pb::apimachinery::pkg::runtime::TypeMeta;
    use serde_json::json;

    fn body<M: Resource + Message>(message: &M) -> Vec<u8> {
        envelope(M::API_VERSION, M::KIND, message.encode_to_vec())
    }

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = Unknown {
            type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        [MAGIC, &unknown.encode_to_vec()].concat()
    }

    /// ObjectMeta as Go writes it: every non-pointer field, zero or not.
    fn meta(name: &str, namespace: &str) -> Option<ObjectMeta> {
        Some(ObjectMeta {
            name: Some(name.into()),
            generate_name: Some(String::new()),
            namespace: Some(namespace.into()),
            self_link: Some(String::new()),
            uid: Some(String::new()),
            resource_version: Some(String::new()),
            generation: Some(0),
            creation_timestamp: Some(Time::default()),
            labels: BTreeMap::from([("app".into(), "web".into())]),
            ..Default::default()
        })
    }

    #[test]
    fn a_deployment_decodes_to_the_json_kubectl_would_send() {
        use api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
        use api::core::v1::{Container, ContainerPort, PodSpec, PodTemplateSpec, ResourceRequirements};
        let container = Container {
            name: Some("web".into()),
            image: Some("nginx:1.27".into()),
            working_dir: Some(String::new()),
            ports: vec![ContainerPort {
                name: Some(String::new()),
                host_port: Some(0),
                container_port: Some(80),
                protocol: Some(String::new()),
                host_ip: Some(String::new()),
            }],
            resources: Some(ResourceRequirements::default()),
            stdin: Some(false),
            tty: Some(false),
            ..Default::default()
        };
        let deployment = Deployment {
            metadata: meta("web", "default"),
            spec: Some(DeploymentSpec {
                replicas: Some(0),
                selector: None,
                template: Some(PodTemplateSpec {
                    metadata: meta("", ""),
                    spec: Some(PodSpec {
                        containers: vec![container],
                        host_network: Some(false),
                        ..Default::default()
                    }),
                }),
                strategy: Some(DeploymentStrategy::default()),
                min_ready_seconds: Some(0),
                paused: Some(false),
                ..Default::default()
            }),
            status: Some(Default::default()),
        };
        let decoded = decode(&body(&deployment), "apps/v1", "Deployment").unwrap();
        assert_eq!(
            decoded,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    // A pointer: zero is kept, as the apiserver would not default it to 1.
                    "replicas": 0,
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}]}
                    },
                    "strategy": {}
                },
                "status": {}
            })
        );
    }

    #[test]
    fn special_types_are_written_as_in_the_json_api() {
        use api::core::v1::{ConfigMap, Secret, ServicePort};
        let secret = Secret {
            metadata: meta("s", "default"),
            data: BTreeMap::from([("k".into(), b"hello".to_vec())]),
            r#type: Some("Opaque".into()),
            immutable: Some(false),
            ..Default::default()
        };
        let decoded = decode(&body(&secret), "v1", "Secret").unwrap();
        assert_eq!(decoded["data"], json!({"k": "aGVsbG8="}));
        assert_eq!(decoded["immutable"], json!(false));
        assert_eq!(decoded["type"], json!("Opaque"));

        let port = |t, i, s: &str| ServicePort {
            target_port: Some(IntOrString { r#type: Some(t), int_val: Some(i), str_val: Some(s.into()) }),
            ..Default::default()
        };
        assert_eq!(port(0, 8080, "").to_json().unwrap(), json!({"targetPort": 8080}));
        assert_eq!(port(1, 0, "http").to_json().unwrap(), json!({"targetPort": "http"}));
        assert_eq!(port(7, 0, "").to_json().unwrap_err().code, 400);

        assert_eq!(Quantity { string: Some("250m".into()) }.to_json().unwrap(), json!("250m"));
        assert_eq!(Quantity::default().to_json().unwrap(), json!("0"));

        let time = |seconds| Time { seconds, nanos: Some(0) }.to_json();
        assert_eq!(time(Some(0)).unwrap(), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time(Some(1_709_251_199)).unwrap(), json!("2024-02-29T23:59:59Z"));
        assert_eq!(time(Some(-86_400 * 366)).unwrap(), json!("1968-12-31T00:00:00Z"));
        assert_eq!(time(Some(253_402_300_799)).unwrap(), json!("9999-12-31T23:59:59Z"));
        assert_eq!(time(None).unwrap(), Value::Null);
        assert_eq!(time(Some(GO_ZERO_TIME)).unwrap(), Value::Null);
        assert_eq!(time(Some(253_402_300_800)).unwrap_err().code, 400);
        assert_eq!(time(Some(i64::MIN)).unwrap_err().code, 400);

        let cm = ConfigMap {
            metadata: meta("c", "d"),
            binary_data: BTreeMap::from([("b".into(), vec![0, 255])]),
            ..Default::default()
        };
        assert_eq!(decode(&body(&cm), "v1", "ConfigMap").unwrap()["binaryData"], json!({"b": "AP8="}));
    }

    #[test]
    fn lists_without_omitempty_are_null_when_empty_and_inline_structs_are_flattened() {
        use api::core::v1::{ConfigMapVolumeSource, LocalObjectReference, Volume, VolumeSource};
        use api::rbac::v1::{ClusterRole, PolicyRule};
        let role = ClusterRole { metadata: meta("r", ""), ..Default::default() };
        assert_eq!(decode(&body(&role), "rbac.authorization.k8s.io/v1", "ClusterRole").unwrap()["rules"], Value::Null);
        let rule = PolicyRule { verbs: vec!["get".into()], resources: vec!["pods".into()], ..Default::default() };
        assert_eq!(rule.to_json().unwrap(), json!({"verbs": ["get"], "resources": ["pods"]}));

        let volume = Volume {
            name: Some("v".into()),
            volume_source: Some(VolumeSource {
                config_map: Some(ConfigMapVolumeSource {
                    local_object_reference: Some(LocalObjectReference { name: Some("cm".into()) }),
                    default_mode: Some(0o644),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        assert_eq!(volume.to_json().unwrap(), json!({"name": "v", "configMap": {"name": "cm", "defaultMode": 420}}));
    }

    #[test]
    fn a_body_without_the_prefix_is_a_bad_request() {
        let mut wrong = body(&api::core::v1::Namespace::default());
        wrong[3] = b'!';
        let e = decode(&wrong, "v1", "Namespace").unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert!(e.message.contains("k8s\\x00"), "{}", e.message);
        assert_eq!(decode(b"{\"kind\":\"Namespace\"}", "v1", "Namespace").unwrap_err().code, 400);
        assert_eq!(decode(b"", "v1", "Namespace").unwrap_err().code, 400);
    }

    #[test]
    fn malformed_protobuf_is_a_bad_request() {
        // A length that runs past the end of the body.
        let e = decode(b"k8s\0\x0a\x7f\x0a", "v1", "Namespace").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("malformed"), "{}", e.message);
        // A well-formed envelope whose message is not.
        let e = decode(&envelope("v1", "Namespace", vec![0x0a, 0x05, 0x01]), "v1", "Namespace").unwrap_err();
        assert_eq!(e.code, 400);
        // Every truncation of a good body fails cleanly or decodes; none panics.
        let good = body(&api::core::v1::Namespace { metadata: meta("n", ""), ..Default::default() });
        for end in 0..good.len() {
            let _ = decode(&good[..end], "v1", "Namespace");
        }
    }

    #[test]
    fn a_kind_other_than_the_endpoints_or_without_protobuf_is_refused() {
        let ns = body(&api::core::v1::Namespace { metadata: meta("n", ""), ..Default::default() });
        let e = decode(&ns, "v1", "ConfigMap").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("Namespace") && e.message.contains("ConfigMap"), "{}", e.message);

        let e = decode(&envelope("batch.volcano.sh/v1alpha1", "Job", vec![]), "batch.volcano.sh/v1alpha1", "Job")
            .unwrap_err();
        assert_eq!((e.code, e.reason), (415, "UnsupportedMediaType"));
        assert!(e.message.contains("Job in batch.volcano.sh/v1alpha1"), "{}", e.message);

        let mut gzipped = Unknown::decode(&ns[4..]).unwrap();
        gzipped.content_encoding = Some("gzip".into());
        let e = decode(&[MAGIC, &gzipped.encode_to_vec()].concat(), "v1", "Namespace").unwrap_err();
        assert_eq!(e.code, 415);
        assert!(e.message.contains("gzip"), "{}", e.message);
    }

    #[test]
    fn every_kind_decodes_an_empty_message() {
        for (api_version, kind, _) in KINDS {
            let mut decoded = decode(&envelope(api_version, kind, vec![]), api_version, kind).unwrap();
            let fields = decoded.as_object_mut().unwrap();
            assert_eq!(
                (fields.remove("apiVersion"), fields.remove("kind")),
                (Some(json!(api_version)), Some(json!(kind)))
            );
            // Only lists without `omitempty` (a ClusterRole's rules) are there, as null.
            assert!(fields.values().all(Value::is_null), "{kind}: {fields:?}");
        }
    }

    #[test]
    fn the_media_type_is_matched_with_parameters() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf("application/vnd.kubernetes.protobuf; charset=utf-8"));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf("application/vnd.kubernetes.protobuf+extra"));
    }
}
