"""What the web benchmarks share: conditions, servers started and stopped, wrk, RSS."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def pg_url() -> str:
    return os.environ.get("DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/unionflow_bench")


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")


def conditions(**extra) -> str:
    """One line saying on what the figures beside it were taken."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    parts = [f"cpus={os.cpu_count()}", f"load avg={load}"] + [f"{k}={v}" for k, v in extra.items()]
    return "conditions: " + "  ".join(parts)


def data_size(url: str) -> str:
    from sqlalchemy import create_engine, text

    from webapp.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("history", "instances", "tasks", "users", "stations")}
    engine.dispose()
    return ", ".join(f"{v:,} {k}" for k, v in counts.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str = "/", timeout: float = 60) -> None:
    import urllib.error
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing answers on port {port}")


@contextmanager
def process(args: list[str], env: dict, log: Path):
    """A child process in its own group, ended (TERM, then KILL) on the way out."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def gunicorn(app: str, port: int, workers: int, env: dict, log: Path, worker_class="sync",
             threads: int = 1):
    args = [str(BIN / "gunicorn"), "-w", str(workers), "-k", worker_class, "-b",
            f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning"]
    if threads > 1:
        args += ["--threads", str(threads)]
    return process(args + [app], env, log)


def app_env(database_url: str, redis: str | None, **extra) -> dict:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.update({"DATABASE_URL": database_url, "SECRET_KEY": "bench-only-secret-key-0123456789",
                "UNIONFLOW_ENV": "production", "UNIONFLOW_SESSION_COOKIE_SECURE": "false",
                "UNIONFLOW_REMEMBER_COOKIE_SECURE": "false", "UNIONFLOW_HSTS": "false",
                "UNIONFLOW_PROXY_FIX": "false", "UNIONFLOW_MAIL_BACKEND": "console",
                "UNIONFLOW_PUBLIC_URL": "https://unionflow.bench.example",
                "UNIONFLOW_INSTANCE_PATH": str(Path("/tmp/unionflow-bench-instance")),
                # One token per person here; the limit is for real clients.
                "UNIONFLOW_TOKEN_ISSUE_LIMITS": '["100000 per hour"]',
                "PYTHONPATH": str(ROOT)})
    if redis:
        env["REDIS_URL"] = redis
    env.update(extra)
    return env


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_owner(pid: str) -> str | None:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return None
    if "gunicorn" in cmd:
        return "web"
    if "postgres" in cmd:
        return "postgresql"
    if "redis-server" in cmd:
        return "redis"
    if " worker" in cmd and ("flask" in cmd or " rq " in cmd):
        return "rq worker"
    return None


def cpu_by_owner() -> dict[str, float]:
    """CPU seconds used so far by the processes the benchmark measures, by what they are
    (gunicorn's, PostgreSQL's, Redis's, the RQ worker's); ``wrk`` (a child of this
    process, counted once it has exited) under "wrk"."""
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        owner = _cpu_owner(entry)
        if owner is None:
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime and the ticks of children already reaped (a forked work horse).
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        totals[owner] = totals.get(owner, 0.0) + ticks / _TICK
    children = os.times()
    totals["wrk"] = children.children_user + children.children_system
    return totals


def cpu_split(before: dict[str, float], after: dict[str, float], requests: int) -> str:
    """Milliseconds of CPU per request by owner, between two ``cpu_by_owner`` readings.
    Processes that started or ended in between are counted by what they show."""
    if not requests:
        return ""
    parts = []
    for owner in ("web", "postgresql", "redis", "rq worker", "wrk"):
        used = after.get(owner, 0.0) - before.get(owner, 0.0)
        if used > 0:
            parts.append(f"{owner} {used / requests * 1000:.2f}")
    return "CPU ms per request: " + ", ".join(parts)


def wrk(port: int, lines: Path, seconds: int, connections: int, threads: int = 2) -> dict:
    """Run wrk over the requests in ``lines``; its figures as a dict (with ``cpu``: the
    CPU per request by process, see ``cpu_split``)."""
    before = cpu_by_owner()
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(BENCH / "requests.lua"), f"http://127.0.0.1:{port}",
         "--", str(lines), str(threads)],
        capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result = json.loads(line[len("WRKJSON "):])
    result["rps"] = result["requests"] / result["seconds"]
    result["cpu"] = cpu_split(before, cpu_by_owner(), result["requests"])
    return result


def write_lines(path: Path, rows) -> int:
    n = 0
    with open(path, "w") as f:
        for method, url, token, body in rows:
            f.write(f"{method}\t{url}\t{token or '-'}\t"
                    f"{json.dumps(body, ensure_ascii=False) if body is not None else '-'}\n")
            n += 1
    return n


def fmt(r: dict) -> str:
    codes = " ".join(f"{k}×{v}" for k, v in sorted(r["statuses"].items()))
    return (f"{r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
            f"p99 {r['p99_ms']:7.1f} ms  ({r['requests']} requests, {codes}"
            f"{', socket errors ' + str(r['socket_errors']) if r['socket_errors'] else ''})"
            + (f"\n  {r['cpu']}" if r.get("cpu") else ""))


# --- memory ------------------------------------------------------------------------

def _status(pid: int) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024  # MB
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(x) for x in text.split()]


class RssSampler:
    """Samples the RSS of named process trees every ``interval`` s; keeps the peaks.

    A gunicorn master's children are its workers; an RQ worker forks a work horse per
    job, so its children are sampled too (their peak is reported as the horse's)."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.roots: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self.roots[name] = pid

    def _sample(self) -> None:
        for name, pid in list(self.roots.items()):
            kids = children(pid)
            if name.startswith("gunicorn"):
                targets = {f"{name} worker": kids}
            else:
                targets = {name: [pid], f"{name} work horse": kids}
            for label, pids in targets.items():
                for p in pids:
                    rss = _status(p).get("VmRSS")
                    if rss:
                        self.peak[label] = max(self.peak.get(label, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def report(self) -> str:
        return "  ".join(f"{k}: {v} MB" for k, v in sorted(self.peak.items()))


def timed_statements(app) -> list[tuple[float, str]]:
    """A list that every SQL statement the app's engine runs from now on is added to, as
    (seconds, text) — for the profilers' "slowest queries"."""
    from sqlalchemy import event

    from webapp.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, params, context, many):
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, params, context, many):
        seen.append((time.perf_counter() - conn.info["t0"], statement))

    return seen


def print_slowest(statements: list[tuple[float, str]], n: int, width: int = 300) -> None:
    for took, statement in sorted(statements, reverse=True)[:n]:
        print(f"{took * 1000:8.2f} ms  {' '.join(statement.split())[:width]}")
