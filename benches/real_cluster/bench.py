#!/usr/bin/env python3
"""Side by side on a real control plane: SimKube's tracer, sk-tracer, and the two floors (kube's
watcher decoding metadata only; a lean one-thread reader of the same watch streams).

For each N: a fresh control plane; N Deployments created through `kubectl apply`, each then
image-updated (a rollout), then all deleted; then one export of the whole window. Per process:
CPU seconds (utime + stime from /proc, from its start to the end of the load, and the export's
on top), resident memory after the load and at peak, export time and bytes, watch events per
kind, and the ratios to SimKube's. See README.md beside this file."""

import argparse
import json
import signal
import sys
import time

from cluster import ControlPlane, Floor, Load, Ours, Sampler, SimKube, log, tempdir


def measure(cp, procs, n, workdir):
    """Runs the load once with `procs` watching; returns each one's figures."""
    load = Load(cp, n)
    load.namespaces()
    for p in procs:
        p.start()
    for p in procs:
        p.wait_ready()
    sampler = Sampler(procs)
    sampler.start()
    t0 = time.time()
    phases = {}
    load.create()
    phases["create_s"] = cp.wait_quiet(pods=n)
    load.update()
    phases["update_s"] = cp.wait_quiet(pods=2 * n)
    load.delete()
    phases["delete_s"] = cp.wait_quiet(pods=0, replicasets=0, deployments=0)
    time.sleep(2)
    out = {}
    for p in procs:
        u = p.usage()
        out[p.name] = {"cpu_s": u["cpu"], "rss_after": u["rss"]}
    for i, p in enumerate(procs):
        # Each export after the same quiet as the first: a tracer's export goes on costing CPU after
        # its response (writing, freeing), which the next one would otherwise pay for.
        if i:
            time.sleep(2)
        timing = {}
        start = time.time()
        body = p.export(t0 - 5, time.time() + 1, timing=timing)
        if body is not None:
            out[p.name].update(export_s=time.time() - start, export_bytes=len(body))
            out[p.name].update(export_headers_s=timing.get("headers_s"))
            with open(f"{workdir}/{p.name}-export.sktrace", "wb") as f:
                f.write(body)
        u = p.usage()
        out[p.name].update(peak_rss=u["peak_rss"], cpu_with_export_s=u["cpu"])
        if isinstance(p, Ours):
            out[p.name]["events"] = p.watch_events()
    sampler.done = True
    for p in procs:
        if isinstance(p, Floor):
            out[p.name]["events"] = p.report().get("events", {})
        else:
            p.stop()
    out["_load"] = dict(phases, n=n, wall_s=time.time() - t0)
    return out


def one_run(args, cp, n, run):
    workdir = tempdir(f"rc-bench-{n}-{run}-")
    log(f"N={n} run {run}: {workdir}")
    makers = {
        "simkube": lambda: SimKube(cp, workdir, args.simkube),
        "ours": lambda: Ours(cp, workdir, args.ours),
        "kube_floor": lambda: Floor(cp, workdir, args.kube_floor, "kube_floor"),
        "lean_floor": lambda: Floor(cp, workdir, args.lean_floor, "lean_floor"),
    }
    names = [k for k in makers if getattr(args, k)]
    for spec in args.also or []:
        name, binary = spec.split("=", 1)
        makers[name] = lambda name=name, binary=binary: Ours(cp, workdir, binary, name=name)
        names.append(name)
    result = {}
    if args.mode == "together":
        with cp.session():
            result = measure(cp, [makers[k]() for k in names], n, workdir)
    else:
        for k in names:
            with cp.session():
                r = measure(cp, [makers[k]()], n, workdir)
                result[k] = r[k]
                result.setdefault("_load_per_process", {})[k] = r["_load"]
    result["_workdir"] = workdir
    return result


def load_events(result):
    """The load's watch events per kind: the most any process counted of each (a process
    whose watch of a kind failed counts none of it)."""
    out = {}
    for name in ("lean_floor", "kube_floor", "ours"):
        for kind, n in (result.get(name, {}).get("events") or {}).items():
            out[kind] = max(out.get(kind, 0), n)
    return out


def fmt_range(values, f="{:.2f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f.format(lo) if f.format(lo) == f.format(hi) else f"{f.format(lo)}-{f.format(hi)}"


def summarise(results, out=sys.stdout):
    """One table per N over its runs, min-max."""
    by_n = {}
    for r in results:
        by_n.setdefault(r["n"], []).append(r["result"])
    for n, runs in sorted(by_n.items()):
        events = [sum(load_events(r).values()) for r in runs]
        kinds = ", ".join(f"{k} {fmt_range([load_events(r).get(k) for r in runs], '{:.0f}')}" for k in sorted(load_events(runs[0])))
        print(f"\nN={n}, {len(runs)} runs; watch events {fmt_range(events, '{:.0f}')} ({kinds})", file=out)
        print("| process | CPU s | / SimKube | CPU µs per event | RSS after MB | peak RSS MB | RSS / SimKube | export s | export / SimKube | export MB |", file=out)
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", file=out)
        others = sorted({k for r in runs for k in r} - {"simkube", "ours", "kube_floor", "lean_floor"} - {k for r in runs for k in r if k.startswith("_")})
        for name in ["simkube", "ours", *others, "kube_floor", "lean_floor"]:
            if not all(name in r for r in runs):
                continue
            get = lambda key: [r[name].get(key) for r in runs]
            ratio = lambda key: [r[name][key] / r["simkube"][key] if "simkube" in r and r["simkube"].get(key) and r[name].get(key) is not None else None for r in runs]
            per_event = [r[name]["cpu_s"] * 1e6 / max(1, sum(load_events(r).values())) for r in runs]
            mb = lambda key: [v / 2**20 if v is not None else None for v in get(key)]
            print(
                f"| {name} | {fmt_range(get('cpu_s'))} | {fmt_range(ratio('cpu_s'))} | {fmt_range(per_event, '{:.0f}')} "
                f"| {fmt_range(mb('rss_after'), '{:.1f}')} | {fmt_range(mb('peak_rss'), '{:.1f}')} | {fmt_range(ratio('peak_rss'))} "
                f"| {fmt_range(get('export_s'), '{:.3f}')} | {fmt_range(ratio('export_s'))} | {fmt_range(mb('export_bytes'), '{:.2f}')} |",
                file=out,
            )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig")
    ap.add_argument("--reset", help="command that starts the control plane fresh (start.sh); `--keep` is appended to restart with the data")
    ap.add_argument("--stop", help="command that stops it (stop.sh)")
    ap.add_argument("--lock", default="/tmp/realk8s.lock", help="held from each start to its stop")
    ap.add_argument("--simkube", help="SimKube's sk-tracer binary")
    ap.add_argument("--ours", help="sk-tracer binary")
    ap.add_argument("--kube-floor", help="the kube_floor bench binary")
    ap.add_argument("--lean-floor", help="the lean_floor bench binary")
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--mode", choices=["turn", "together"], default="turn", help="each process on its own fresh control plane, or all on one")
    ap.add_argument("--json", help="append each run's figures here as JSON lines")
    ap.add_argument("--also", action="append", metavar="NAME=BINARY", help="another sk-tracer build to run beside `ours` (its own row), e.g. to compare two builds on the same load")
    ap.add_argument("--summarise", nargs="*", help="only print the tables of these JSON-lines files")
    args = ap.parse_args()
    if args.summarise:
        results = [json.loads(l) for path in args.summarise for l in open(path) if l.strip()]
        summarise(results)
        return
    missing = [f"--{k}" for k in ("kubeconfig", "reset", "stop") if not getattr(args, k)]
    if missing:
        ap.error(f"the following arguments are required: {', '.join(missing)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    cp = ControlPlane(args)
    results = []
    for run in range(args.runs):
        for n in args.n:
            r = {"n": n, "run": run, "mode": args.mode, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "result": one_run(args, cp, n, run)}
            results.append(r)
            log(json.dumps(r))
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
    summarise(results)


if __name__ == "__main__":
    main()
