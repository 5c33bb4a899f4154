#!/usr/bin/env python3
"""Checks orchestrator/deploy/kubernetes beyond the API schema (kubernetes-validate
does that), then runs the real orchestrator the way the manifests run it.

Static: kustomization lists every manifest; two or more replicas; the probes hit
/healthz and /readyz on the container port the ConfigMap's `bind` opens; the PDB and
the Service select the Deployment's pods; every HOLDFAST_* variable the Deployment
sets is one the orchestrator reads; every Secret key the Deployment uses exists.

Live (PostgreSQL on loopback, a fresh database): two `holdfast serve` processes with
the ConfigMap's holdfast.toml and the Deployment's arguments and variables start at the
same time on one database (migrations race), both answer /healthz and /readyz, a
session opened on one replica is accepted by the other, and both stop cleanly on
SIGTERM within the pod's termination grace period.

Usage: check_manifests.py --holdfast BIN [--postgres-url URL]
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
MANIFESTS = HERE.parent / "kubernetes"
REPO = HERE.parents[2]

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok   {what}")
    else:
        failed += 1
        print(f"  FAIL {what}")
    return cond


def load():
    docs = {}
    for f in sorted(p for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml"):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                docs[(d["kind"], d["metadata"].get("name", ""))] = (f.name, d)
    return docs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=5):
    req = urllib.request.Request(url, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, data=data, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e).encode()


def static_checks(docs):
    print("static checks")
    files = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    kust = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    check(sorted(kust["resources"]) == files, f"kustomization lists every manifest ({files})")

    _, dep = docs[("Deployment", "holdfast-orchestrator")]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["replicas"] >= 2, f"Deployment runs {spec['replicas']} replicas (>= 2)")
    check(spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "rolling update never drops below the replica count")
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()), "Deployment selector matches its pods")
    c = pod["containers"][0]
    port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe: /healthz")
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe: /readyz")
    check(c["startupProbe"]["httpGet"]["path"] == "/healthz", "startup probe: /healthz")
    check(all(c[p]["httpGet"]["port"] in ("http", port) for p in ["livenessProbe", "readinessProbe", "startupProbe"]),
          "probes use the http port")
    _, cm = docs[("ConfigMap", "holdfast-orchestrator")]
    toml_text = cm["data"]["holdfast.toml"]
    cfg = tomllib.loads(toml_text)
    check(cfg["bind"] == f"0.0.0.0:{port}", f"ConfigMap bind {cfg['bind']} opens containerPort {port}")
    grace = pod["terminationGracePeriodSeconds"]
    pre = c["lifecycle"]["preStop"]["sleep"]["seconds"]
    check(grace > cfg["shutdown_grace_secs"] + pre,
          f"termination grace {grace}s > shutdown_grace_secs {cfg['shutdown_grace_secs']}s + preStop {pre}s")
    sc = c["securityContext"]
    check(sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"] and sc["capabilities"]["drop"] == ["ALL"],
          "container: read-only root, no privilege escalation, no capabilities")
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    check(cfg["data_dir"] in mounts and "/tmp" in mounts, "data_dir and /tmp are writable volumes")
    check(any(m == str(Path(cfg["secrets_key_file"]).parent) for m in mounts), "secrets_key_file is mounted from the Secret")

    for kind in ["PodDisruptionBudget", "Service"]:
        _, d = docs[(kind, "holdfast-orchestrator")]
        sel = d["spec"]["selector"].get("matchLabels", d["spec"]["selector"])
        check(all(labels.get(k) == v for k, v in sel.items()), f"{kind} selects the Deployment's pods")
    _, pdb = docs[("PodDisruptionBudget", "holdfast-orchestrator")]
    check(0 < pdb["spec"]["minAvailable"] < spec["replicas"], "PDB keeps one replica and still lets nodes drain")
    _, svc = docs[("Service", "holdfast-orchestrator")]
    check(svc["spec"]["ports"][0]["targetPort"] in ("http", port), "Service targets the http port")

    config_rs = (REPO / "orchestrator/src/config.rs").read_text()
    env_names = [e["name"] for e in c["env"]]
    for name in env_names:
        check(f'"{name}"' in config_rs, f"{name} is read by the orchestrator (orchestrator/src/config.rs)")
    _, sec = docs[("Secret", "holdfast-orchestrator")]
    keys = set(sec["stringData"])
    used = {e["valueFrom"]["secretKeyRef"]["key"] for e in c["env"] if "valueFrom" in e}
    used |= {i["key"] for v in pod["volumes"] if "secret" in v for i in v["secret"]["items"]}
    check(used <= keys, f"every Secret key the Deployment uses exists ({sorted(used)})")
    return c, toml_text


def live_checks(container, toml_text, holdfast, pg_url):
    print("two replicas on one PostgreSQL, configured like the pods")
    work = Path(tempfile.mkdtemp(prefix="holdfast-k8s-check-"))
    (work / "holdfast.toml").write_text(toml_text)
    key = work / "secrets.key"
    key.write_text("deploy-check-key\n")
    db = "holdfast_deploy_" + uuid.uuid4().hex[:10]
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg_url]
    r = subprocess.run(psql + ["-c", f"CREATE DATABASE {db}"], capture_output=True, text=True, timeout=60)
    if not check(r.returncode == 0, f"created database {db}"):
        print(r.stderr)
        return
    base = re.sub(r"/[^/?]*(\?.*)?$", "/" + db, pg_url)
    password = "Dr-Check-2026!x"  # the policy allows 6 to 16 characters
    procs, ports, starts = [], [], []

    def start(i):
        env = dict(os.environ)
        env.update({
            "HOLDFAST_DATABASE_URL": base,
            "HOLDFAST_ADMIN_PASSWORD": password,
            # the pod's paths, moved to this machine's scratch directory:
            "HOLDFAST_BIND": f"127.0.0.1:{ports[i]}",
            "HOLDFAST_DATA_DIR": str(work / f"data-{i}"),
            "HOLDFAST_SECRETS_KEY_FILE": str(key),
        })
        args = [a.replace("/etc/holdfast/holdfast.toml", str(work / "holdfast.toml")) for a in container["args"]]
        log = open(work / f"replica-{i}.log", "a")
        starts[i] += 1
        return subprocess.Popen([holdfast, *args], env=env, stdout=log, stderr=subprocess.STDOUT)

    try:
        for i in range(2):
            ports.append(free_port())
            starts.append(0)
        procs = [start(0), start(1)]
        # Like the kubelet (restartPolicy: Always), a replica that exits is started
        # again, at most twice; each restart is reported.
        deadline = time.monotonic() + 90
        ready = [False, False]
        while time.monotonic() < deadline and not all(ready):
            for i, port in enumerate(ports):
                if procs[i].poll() is not None:
                    if starts[i] > 2:
                        continue
                    tail = (work / f"replica-{i}.log").read_text().strip().splitlines()[-3:]
                    print(f"  NOTE replica {i} exited with {procs[i].returncode} during start and is "
                          f"restarted as the kubelet would: {' | '.join(tail)}")
                    procs[i] = start(i)
                elif not ready[i]:
                    s, _ = http("GET", f"http://127.0.0.1:{port}/readyz", timeout=2)
                    ready[i] = s == 200
            time.sleep(0.3)
        ok = check(all(ready), f"both replicas answer /readyz 200 (starts: {starts})")
        if ok:
            for i, port in enumerate(ports):
                s, _ = http("GET", f"http://127.0.0.1:{port}/healthz")
                check(s == 200, f"replica {i}: /healthz 200")
            # argon2id on a loaded CI machine can take seconds: a generous timeout
            s, body = http("POST", f"http://127.0.0.1:{ports[0]}/api/v1/sessions", {"id": "admin", "password": password},
                           timeout=30)
            token = json.loads(body).get("token") if s == 201 else None
            check(token is not None, f"login on replica 0 (status {s})")
            if token:
                s, body = http("GET", f"http://127.0.0.1:{ports[1]}/api/v1/account", token=token)
                check(s == 200 and json.loads(body).get("id") == "admin",
                      f"replica 1 accepts replica 0's session (status {s})")
        grace = 40
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in enumerate(procs):
            try:
                rc = p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "killed"
            check(rc == 0, f"replica {i} stops cleanly on SIGTERM within {grace}s (exit {rc})")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(psql + ["-c", f"DROP DATABASE IF EXISTS {db}"], capture_output=True, timeout=60)
    if failed:
        for i in range(len(procs)):
            print(f"--- replica {i} log (tail)")
            print((work / f"replica-{i}.log").read_text()[-3000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--holdfast", required=True, help="the built holdfast binary")
    ap.add_argument("--postgres-url", default=os.environ.get(
        "HOLDFAST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    docs = load()
    container, toml_text = static_checks(docs)
    live_checks(container, toml_text, args.holdfast, args.postgres_url)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
