#!/usr/bin/env python3
"""Runs the procedures of docs/backup-restore.md against real orchestrators.

SQLite: `sqlite3 DB ".backup FILE"` while `holdfast serve` runs, integrity check, restore
into a fresh data directory, a new orchestrator on it has the data taken before the
backup and not what was written after it.
PostgreSQL: the same with `pg_dump --format=custom`, `dropdb`/`createdb`, `pg_restore`.

Usage: backup_restore_test.py --holdfast BIN [--postgres-url URL]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

PASSWORD = "Bk-check-2026!x"  # the password policy allows 6 to 16 characters
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


class Orchestrator:
    def __init__(self, holdfast, work, name, env):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / f"{name}.log"
        full = dict(os.environ, HOLDFAST_ADMIN_PASSWORD=PASSWORD, HOLDFAST_BIND=f"127.0.0.1:{self.port}", **env)
        self.proc = subprocess.Popen([holdfast, "serve"], env=full, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        self.ready = False
        while time.monotonic() < deadline and self.proc.poll() is None:
            if http("GET", self.url + "/readyz", timeout=2)[0] == 200:
                self.ready = True
                break
            time.sleep(0.2)
        self.token = None
        if self.ready:
            s, body = http("POST", self.url + "/api/v1/sessions", {"id": "admin", "password": PASSWORD})
            if s == 201:
                self.token = json.loads(body)["token"]
        if not self.token:
            print(self.log.read_text()[-2000:])

    def create_user(self, uid):
        s, _ = http("POST", self.url + "/api/v1/users",
                    {"id": uid, "name": uid, "email": f"{uid}@example.org", "role": "viewer"}, token=self.token)
        return s

    def has_user(self, uid):
        return http("GET", f"{self.url}/api/v1/users/{uid}", token=self.token)[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "killed"
        return self.proc.returncode


def sqlite_case(holdfast, work):
    print("SQLite: online backup with sqlite3 .backup, restore into a fresh data directory")
    data = work / "sqlite-data"
    o = Orchestrator(holdfast, work, "sqlite-before", {"HOLDFAST_DATA_DIR": str(data)})
    try:
        if not check(o.token is not None, "orchestrator on SQLite is ready and admin logs in"):
            return
        check(o.create_user("beforebackup") == 201, "created user beforebackup")
        backup = work / "holdfast-backup.db"
        r = subprocess.run(["sqlite3", str(data / "holdfast.db"), f".backup '{backup}'"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and backup.is_file(), f"sqlite3 .backup while it runs {r.stderr.strip()}")
        r = subprocess.run(["sqlite3", str(backup), "PRAGMA integrity_check"], capture_output=True, text=True)
        check(r.stdout.strip() == "ok", f"integrity_check of the backup: {r.stdout.strip()}")
        check(o.create_user("afterbackup") == 201, "created user afterbackup (after the backup)")
    finally:
        check(o.stop() == 0, "orchestrator stopped")
    restored = work / "sqlite-restored"
    restored.mkdir()
    shutil.copy(backup, restored / "holdfast.db")
    o = Orchestrator(holdfast, work, "sqlite-after", {"HOLDFAST_DATA_DIR": str(restored)})
    try:
        if check(o.token is not None, "orchestrator on the restored file is ready"):
            check(o.has_user("beforebackup") == 200, "restored: beforebackup is there")
            check(o.has_user("afterbackup") == 404, "restored: afterbackup is not (it came after the backup)")
    finally:
        check(o.stop() == 0, "orchestrator stopped")


def postgres_case(holdfast, work, pg_url):
    print("PostgreSQL: pg_dump --format=custom, dropdb/createdb, pg_restore")
    u = urllib.parse.urlparse(pg_url)
    conn = ["--host", u.hostname or "127.0.0.1", "--port", str(u.port or 5432), "--username", u.username or "postgres"]
    db = "holdfast_backup_" + uuid.uuid4().hex[:10]
    db_url = urllib.parse.urlunparse(u._replace(path="/" + db))
    r = subprocess.run(["createdb", *conn, db], capture_output=True, text=True, timeout=60)
    if not check(r.returncode == 0, f"createdb {db} {r.stderr.strip()}"):
        return
    try:
        o = Orchestrator(holdfast, work, "pg-before", {"HOLDFAST_DATABASE_URL": db_url,
                                                       "HOLDFAST_DATA_DIR": str(work / "pg-data")})
        dump = work / "holdfast.dump"
        try:
            if not check(o.token is not None, "orchestrator on PostgreSQL is ready and admin logs in"):
                return
            check(o.create_user("beforebackup") == 201, "created user beforebackup")
            r = subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", db_url],
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0 and dump.stat().st_size > 0, f"pg_dump while it runs {r.stderr.strip()}")
            check(o.create_user("afterbackup") == 201, "created user afterbackup (after the backup)")
        finally:
            check(o.stop() == 0, "orchestrator stopped")
        for cmd in (["dropdb", *conn, db], ["createdb", *conn, db]):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"{cmd[0]} {r.stderr.strip()}")
        r = subprocess.run(["pg_restore", "--no-owner", f"--dbname={db_url}", str(dump)],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"pg_restore {r.stderr.strip()[:500]}")
        o = Orchestrator(holdfast, work, "pg-after", {"HOLDFAST_DATABASE_URL": db_url,
                                                      "HOLDFAST_DATA_DIR": str(work / "pg-data-2")})
        try:
            if check(o.token is not None, "orchestrator on the restored database is ready"):
                check(o.has_user("beforebackup") == 200, "restored: beforebackup is there")
                check(o.has_user("afterbackup") == 404, "restored: afterbackup is not (it came after the backup)")
        finally:
            check(o.stop() == 0, "orchestrator stopped")
    finally:
        subprocess.run(["dropdb", "--if-exists", *conn, db], capture_output=True, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--holdfast", required=True)
    ap.add_argument("--postgres-url", default=os.environ.get(
        "HOLDFAST_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="holdfast-backup-check-"))
    try:
        sqlite_case(args.holdfast, work)
        postgres_case(args.holdfast, work, args.postgres_url)
    finally:
        if failed == 0:
            shutil.rmtree(work)
        else:
            print(f"logs kept in {work}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
