#!/usr/bin/env python3
"""The training run of the profile the `dist` build is optimised with (see pgo/README.md).

Runs an instrumented sk-tracer through what it does in production, on a fresh control plane:
the watches' list and TLS streams through a create, update and delete of N Deployments (the
benchmark's load), `/readyz` and `/metrics` polled as a kubelet and Prometheus poll them, and
exports of the whole window as SimKube's client and as sk-tracer's own clients ask for them. The
process is then stopped with SIGTERM, so that it writes its profile as it exits.

Code this run does not reach is treated as cold by the optimised build: laid out apart from the
hot code and optimised for size. A path that matters in production belongs in this run.
"""
import argparse
import os
import signal
import threading
import time
import urllib.request

import cluster


def poll(ours, stop):
    # Probes and scrapes as a kubelet (every 10 s) and Prometheus (every 15-30 s) would send them,
    # quickened so that a short run still covers them.
    while not stop.is_set():
        for path in ("/readyz", "/healthz", "/metrics"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{ours.port}{path}", timeout=5).read()
            except Exception:
                pass
        stop.wait(2)


def post(ours, body, accept):
    return cluster._post(f"http://127.0.0.1:{ours.port}/export", body, timeout=60, accept=accept)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--reset", required=True, help="starts a fresh control plane (start.sh)")
    ap.add_argument("--stop", required=True, help="stops it afterwards (stop.sh)")
    ap.add_argument("--lock", default="/tmp/realk8s.lock")
    ap.add_argument("--ours", required=True, help="the instrumented sk-tracer")
    ap.add_argument("--profile-dir", required=True, help="where it writes its .profraw")
    ap.add_argument("--n", type=int, default=300)
    a = ap.parse_args()

    cp = cluster.ControlPlane(a)
    workdir = f"/tmp/sk-profile-{os.getpid()}"
    ours = None
    with cp.session():
        try:
            ours = cluster.Ours(cp, workdir, a.ours)
            ours.start({"LLVM_PROFILE_FILE": os.path.join(os.path.abspath(a.profile_dir), "sk-tracer-%p.profraw")})
            ours.wait_ready()
            stop = threading.Event()
            poller = threading.Thread(target=poll, args=(ours, stop), daemon=True)
            poller.start()
            load = cluster.Load(cp, a.n)
            load.namespaces()
            t0 = time.time()
            load.create()
            cp.wait_quiet(pods=a.n)
            load.update()
            cp.wait_quiet(pods=2 * a.n)
            load.delete()
            cp.wait_quiet(pods=0, replicasets=0, deployments=0)
            window = {"start_ts": int(t0 - 5), "end_ts": int(time.time() + 1)}
            for _ in range(3):
                # SimKube's client: no Accept of its own, its output path as the destination.
                body = dict(window, export_path="trace.out", filters={"excluded_namespaces": [], "excluded_labels": []})
                post(ours, body, "*/*")
                # Ours: the documented v1 format, in the response.
                post(ours, dict(window, format="v1"), "application/msgpack, application/json")
            stop.set()
            poller.join()
            ours.proc.send_signal(signal.SIGTERM)
            ours.proc.wait(60)
            print(f"profile written to {a.profile_dir} (exit {ours.proc.returncode}); logs in {workdir}")
        finally:
            if ours and ours.proc and ours.proc.poll() is None:
                ours.proc.kill()


if __name__ == "__main__":
    main()
