"""HTTP throughput of ``medbook serve`` against a trivial Falcon endpoint under the same gunicorn,
driven by wrk (issue 13, deliverable 2).

    python bench/http_bench.py                                  # MariaDB, 4 workers, 20 s each
    python bench/http_bench.py --db sqlite
    python bench/http_bench.py --driver mysqldb                 # the server on mysqlclient
    python bench/http_bench.py --src /tmp/medbook-before/src    # serve an older checkout
    python bench/http_bench.py --only trivial,get7 --duration 5 --patients 5000 --doctors 200

(Not ``bench/http.py``: with ``bench/`` first on ``sys.path``, as it is for every script run from
there, a module named ``http`` hides the standard library's and breaks ``urllib.request`` in
the other benchmarks.)

One run: a throwaway database (MariaDB on MEDBOOK_TEST_MARIADB_URL, default root@127.0.0.1, or a
SQLite file), migrated; the city of ``bench/city.py`` (50 hospitals, ``--doctors`` doctors with
quota ``--quota`` a session, ``--patients`` patients, ``--services`` home-visit services) loaded in
bulk; a bearer token issued directly for every patient (JwtTokens with the server's secret: no
login, so no login throttle); then ``medbook serve --workers N`` and ``bench/trivial_app.py
--workers N`` on free loopback ports, and one wrk run (``--threads`` x ``--connections``,
``--duration`` s, ``--latency``, script ``bench/wrk/medbook.lua``) per workload, one at a time:

- ``trivial``: ``GET /ping`` of the trivial app;
- ``get7`` / ``get14``: ``GET /v1/doctors/{id}/sessions?from=today&to=today+6 (or +13)``
  (Asia/Shanghai), a random doctor each time;
- ``post``: ``POST /v1/appointments``, each request a patient never used before (each wrk thread
  its own patients) and a random session the doctors offer between tomorrow and today + 14 (the
  BookingPolicy window), so no refusal for the daily limit, a duplicate or the window; with
  quota 50 and 1,000 doctors, no session fills up;
- ``mix``: 70% ``get7`` / 30% ``post``.

A 3 s warm-up run of each server precedes the measurements (not reported); the trivial endpoint
is measured first and again last ("trivial-end"), and the ratios use the mean of the two. Per
workload: requests/s, the ratio to the trivial endpoint's requests/s in the same run, p50 / p99
(wrk's latency distribution), every status code counted by the script, 5xx, non-2xx/3xx and socket
errors, and the 1-minute load average when it started (other work on the machine shows there).
Afterwards, the server's log is searched for 5xx lines and tracebacks, and the booked
appointments are counted against the 201s. ``--out FILE`` appends the table to FILE.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORKLOADS = ["trivial", "get7", "get14", "post", "mix"]
TIMEZONE = "Asia/Shanghai"


def _reexec_with(src: str) -> None:
    """Run this script again with ``src`` first on PYTHONPATH (once), so that the database is
    migrated, loaded and served by the same medbook."""
    if os.environ.get("MEDBOOK_BENCH_SRC") == src:
        return
    env = dict(os.environ, PYTHONPATH=src, MEDBOOK_BENCH_SRC=src)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _src_argument() -> str | None:
    for n, arg in enumerate(sys.argv):
        if arg == "--src" and n + 1 < len(sys.argv):
            return str(Path(sys.argv[n + 1]).resolve())
        if arg.startswith("--src="):
            return str(Path(arg.split("=", 1)[1]).resolve())
    return None


if __name__ == "__main__" and (_given := _src_argument()):
    _reexec_with(_given)

from city import bookable_sessions, load_city  # noqa: E402
from databases import throwaway_database  # noqa: E402
from sqlalchemy import func, make_url, select  # noqa: E402

import medbook  # noqa: E402
from medbook.adapters.security import JwtTokens  # noqa: E402
from medbook.adapters.sql import make_engine  # noqa: E402
from medbook.adapters.sql.booking import appointments  # noqa: E402
from medbook.adapters.sql.migrate import upgrade  # noqa: E402
from medbook.domain.shared.actors import Actor, Role  # noqa: E402


@dataclass
class Result:
    workload: str
    requests_per_s: float
    requests: int
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0
    socket_errors: str = "none"
    posts: int = 0
    exhausted: int = 0
    load: float = 0.0  # the 1-minute load average when the run started

    @property
    def errors_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=1)
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _milliseconds(microseconds: str) -> float:
    return int(microseconds) / 1000


def _run_wrk(
    args: argparse.Namespace, url: str, workload: str, duration: int, extra: list[str]
) -> Result:
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={duration}s",
        "--timeout=10s",
        "--latency",
        f"--script={BENCH / 'wrk' / 'medbook.lua'}",
        url,
        "--",
        f"threads={args.threads}",
        *extra,
    ]
    load = os.getloadavg()[0]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if args.verbose:
        print(" ".join(command), output, sep="\n")
    requests_per_s = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: (.*)", output)
    percentiles = dict(re.findall(r"PERCENTILE ([\d.]+) (\d+)", output))
    return Result(
        workload,
        requests_per_s,
        requests,
        _milliseconds(percentiles["50"]),
        _milliseconds(percentiles["99"]),
        {int(s): int(n) for s, n in re.findall(r"STATUS (\d+) (\d+)", output)},
        int(non.group(1)) if non else 0,
        sockets.group(1).strip() if sockets else "none",
        int(re.search(r"POSTS (\d+)", output).group(1)),  # type: ignore[union-attr]
        int(re.search(r"EXHAUSTED (\d+)", output).group(1)),  # type: ignore[union-attr]
        load,
    )


def _trivial(results: list[Result]) -> float | None:
    """The yardstick: the mean of the trivial runs (one before, one after the others)."""
    runs = [r.requests_per_s for r in results if r.workload.startswith("trivial")]
    return sum(runs) / len(runs) if runs else None


def _table(results: list[Result]) -> str:
    trivial = _trivial(results)
    target = {"get7": 0.40, "get14": 0.40, "post": 0.20, "mix": 0.30}
    rows = [
        "| workload | req/s | of trivial (target) | p50 | p99 | statuses | 5xx | non-2xx/3xx "
        "| socket errors | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = ""
        if trivial is not None and not r.workload.startswith("trivial"):
            ratio = f"{r.requests_per_s / trivial:.1%}"
        if r.workload in target and ratio:
            ratio += f" (≥ {target[r.workload]:.0%})"
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(r.statuses.items()))
        rows.append(
            f"| {r.workload} | {r.requests_per_s:,.0f} | {ratio} | {r.p50_ms:.1f} ms "
            f"| {r.p99_ms:.1f} ms | {statuses} | {r.errors_5xx} | {r.non_2xx_3xx} "
            f"| {r.socket_errors} | {r.load:.1f} |"
        )
    return "\n".join(rows)


def _server_times(text: str) -> list[str]:
    """The app's own durations per route, from its access log (queueing in gunicorn's backlog
    not included: the difference from wrk's latency is time spent waiting for a worker)."""
    durations: dict[str, list[float]] = {}
    for line in text.splitlines():
        if '"medbook.access"' not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            entry = json.loads(line)
            key = f"{entry['method']} {entry['route']}"
            durations.setdefault(key, []).append(float(entry["duration_ms"]))
    lines = []
    for key, values in sorted(durations.items()):
        if len(values) < 10:
            continue
        values.sort()
        lines.append(
            f"- in the app, `{key}`: {len(values):,} requests, p50 "
            f"{values[len(values) // 2]:.1f} ms, p99 {values[int(len(values) * 0.99)]:.1f} ms"
        )
    return lines


def _verdict(results: list[Result]) -> list[str]:
    by = {r.workload: r for r in results}
    trivial = _trivial(results)
    lines = []
    if trivial:
        for workload, share in (("get7", 0.4), ("get14", 0.4), ("post", 0.2), ("mix", 0.3)):
            r = by.get(workload)
            if r:
                ratio = r.requests_per_s / trivial
                ok = ratio >= share and r.p99_ms < 50 and r.errors_5xx == 0
                lines.append(
                    f"- {workload}: {ratio:.1%} of trivial (target ≥ {share:.0%}), p99 "
                    f"{r.p99_ms:.1f} ms (target < 50 ms), 5xx {r.errors_5xx}: "
                    f"{'met' if ok else 'NOT met'}"
                )
    return lines


def _with_driver(url: str, driver: str) -> str:
    """``url`` with ``driver`` for a MariaDB URL (the server's; the loader keeps PyMySQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "mysql":
        return url
    return parsed.set(drivername=f"mysql+{driver}").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["mariadb", "sqlite"], default="mariadb")
    parser.add_argument(
        "--driver",
        choices=["pymysql", "mysqldb"],
        default="pymysql",
        help="the server's MariaDB driver: PyMySQL, or mysqlclient (medbook[mysqlclient])",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--server-threads",
        type=int,
        default=1,
        help="threads per gunicorn worker, for both servers (more than 1: gthread workers)",
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per workload")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    parser.add_argument("--src", help="serve (and load with) the medbook under this src folder")
    parser.add_argument("--doctors", type=int, default=1_000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=0, help="home-visit services to load")
    parser.add_argument("--quota", type=int, default=50)
    parser.add_argument("--out", help="append the results (markdown) to this file")
    parser.add_argument("--label", default="", help="a name for this run in the output")
    parser.add_argument("--log", help="keep the server's log in this file")
    parser.add_argument("--verbose", action="store_true", help="print wrk's own output")
    args = parser.parse_args()
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {sorted(unknown)}; choose from {WORKLOADS}")
    if args.src and not medbook.__file__.startswith(str(Path(args.src).resolve())):
        raise SystemExit(f"medbook comes from {medbook.__file__}, not {args.src}")
    print(f"medbook: {medbook.__file__}", flush=True)

    workdir = tempfile.TemporaryDirectory(prefix="medbook-http-bench-")
    folder = Path(workdir.name)
    url, database = throwaway_database(args.db)
    servers: list[subprocess.Popen[bytes]] = []
    results: list[Result] = []
    log = folder / "medbook-serve.log"
    try:
        engine = make_engine(url)
        upgrade(engine)
        city = load_city(
            engine,
            doctors_count=args.doctors,
            patients_count=args.patients,
            services_count=args.services,
            quota=args.quota,
        )
        engine.dispose()
        print(f"{args.db}: {city.summary()}", flush=True)

        secret = secrets.token_urlsafe(48)
        today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
        tokens = JwtTokens(secret, lifetime=dt.timedelta(hours=3))
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        tokens_file = folder / "tokens.txt"
        with tokens_file.open("w") as out:
            for patient in city.patient_ids:
                out.write(tokens.issue(Actor(patient, Role.PATIENT), now) + "\n")
        sessions_file = folder / "sessions.txt"
        with sessions_file.open("w") as out:
            for doctor, date, period in bookable_sessions(city, today):
                out.write(f"{doctor} {date.isoformat()} {period.value}\n")
        print(f"{len(city.patient_ids):,} tokens in {time.perf_counter() - started:.1f} s")

        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDBOOK_")}
        if args.src:
            env["PYTHONPATH"] = str(Path(args.src).resolve())
        env |= {
            "MEDBOOK_DATABASE_URL": _with_driver(url, args.driver),
            "MEDBOOK_JWT_SECRET": secret,
            "MEDBOOK_DATA_DIR": str(folder / "data"),
            "MEDBOOK_STORAGE_URL": f"file://{folder / 'storage'}",
            "MEDBOOK_TOKEN_TTL_MINUTES": "180",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        medbook_port, trivial_port = _free_port(), _free_port()
        # Only when asked: an older medbook (--src) has no --threads.
        threads = ("--threads", str(args.server_threads)) if args.server_threads > 1 else ()
        with log.open("wb") as sink:
            servers.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "medbook.entrypoints.cli", "serve"),
                        *("--bind", f"127.0.0.1:{medbook_port}", "--workers", str(args.workers)),
                        *threads,
                    ],
                    env=env,
                    cwd=folder,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            servers.append(
                subprocess.Popen(
                    [
                        *(sys.executable, str(BENCH / "trivial_app.py")),
                        *("--bind", f"127.0.0.1:{trivial_port}", "--workers", str(args.workers)),
                        *threads,
                    ],
                    env=env,
                    cwd=folder,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        medbook_url = f"http://127.0.0.1:{medbook_port}"
        trivial_url = f"http://127.0.0.1:{trivial_port}"
        _wait_for(f"{medbook_url}/readyz", servers[0], "medbook serve")
        _wait_for(f"{trivial_url}/ping", servers[1], "the trivial app")

        week = (today + dt.timedelta(days=6)).isoformat()
        fortnight = (today + dt.timedelta(days=13)).isoformat()
        common = [
            f"doctors={args.doctors}",
            f"from={today.isoformat()}",
            f"sessions={sessions_file}",
            f"tokens={tokens_file}",
        ]
        base = 0
        for target, extra in (
            (trivial_url, ["mode=trivial"]),
            (medbook_url, ["mode=get", *common, f"to={week}"]),
        ):
            _run_wrk(args, target, "warm-up", 3, extra)
        if "trivial" in only and len(only) > 1:
            only.append("trivial-end")  # the yardstick again: the machine may have changed
        for workload in only:
            if workload.startswith("trivial"):
                target, extra = trivial_url, ["mode=trivial", "path=/ping"]
            elif workload in ("get7", "get14"):
                to = week if workload == "get7" else fortnight
                target, extra = medbook_url, ["mode=get", *common, f"to={to}"]
            else:
                target = medbook_url
                extra = [f"mode={workload}", *common, f"to={week}", f"base={base}"]
            result = _run_wrk(args, target, workload, args.duration, extra)
            base += result.posts + args.threads
            results.append(result)
            print(
                f"{workload}: {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, statuses {result.statuses}",
                flush=True,
            )
            if result.exhausted:
                print(f"  WARNING: {result.exhausted} POSTs reused a patient: add --patients")

        engine = make_engine(url)
        with engine.connect() as connection:
            booked = connection.execute(select(func.count()).select_from(appointments)).scalar()
        engine.dispose()
    finally:
        for server in servers:
            _stop(server)
        database.cleanup()  # type: ignore[attr-defined]

    created = sum(r.statuses.get(201, 0) for r in results)
    text = log.read_text(errors="replace")
    server_5xx = len(re.findall(r'"status": ?5\d\d', text))
    tracebacks = text.count("Traceback")
    first_error = next((line for line in text.splitlines() if "Traceback" in line), "")
    if args.log:
        Path(args.log).write_text(text)
    workdir.cleanup()
    title = args.label or (f"--src {args.src}" if args.src else "working tree")
    command = " ".join([Path(sys.executable).name, *sys.argv])
    report = [
        f"### {title}: {args.db}, {args.workers} workers x {args.server_threads} threads, "
        f"wrk {args.threads} threads x "
        f"{args.connections} connections, {args.duration} s",
        "",
        f"`{command}` — medbook from `{medbook.__file__}`, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {city.summary()}",
        "",
        _table(results),
        "",
        f"Appointments in the database: {booked:,} (201 responses: {created:,}). "
        f"Server log: {server_5xx} lines with a 5xx status, {tracebacks} tracebacks.",
        "",
        *_verdict(results),
        "",
        *_server_times(text),
        "",
    ]
    if first_error:
        report += ["The server's first error:", "", "```", first_error[-3000:], "```", ""]
    print("\n".join(report))
    if args.out:
        with open(args.out, "a") as out:
            out.write("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
