//! Floor (a) of the real-cluster comparison: what using kube's `watcher` alone costs on the
//! tracer's three watches (Deployments and Pods whole, ReplicaSets as metadata), each object
//! decoded as `metadata` only and dropped.
//!
//! `kube_floor` finds the cluster as kubectl does (`KUBECONFIG`), watches until SIGTERM or
//! SIGINT, then prints one JSON line: its CPU seconds and the watch events it saw per kind.
//! `benches/real_cluster/bench.py` runs it beside the tracers.

mod floor_report;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, PartialObjectMeta};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde::Deserialize;

/// A whole object as the apiserver sends it, decoded into its `metadata` alone: the rest of
/// the JSON is skipped, not built.
#[derive(Clone, Debug, Deserialize)]
struct MetadataOfWhole {
    metadata: ObjectMeta,
}

impl kube::Resource for MetadataOfWhole {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn resource(group: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
}

/// Counts every event of one watch until the process is told to stop.
async fn count<K>(api: Api<K>, seen: Arc<AtomicU64>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut stream = std::pin::pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitApply(_)) => {
                seen.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => eprintln!("kube_floor: watch error: {e}"),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let kinds = [("Deployment", true), ("Pod", true), ("ReplicaSet", false)];
    let counters: Vec<Arc<AtomicU64>> = kinds.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
    let deployments = resource("apps", "Deployment", "deployments");
    let pods = resource("", "Pod", "pods");
    let replicasets = resource("apps", "ReplicaSet", "replicasets");
    tokio::spawn(count(Api::<MetadataOfWhole>::all_with(client.clone(), &deployments), counters[0].clone()));
    tokio::spawn(count(Api::<MetadataOfWhole>::all_with(client.clone(), &pods), counters[1].clone()));
    tokio::spawn(count(
        Api::<PartialObjectMeta<DynamicObject>>::all_with(client.clone(), &replicasets),
        counters[2].clone(),
    ));
    floor_report::until_stopped().await?;
    let events = kinds.iter().zip(&counters).map(|((kind, _), c)| (kind.to_string(), c.load(Ordering::Relaxed)));
    floor_report::print(events);
    Ok(())
}
