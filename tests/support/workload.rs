//! Writing a workload into the emulator as a cluster's kubelets and scheduler would.

use kube_emulator::Emulator;

/// How a pod that no kubelet has reported on starts.
#[derive(Clone, Copy)]
pub enum PodStart {
    /// Straight to Running: one status update.
    Running,
    /// As on a busy cluster: the scheduler finds no room at first and says so twice (its first
    /// verdict and a retry that reads differently), then it goes Pending (containers being
    /// created), then Running: four status updates.
    AfterWaiting,
}

/// Starts the pods in `namespaces` that their controllers made and no kubelet has reported on,
/// Running since `at`.
pub fn start_new_pods(emu: &Emulator, namespaces: &[String], at: i64, how: PodStart) {
    for ns in namespaces {
        for pod in emu.list("v1", "Pod", Some(ns)) {
            if pod.pointer("/status/containerStatuses").is_some() {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            if let PodStart::AfterWaiting = how {
                emu.set_pod_unschedulable(ns, name, 0).expect("writing the workload");
                emu.set_pod_unschedulable(ns, name, 1).expect("writing the workload");
                emu.set_pod_pending(ns, name).expect("writing the workload");
            }
            emu.set_pod_running(ns, name, at).expect("writing the workload");
        }
    }
}
