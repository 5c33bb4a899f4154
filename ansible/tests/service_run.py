"""Runs an installed agent the way systemd runs holdfast-agent.service, without systemd.

PID 1 on the test machine is not systemd, so this plays the service manager's part of
the unit's contract, honestly and no more: it takes ExecStart from the installed unit
(paths mapped into the test root), provides a notify socket (NOTIFY_SOCKET) and a
watchdog interval (WATCHDOG_USEC), waits for READY=1, watches WATCHDOG=1 keep-alives,
sends SIGTERM as `systemctl stop` would, and expects STOPPING=1 and a clean exit within
TimeoutStopSec. The sandboxing directives of the unit are not applied here.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path


def unit_settings(unit: Path) -> dict:
    out = {}
    for line in unit.read_text().splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(s|min)?", value.strip())
    if not m:
        raise ValueError(f"unsupported time span {value!r}")
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


class ServiceRun:
    """One start/stop of the unit's ExecStart under an emulated notify socket."""

    def __init__(self, root: Path, unit: Path, work: Path, env: dict, watchdog_s: float = 2.0):
        self.settings = unit_settings(unit)
        self.root = root
        self.messages: list[tuple[float, str]] = []
        self.sock_path = work / "notify.sock"
        if self.sock_path.exists():
            self.sock_path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(0.2)
        argv = [self.map(a) for a in shlex.split(self.settings["ExecStart"])]
        self.log = work / "agent.log"
        full_env = dict(os.environ, NOTIFY_SOCKET=str(self.sock_path),
                        WATCHDOG_USEC=str(int(watchdog_s * 1_000_000)), RUST_BACKTRACE="0", **env)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))

    def map(self, arg: str) -> str:
        """An absolute path of the unit, inside the test root."""
        if arg.startswith("/") and (self.root / arg.lstrip("/")).exists():
            return str(self.root / arg.lstrip("/"))
        return arg

    def pump(self, until: float, stop_on: str | None = None) -> bool:
        """Collects notify messages until the deadline (or a message); True if seen."""
        while time.monotonic() < until:
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                if self.proc.poll() is not None and stop_on:
                    return False
                continue
            for line in data.splitlines():
                self.messages.append((time.monotonic() - self.t0, line))
                if stop_on and line == stop_on:
                    return True
        return False

    def wait_ready(self) -> bool:
        limit = seconds(self.settings.get("TimeoutStartSec", "90s"))
        return self.pump(time.monotonic() + limit, stop_on="READY=1")

    def watchdog_gaps(self, observe_s: float) -> list[float]:
        self.pump(time.monotonic() + observe_s)
        times = [t for t, m in self.messages if m == "WATCHDOG=1"]
        return [b - a for a, b in zip(times, times[1:])]

    def stop(self) -> tuple[object, bool, float]:
        """SIGTERM; returns (exit code, STOPPING=1 seen, seconds to exit)."""
        limit = seconds(self.settings.get("TimeoutStopSec", "90s"))
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        deadline = t + limit
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.pump(time.monotonic() + 0.2)
        self.pump(time.monotonic() + 0.3)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            rc = "killed after TimeoutStopSec"
        else:
            rc = self.proc.returncode
        self.sock.close()
        return rc, any(m == "STOPPING=1" for _, m in self.messages), time.monotonic() - t

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
