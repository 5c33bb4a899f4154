#!/usr/bin/env python3
"""Applies the playbooks for real to two local test hosts and checks the result.

PID 1 here is not systemd, so each test host is a scratch root directory reached with
`connection: local` (`holdfast_agent_root` points the role at it). Checked:

- `install.yml --check` on fresh roots changes nothing on disk;
- `install.yml` puts down the binary, the rendered config (parsed back as TOML and
  compared with the inventory; node-b with `[data_plane.tls]`, its certificate,
  key and CA made with openssl and copied to /etc/holdfast/tls/), the unit (byte-identical to systemd/) and its drop-in,
  the kernel-module file + modules-load.d entry + module index (node-a only), and
  enables the unit (`systemctl --root` offline);
- the installed agent binary itself parses the rendered config (`holdfast-agent
  status` prints every backend and fails only because the daemon is not running);
- `systemd-analyze verify` accepts the installed unit together with its drop-in;
- the installed agent, started from the installed unit's ExecStart the way systemd
  would (service_run.py: notify socket, watchdog, SIGTERM), connects to the real
  RabbitMQ as its own user with the permissions docs/install-production.md gives,
  sends READY=1 and WATCHDOG=1, reports healthy, and stops with STOPPING=1 and exit 0;
  a node using another node's user is refused;
- a second run and a `--check` run report changed=0 and change nothing;
- a changed inventory variable changes the config and nothing else;
- invalid inventory values are refused before anything is written;
- start.yml/stop.yml refuse a scratch root (they need a running systemd);
- `remove.yml` leaves each root exactly as it was before install, and a second
  `remove.yml` reports changed=0.

Needs RabbitMQ on 127.0.0.1:5672 and rabbitmqctl (.ci/setup provides both).

Usage: local_root_test.py --bin-dir DIR --ansible-bin DIR
"""

import argparse
import atexit
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from pathlib import Path

from service_run import ServiceRun, seconds, unit_settings

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
KVER = "6.1.0-holdfast-test"
VHOST = "holdfast-deploytest-" + uuid.uuid4().hex[:8]
BUS_PASSWORD = "s3cret-pass"


def bus_url(node):
    return f"amqp://agent-{node}:{BUS_PASSWORD}@127.0.0.1:5672/{VHOST}"


def rabbitmqctl(*args):
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120)


def rabbit_setup(nodes):
    """A fresh vhost and one user per agent with the permissions that
    docs/install-production.md prescribes ({node: bus namespace}; the docs show the
    default namespace `holdfast`)."""
    r = rabbitmqctl("add_vhost", VHOST)
    if r.returncode != 0:
        return f"rabbitmqctl add_vhost: {r.stderr.strip()} (is RabbitMQ running? .ci/setup starts it)"
    for node, ns in nodes.items():
        user = f"agent-{node}"
        n = node.replace(".", r"\.")
        q = ns.replace(".", r"\.")
        for args in [
            ("add_user", user, BUS_PASSWORD),
            ("set_permissions", "-p", VHOST, user,
             rf"^{q}\.(commands|events|dead-letter|agent\.{n})$",
             rf"^{q}\.(events|dead-letter|agent\.{n})$",
             rf"^{q}\.(commands|dead-letter|agent\.{n})$"),
            ("set_topic_permissions", "-p", VHOST, user, f"{ns}.events", rf"^{n}\.", "^$"),
        ]:
            r = rabbitmqctl(*args)
            if r.returncode != 0 and "already exists" not in r.stderr:
                return f"rabbitmqctl {args[0]}: {r.stderr.strip()}"
    return None


def rabbit_cleanup(nodes):
    rabbitmqctl("delete_vhost", VHOST)
    for node in nodes:
        rabbitmqctl("delete_user", f"agent-{node}")

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


def tree(root: Path) -> dict:
    """Every path under root with its type, mode, owner and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, digest)
    return out


def diff(a: dict, b: dict) -> str:
    lines = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            lines.append(f"    {k}: {a.get(k)} -> {b.get(k)}")
    return "\n".join(lines[:40])


class Runner:
    def __init__(self, ansible_bin: Path, inventory: Path, log_dir: Path):
        self.ansible_bin = ansible_bin
        self.inventory = inventory
        self.log_dir = log_dir
        self.n = 0

    def play(self, playbook: str, *extra: str) -> tuple[int, str, dict]:
        """Runs a playbook; returns rc, output and {host: recap counters}."""
        self.n += 1
        cmd = [
            str(self.ansible_bin / "ansible-playbook"),
            "-i",
            str(self.inventory),
            str(ANSIBLE / playbook),
            *extra,
        ]
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_PIPELINING="1", ANSIBLE_LOCAL_TEMP=str(self.log_dir / "tmp"),
                   ANSIBLE_HOME=str(self.log_dir / "home"))
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        out = p.stdout + p.stderr
        print(f"  ..   ansible-playbook {playbook} {' '.join(extra)[:60]} ({time.monotonic() - t0:.1f}s)")
        tag = re.sub(r"[^A-Za-z0-9_.=-]+", "_", "-".join(a.strip("-") for a in extra))[:40]
        log = self.log_dir / f"{self.n:02d}-{playbook}-{tag}.log"
        log.write_text(" ".join(cmd) + "\n" + out)
        recap = {}
        for m in re.finditer(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                             out, re.M):
            recap[m.group(1)] = {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                 "unreachable": int(m.group(4)), "failed": int(m.group(5))}
        return p.returncode, out, recap


def make_tls(d: Path, node: str) -> dict:
    """A CA and a data-plane certificate for `node` (SAN DNS:node), made with openssl."""
    d.mkdir(parents=True)
    (d / "node.ext").write_text(f"subjectAltName=DNS:{node}\nbasicConstraints=CA:FALSE\n"
                                "extendedKeyUsage=serverAuth,clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=test-ca"],
                ["req", *ec, "-keyout", "node.key", "-out", "node.csr", "-subj", f"/CN={node}"],
                ["x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", "node.crt", "-days", "365", "-extfile", "node.ext"]):
        subprocess.run(["openssl", *cmd], cwd=d, check=True, capture_output=True)
    # The CA's revocation list (revoking nothing): a v2 CRL needs a CRL number.
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("1000\n")
    (d / "ca.cnf").write_text("[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\n"
                              "crlnumber = crlnumber\ndefault_md = sha256\n")
    subprocess.run(["openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.crt", "-keyfile",
                    "ca.key", "-gencrl", "-crldays", "30", "-out", "ca.crl"],
                   cwd=d, check=True, capture_output=True)
    return {"cert": str(d / "node.crt"), "key": str(d / "node.key"), "ca": str(d / "ca.crt"),
            "crl": str(d / "ca.crl")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True, type=Path, help="holds the built holdfast-agent")
    ap.add_argument("--ansible-bin", required=True, type=Path, help="bin/ of the Ansible venv")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    built = (args.bin_dir / "holdfast-agent").resolve()
    if not built.is_file():
        print(f"no agent binary at {built}")
        return 2

    work = Path(tempfile.mkdtemp(prefix="holdfast-ansible-test-"))
    # A private copy: a concurrent cargo build must not change the source mid-test.
    agent_bin = work / "controller" / "holdfast-agent"
    agent_bin.parent.mkdir(parents=True)
    shutil.copy2(built, agent_bin)
    logs = work / "logs"
    (logs / "tmp").mkdir(parents=True)
    print(f"scratch directory: {work} (playbook logs in {logs})")

    hosts = {"node-a": work / "node-a", "node-b": work / "node-b"}
    kmod = work / "controller" / "holdfast_cbt.ko"
    # No module source ships in this repository: a placeholder file stands in for the
    # built module (its installation is tested, its loading is not).
    kmod.write_bytes(b"placeholder for holdfast_cbt.ko\n")
    backends = {}
    for name, root in hosts.items():
        # What a Debian node already has before install.
        for d in ["usr/local/bin", "etc/systemd/system/multi-user.target.wants",
                  "etc/modules-load.d", f"lib/modules/{KVER}/kernel", "var/lib", "var/log"]:
            (root / d).mkdir(parents=True, exist_ok=True)
        # multi-user.target.wants is never empty on a real node (systemctl removes an
        # emptied .wants directory on disable).
        (root / "etc/systemd/system/multi-user.target.wants/ssh.service").symlink_to(
            "/lib/systemd/system/ssh.service")
        subprocess.run(["depmod", "--basedir", str(root), KVER], check=True, capture_output=True)
        # Backend paths live outside the roots (they are Cinder's or the target's
        # storage, which the role never creates or removes).
        files = work / "storage" / name / "volumes"
        files.mkdir(parents=True)
        blockdir = work / "storage" / name / "dev-cinder-volumes"  # stands for /dev/<vg>
        blockdir.mkdir()
        backends[name] = [
            {"name": "cinder-files", "kind": "file", "path": str(files)},
            {"name": "lvm", "kind": "block", "path": str(blockdir)},
        ]

    # node-b's data plane uses mutual TLS (the files stand for the site's PKI output).
    tls_b = make_tls(work / "pki-node-b", "node-b")

    inventory = {
        "all": {
            "children": {
                "replica": {
                    "hosts": {
                        "node-a": {
                            "holdfast_agent_root": str(hosts["node-a"]),
                            "holdfast_agent_kmod_src": str(kmod),
                            "holdfast_agent_kernel_release": KVER,
                            "holdfast_agent_data_plane_advertise": "127.0.0.1:7401",
                            "holdfast_agent_backends": backends["node-a"],
                            "holdfast_agent_bus_url": bus_url("node-a"),
                        },
                        "node-b": {
                            "holdfast_agent_root": str(hosts["node-b"]) + "/",
                            "holdfast_agent_kernel_release": KVER,
                            "holdfast_agent_data_plane_listen": "127.0.0.1:7402",
                            "holdfast_agent_bandwidth_limit_bps": 52428800,
                            "holdfast_agent_bus_namespace": "holdfast-test",
                            "holdfast_agent_backends": backends["node-b"],
                            "holdfast_agent_bus_url": bus_url("node-b"),
                            "holdfast_agent_data_plane_tls_cert_src": tls_b["cert"],
                            "holdfast_agent_data_plane_tls_key_src": tls_b["key"],
                            "holdfast_agent_data_plane_tls_ca_src": tls_b["ca"],
                            "holdfast_agent_data_plane_tls_crl_src": tls_b["crl"],
                        },
                    },
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_become": False,
                        "ansible_python_interpreter": str(args.ansible_bin / "python"),
                        "holdfast_agent_binary_src": str(agent_bin),
                        # status.json is written every heartbeat: keep the run short
                        "holdfast_agent_heartbeat_interval_ms": 1000,
                    },
                }
            }
        }
    }
    inv = work / "hosts.yml"
    inv.write_text(json.dumps(inventory, indent=2))  # JSON is YAML
    run = Runner(args.ansible_bin, inv, logs)
    err = rabbit_setup({"node-a": "holdfast", "node-b": "holdfast-test"})
    atexit.register(rabbit_cleanup, list(hosts))
    if err:
        print(f"  FAIL RabbitMQ set-up: {err}")
        return 1
    baseline = {h: tree(r) for h, r in hosts.items()}

    def unchanged(label):
        for h, r in hosts.items():
            now = tree(r)
            check(now == snapshot[h], f"{label}: {h} unchanged on disk\n{diff(snapshot[h], now)}"
                  if now != snapshot[h] else f"{label}: {h} unchanged on disk")

    def recap_ok(label, rc, out, recap, changed=None):
        good = rc == 0 and set(recap) == set(hosts) and all(
            r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values())
        if changed is not None:
            good = good and all(r["changed"] == changed for r in recap.values())
        if not check(good, f"{label}: rc=0, every host ok" + (f", changed={changed}" if changed is not None else "")
                     + f" (recap {recap})"):
            print(out[-3000:])

    print("syntax")
    rc, out, _ = run.play("install.yml", str(ANSIBLE / "start.yml"), str(ANSIBLE / "stop.yml"),
                          str(ANSIBLE / "remove.yml"), "--syntax-check")
    check(rc == 0, "install/start/stop/remove --syntax-check") or print(out[-2000:])

    print("install --check on fresh roots")
    snapshot = baseline
    rc, out, recap = run.play("install.yml", "--check")
    recap_ok("install --check", rc, out, recap)
    unchanged("install --check")

    print("invalid inventory values are refused before anything is written")
    for bad in ["holdfast_agent_bus_url=http://127.0.0.1/",
                # node-a: a TLS cert without key and CA; node-b: a missing file
                "holdfast_agent_data_plane_tls_cert_src=/nonexistent/agent.crt"]:
        rc, out, recap = run.play("install.yml", "-e", bad)
        check(rc != 0 and "must be an amqp" in out, f"refused: {bad}")
    unchanged("after refused installs")

    print("install")
    rc, out, recap = run.play("install.yml")
    recap_ok("install", rc, out, recap)
    check(all(r["changed"] > 0 for r in recap.values()), "install reported changes")

    unit_src = (REPO / "systemd" / "holdfast-agent.service").read_bytes()
    for h, r in hosts.items():
        print(f"  -- {h}")
        b = r / "usr/local/bin/holdfast-agent"
        check(b.is_file() and oct(b.stat().st_mode & 0o777) == "0o755"
              and b.read_bytes() == agent_bin.read_bytes(), f"{h}: binary installed 0755, same bytes")
        c = r / "etc/holdfast/agent.toml"
        check(c.is_file() and oct(c.stat().st_mode & 0o777) == "0o600", f"{h}: config 0600 (it holds the bus password)")
        check(oct((r / "etc/holdfast").stat().st_mode & 0o777) == "0o750", f"{h}: /etc/holdfast 0750")
        cfg = tomllib.loads(c.read_text())
        hv = inventory["all"]["children"]["replica"]["hosts"][h]
        expected = {
            "node_id": h,
            "bus_url": bus_url(h),
            "state_dir": "/var/lib/holdfast-agent",
            "log_dir": "/var/log/holdfast-agent",
            "heartbeat_interval_ms": 1000,
            "max_concurrent_transfers": 4,
            "data_plane": {"listen": hv.get("holdfast_agent_data_plane_listen", "0.0.0.0:7400")},
            "backends": backends[h],
        }
        if "holdfast_agent_data_plane_advertise" in hv:
            expected["data_plane"]["advertise"] = hv["holdfast_agent_data_plane_advertise"]
        if "holdfast_agent_bus_namespace" in hv:
            expected["bus_namespace"] = hv["holdfast_agent_bus_namespace"]
        if "holdfast_agent_data_plane_tls_cert_src" in hv:
            # Copied to /etc/holdfast/tls/, named relative to the config's directory.
            expected["data_plane"]["tls"] = {"cert": "tls/agent.crt", "key": "tls/agent.key", "ca": "tls/ca.crt",
                                             "crl": "tls/ca.crl"}
            for name, src, mode in [("agent.crt", "cert", "0o644"), ("agent.key", "key", "0o600"),
                                    ("ca.crt", "ca", "0o644"), ("ca.crl", "crl", "0o644")]:
                f = r / "etc/holdfast/tls" / name
                check(f.is_file() and oct(f.stat().st_mode & 0o777) == mode
                      and f.read_bytes() == Path(hv[f"holdfast_agent_data_plane_tls_{src}_src"]).read_bytes(),
                      f"{h}: TLS {name} installed {mode}")
        if "holdfast_agent_bandwidth_limit_bps" in hv:
            expected["bandwidth_limit_bps"] = hv["holdfast_agent_bandwidth_limit_bps"]
        check(cfg == expected, f"{h}: rendered config is the inventory's" + ("" if cfg == expected else f"\n    got      {cfg}\n    expected {expected}"))
        u = r / "etc/systemd/system/holdfast-agent.service"
        check(u.is_file() and u.read_bytes() == unit_src and oct(u.stat().st_mode & 0o777) == "0o644",
              f"{h}: unit installed 0644, identical to systemd/holdfast-agent.service")
        dropin = (r / "etc/systemd/system/holdfast-agent.service.d/10-ansible.conf").read_text()
        rw = re.findall(r"^ReadWritePaths=(.*)$", dropin, re.M)
        want_rw = ["-/var/lib/holdfast-agent", "-/var/log/holdfast-agent"] + [
            "-" + x["path"] for x in backends[h] if x["kind"] == "file"]
        check(rw == want_rw, f"{h}: drop-in makes state, logs and file backends writable ({rw})")
        for d, mode in [("var/lib/holdfast-agent", "0o700"), ("var/log/holdfast-agent", "0o700")]:
            check((r / d).is_dir() and oct((r / d).stat().st_mode & 0o777) == mode, f"{h}: {d} {mode}")
        link = r / "etc/systemd/system/multi-user.target.wants/holdfast-agent.service"
        check(link.is_symlink() and os.readlink(link) == "/etc/systemd/system/holdfast-agent.service",
              f"{h}: enabled (multi-user.target.wants symlink)")
        en = subprocess.run(["systemctl", f"--root={r}", "is-enabled", "holdfast-agent.service"],
                            capture_output=True, text=True)
        check(en.stdout.strip() == "enabled", f"{h}: systemctl --root is-enabled says {en.stdout.strip()!r}")
        ko = r / f"lib/modules/{KVER}/extra/holdfast_cbt.ko"
        mload = r / "etc/modules-load.d/holdfast.conf"
        moddep = (r / f"lib/modules/{KVER}/modules.dep").read_text()
        if h == "node-a":
            check(ko.read_bytes() == kmod.read_bytes(), f"{h}: kernel module installed")
            check(mload.is_file() and "holdfast_cbt" in mload.read_text().split("\n")[-2], f"{h}: module loaded at boot (modules-load.d)")
            check("extra/holdfast_cbt.ko" in moddep, f"{h}: module index (depmod) lists it")
        else:
            check(not ko.exists() and not mload.exists() and "holdfast_cbt" not in moddep,
                  f"{h}: no module given, none installed")

        # The agent itself parses what was rendered: `status` loads the config (exit 1
        # with "Error:" on stderr if it cannot), then reports each storage path, and
        # fails because the daemon is not running.
        env = dict(os.environ, HOLDFAST_AGENT_STATE_DIR=str(r / "var/lib/holdfast-agent"))
        st = subprocess.run([str(b), "status", "--config", str(c)], capture_output=True, text=True,
                            env=env, timeout=60)
        parsed = "Error" not in st.stderr and all(f"storage {x['path']}" in st.stdout
                                                   for x in backends[h] if x["kind"] == "file")
        check(parsed, f"{h}: the installed agent parses the rendered config and reports its backends")
        if not parsed:
            print(st.stdout, st.stderr)
        check(st.returncode != 0 and "not running" in st.stdout,
              f"{h}: agent status is non-zero while the daemon is not running")
        check(st.stdout.count(BUS_PASSWORD) == 0 and st.stderr.count(BUS_PASSWORD) == 0,
              f"{h}: agent output does not print the bus password")

        # systemd accepts the installed unit with its drop-in (host units for targets).
        vroot = work / f"verify-{h}"
        shutil.copytree(r, vroot, symlinks=True)
        shutil.copytree("/usr/lib/systemd/system", vroot / "usr/lib/systemd/system", symlinks=True,
                        dirs_exist_ok=True)
        # The unit's ExecReload runs /bin/kill, present on every host.
        (vroot / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2("/bin/kill", vroot / "bin" / "kill")
        v = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={vroot}",
                            "/etc/systemd/system/holdfast-agent.service"], capture_output=True, text=True)
        check(v.returncode == 0 and not (v.stdout + v.stderr).strip(),
              f"{h}: systemd-analyze verify is clean on the installed unit + drop-in {v.stdout}{v.stderr}")
        shutil.rmtree(vroot)

        # The installed agent, run the way systemd runs the installed unit (see
        # service_run.py: ExecStart, notify socket, watchdog, SIGTERM), connecting to the
        # real RabbitMQ as its own user with the documented permissions. On a copy of
        # the root, so that its state files do not disturb the idempotence checks.
        rroot = work / f"run-{h}"
        shutil.copytree(r, rroot, symlinks=True)
        unit = rroot / "etc/systemd/system/holdfast-agent.service"
        us = unit_settings(unit)
        check(us.get("Type") == "notify" and seconds(us.get("WatchdogSec", "0")) > 0,
              f"{h}: unit is Type=notify with WatchdogSec={us.get('WatchdogSec')}")
        renv = {"HOLDFAST_AGENT_STATE_DIR": str(rroot / "var/lib/holdfast-agent"),
                "HOLDFAST_AGENT_DATA_PLANE_LISTEN": "127.0.0.1:0"}
        (work / f"run-{h}-ctl").mkdir()
        svc = ServiceRun(rroot, unit, work / f"run-{h}-ctl", renv)
        try:
            ready = check(svc.wait_ready(), f"{h}: agent started from ExecStart sent READY=1")
            if ready:
                deadline = time.monotonic() + 15  # the first report comes one heartbeat (1 s) after READY
                while True:
                    st = subprocess.run([str(rroot / "usr/local/bin/holdfast-agent"), "status", "--config",
                                         str(rroot / "etc/holdfast/agent.toml")], capture_output=True, text=True,
                                        env=dict(os.environ, **renv), timeout=60)
                    if st.returncode == 0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)
                check(st.returncode == 0 and st.stdout.rstrip().endswith("healthy")
                      and "process: holdfast-agent running" in st.stdout,
                      f"{h}: holdfast-agent status: running and healthy (exit {st.returncode})")
                if st.returncode != 0:
                    print(st.stdout)
                gaps = svc.watchdog_gaps(3.0)
                check(len(gaps) >= 2 and max(gaps) < 2.0,
                      f"{h}: WATCHDOG=1 keep-alives well within the watchdog interval (gaps {[round(g, 2) for g in gaps]})")
            log = svc.log.read_text()
            check("ACCESS_REFUSED" not in log and "access refused" not in log.lower(),
                  f"{h}: RabbitMQ accepted the agent's own user with the documented permissions")
            rc, stopping, took = svc.stop()
            check(rc == 0 and stopping, f"{h}: SIGTERM: STOPPING=1 and exit 0 within TimeoutStopSec "
                  f"(exit {rc}, {took:.1f}s)")
            if not ready or rc != 0:
                print(log[:3000])
        finally:
            svc.kill()

    print("an agent cannot use another node's RabbitMQ user")
    rroot = work / "run-node-a"
    (work / "run-wrong-ctl").mkdir()
    unit = rroot / "etc/systemd/system/holdfast-agent.service"
    wrong = ServiceRun(rroot, unit, work / "run-wrong-ctl", {
        "HOLDFAST_AGENT_STATE_DIR": str(rroot / "var/lib/holdfast-agent"),
        "HOLDFAST_AGENT_DATA_PLANE_LISTEN": "127.0.0.1:0",
        "HOLDFAST_AGENT_NODE_ID": "node-b"})  # node-b's identity, node-a's bus user
    try:
        deadline = time.monotonic() + 20
        refused = False
        while time.monotonic() < deadline and not refused and wrong.proc.poll() is None:
            wrong.pump(time.monotonic() + 0.5)
            refused = "ACCESS_REFUSED" in wrong.log.read_text()
        check(refused and not any(m == "READY=1" for _, m in wrong.messages),
              "node-a's user may not declare or consume node-b's queue (ACCESS_REFUSED, never ready)")
    finally:
        wrong.kill()

    print("idempotence")
    snapshot = {h: tree(r) for h, r in hosts.items()}
    rc, out, recap = run.play("install.yml")
    recap_ok("second install", rc, out, recap, changed=0)
    unchanged("second install")
    rc, out, recap = run.play("install.yml", "--check")
    recap_ok("install --check after install", rc, out, recap, changed=0)
    unchanged("install --check after install")

    print("a changed variable changes the config only (node-a)")
    rc, out, recap = run.play("install.yml", "--limit", "node-a", "-e", "holdfast_agent_heartbeat_interval_ms=5000")
    check(rc == 0 and recap.get("node-a", {}).get("changed") == 1 and "node-b" not in recap,
          f"changed variable: rc=0, node-a changed=1 only ({recap})")
    now = tree(hosts["node-a"])
    changed_paths = [k for k in set(now) | set(snapshot["node-a"]) if now.get(k) != snapshot["node-a"].get(k)]
    check(changed_paths == ["etc/holdfast/agent.toml"], f"node-a: only agent.toml changed ({changed_paths})")
    check(tomllib.loads((hosts["node-a"] / "etc/holdfast/agent.toml").read_text())["heartbeat_interval_ms"] == 5000,
          "node-a: new heartbeat interval rendered")
    snapshot = {h: tree(r) for h, r in hosts.items()}

    print("start/stop need a running systemd")
    for pb in ["start.yml", "stop.yml"]:
        rc, out, recap = run.play(pb)
        check(rc != 0 and "holdfast_agent_root must be /" in out, f"{pb} refuses a scratch root")
    unchanged("start/stop refused")

    print("remove")
    rc, out, recap = run.play("remove.yml", "--check")
    recap_ok("remove --check", rc, out, recap)
    unchanged("remove --check")
    rc, out, recap = run.play("remove.yml")
    recap_ok("remove", rc, out, recap)
    for h, r in hosts.items():
        now = tree(r)
        check(now == baseline[h], f"{h}: remove left the root as it was before install"
              + ("" if now == baseline[h] else "\n" + diff(baseline[h], now)))
    for name in hosts:
        check((work / "storage" / name / "volumes").is_dir(), f"{name}: backend directory untouched")
    snapshot = baseline
    rc, out, recap = run.play("remove.yml")
    recap_ok("second remove", rc, out, recap, changed=0)
    unchanged("second remove")

    print(f"{passed} passed, {failed} failed")
    if failed == 0 and not args.keep:
        shutil.rmtree(work)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
