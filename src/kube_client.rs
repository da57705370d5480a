//! Connecting to the cluster as kubectl does: an explicit kubeconfig, else `KUBECONFIG` or
//! `~/.kube/config`, else the in-cluster service account.

use std::path::Path;

use anyhow::Context;
use kube::config::{KubeConfigOptions, Kubeconfig};

pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<kube::Client> {
    client(cluster_config(kubeconfig, context).await?)
}

/// The cluster's address, credentials and TLS settings, found as [`connect`] finds them.
pub async fn cluster_config(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<kube::Config> {
    let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .with_context(|| format!("using kubeconfig {}", path.display()))?
        }
        (None, Some(ctx)) => kube::Config::from_kubeconfig(&options)
            .await
            .with_context(|| format!("using context `{ctx}` of the default kubeconfig"))?,
        (None, None) => kube::Config::infer()
            .await
            .context("no cluster configuration: set --kubeconfig or KUBECONFIG, or run inside a cluster")?,
    };
    Ok(config)
}

/// A client for `config`, whose request queue and connections run on the calling runtime.
pub fn client(config: kube::Config) -> anyhow::Result<kube::Client> {
    let cluster = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).with_context(|| format!("creating a client for {cluster}"))?;
    tracing::info!(%cluster, "connecting to the cluster");
    Ok(client)
}
