#!/usr/bin/env python3
"""Writes src/protobuf/fields.rs: for each k8s-pb message the emulator decodes, its fields' JSON
names and which of them keep a zero value.

Go's protobuf encoding writes every non-pointer field, zero or not, while its JSON encoding leaves
out the zero ones marked `omitempty`; a pointer field set to zero (`replicas: 0`) is kept. Neither
k8s-pb nor k8s-openapi says which fields are pointers, so this asks kubectl: it decodes a manifest
into its Go types and prints them as JSON with `--local`/`--dry-run=client`, and a field set to
zero that survives the round trip is one to keep. JSON names come from k8s-openapi's serde code.

Needs kubectl, k8s-pb and k8s-openapi in the cargo registry (a build of kube-emulator fetches
them) and an API server for `kubectl auth reconcile`: KUBECONFIG pointing at a kube-emulator.
Usage, in tests/kube-emulator: python3 gen/protobuf_fields.py > src/protobuf/fields.rs
"""
import glob
import json
import os
import re
import subprocess
import sys

REGISTRY = os.path.join(os.environ.get('CARGO_HOME', os.path.expanduser('~/.cargo')), 'registry/src')
K8S_PB = sorted(glob.glob(f'{REGISTRY}/*/k8s-pb-0.9.*/src'))[-1]
# The newest Kubernetes version k8s-openapi knows, for fields newer than the emulator's 1.33.
OPENAPI = sorted(glob.glob(f'{REGISTRY}/*/k8s-openapi-0.29.*/src'))[-1]
OPENAPI = sorted(glob.glob(f'{OPENAPI}/v1_*'), key=lambda p: int(p.rsplit('_', 1)[1]))[-1]

# The kinds the emulator decodes, with the kubectl command that round-trips each through its Go
# types (None: no such command; see MANUAL).
ROOTS = {
    'api::core::v1::Pod': ['set', 'image', '--local', '*=img'],
    'api::apps::v1::Deployment': ['set', 'image', '--local', '*=img'],
    'api::apps::v1::ReplicaSet': ['set', 'image', '--local', '*=img'],
    'api::apps::v1::StatefulSet': ['set', 'image', '--local', '*=img'],
    'api::apps::v1::DaemonSet': ['set', 'image', '--local', '*=img'],
    'api::batch::v1::Job': ['set', 'image', '--local', '*=img'],
    'api::batch::v1::CronJob': ['set', 'image', '--local', '*=img'],
    'api::core::v1::Service': ['set', 'selector', '--local', 'x=x'],
    'api::rbac::v1::RoleBinding': ['set', 'subject', '--local', '--user=x'],
    'api::rbac::v1::ClusterRoleBinding': ['set', 'subject', '--local', '--user=x'],
    'api::rbac::v1::ClusterRole': ['auth', 'reconcile', '--dry-run=client'],
    'api::rbac::v1::Role': ['auth', 'reconcile', '--dry-run=client'],
    'api::core::v1::Namespace': None,
    'api::core::v1::ConfigMap': None,
    'api::core::v1::Secret': None,
    'api::core::v1::ServiceAccount': None,
    'api::core::v1::ResourceQuota': None,
    'api::networking::v1::Ingress': None,
    'api::policy::v1::PodDisruptionBudget': None,
    'api::scheduling::v1::PriorityClass': None,
}
# Fields of types only those kinds reach, kept when zero: pointers, and fields without `omitempty`
# (from the Go types in k8s.io/api).
MANUAL = {
    'api::core::v1::ConfigMap': {'immutable'},
    'api::core::v1::Secret': {'immutable'},
    'api::core::v1::ServiceAccount': {'automount_service_account_token'},
    'api::core::v1::NamespaceCondition': {'type', 'status'},
    'api::core::v1::ScopedResourceSelectorRequirement': {'scope_name', 'operator'},
    'api::networking::v1::HttpIngressPath': {'path_type'},
    'api::networking::v1::HttpIngressRuleValue': {'paths'},
    'api::networking::v1::IngressPortStatus': {'port', 'protocol', 'error'},
    'api::networking::v1::IngressServiceBackend': {'name'},
    'api::networking::v1::IngressSpec': {'ingress_class_name'},
    'api::policy::v1::PodDisruptionBudgetSpec': {'unhealthy_pod_eviction_policy'},
    'api::policy::v1::PodDisruptionBudgetStatus': {'disruptions_allowed', 'current_healthy', 'desired_healthy',
                                                  'expected_pods'},
    'api::scheduling::v1::PriorityClass': {'value', 'preemption_policy'},
}
# Fields the round-trip commands set themselves, so their answer says nothing; all `omitempty`.
NOT_KEPT = {
    ('api::core::v1::Container', 'image'), ('api::core::v1::EphemeralContainerCommon', 'image'),  # set image
    ('api::core::v1::ServiceSpec', 'selector'),  # set selector
    ('api::rbac::v1::RoleBinding', 'subjects'), ('api::rbac::v1::ClusterRoleBinding', 'subjects'),  # set subject
    ('apimachinery::pkg::apis::meta::v1::ObjectMeta', 'name'),  # auth reconcile needs one
    ('apimachinery::pkg::apis::meta::v1::ObjectMeta', 'namespace'),
}
# Written by hand in protobuf.rs: their JSON is not an object of their fields.
SPECIAL = {
    'apimachinery::pkg::api::resource::Quantity': '1',
    'apimachinery::pkg::util::intstr::IntOrString': 1,
    'apimachinery::pkg::apis::meta::v1::Time': '2024-01-02T03:04:05Z',
    'apimachinery::pkg::apis::meta::v1::MicroTime': '2024-01-02T03:04:05.000006Z',
    'apimachinery::pkg::apis::meta::v1::FieldsV1': {},
}


def pb_types():
    """`module::Type` -> its fields: name, prost attribute, referenced types."""
    types = {}
    for path in glob.glob(f'{K8S_PB}/**/mod.rs', recursive=True):
        module = os.path.relpath(os.path.dirname(path), K8S_PB).replace('/', '::')
        for m in re.finditer(r'pub struct (\w+) \{(.*?)\n\}', open(path).read(), re.S):
            body, fields = m.group(2) + '\n', []
            for f in re.finditer(r'#\[prost\(([^\]]*)\)\]\s*pub (r#)?(\w+):', body):
                rest, depth, i = body[f.end():], 0, 0
                while rest[i] != ',' or depth:
                    depth += {'<': 1, '>': -1}.get(rest[i], 0)
                    i += 1
                fields.append({'attr': f.group(1), 'name': f.group(3), 'raw': bool(f.group(2)),
                               'refs': refs(module, rest[:i])})
            types[f'{module}::{m.group(1)}'] = fields
    return types


def refs(module, ty):
    out = []
    for t in re.findall(r'((?:super::)*(?:[a-z_0-9]+::)*[A-Z]\w*)', ty):
        parts, segments = module.split('::'), t.split('::')
        while segments and segments[0] == 'super':
            parts, segments = parts[:-1], segments[1:]
        out.append('::'.join(parts + segments))
    return out


def openapi_names():
    """Lower-cased `module::Type` -> JSON field names."""
    out = {}
    for path in glob.glob(f'{OPENAPI}/**/*.rs', recursive=True):
        src = open(path).read()
        m = re.search(r'pub struct (\w+)', src)
        if m:
            module = os.path.relpath(os.path.dirname(path), OPENAPI).replace('/', '::')
            out[f'{module}::{m.group(1)}'.lower()] = re.findall(r'"([A-Za-z0-9]+)" => Field::Key_', src)
    return out


T = pb_types()
OA = openapi_names()


def sub(f):
    return next((r for r in f['refs'] if r in T), None)


def shape(f):
    """('one'|'list'|'map', 'string'|'int32'|'int64'|'bool'|'bytes'|'message')"""
    a = f['attr']
    if a.startswith('btree_map'):
        return 'map', re.search(r'btree_map = "string, (\w+)"', a).group(1)
    kind = a.split(',')[0].strip().split()[0]
    return ('list' if 'repeated' in a else 'one'), kind


def reach(roots):
    seen, todo = [], list(roots)
    while todo:
        t = todo.pop()
        if t not in seen and t in NAMES:
            seen.append(t)
            todo += [sub(f) for f in T[t] if sub(f)]
    return seen


def norm(name):
    return name.replace('_', '').lower()


# type -> [(field, JSON name, or None where Go inlines the message into its parent)]
NAMES = {}


def name_fields(t, parent_pool=None):
    if t in NAMES or t in SPECIAL:
        return
    pool = OA.get(t.lower(), parent_pool)
    lower = {n.lower(): n for n in pool or []}
    out = NAMES[t] = []
    for f in T[t]:
        s = sub(f)
        if norm(f['name']) in lower:
            out.append((f['name'], lower[norm(f['name'])]))
        elif s and s not in SPECIAL and lower and all(norm(g['name']) in lower for g in T[s]):
            out.append((f['name'], None))
        else:
            parts = f['name'].split('_')
            out.append((f['name'], parts[0] + ''.join(p.title() for p in parts[1:])))
            print(f'{t}.{f["name"]}: no JSON name in k8s-openapi, using {out[-1][1]}', file=sys.stderr)
    for (name, js), f in zip(out, T[t]):
        if sub(f):
            name_fields(sub(f), pool if js is None else None)


for root in ROOTS:
    name_fields(root)

SCALARS = {'full': {'string': 'x', 'int32': 1, 'int64': 1, 'bool': True, 'bytes': 'eA=='},
           'zero': {'string': '', 'int32': 0, 'int64': 0, 'bool': False, 'bytes': ''}}


def example(t, mode, spared=frozenset()):
    """A manifest of type t with every field set. mode: 'full' (no zero anywhere), 'zero' (every
    scalar zero but the `spared` (type, field) pairs), 'empty' (scalar lists and maps empty),
    'emptymsg' (lists of messages empty too, but for the containers a pod needs)."""
    obj = {}
    for (name, js), f in zip(NAMES[t], T[t]):
        card, kind = shape(f)
        s = sub(f)
        if kind == 'message':
            one = SPECIAL[s] if s in SPECIAL else example(s, mode, spared)
        else:
            one = SCALARS['zero' if mode == 'zero' and (t, name) not in spared else 'full'][kind]
        if js is None:
            obj.update(one)
        elif card == 'map':
            obj[js] = {} if mode in ('empty', 'emptymsg') else {'cpu' if kind == 'message' else 'k': one}
        elif card == 'list':
            empty = mode == 'empty' and kind != 'message' or mode == 'emptymsg' and js != 'containers'
            obj[js] = [] if empty else [one]
        else:
            obj[js] = one
    return obj


def survivors(t, sent, got, out):
    """Adds (type, field) for each field of `sent` that is still in `got`."""
    for (name, js), f in zip(NAMES[t], T[t]):
        card, kind = shape(f)
        s = sub(f)
        if js is None:
            survivors(s, sent, got, out)
            continue
        if not isinstance(got, dict) or js not in got:
            continue
        out.add((t, name))
        if kind != 'message' or s in SPECIAL or card == 'map':
            continue
        a, b = sent.get(js), got[js]
        if card == 'list' and a and isinstance(b, list) and b:
            survivors(s, a[0], b[0], out)
        elif card == 'one':
            survivors(s, a, b, out)


def round_trip(root, manifest):
    """kubectl's JSON of `manifest` after its Go types, or the error."""
    group, version, kind = root.split('::')[1:4]
    group = {'core': '', 'rbac': 'rbac.authorization.k8s.io'}.get(group, group)
    manifest = {'apiVersion': f'{group}/{version}'.lstrip('/'), 'kind': kind, **manifest}
    if ROOTS[root][0] == 'auth':
        manifest['metadata'].update(name='x', namespace='default')
    p = subprocess.run(['kubectl', *ROOTS[root], '-f', '-', '-o', 'json'], input=json.dumps(manifest),
                       capture_output=True, text=True)
    if p.returncode:
        return None, p.stderr
    return json.loads(p.stdout[p.stdout.index('{'):]), None


MERGE_KEY = re.compile(r'does not contain declared merge key: (\w+)')
SEEN = {mode: set() for mode in ('full', 'zero', 'empty', 'emptymsg')}
for root, command in ROOTS.items():
    if command is None:
        continue
    for mode in SEEN:
        spared = set()
        while True:
            sent = example(root, mode, frozenset(spared))
            got, err = round_trip(root, sent)
            # A merge key that Go leaves out when zero fails kubectl's patch: spare the fields of
            # that name, and probe them one at a time below.
            key = MERGE_KEY.search(err or '')
            if key and not any(js == key.group(1) for t, js in spared):
                spared |= {(t, n) for t in reach([root]) for n, js in NAMES[t] if js == key.group(1)}
                continue
            break
        if err:
            sys.exit(f'kubectl failed on {root} ({mode}): {err}')
        found = set()
        survivors(root, sent, got, found)
        # A spared field was not zero, so its survival says nothing.
        SEEN[mode] |= found - spared
        for field in sorted(spared):
            alone = example(root, mode, frozenset(spared - {field}))
            got, err = round_trip(root, alone)
            if got is not None:
                found = set()
                survivors(root, alone, got, found)
                SEEN[mode] |= found & {field}
            elif not MERGE_KEY.search(err):
                sys.exit(f'kubectl failed on {root} ({mode}, {field}): {err}')

COVERED = {t for t, _ in SEEN['full']}


def keep(t, name, card, kind):
    if card == 'one' and kind == 'message':
        return False  # a message is on the wire only where Go has one, and then in the JSON too
    if (t, name) in NOT_KEPT:
        return False
    if t not in COVERED:
        return name in MANUAL.get(t, set())
    mode = {'one': 'zero', 'map': 'empty', 'list': 'emptymsg' if kind == 'message' else 'empty'}[card]
    return (t, name) in SEEN[mode]


missing = [f'{t}.{n}' for t in NAMES for n, js in NAMES[t] if js and t in COVERED and (t, n) not in SEEN['full']]
for m in missing:
    print(f'{m}: unknown to kubectl, so not kept when zero', file=sys.stderr)

print('// @generated by gen/protobuf_fields.py from k8s-pb and kubectl; regenerate rather than edit.')
print('//')
print('// Each message\'s fields with their JSON names; `inline` fields are Go embedded structs, whose')
print('// fields appear in the parent; `keep` fields are kept when zero (Go pointers and fields without')
print('// `omitempty`), every other zero scalar and empty list or map is left out as Go\'s JSON does.')
print()
print('use k8s_pb::{api, apimachinery};')
print()
print('messages! {')
for t in sorted(NAMES):
    print(f'    {t} {{')
    for (name, js), f in zip(NAMES[t], T[t]):
        card, kind = shape(f)
        ident = f'r#{name}' if f['raw'] else name
        how = 'inline' if js is None else f'"{js}"'
        flag = ' keep' if js is not None and keep(t, name, card, kind) else ''
        print(f'        {ident}: {how}{flag},')
    print('    }')
print('}')
