//! How fast the emulator streams watch events, and how it holds 100k objects: creates the objects,
//! lists them, then watches while they are all updated, counting events as a client receives them
//! (writes included); then replays those updates from the watch history to a second watch (the
//! emulator's streaming alone, as for a watcher resuming after a gap).
//!
//! `cargo run --release -p kube-emulator --example watch_throughput [objects]`

use std::time::Instant;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_emulator::Emulator;
use serde_json::json;

fn pod(i: usize, version: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": format!("p{i}"), "namespace": "bench", "labels": {"app": "bench", "v": version.to_string()}},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m"}}}]}})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let emu = Emulator::start().await?;
    let t = Instant::now();
    for i in 0..n {
        emu.create(pod(i, 0)).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("created {n} objects in {:.2}s", t.elapsed().as_secs_f64());

    let client = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<bytes::Bytes>>();
    let t = Instant::now();
    let list = client.get(format!("{}/api/v1/pods", emu.url()).parse()?).await?.into_body().collect().await?.to_bytes();
    let rv = serde_json::from_slice::<serde_json::Value>(&list)?["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    println!("listed {n} objects ({} MB) in {:.2}s", list.len() / 1_000_000, t.elapsed().as_secs_f64());

    let url = format!("{}/api/v1/pods?watch=1&resourceVersion={rv}", emu.url());
    let mut body = client.get(url.parse()?).await?.into_body();
    let t = Instant::now();
    for i in 0..n {
        emu.update(pod(i, 1)).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let written = t.elapsed().as_secs_f64();
    let (events, bytes) = count_events(&mut body, n).await?;
    let total = t.elapsed().as_secs_f64();
    println!(
        "{n} updates written in {written:.2}s; a watch received {events} events ({} MB) in {total:.2}s: {:.0} events/s",
        bytes / 1_000_000,
        events as f64 / total
    );

    let url = format!("{}/api/v1/pods?watch=1&resourceVersion={rv}", emu.url());
    let t = Instant::now();
    let mut body = client.get(url.parse()?).await?.into_body();
    let (events, bytes) = count_events(&mut body, n).await?;
    let total = t.elapsed().as_secs_f64();
    println!(
        "a watch from the resource version before the updates replayed {events} events ({} MB) in {total:.2}s: {:.0} events/s",
        bytes / 1_000_000,
        events as f64 / total
    );
    Ok(())
}

/// Reads a watch body until `n` events (lines) have arrived: the events and bytes read.
async fn count_events(body: &mut hyper::body::Incoming, n: usize) -> anyhow::Result<(usize, usize)> {
    let (mut events, mut bytes) = (0usize, 0usize);
    while events < n {
        let Some(frame) = body.frame().await else { break };
        if let Some(data) = frame?.data_ref() {
            events += data.iter().filter(|b| **b == b'\n').count();
            bytes += data.len();
        }
    }
    Ok((events, bytes))
}
