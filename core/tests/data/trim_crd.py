# Trims a CRD for test data: drops descriptions, and cuts every pod spec (an object schema whose
# properties include `containers`) down to `containers` (name, image) and `restartPolicy`. What
# a pod-template search reads (the shape around templates, opaque fields) is kept.
import sys, yaml
def interesting(node, name=''):
    if 'template' in name.lower():
        return True
    if isinstance(node, dict):
        props = node.get('properties')
        if isinstance(props, dict) and ('containers' in props or any(interesting(v, k) for k, v in props.items())):
            return True
        return any(interesting(v) for k, v in node.items() if k in ('items', 'additionalProperties'))
    return False
def prune(node, name=''):
    # A subtree that holds no pod spec and no field named like a template becomes its type alone.
    if isinstance(node, dict) and 'properties' in node and not interesting(node, name):
        return {k: node[k] for k in ('type',) if k in node}
    if isinstance(node, dict):
        for k in ('items', 'additionalProperties'):
            if isinstance(node.get(k), dict): node[k] = prune(node[k], name)
        if isinstance(node.get('properties'), dict):
            node['properties'] = {k: prune(v, k) for k, v in node['properties'].items()}
    return node
def trim(node):
    if isinstance(node, dict):
        node.pop('description', None)
        props = node.get('properties')
        if isinstance(props, dict) and 'containers' in props:
            node['properties'] = {
                'containers': {'type': 'array', 'items': {'type': 'object', 'required': ['name'],
                    'properties': {'name': {'type': 'string'}, 'image': {'type': 'string'}}}},
                'restartPolicy': {'type': 'string'},
            }
            node['required'] = ['containers'] if 'required' in node else node.get('required')
            if node['required'] is None: node.pop('required')
            return node
        for k, v in list(node.items()):
            if k == 'properties' and isinstance(v, dict):
                for pk in v: trim(v[pk])
            else:
                trim(v)
    elif isinstance(node, list):
        for x in node: trim(x)
    return node
src, header = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(sys.stdin)
doc.get('metadata', {}).pop('annotations', None)
trim(doc)
for v in doc['spec']['versions']:
    v['schema']['openAPIV3Schema'] = prune(v['schema']['openAPIV3Schema'])
sys.stdout.write(header + '\n' + yaml.safe_dump(doc, sort_keys=False, width=120))
