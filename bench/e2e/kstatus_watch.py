#!/usr/bin/env python3
"""An independent watch for bench/e2e/scale.sh: tells when all 4N objects of the scale workload
are current by kstatus rules, without asking todoke.

    kstatus_watch.py --env DIR/env --namespace NS --apps N --cpu-prefix P [--timeout 1800]

Lists, then watches (resuming from the last resourceVersion; a relist after 410 Gone) the
ServiceAccounts, Services, Deployments and Ingresses of NS through the API server of the
tests/cluster env file, with its own HTTPS connections (Python's standard library only).
App i's objects are named web-<i>. Current (kstatus, sigs.k8s.io/cli-utils/pkg/kstatus):
  - Deployment: metadata.generation == status.observedGeneration, condition Available True,
    condition Progressing True with reason NewReplicaSetAvailable, status.updatedReplicas ==
    spec.replicas, and its container's CPU request is "<P><i>m" (so an upgrade counts only
    once the new spec is there and rolled out);
  - ServiceAccount, Service, Ingress: exist (kstatus has no further rule for them).
Prints "current <unix time>" on stdout the moment all are, progress to stderr every 10 s, and
exits 0; exits 1 at --timeout with what is missing. Start it before the clock starts, and wait
for its "watching" line on stderr.
"""
import argparse
import json
import ssl
import sys
import threading
import time
import urllib.request

KINDS = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
}


def millicores(quantity):
    """CPU quantity ("10m", "1", "1.5") in millicores, or None."""
    try:
        if quantity.endswith("m"):
            return int(quantity[:-1])
        return int(round(float(quantity) * 1000))
    except (ValueError, AttributeError):
        return None


class State:
    def __init__(self, apps, cpu_prefix):
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.apps = apps
        self.cpu_prefix = cpu_prefix
        self.current = {kind: set() for kind in KINDS}
        self.ready = {kind: False for kind in KINDS}  # the initial list is in

    def index_of(self, name):
        if not name.startswith("web-"):
            return None
        try:
            i = int(name[4:])
        except ValueError:
            return None
        return i if 0 <= i < self.apps else None

    def is_current(self, kind, obj, i):
        if kind != "Deployment":
            return True
        meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
        if meta.get("generation") != status.get("observedGeneration"):
            return False
        conditions = {c.get("type"): c for c in status.get("conditions", [])}
        available = conditions.get("Available", {})
        progressing = conditions.get("Progressing", {})
        if available.get("status") != "True":
            return False
        if progressing.get("status") != "True" or progressing.get("reason") != "NewReplicaSetAvailable":
            return False
        if status.get("updatedReplicas", 0) != spec.get("replicas", 1):
            return False
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        cpu = containers[0].get("resources", {}).get("requests", {}).get("cpu") if containers else None
        return millicores(cpu) == int(f"{self.cpu_prefix}{i}")

    def see(self, kind, event_type, obj):
        i = self.index_of(obj.get("metadata", {}).get("name", ""))
        if i is None:
            return
        with self.lock:
            if event_type == "DELETED" or not self.is_current(kind, obj, i):
                self.current[kind].discard(i)
            else:
                self.current[kind].add(i)
            self.check()

    def check(self):
        if all(self.ready.values()) and all(len(s) == self.apps for s in self.current.values()):
            if not self.done.is_set():
                print(f"current {time.time():.3f}", flush=True)
                self.done.set()

    def summary(self):
        with self.lock:
            return ", ".join(f"{kind} {len(s)}/{self.apps}" for kind, s in self.current.items())


def request(env, path, timeout):
    req = urllib.request.Request(env["TODOKE_K8S_SERVER"] + path)
    req.add_header("Authorization", "Bearer " + env["TODOKE_K8S_TOKEN"])
    req.add_header("Accept", "application/json")
    context = ssl.create_default_context(cafile=env["TODOKE_K8S_CA"])
    return urllib.request.urlopen(req, context=context, timeout=timeout)


def follow(env, ns, kind, state, errors):
    base = KINDS[kind].format(ns=ns)
    version = None
    while not state.done.is_set():
        try:
            if version is None:
                with request(env, base + "?limit=0", 60) as resp:
                    listed = json.load(resp)
                with state.lock:
                    state.current[kind].clear()
                for item in listed.get("items", []):
                    state.see(kind, "ADDED", item)
                version = listed["metadata"]["resourceVersion"]
                with state.lock:
                    state.ready[kind] = True
                    state.check()
            path = (f"{base}?watch=1&allowWatchBookmarks=true&timeoutSeconds=240"
                    f"&resourceVersion={version}")
            with request(env, path, 300) as resp:
                for line in resp:
                    if state.done.is_set():
                        return
                    event = json.loads(line)
                    obj = event.get("object", {})
                    if event.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            version = None  # too old: list again
                        break
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event.get("type") != "BOOKMARK":
                        state.see(kind, event["type"], obj)
        except Exception as e:  # a dropped connection: resume (bounded by --timeout)
            errors.append(f"{kind}: {e}")
            time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="tests/cluster env file")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--cpu-prefix", required=True, help="app i's CPU request is <P><i>m")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    env = {}
    with open(args.env) as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            env[key] = value
    state = State(args.apps, args.cpu_prefix)
    errors = []
    for kind in KINDS:
        threading.Thread(target=follow, args=(env, args.namespace, kind, state, errors),
                         daemon=True).start()
    deadline = time.time() + args.timeout
    while not all(state.ready.values()) and time.time() < deadline:
        time.sleep(0.05)
    print(f"watching {args.namespace}: {state.summary()}", file=sys.stderr, flush=True)
    next_report = time.time() + 10
    while not state.done.wait(0.2):
        if time.time() > deadline:
            print(f"kstatus_watch: not all current after {args.timeout:.0f} s: {state.summary()}"
                  f"{'; errors: ' + '; '.join(errors[-3:]) if errors else ''}", file=sys.stderr)
            return 1
        if time.time() >= next_report:
            print(f"  {state.summary()}", file=sys.stderr, flush=True)
            next_report += 10
    return 0


if __name__ == "__main__":
    sys.exit(main())
