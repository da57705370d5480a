#!/usr/bin/env python3
"""Judges traces against the apiserver's audit log, the ground truth of what happened.

Every create, every update or patch that changed a Deployment's spec (its `metadata.generation`
went up, read from the audit event's response object; without one, a request from kubectl), and
every delete should appear in the trace as a version of that Deployment (or its deletion) at the
second the audit log says it happened, within 1 s. Per trace:

- lost: changes with no version of that content (or no deletion) in the trace;
- duplicated: versions recorded again with nothing changed (the same object twice in a row),
  or a second deletion;
- time error: trace second minus the audit second, over the changes found (max |error|, and how
  many are beyond 1 s);
- extra: versions that match no change but differ from the one before (status or metadata
  only; SimKube keeps status, so it records the controllers' writes too).

Traces: sk-tracer's files are read through `sk-tracer inspect --json` (`--sk-tracer BIN`);
SimKube's (or any msgpack trace, v1 or simkube-v2) with Python's msgpack."""

import argparse
import datetime
import json
import math
import subprocess
import sys


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def images(obj):
    spec = (obj or {}).get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return tuple(c.get("image") for c in containers)


def audit_changes(path, kind_resource="deployments", since=None, until=None, namespaces=None):
    """The changes the apiserver made to objects of `kind_resource`, in order, per object:
    {(namespace, name): [(unix time, "apply"|"delete", images or None)]}."""
    changes, generation = {}, {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            ref = e.get("objectRef") or {}
            if e.get("stage") != "ResponseComplete" or ref.get("resource") != kind_resource or ref.get("subresource"):
                continue
            code = (e.get("responseStatus") or {}).get("code", 200)
            verb = e.get("verb")
            if code >= 300 or verb not in ("create", "update", "patch", "delete"):
                continue
            key = (ref.get("namespace", ""), ref.get("name") or ((e.get("responseObject") or {}).get("metadata") or {}).get("name"))
            if namespaces and not any(key[0].startswith(p) for p in namespaces):
                continue
            t = parse_time(e["stageTimestamp"])
            resp = e.get("responseObject") or {}
            gen = (resp.get("metadata") or {}).get("generation")
            if verb == "delete":
                change = (t, "delete", None)
                generation.pop(key, None)
            elif verb == "create":
                change = (t, "apply", images(resp) or None)
                generation[key] = gen
            else:
                if gen is not None:
                    changed = gen != generation.get(key)
                else:
                    changed = (e.get("userAgent") or "").startswith("kubectl")
                generation[key] = gen
                if not changed:
                    continue
                change = (t, "apply", images(resp) or None)
            if (since is not None and t < since) or (until is not None and t >= until):
                continue
            changes.setdefault(key, []).append(change)
    return changes


def read_trace(path, sk_tracer=None):
    """The trace's events as [(ts, applied objects, deleted objects)]."""
    if sk_tracer:
        out = subprocess.run([sk_tracer, "inspect", "--json", path], capture_output=True, text=True, check=True).stdout
        doc = json.loads(out)
    else:
        import msgpack

        with open(path, "rb") as f:
            doc = msgpack.unpackb(f.read(), strict_map_key=False, raw=False)
    if isinstance(doc, list):
        events = doc[1]
    else:
        events = doc["events"]
    return [(e["ts"], e.get("applied_objs") or [], e.get("deleted_objs") or []) for e in events]


def trace_versions(events, kind="Deployment", namespaces=None):
    """Per object, what the trace recorded, in order: [(ts, "apply"|"delete", images, object)]."""
    out = {}
    for ts, applied, deleted in events:
        for action, objs in (("apply", applied), ("delete", deleted)):
            for o in objs:
                if o.get("kind") != kind:
                    continue
                m = o.get("metadata") or {}
                key = (m.get("namespace", ""), m.get("name"))
                if namespaces and not any(key[0].startswith(p) for p in namespaces):
                    continue
                out.setdefault(key, []).append((ts, action, images(o) if action == "apply" else None, o))
    return out


def judge(expected, recorded, first_ts=None):
    """Matches each expected change to the first later recorded version of the same content."""
    lost, matched, errors, duplicated, extra = [], 0, [], [], 0
    for key in sorted(set(expected) | set(recorded), key=str):
        exp, rec = expected.get(key, []), recorded.get(key, [])
        used = [False] * len(rec)
        at = 0
        for t, action, imgs in exp:
            found = None
            for j in range(at, len(rec)):
                if not used[j] and rec[j][1] == action and (action == "delete" or imgs is None or rec[j][2] == imgs):
                    found = j
                    break
            if found is None:
                lost.append({"object": "/".join(key), "change": action, "images": imgs, "at": t})
                continue
            used[found] = True
            at = found + 1
            matched += 1
            # A change before the trace's first event is part of its initial state.
            if first_ts is not None and rec[found][0] == first_ts and t < first_ts:
                continue
            errors.append(rec[found][0] - math.floor(t))
        for j, r in enumerate(rec):
            if used[j]:
                continue
            prev = rec[j - 1] if j > 0 else None
            if prev and prev[1] == r[1] and (r[1] == "delete" or _same(prev[3], r[3])):
                duplicated.append({"object": "/".join(key), "change": r[1], "images": r[2], "ts": r[0]})
            else:
                extra += 1
    beyond = [e for e in errors if abs(e) > 1]
    return {
        "expected": sum(len(v) for v in expected.values()),
        "found": matched,
        "lost": len(lost),
        "duplicated": len(duplicated),
        "extra_versions": extra,
        "time_error_max_s": max((abs(e) for e in errors), default=0),
        "time_error_range_s": [min(errors, default=0), max(errors, default=0)],
        "beyond_1s": len(beyond),
        "lost_detail": lost[:20],
        "lost_by_change": _count(lost),
        "duplicated_detail": duplicated[:10],
    }


def _count(items):
    out = {}
    for i in items:
        k = f"{i['change']} {','.join(i['images'] or [])}".strip()
        out[k] = out.get(k, 0) + 1
    return out


def _volatile_free(o):
    o = json.loads(json.dumps(o, default=str))
    m = o.get("metadata") or {}
    for k in ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp"):
        m.pop(k, None)
    return o


def _same(a, b):
    return _volatile_free(a) == _volatile_free(b)


def judge_trace(audit, trace, sk_tracer=None, since=None, until=None, namespaces=None):
    events = read_trace(trace, sk_tracer)
    expected = audit_changes(audit, since=since, until=until, namespaces=namespaces)
    recorded = trace_versions(events, namespaces=namespaces)
    r = judge(expected, recorded, first_ts=events[0][0] if events else None)
    r["trace_events"] = len(events)
    return r


def summary_line(name, r):
    return (
        f"{name}: {r['found']}/{r['expected']} changes found, lost {r['lost']} {r['lost_by_change'] or ''}, "
        f"duplicated {r['duplicated']}, time error max {r['time_error_max_s']} s "
        f"(range {r['time_error_range_s']}, {r['beyond_1s']} beyond 1 s), extra versions {r['extra_versions']}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audit", required=True)
    ap.add_argument("--trace", action="append", required=True, help="NAME=FILE (sk-tracer's) or NAME=FILE:msgpack")
    ap.add_argument("--sk-tracer", help="sk-tracer binary, to read its traces with inspect --json")
    ap.add_argument("--since", type=float, help="judge changes from this unix time")
    ap.add_argument("--until", type=float)
    ap.add_argument("--namespace-prefix", action="append", help="judge only these namespaces")
    args = ap.parse_args()
    for spec in args.trace:
        name, path = spec.split("=", 1)
        use = args.sk_tracer
        if path.endswith(":msgpack"):
            path, use = path[: -len(":msgpack")], None
        r = judge_trace(args.audit, path, use, args.since, args.until, args.namespace_prefix)
        print(summary_line(name, r))
        json.dump({name: r}, sys.stdout, default=str)
        print()


if __name__ == "__main__":
    main()
