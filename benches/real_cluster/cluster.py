"""The parts every real-cluster run shares: the control plane (reset, lock, stop), the load
(Deployments applied, image-updated and deleted through kubectl), the processes that watch it
(sk-tracer, SimKube's tracer, the two floors) and what /proc says about them.

Nothing here knows where Kubernetes or SimKube live: every path comes from the command line."""

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

LOAD_NAMESPACES = 10
CONFIG = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n"


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


class ControlPlane:
    """A control plane that `reset` starts fresh and `stop` stops. Every use is held under an
    exclusive lock on `lock`, since one control plane on a machine is shared by whoever runs."""

    def __init__(self, args):
        self.kubeconfig = args.kubeconfig
        self.reset_cmd = args.reset
        self.stop_cmd = args.stop
        self.lock_path = args.lock
        self.apiserver_args = ""
        self.home = os.path.dirname(os.path.abspath(self.kubeconfig))

    @contextlib.contextmanager
    def session(self, apiserver_args=""):
        """Holds the lock from a fresh start to the stop."""
        with open(self.lock_path, "w") as lock:
            log("waiting for the control plane's lock")
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.apiserver_args = apiserver_args
            try:
                self.start()
                yield self
            finally:
                subprocess.run(self.stop_cmd, shell=True, check=False, stdout=subprocess.DEVNULL)
                fcntl.flock(lock, fcntl.LOCK_UN)

    def start(self, keep=False):
        env = dict(os.environ, REALK8S_APISERVER_ARGS=self.apiserver_args)
        cmd = self.reset_cmd + (" --keep" if keep else "")
        t = time.time()
        subprocess.run(cmd, shell=True, check=True, env=env, stdout=subprocess.DEVNULL)
        log(f"control plane {'restarted' if keep else 'started fresh'} in {time.time() - t:.1f}s")

    def pid(self, component):
        """The pid of a component that start.sh started (`apiserver`, `cm`, `sched`, `etcd`)."""
        with open(os.path.join(self.home, "run", f"{component}.pid")) as f:
            return int(f.read().strip())

    def kill(self, component, sig=signal.SIGKILL):
        os.kill(self.pid(component), sig)

    def env(self):
        return dict(os.environ, KUBECONFIG=self.kubeconfig)

    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run(["kubectl", *args], input=stdin, env=self.env(), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])}: {r.stderr.strip()[-400:]}")
        return r

    def raw(self, path):
        r = self.kubectl("get", "--raw", path, check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def ready(self):
        return self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0

    def count(self, path):
        """How many objects a list holds, from one item and the count of the rest."""
        body = self.raw(f"{path}?limit=1")
        if body is None:
            return None
        return len(body.get("items", [])) + body.get("metadata", {}).get("remainingItemCount", 0)

    def revision(self):
        body = self.raw("/api/v1/namespaces?limit=1")
        return int(body["metadata"]["resourceVersion"]) if body else None

    def wait_quiet(self, pods=None, replicasets=None, deployments=None, timeout=900, quiet=True):
        """Waits until the controllers are done: the counts reached, then (with `quiet`) no write
        for 3 s bar the apiserver's own lease renewals. A tracer that renews a Lease every
        second keeps the cluster from ever being quiet: pass `quiet=False` while one runs."""
        t = time.time()
        targets = {"/api/v1/pods": pods, "/apis/apps/v1/replicasets": replicasets, "/apis/apps/v1/deployments": deployments}
        while time.time() - t < timeout:
            if all(n is None or self.count(p) == n for p, n in targets.items()):
                break
            time.sleep(2)
        else:
            log(f"timed out waiting for {targets}")
        last, quiet_since = self.revision(), time.time()
        while quiet and time.time() - t < timeout and time.time() - quiet_since < 3:
            time.sleep(1)
            now = self.revision()
            if now is not None and last is not None and now - last > 1:
                last, quiet_since = now, time.time()
        return time.time() - t


def deployment(i, image, replicas=1):
    name = f"app-{i}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": f"load-{i % LOAD_NAMESPACES}", "labels": {"app": name, "tier": "load"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "load"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "args": ["--port=8080", f"--name={name}"],
                            "ports": [{"containerPort": 8080}],
                            "env": [{"name": "MODE", "value": "load"}],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        },
    }


IMAGE_1 = "registry.example.com/app:1.0"
IMAGE_2 = "registry.example.com/app:1.1"


class Load:
    """Deployments `app-0..n-1` spread over namespaces `load-*`, created, image-updated and
    deleted through `kubectl apply` / `kubectl delete`, `batch` objects per kubectl call."""

    def __init__(self, cp, n, batch=None):
        self.cp, self.n, self.batch = cp, n, batch or n

    def namespaces(self):
        docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"load-{i}"}} for i in range(LOAD_NAMESPACES)]
        self.cp.kubectl("apply", "-f", "-", stdin=_yaml_stream(docs))

    def _calls(self, indices, verb, image=None, between=None):
        indices = list(indices)
        for k in range(0, len(indices), self.batch):
            part = indices[k : k + self.batch]
            docs = [deployment(i, image or IMAGE_1) for i in part]
            for attempt in range(60):
                args = ["apply", "-f", "-"] if verb == "apply" else ["delete", "--wait=false", "--ignore-not-found", "-f", "-"]
                r = self.cp.kubectl(*args, stdin=_yaml_stream(docs), check=False)
                if r.returncode == 0:
                    break
                # The apiserver may be down in a drill: try again until it answers.
                time.sleep(0.5)
            else:
                raise RuntimeError(f"kubectl {verb}: {r.stderr.strip()[-400:]}")
            if between:
                between(k + len(part))

    def create(self, indices=None, between=None):
        self._calls(indices if indices is not None else range(self.n), "apply", IMAGE_1, between)

    def update(self, indices=None, between=None):
        self._calls(indices if indices is not None else range(self.n), "apply", IMAGE_2, between)

    def delete(self, indices=None, between=None):
        self._calls(indices if indices is not None else range(self.n), "delete", None, between)


def _yaml_stream(docs):
    # kubectl reads a JSON stream as one document: several objects go as one List.
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_usage(pid):
    """CPU seconds (utime + stime), resident bytes now and at peak, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    kb = lambda key: int(re.search(rf"^{key}:\s+(\d+)", status, re.M).group(1)) * 1024 if re.search(rf"^{key}:", status, re.M) else 0
    return {"cpu": (int(fields[11]) + int(fields[12])) / hz, "rss": kb("VmRSS"), "peak_rss": kb("VmHWM")}


class Watcher:
    """A process that watches the cluster: started, measured, signalled, stopped."""

    name = "?"

    def __init__(self, cp, workdir):
        self.cp, self.workdir, self.proc = cp, workdir, None

    def spawn(self, argv, env=None):
        os.makedirs(self.workdir, exist_ok=True)
        self.stderr = open(os.path.join(self.workdir, f"{self.name}.log"), "ab")
        self.stdout_path = os.path.join(self.workdir, f"{self.name}.out")
        self.stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(argv, env=dict(self.cp.env(), **(env or {})), stdout=self.stdout, stderr=self.stderr)
        self.started = time.time()
        return self

    def usage(self):
        return proc_usage(self.proc.pid)

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait_ready(self, timeout=60):
        time.sleep(1)

    def export(self, start_ts, end_ts, timing=None):
        return None

    def watch_events(self):
        return {}


def _post(url, body, timeout=300, accept=None, timing=None):
    """POSTs `body` as JSON and returns the response's body; with `timing`, puts in it the seconds
    until the response's headers had been read (`headers_s`), the rest being the body's."""
    headers = {"content-type": "application/json"}
    if accept:
        headers["accept"] = accept
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        if timing is not None:
            timing["headers_s"] = time.perf_counter() - start
        return r.read()


def _port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Ours(Watcher):
    """sk-tracer run, config `apps/v1.Deployment` with `trackLifecycle` (plus `extra` YAML)."""

    def __init__(self, cp, workdir, binary, name="ours", extra=""):
        super().__init__(cp, workdir)
        self.binary, self.name, self.extra = binary, name, extra
        self.port = free_port()

    def start(self, env=None):
        os.makedirs(self.workdir, exist_ok=True)
        self.config = os.path.join(self.workdir, f"{self.name}.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG + self.extra)
        return self.spawn([self.binary, "run", "--config", self.config, "--port", str(self.port)], env)

    def restart(self, env=None):
        return self.spawn([self.binary, "run", "--config", self.config, "--port", str(self.port)], env)

    def wait_ready(self, timeout=60):
        t = time.time()
        while time.time() - t < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return time.time() - t
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s")

    def export(self, start_ts, end_ts, timing=None):
        body = {"start_ts": int(start_ts), "end_ts": int(end_ts)}
        return _post(f"http://127.0.0.1:{self.port}/export", body, timing=timing)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            return r.read().decode()

    def watch_events(self):
        out = {}
        for kind, n in re.findall(r'^sk_tracer_watch_events_total\{kind="([^"]+)"\} (\S+)', self.metrics(), re.M):
            out[kind.rsplit(".", 1)[-1]] = int(float(n))
        return out

    def metric(self, name):
        m = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)", self.metrics(), re.M)
        return float(m.group(1)) if m else None


class SimKube(Watcher):
    """SimKube's tracer as its manifests start it: `--server-port 7777 -c config.yml`, with the
    cluster from KUBECONFIG."""

    name = "simkube"

    def __init__(self, cp, workdir, binary):
        super().__init__(cp, workdir)
        self.binary = binary
        self.port = free_port()

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        config = os.path.join(self.workdir, "simkube.yml")
        with open(config, "w") as f:
            f.write("---\n" + CONFIG)
        return self.spawn([self.binary, "--server-port", str(self.port), "-c", config])

    def wait_ready(self, timeout=60):
        # It serves nothing but /export, once its watches are started: ready when the port is.
        t = time.time()
        while time.time() - t < timeout and not _port_open(self.port):
            time.sleep(0.2)
        time.sleep(2)
        return time.time() - t

    def export(self, start_ts, end_ts, timing=None):
        body = {
            "start_ts": int(start_ts),
            "end_ts": int(end_ts),
            "export_path": f"file://{self.workdir}/simkube-export.sktrace",
            "filters": {"excluded_namespaces": [], "excluded_labels": []},
        }
        return _post(f"http://127.0.0.1:{self.port}/export", body, timing=timing)


class Floor(Watcher):
    """One of the floor programs: runs until SIGTERM, then prints its CPU and events per kind."""

    def __init__(self, cp, workdir, binary, name):
        super().__init__(cp, workdir)
        self.binary, self.name = binary, name

    def start(self):
        return self.spawn([self.binary])

    def report(self):
        self.stop()
        self.stdout.close()
        with open(self.stdout_path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


class Sampler(threading.Thread):
    """Keeps the last /proc reading of each process, so that one that exits is still measured."""

    def __init__(self, watchers, every=1.0):
        super().__init__(daemon=True)
        self.watchers, self.every, self.last, self.done = watchers, every, {}, False

    def run(self):
        while not self.done:
            for w in self.watchers:
                u = w.usage()
                if u:
                    self.last[w.name] = u
            time.sleep(self.every)


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))
