#!/usr/bin/env python3
"""The sample configuration files printed in docs/install-single-node.md are accepted
by the real binaries, run the way the shipped units run them.

- holdfast.toml: `holdfast serve` started with systemd/holdfast.service's ExecStart
  (paths mapped into a scratch directory, the listen address moved to a free loopback
  port) answers /readyz, the documented admin password logs in, and SIGTERM stops it
  with exit 0.
- agent.toml: `holdfast-agent status --config` loads it (a refused file makes the agent
  print "Error" and no status lines).

Usage: sample_configs_test.py --bin-dir DIR
"""

import argparse
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "install-single-node.md"
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


def toml_blocks(text):
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def get(url, body=None, timeout=3):
    req = urllib.request.Request(url, method="POST" if body else "GET")
    data = json.dumps(body).encode() if body else None
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data=data, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True, type=Path)
    args = ap.parse_args()
    blocks = toml_blocks(DOC.read_text())
    orch = [b for b in blocks if "bind =" in b]
    agent = [b for b in blocks if "node_id =" in b]
    if not (check(len(orch) == 1 and len(agent) == 1, f"{DOC.name} has one orchestrator and one agent sample")):
        return 1
    work = Path(tempfile.mkdtemp(prefix="holdfast-sample-configs-"))

    print("holdfast.toml from the docs, started like systemd/holdfast.service")
    conf = work / "etc/holdfast/holdfast.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text(orch[0])
    sample = tomllib.loads(orch[0])
    exec_start = next(line.split("=", 1)[1] for line in (REPO / "systemd/holdfast.service").read_text().splitlines()
                      if line.startswith("ExecStart="))
    argv = shlex.split(exec_start)
    argv[0] = str(args.bin_dir / Path(argv[0]).name)
    argv = [str(work / a.lstrip("/")) if a.startswith(("/etc/holdfast", "/var/lib/holdfast")) else a for a in argv]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # HOLDFAST_BIND moves the documented 0.0.0.0:8080 to a free loopback port.
    env = dict(os.environ, HOLDFAST_BIND=f"127.0.0.1:{port}", RUST_BACKTRACE="0")
    log = work / "holdfast.log"
    proc = subprocess.Popen(argv, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and get(f"http://127.0.0.1:{port}/readyz") != 200:
            time.sleep(0.2)
        ready = check(get(f"http://127.0.0.1:{port}/readyz") == 200, "the documented holdfast.toml starts and is ready")
        if ready:
            s = get(f"http://127.0.0.1:{port}/api/v1/sessions", {"id": "admin", "password": sample["admin_password"]})
            check(s == 201, f"the documented admin_password logs in (status {s})")
            check((work / "var/lib/holdfast/holdfast.db").is_file(), "SQLite database in the unit's --data-dir")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "killed"
        check(rc == 0, f"SIGTERM stops it with exit 0 (exit {rc})")
        if failed:
            print(log.read_text()[-2000:])

    print("agent.toml from the docs, loaded by holdfast-agent")
    aconf = work / "agent.toml"
    aconf.write_text(agent[0])
    st = subprocess.run([str(args.bin_dir / "holdfast-agent"), "status", "--config", str(aconf)],
                        capture_output=True, text=True, timeout=60,
                        env=dict(os.environ, RUST_BACKTRACE="0", HOLDFAST_AGENT_STATE_DIR=str(work / "agent-state")))
    check("Error" not in st.stderr and "kernel module:" in st.stdout,
          "the documented agent.toml is accepted" + ("" if "Error" not in st.stderr else f": {st.stderr.strip()[:300]}"))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
