#!/usr/bin/env python3
"""Fault drills on a real control plane, judged against the apiserver's audit log.

Each drill starts the control plane fresh with an audit log of every create, update, patch and
delete of a Deployment (RequestResponse, so that the judge sees each one's generation), runs a
load of Deployments through kubectl around a fault, exports the whole window from each tracer
and judges it (judge.py): changes lost, duplicated, time error against the audit log, and the
time to recover (from the fault's end until a Deployment created at that moment is in the
tracer's export, polled every second).

Drills (`--drill`, several allowed; default all):
  A            issue-28 load: 120 created; apiserver SIGKILLed, restarted with its data
               (`--keep`); from 3 s after it is ready, all 120 image-updated and 60 deleted
  B            issue-28 load: 120 created; tracers SIGSTOPped through the updates and deletes
               and 20 s more, then SIGCONT
  apiserver    apiserver SIGKILLed mid-rollout (after half the updates), restarted at once with --keep
  compaction   tracers SIGSTOPped; updates and deletes; etcd compacted to its head; SIGCONT
  cm           controller-manager SIGKILLed mid-rollout and restarted
  checkpoint   sk-tracer (checkpoint every 5 s) SIGKILLed mid-rollout, restarted 30 changes later
  ha           two sk-tracers electing a leader, scheduled exports every 10 s; the leader
               SIGKILLed mid-rollout; the windows must be contiguous and, merged, complete
  shards       three namespace shards and one unsharded tracer on the same load; the shards'
               exports merged must be complete and equal the single tracer's
A, B, apiserver, compaction and cm run SimKube's tracer and sk-tracer side by side (both watch
the same control plane); the others are sk-tracer's own features."""

import argparse
import glob
import json
import os
import signal
import subprocess
import threading
import time

from cluster import ControlPlane, Load, Ours, SimKube, log, tempdir
from judge import judge_trace, read_trace, summary_line, trace_versions

N = 120
DELETED = 60
POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: RequestResponse
    verbs: ["create", "update", "patch", "delete"]
    resources: [{group: "apps", resources: ["deployments"]}]
  - level: None
"""
PROBE_NS = "probe"


class Probe(threading.Thread):
    """At the fault's end: creates Deployment `probe-<k>` and polls each tracer's export every
    second until it holds that name; the time to recover is the wait."""

    count = 0

    def __init__(self, cp, tracers, since):
        super().__init__(daemon=True)
        Probe.count += 1
        self.cp, self.tracers, self.since = cp, tracers, since
        self.name_ = f"probe-{Probe.count}"
        self.recovered = {}
        self.t0 = time.time()
        doc = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name_, "namespace": PROBE_NS},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": self.name_}},
                "template": {"metadata": {"labels": {"app": self.name_}}, "spec": {"containers": [{"name": "c", "image": "probe:1"}]}},
            },
        }
        for _ in range(60):
            if self.cp.kubectl("apply", "-f", "-", stdin=json.dumps(doc), check=False).returncode == 0:
                break
            time.sleep(0.5)
        self.start()

    def run(self):
        pending = list(self.tracers)
        while pending and time.time() - self.t0 < 120:
            for t in list(pending):
                try:
                    body = t.export(self.since - 5, time.time() + 1)
                except Exception:
                    body = None
                if body and self.name_.encode() in body:
                    self.recovered[t.name] = time.time() - self.t0
                    pending.remove(t)
            time.sleep(1)


class Drill:
    def __init__(self, args, cp, name):
        self.args, self.cp, self.name = args, cp, name
        self.dir = tempdir(f"rc-drill-{name}-")
        with open(f"{self.dir}/policy.yaml", "w") as f:
            f.write(POLICY)
        self.audit = f"{self.dir}/audit.log"
        self.apiserver_args = f"--audit-log-path={self.audit} --audit-policy-file={self.dir}/policy.yaml"
        self.load = Load(cp, N, batch=10)
        self.probes = []
        self.notes = []
        log(f"drill {name}: {self.dir}")

    def tracers(self, simkube=True):
        ts = [Ours(self.cp, self.dir, self.args.ours)]
        if simkube and self.args.simkube:
            ts.append(SimKube(self.cp, self.dir, self.args.simkube))
        return ts

    def begin(self, tracers):
        self.load.namespaces()
        self.cp.kubectl("create", "namespace", PROBE_NS)
        for t in tracers:
            t.start()
        for t in tracers:
            t.wait_ready()
        self.since = time.time()
        self.load.create()
        self.cp.wait_quiet(pods=N, quiet=False)

    def probe(self, tracers):
        self.probes.append(Probe(self.cp, tracers, self.since))

    def finish(self, tracers, settle=10):
        time.sleep(settle)
        for p in self.probes:
            p.join(timeout=120)
        self.until = time.time()
        rows = []
        for t in tracers:
            path = f"{self.dir}/{t.name}.sktrace"
            try:
                body = t.export(self.since - 5, self.until + 1)
                with open(path, "wb") as f:
                    f.write(body)
            except Exception as e:
                rows.append(self.row(t.name, None, notes=[f"export failed: {e}"]))
                continue
            rows.append(self.judged(t, path))
        for t in tracers:
            t.stop()
        return rows

    def relists(self, t):
        try:
            return t.metric("sk_tracer_relists_total")
        except Exception:
            return None

    def judged(self, t, path, notes=()):
        sk = self.args.ours if isinstance(t, Ours) else None
        r = judge_trace(self.audit, path, sk, since=self.since, until=self.until)
        log(summary_line(f"{self.name}/{t.name}", r))
        notes = list(notes)
        if isinstance(t, Ours):
            rl = self.relists(t)
            if rl is not None:
                notes.append(f"re-lists {rl:.0f}")
        return self.row(t.name, r, notes=notes)

    def row(self, tracer, r, notes=()):
        recovered = [p.recovered.get(tracer) for p in self.probes]
        return {
            "drill": self.name,
            "tracer": tracer,
            "judged": r,
            "recover_s": recovered,
            "notes": list(self.notes) + list(notes),
            "dir": self.dir,
        }


def drill_a(args, cp):
    d = Drill(args, cp, "A")
    with cp.session(d.apiserver_args):
        ts = d.tracers()
        d.begin(ts)
        cp.kill("apiserver")
        time.sleep(1)
        cp.start(keep=True)
        d.probe(ts)
        time.sleep(3)
        d.load.update()
        d.load.delete(range(DELETED))
        return d.finish(ts)


def drill_b(args, cp):
    d = Drill(args, cp, "B")
    with cp.session(d.apiserver_args):
        ts = d.tracers()
        d.begin(ts)
        for t in ts:
            t.signal(signal.SIGSTOP)
        d.load.update()
        d.load.delete(range(DELETED))
        time.sleep(20)
        for t in ts:
            t.signal(signal.SIGCONT)
        d.probe(ts)
        return d.finish(ts)


def drill_apiserver(args, cp):
    d = Drill(args, cp, "apiserver")
    with cp.session(d.apiserver_args):
        ts = d.tracers()
        d.begin(ts)

        def fault(done):
            if done == N // 2:
                cp.kill("apiserver")
                time.sleep(1)
                cp.start(keep=True)
                d.probe(ts)

        d.load.update(between=fault)
        d.load.delete(range(DELETED))
        return d.finish(ts)


def drill_compaction(args, cp):
    d = Drill(args, cp, "compaction")
    with cp.session(d.apiserver_args):
        ts = d.tracers()
        d.begin(ts)
        for t in ts:
            t.signal(signal.SIGSTOP)
        d.load.update()
        d.load.delete(range(DELETED))
        env = dict(os.environ, ETCDCTL_API="3")
        status = json.loads(subprocess.run(["etcdctl", "--endpoints=127.0.0.1:2379", "endpoint", "status", "-w", "json"], env=env, capture_output=True, text=True, check=True).stdout)
        rev = status[0]["Status"]["header"]["revision"]
        subprocess.run(["etcdctl", "--endpoints=127.0.0.1:2379", "compact", str(rev)], env=env, check=True, capture_output=True)
        d.notes.append(f"etcd compacted to revision {rev}")
        time.sleep(2)
        for t in ts:
            t.signal(signal.SIGCONT)
        d.probe(ts)
        return d.finish(ts)


def drill_cm(args, cp):
    d = Drill(args, cp, "cm")
    with cp.session(d.apiserver_args):
        ts = d.tracers()
        d.begin(ts)

        def fault(done):
            if done == N // 2:
                cp.kill("cm")
                time.sleep(1)
                cp.start(keep=True)
                d.probe(ts)

        d.load.update(between=fault)
        d.load.delete(range(DELETED))
        return d.finish(ts)


def drill_checkpoint(args, cp):
    d = Drill(args, cp, "checkpoint")
    with cp.session(d.apiserver_args):
        ours = Ours(cp, d.dir, args.ours, extra=f"checkpoint:\n  to: {d.dir}/checkpoints\n  every: 5s\n")
        d.begin([ours])

        def fault(done):
            if done == 40:
                ours.signal(signal.SIGKILL)
                ours.proc.wait()
                d.notes.append("SIGKILL after 40 updates, restarted after 80")
            if done == 80:
                ours.restart()
                ours.wait_ready()
                d.probe([ours])

        d.load.update(between=fault)
        d.load.delete(range(DELETED))
        return d.finish([ours])


def drill_ha(args, cp):
    d = Drill(args, cp, "ha")
    with cp.session(d.apiserver_args):
        exports = f"{d.dir}/exports"
        os.makedirs(exports, exist_ok=True)
        extra = lambda ident: (
            f"ha:\n  lease: {{name: sk-tracer-drill, namespace: default, duration: 4s, renew: 3s, retry: 1s}}\n  identity: {ident}\n"
            f"export:\n  localDir: {exports}\n"
            "exports:\n  - every: 10s\n    window: 10s\n    to: \"ha/{start}-{end}.sktrace\"\n"
        )
        pair = [Ours(cp, d.dir, args.ours, name=n, extra=extra(n)) for n in ("replica-a", "replica-b")]
        d.begin(pair)

        def role(t):
            try:
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{t.port}/readyz", timeout=2) as r:
                    return json.loads(r.read()).get("role")
            except Exception:
                return None

        killed = []

        def fault(done):
            if done == N // 2:
                leader = next((t for t in pair if role(t) == "leader"), None)
                if leader is None:
                    d.notes.append("no leader found to kill")
                    return
                leader.signal(signal.SIGKILL)
                killed.append(leader)
                d.notes.append(f"leader {leader.name} SIGKILLed mid-rollout")

        d.load.update(between=fault)
        d.load.delete(range(DELETED))
        time.sleep(25)
        d.until = time.time()
        for t in pair:
            t.stop()
        files = sorted(glob.glob(f"{exports}/ha/*.sktrace"), key=lambda p: int(os.path.basename(p).split("-")[0]))
        windows = [tuple(int(x) for x in os.path.basename(p)[: -len(".sktrace")].split("-")) for p in files]
        gaps = [(a[1], b[0]) for a, b in zip(windows, windows[1:]) if a[1] != b[0]]
        d.notes.append(f"{len(windows)} windows, {'contiguous' if not gaps else f'gaps {gaps}'}")
        merged = f"{d.dir}/merged.sktrace"
        subprocess.run([args.ours, "merge", *files, "--out", merged], check=True, capture_output=True)
        d.since = max(d.since, windows[0][0]) if windows else d.since
        r = judge_trace(d.audit, merged, args.ours, since=d.since, until=windows[-1][1] if windows else d.until)
        log(summary_line("ha/merged windows", r))
        return [d.row("ours (HA pair, merged windows)", r)]


def drill_shards(args, cp):
    d = Drill(args, cp, "shards")
    with cp.session(d.apiserver_args):
        shards = [Ours(cp, d.dir, args.ours, name=f"shard-{i}", extra=f"shard: {{index: {i}, count: 3}}\n") for i in range(3)]
        single = Ours(cp, d.dir, args.ours, name="single")
        everyone = shards + [single]
        d.begin(everyone)
        d.load.update()
        d.load.delete(range(DELETED))
        time.sleep(10)
        d.until = time.time()
        paths = {}
        for t in everyone:
            paths[t.name] = f"{d.dir}/{t.name}.sktrace"
            with open(paths[t.name], "wb") as f:
                f.write(t.export(d.since - 5, d.until + 1))
        for t in everyone:
            t.stop()
        merged = f"{d.dir}/merged.sktrace"
        subprocess.run([args.ours, "merge", *(paths[s.name] for s in shards), "--out", merged], check=True, capture_output=True)
        rows = []
        for name, path in (("ours (3 shards merged)", merged), ("ours (one tracer)", paths["single"])):
            r = judge_trace(d.audit, path, args.ours, since=d.since, until=d.until)
            log(summary_line(f"shards/{name}", r))
            rows.append(d.row(name, r))
        a, b = (_event_set(read_trace(p, args.ours)) for p in (merged, paths["single"]))
        rows[0]["notes"].append(f"merged vs one tracer: {len(a - b)} versions only in the merge, {len(b - a)} only in the single trace")
        return rows


def _event_set(events):
    """Every version a trace recorded, of every kind: (kind, namespace, name, ts, action, images)."""
    out = set()
    for kind in {o.get("kind") for _, applied, deleted in events for o in applied + deleted}:
        for key, versions in trace_versions(events, kind=kind).items():
            out.update((kind, *key, ts, action, imgs) for ts, action, imgs, _ in versions)
    return out


DRILLS = {"A": drill_a, "B": drill_b, "apiserver": drill_apiserver, "compaction": drill_compaction, "cm": drill_cm,
          "checkpoint": drill_checkpoint, "ha": drill_ha, "shards": drill_shards}


def markdown(rows):
    lines = ["| drill | tracer | lost | duplicated | time error max (s) | beyond 1 s | time to recover (s) | notes |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        r = row["judged"] or {}
        rec = ", ".join(f"{x:.1f}" if x is not None else "not seen" for x in row["recover_s"]) or "-"
        notes = list(row["notes"])
        if r.get("lost_by_change"):
            notes.insert(0, "lost: " + ", ".join(f"{n} {k}" for k, n in r["lost_by_change"].items()))
        if r:
            notes.append(f"{r['found']}/{r['expected']} found; time error range {r['time_error_range_s']}; extra versions {r['extra_versions']}")
        lines.append(f"| {row['drill']} | {row['tracer']} | {r.get('lost', '-')} | {r.get('duplicated', '-')} | {r.get('time_error_max_s', '-')} | {r.get('beyond_1s', '-')} | {rec} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--reset", required=True, help="command that starts the control plane fresh (start.sh); `--keep` is appended to restart with the data")
    ap.add_argument("--stop", required=True)
    ap.add_argument("--lock", default="/tmp/realk8s.lock")
    ap.add_argument("--ours", required=True, help="sk-tracer binary")
    ap.add_argument("--simkube", help="SimKube's sk-tracer binary (drills A, B, apiserver, compaction, cm)")
    ap.add_argument("--drill", action="append", choices=list(DRILLS))
    ap.add_argument("--json", help="append each row here as a JSON line")
    ap.add_argument("--markdown", nargs="*", help="only print the table of these JSON-lines files")
    args = ap.parse_args()
    if args.markdown:
        print(markdown([json.loads(l) for p in args.markdown for l in open(p) if l.strip()]))
        return
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(1)))
    cp = ControlPlane(args)
    rows = []
    for name in args.drill or list(DRILLS):
        try:
            new = DRILLS[name](args, cp)
        except Exception as e:
            log(f"drill {name} failed: {e}")
            new = [{"drill": name, "tracer": "-", "judged": None, "recover_s": [], "notes": [f"drill failed: {e}"], "dir": ""}]
        rows.extend(new)
        if args.json:
            with open(args.json, "a") as f:
                for r in new:
                    f.write(json.dumps(r, default=str) + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
