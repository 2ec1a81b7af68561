"""Shared plumbing for benchmarks: a throw-away database, a real gunicorn, a load generator, statistics."""

import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
SETTINGS = "bench.support.settings"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def bench_env(db_name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=f"{PG_SERVER}/{db_name}",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def reset_database(db_name: str) -> None:
    """Drop and create db_name, so every run starts from the same empty schema."""
    if not db_name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {db_name!r}")
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')


def db_query(db_name: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(f"{PG_SERVER}/{db_name}", autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def manage(db_name: str, *args: str) -> None:
    subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=bench_env(db_name),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(db_name: str, *, workers: int, threads: int) -> Iterator[tuple[int, int]]:
    """Serve the bench settings with gunicorn (gthread) on a free port; always stopped on exit.

    Yields (port, master pid). Server output goes to a temporary log, kept (and named on
    stderr) only if something failed.
    """
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        str(BIN / "gunicorn"),
        "backcare.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--worker-class=gthread",
        f"--workers={workers}",
        f"--threads={threads}",
        "--keep-alive=10",
        f"--chdir={ROOT}",
        "--log-level=warning",
    ]
    env = bench_env(db_name)
    env.setdefault("BACKCARE_LOG_LEVEL", "WARNING")
    proc = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    failed = True
    try:
        _wait_ready(proc, port, log.name)
        yield port, proc.pid
        failed = False
    finally:
        _stop(proc)
        log.close()
        if failed:
            print(f"gunicorn output kept in {log.name}", file=sys.stderr)
        else:
            os.unlink(log.name)


def _wait_ready(proc: subprocess.Popen, port: int, log_name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {log_name}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = request("127.0.0.1", port, "GET", "/healthz")
            if status:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within 30 s; see {log_name}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the gunicorn we started (its own process group: master and workers)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    kids.append(int(entry.name))
    return kids


def cpu_snapshot(master_pid: int, db_name: str) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by the gunicorn workers and by the PostgreSQL backends of db_name.

    Backends are found in pg_stat_activity (the server runs on this machine); a backend that
    exits between two snapshots loses its last slice, which persistent connections make rare.
    """
    rows = db_query(
        db_name, "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db_name,)
    )
    return {
        "web": {pid: _cpu_seconds(pid) for pid in _children(master_pid)},
        "db": {pid: _cpu_seconds(pid) for (pid,) in rows},
    }


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per part between two snapshots (processes that appeared count from zero)."""
    return {
        part: sum(max(0.0, cpu - before[part].get(pid, 0.0)) for pid, cpu in after[part].items())
        for part in ("web", "db")
    }


def request(host: str, port: int, method: str, path: str, body=None, token: str | None = None):
    """One request on a fresh connection: (status, decoded JSON or None)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw[:300]


def run_phase(spec: dict) -> dict:
    """Run one load phase in a separate process (bench.support.loadgen)."""
    done = subprocess.run(
        [str(BIN / "python"), "-m", "bench.support.loadgen"],
        cwd=ROOT,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        timeout=spec["warmup"] + spec["duration"] + 120,
    )
    return json.loads(done.stdout)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]
