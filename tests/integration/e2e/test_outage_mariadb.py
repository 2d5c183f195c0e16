"""MariaDB dies mid-load (SIGKILL) under ``medbook serve``, then comes back.

The module runs its own ``mariadbd`` (``mariadb_process``: a free loopback port, a temporary data
directory), never the machine's shared server, and serves medbook on it as an operator would:
``medbook migrate``, ``add-hospital``, ``create-admin``, ``medbook serve``. Clients book (each
thread for its own patients), order home visits and read listings in threads while the database
is killed; then:

- while it is down every answer is a 503 ``application/problem+json`` with the code
  ``database_unavailable`` and a Retry-After, within DOWN_ANSWER_BOUND_S: never a 500, never a
  reset connection, never a request left hanging until gunicorn kills its worker (30 s);
  ``/readyz`` is 503 and ``/healthz`` still 200;
- once it is back on the same port and data, medbook recovers by itself (no restart) within
  RECOVERY_BOUND_S: ``/readyz`` is 200 and bookings and orders succeed;
- nothing is half written: every booking or order answered 201 is in the database; a booking
  whose answer was lost in the crash may have been committed (its retry is told
  ``already_booked``), but only whole: each session's ``booked`` counter equals its appointments,
  each patient's day counter equals their appointments that day, each service date's ``held``
  equals the orders holding a place.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pymysql.cursors
import pytest
from e2e_support import (
    BEIJING,
    SHANGHAI,
    Account,
    Cli,
    Deployment,
    HttpClient,
    Reply,
    Server,
    clean_environment,
    phone_numbers,
    strong_secret,
)
from mariadb_process import MariaDbProcess
from server_process import running
from sqlalchemy import Engine

from medbook.adapters.sql import make_engine, make_migration_engine
from medbook.adapters.sql.engine import (
    MYSQL_CONNECT_TIMEOUT_S,
    MYSQL_LOCK_WAIT_TIMEOUT_S,
    MYSQL_READ_TIMEOUT_S,
    MYSQL_WRITE_TIMEOUT_S,
)

pytestmark = pytest.mark.mariadb

PROBLEM = "application/problem+json"
#: Seconds any answer may take, while the database is down included. A killed server's port
#: refuses connections at once, so a request then costs a failed pre-ping and a refused connect:
#: milliseconds. 5 s leaves room for queueing behind the two sync workers on a loaded 2-core CI
#: machine, and stays far below gunicorn's 30 s worker timeout and the client's 15 s.
DOWN_ANSWER_BOUND_S = 5.0
#: Seconds from the database answering again to medbook answering /readyz 200 and taking
#: bookings: nothing waits on purpose (the pool pre-pings and reconnects on the next checkout),
#: so it is immediate; 10 s covers a loaded machine.
RECOVERY_BOUND_S = 10.0
#: Seconds for the clients to reach each step of the choreography.
STEP_TIMEOUT = 30.0
#: Seconds a client waits between two calls: enough load to have calls in flight at the kill,
#: not so much that an outage floods the logs.
PACE_S = 0.02
#: Each client answered this many calls sent after the kill before the database comes back.
CALLS_WHILE_DOWN = 3
QUOTA = 100
BOOKERS = 3
PATIENTS_PER_BOOKER = 3
ORDER_PATIENTS = 3
ORDERS_PER_PATIENT = 3  # at most 5 unpaid at once; a lost commit and its retry make one more
ORDERS_BEFORE_KILL = 3


# --- the deployment ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDbProcess]:
    with running(MariaDbProcess(tmp_path_factory.mktemp("own-mariadb"))) as server:
        yield server


@pytest.fixture(scope="module")
def database_url(mariadb: MariaDbProcess) -> str:
    return mariadb.create_database("medbook")


@pytest.fixture(scope="module")
def served(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """``medbook serve`` on the module's MariaDB, set up the operator's way."""
    workdir = tmp_path_factory.mktemp("outage-serve")
    env = clean_environment(
        workdir, {"MEDBOOK_DATABASE_URL": database_url, "MEDBOOK_JWT_SECRET": strong_secret()}
    )
    cli = Cli(workdir, env)
    cli.ok("migrate")
    hospitals = {
        name: cli.add_hospital(name, address, lat, lng)
        for name, address, lat, lng in (BEIJING, SHANGHAI)
    }
    admin = Account("13711110001", "an admin passphrase", "admin")
    cli.create_admin(hospitals[BEIJING[0]], admin.phone, "Outage Admin", admin.password)
    server = Server(workdir, env).start()
    try:
        http = HttpClient(server.base_url)
        yield Deployment("mariadb", server, cli, http, hospitals, admin, phone_numbers("152"))
    finally:
        server.stop()


# --- the engine's bounded waits ------------------------------------------------------------------


def _session_settings(
    url: str, factory: Callable[..., Engine] = make_engine, **options: Any
) -> tuple[int, float | None, float | None, int]:
    """(connect timeout, read timeout, write timeout, lock wait timeout) of a pooled connection."""
    engine = factory(url, **options)
    try:
        with engine.connect() as connection:
            driver = connection.connection.dbapi_connection
            lock_wait = connection.exec_driver_sql(
                "SELECT @@SESSION.innodb_lock_wait_timeout"
            ).scalar_one()
            return (
                driver.connect_timeout,  # type: ignore[union-attr]
                driver._read_timeout,  # type: ignore[union-attr]
                driver._write_timeout,  # type: ignore[union-attr]
                int(lock_wait),
            )
    finally:
        engine.dispose()


def test_every_wait_on_mariadb_is_bounded_unless_the_url_says_otherwise(database_url: str) -> None:
    assert _session_settings(database_url) == (
        MYSQL_CONNECT_TIMEOUT_S,
        MYSQL_READ_TIMEOUT_S,
        MYSQL_WRITE_TIMEOUT_S,
        MYSQL_LOCK_WAIT_TIMEOUT_S,
    )
    # The operator's URL wins, and so do the caller's connect_args.
    init = "SET SESSION innodb_lock_wait_timeout = 7"
    given = f"{database_url}?read_timeout=60&init_command={init.replace(' ', '%20')}"
    assert _session_settings(given, connect_args={"write_timeout": 20}) == (
        MYSQL_CONNECT_TIMEOUT_S,
        60,
        20,
        7,
    )


def test_a_migration_waits_as_long_as_its_statements_need(database_url: str) -> None:
    """``medbook migrate`` rebuilding a big table takes minutes: no read or write timeout,
    unless the operator's URL gives one; connecting stays bounded."""
    connect, read, write, _ = _session_settings(database_url, factory=make_migration_engine)
    assert (connect, read, write) == (MYSQL_CONNECT_TIMEOUT_S, None, None)
    assert _session_settings(f"{database_url}?read_timeout=600", make_migration_engine)[1] == 600


# --- the clients ---------------------------------------------------------------------------------


@dataclass
class Call:
    client: str
    kind: str
    #: what was asked for: (patient, date, period) of a booking, (patient, date) of an order
    wanted: tuple[Any, ...] | None
    sent: float
    answered: float
    reply: Reply | None
    error: str | None

    @property
    def status(self) -> int | None:
        return self.reply.status if self.reply else None

    def code(self) -> str | None:
        if self.reply is None or self.reply.content_type != PROBLEM:
            return None
        return str(self.reply.body.get("code"))

    def __repr__(self) -> str:
        return (
            f"<{self.client} {self.kind} {self.wanted} sent {self.sent:.3f} "
            f"took {self.answered - self.sent:.3f}s: {self.reply or self.error}>"
        )


@dataclass
class Load:
    """The calls of every client, and the choreography the clients and the test step through."""

    calls: list[Call] = field(default_factory=list)
    database_killed: bool = False
    stopping: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    def call(
        self,
        http: HttpClient,
        client: str,
        kind: str,
        wanted: Any,
        method: str,
        path: str,
        **kw: Any,
    ) -> Call:
        sent = time.monotonic()
        reply, error = None, None
        try:
            reply = http.call(method, path, **kw)
        except Exception as failure:  # noqa: BLE001 - reset, refused, timed out, cut short
            error = repr(failure)
        done = Call(client, kind, wanted, sent, time.monotonic(), reply, error)
        with self.changed:
            self.calls.append(done)
            self.changed.notify_all()
        return done

    def pause(self) -> bool:
        """Wait PACE_S (less when the test stops the clients); False once they must stop."""
        with self.changed:
            self.changed.wait_for(lambda: self.stopping, PACE_S)
            return not self.stopping

    def wait_until(self, what: str, ready: Callable[[list[Call]], bool]) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: ready(self.calls), STEP_TIMEOUT):
                pytest.fail(
                    f"the clients did not get there within {STEP_TIMEOUT:.0f} s: {what}\n"
                    + "\n".join(map(repr, self.calls[-30:])),
                    pytrace=False,
                )

    def stop(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()


def booker(
    load: Load,
    http: HttpClient,
    name: str,
    doctor_id: int,
    sessions: list[dict[str, Any]],
    patients: list[Account],
) -> None:
    """Books every session for each of its patients in turn; after a 503 it asks again for the
    same place, as a client told to retry would."""
    wanted = [(s, p) for s in sessions for p in patients]
    while wanted and load.pause():
        session, patient = wanted[0]
        body = {"doctor_id": doctor_id, "date": session["date"], "period": session["period"]}
        key = (patient.id, session["date"], session["period"])
        done = load.call(
            http, name, "book", key, "POST", "/v1/appointments", json_body=body, token=patient.token
        )
        if done.status != 503:
            wanted.pop(0)


def orderer(
    load: Load,
    http: HttpClient,
    service_id: int,
    dates: list[str],
    patients: list[Account],
) -> None:
    """Orders a visit at the hospital for each patient and date; stops after ORDERS_BEFORE_KILL
    orders until the database has been killed, so that places are left for after it is back."""
    wanted = [(d, p) for p in patients for d in dates[:ORDERS_PER_PATIENT]]
    taken = 0
    while wanted and load.pause():
        if taken >= ORDERS_BEFORE_KILL and not load.database_killed:
            continue
        date, patient = wanted[0]
        body = {"service_id": service_id, "date": date, "place": "hospital"}
        done = load.call(
            http,
            "orderer",
            "order",
            (patient.id, date),
            "POST",
            "/v1/orders",
            json_body=body,
            token=patient.token,
        )
        if done.status != 503:
            wanted.pop(0)
        taken += done.status == 201


def reader(load: Load, http: HttpClient, doctor_id: int, patient: Account) -> None:
    while load.pause():
        load.call(http, "reader", "sessions", None, "GET", f"/v1/doctors/{doctor_id}/sessions")
        load.call(http, "reader", "mine", None, "GET", "/v1/appointments", token=patient.token)


# --- the outage ----------------------------------------------------------------------------------


def later_sessions(http: HttpClient, doctor_id: int) -> list[dict[str, Any]]:
    """The doctor's sessions two days ahead or more (none can start during the test)."""
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    sessions = http.expect(200, "GET", f"/v1/doctors/{doctor_id}/sessions")
    return [s for s in sessions if dt.date.fromisoformat(s["date"]) >= soon]


def publish_service(served: Deployment) -> tuple[int, list[str]]:
    """A home-visit service of the Beijing hospital on the days after tomorrow; its dates."""
    start = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)
    dates = [(start + dt.timedelta(days=n)).isoformat() for n in range(ORDERS_PER_PATIENT)]
    body = {
        "name": "Blood draw at home",
        "price_cents": 9900,
        "capacity": QUOTA,
        "service_radius_km": 10.0,
        "dates": dates,
    }
    hospital = served.hospitals[BEIJING[0]]
    created = served.http.expect(
        201, "POST", f"/v1/hospitals/{hospital}/services", body, token=served.admin_token()
    )
    return int(created["id"]), dates


def answered_while_down(call: Call, killed: float, back: float) -> bool:
    return call.sent >= killed and call.answered <= back


def is_database_unavailable(call: Call) -> bool:
    reply = call.reply
    return (
        reply is not None
        and reply.status == 503
        and reply.content_type == PROBLEM
        and reply.body.get("code") == "database_unavailable"
        and reply.headers.get("retry-after", "").isdigit()
        and int(reply.headers["retry-after"]) > 0
    )


def test_a_database_crash_mid_load_is_a_bounded_503_then_heals_with_nothing_half_written(
    served: Deployment, mariadb: MariaDbProcess
) -> None:
    http = served.http
    doctor, _ = served.verified_doctor(quota=QUOTA, name="Dr Outage")
    assert doctor.id is not None
    sessions = later_sessions(http, doctor.id)
    service_id, dates = publish_service(served)
    bookers = [
        [served.register("patient", f"Booker {b} {p}") for p in range(PATIENTS_PER_BOOKER)]
        for b in range(BOOKERS)
    ]
    ordering = [served.register("patient", f"Orderer {p}") for p in range(ORDER_PATIENTS)]
    watcher = served.register("patient", "Reader")

    log_from = served.server.output_sizes()
    load = Load()
    clients = [
        threading.Thread(
            target=booker, args=(load, http, f"booker{b}", doctor.id, sessions, patients)
        )
        for b, patients in enumerate(bookers)
    ]
    clients.append(threading.Thread(target=orderer, args=(load, http, service_id, dates, ordering)))
    clients.append(threading.Thread(target=reader, args=(load, http, doctor.id, watcher)))
    names = [f"booker{b}" for b in range(BOOKERS)] + ["orderer", "reader"]
    for client in clients:
        client.start()
    try:
        # 1. Under load, the database dies.
        load.wait_until(
            "two successes of each client (bookings, orders, listings)",
            lambda calls: all(
                sum(c.client == n and c.status in (200, 201) for c in calls) >= 2 for n in names
            ),
        )
        kill_began = time.monotonic()
        mariadb.kill()
        killed = time.monotonic()
        load.database_killed = True
        load.wait_until(
            f"{CALLS_WHILE_DOWN} answers to each client for calls sent after the kill",
            lambda calls: all(
                sum(c.client == n and c.sent >= killed for c in calls) >= CALLS_WHILE_DOWN
                for n in names
            ),
        )
        sent = time.monotonic()
        ready_while_down = http.get("/readyz")
        readyz_took = time.monotonic() - sent
        health_while_down = http.get("/healthz")
        back_began = time.monotonic()

        # 2. It comes back on the same port and data; medbook heals by itself.
        mariadb.restart()
        back = time.monotonic()
        ready_again = http.get("/readyz")
        while ready_again.status != 200 and time.monotonic() - back < RECOVERY_BOUND_S:
            time.sleep(0.1)
            ready_again = http.get("/readyz")
        ready_after = time.monotonic() - back
        load.wait_until(
            "a booking of each booker, an order and a listing after the database came back",
            lambda calls: all(
                any(c.client == n and c.sent >= back and c.status in (200, 201) for c in calls)
                for n in names
            ),
        )
        recovered_after = (
            max(
                min(
                    c.answered
                    for c in load.calls
                    if c.client == n and c.sent >= back and c.status in (200, 201)
                )
                for n in names
            )
            - back
        )
    finally:
        load.stop()
        for client in clients:
            client.join(STEP_TIMEOUT)
    calls = load.calls

    # Never a reset, never a 500, never a hang: every answer bounded in time.
    assert not [c for c in calls if c.error], [c for c in calls if c.error]
    assert not [c for c in calls if c.status is None or (c.status >= 500 and c.status != 503)]
    assert max(c.answered - c.sent for c in calls) <= DOWN_ANSWER_BOUND_S, max(
        calls, key=lambda c: c.answered - c.sent
    )
    # Every 503 says why and when to come back; while the database was down, every answer did.
    assert all(is_database_unavailable(c) for c in calls if c.status == 503), [
        c for c in calls if c.status == 503 and not is_database_unavailable(c)
    ][:5]
    down = [c for c in calls if answered_while_down(c, killed, back_began)]
    assert len(down) >= CALLS_WHILE_DOWN * len(names)
    assert all(is_database_unavailable(c) for c in down), [
        c for c in down if not is_database_unavailable(c)
    ][:5]
    assert ready_while_down.status == 503, ready_while_down
    assert ready_while_down.content_type == PROBLEM and readyz_took <= DOWN_ANSWER_BOUND_S
    assert health_while_down.status == 200, health_while_down
    # Back without restarting medbook.
    assert ready_again.status == 200 and ready_after <= RECOVERY_BOUND_S, (ready_again, ready_after)
    assert recovered_after <= RECOVERY_BOUND_S
    assert served.server.process is not None and served.server.process.poll() is None
    # No worker died or was replaced, and the outage logged no error (no traceback flood).
    log = served.server.output(log_from, max_lines=100_000)
    assert "Booting worker" not in log and "WORKER TIMEOUT" not in log, log
    assert not error_lines(log), error_lines(log)

    # Nothing half written.
    in_flight_at_kill = [c for c in calls if c.sent < killed and c.answered >= kill_began]
    with mariadb.connect("medbook", cursorclass=pymysql.cursors.DictCursor) as db:
        check_bookings(db, calls, doctor.id, in_flight_at_kill)
        check_orders(db, calls, service_id, in_flight_at_kill)
    print(
        f"\n{len(calls)} calls, {len(down)} while down; readyz 200 {ready_after:.2f} s and every "
        f"client served {recovered_after:.2f} s after the database came back; slowest answer "
        f"{max(c.answered - c.sent for c in calls):.2f} s; {len(in_flight_at_kill)} in flight "
        f"at the kill; statuses {sorted(Counter(c.status for c in calls).items())}"
    )


def error_lines(log: str) -> list[str]:
    """The lines of the server's log at level ERROR or above, or with a traceback; JSON lines
    (medbook's log format) by their ``level``, other lines (gunicorn's own) by ``[ERROR]``."""
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            failed = str(record.get("level", "")).upper() in ("ERROR", "CRITICAL")
        else:
            failed = "[ERROR]" in line or "[CRITICAL]" in line
        if failed or "Traceback" in line:
            found.append(line)
    return found


def rows(db: Any, query: str, *args: Any) -> list[dict[str, Any]]:
    with db.cursor() as cursor:
        cursor.execute(query, args)
        return list(cursor.fetchall())


def check_bookings(db: Any, calls: list[Call], doctor_id: int, in_flight: list[Call]) -> None:
    bookings = [c for c in calls if c.kind == "book"]
    booked = {c.wanted: c.reply.body for c in bookings if c.reply and c.status == 201}
    assert len(booked) == sum(c.status == 201 for c in bookings), "a place was booked twice"
    # Told "already booked": the first attempt's answer was lost in the crash, its commit was not.
    again = {c.wanted for c in bookings if c.code() == "already_booked"}
    lost = {c.wanted for c in in_flight if c.kind == "book" and c.status != 201}
    assert again <= lost, again - lost
    assert {c.status for c in bookings} <= {201, 409, 503}
    assert all(c.code() == "already_booked" for c in bookings if c.status == 409)

    held = rows(
        db,
        "SELECT id, patient_id, date, period, number, status, holder_id FROM appointments"
        " WHERE doctor_id = %s",
        doctor_id,
    )
    found = {(r["patient_id"], r["date"].isoformat(), r["period"]): r for r in held}
    assert len(found) == len(held)
    # Every 201 is there as it was told; nothing else is, but the commits whose answer was lost.
    for wanted, body in booked.items():
        row = found.get(wanted)
        assert row is not None, f"booking {body} answered 201 is not in the database"
        assert (row["id"], row["number"], row["status"]) == (body["id"], body["number"], "booked")
    assert set(found) == set(booked) | again
    assert all(r["holder_id"] == r["patient_id"] for r in held)

    # The counters agree with the appointments, session by session and patient by patient.
    per_session = Counter((r["date"], r["period"]) for r in held)
    places = rows(
        db,
        "SELECT date, period, quota, booked, issued FROM session_places WHERE doctor_id = %s",
        doctor_id,
    )
    assert {(p["date"], p["period"]): p["booked"] for p in places} == {
        (p["date"], p["period"]): per_session[(p["date"], p["period"])] for p in places
    }
    assert set(per_session) <= {(p["date"], p["period"]) for p in places}
    for place in places:
        numbers = [
            r["number"]
            for r in held
            if (r["date"], r["period"]) == (place["date"], place["period"])
        ]
        assert len(set(numbers)) == len(numbers) and max(numbers, default=0) <= place["issued"]
        assert place["quota"] == QUOTA
    patients = sorted({r["patient_id"] for r in held})
    if patients:
        counted = rows(
            db,
            "SELECT patient_id, date, active FROM patient_day_counts WHERE patient_id IN %s",
            patients,
        )
        per_day = Counter((r["patient_id"], r["date"]) for r in held)
        assert {(c["patient_id"], c["date"]): c["active"] for c in counted if c["active"]} == dict(
            per_day
        )


def check_orders(db: Any, calls: list[Call], service_id: int, in_flight: list[Call]) -> None:
    orders = [c for c in calls if c.kind == "order"]
    assert {c.status for c in orders} <= {201, 503}, [
        c for c in orders if c.status not in (201, 503)
    ]
    told = [c.reply.body for c in orders if c.reply and c.status == 201]
    placed = rows(
        db,
        "SELECT id, patient_id, date, status FROM service_orders WHERE service_id = %s",
        service_id,
    )
    by_id = {r["id"]: r for r in placed}
    for body in told:
        row = by_id.get(body["id"])
        assert row is not None, f"order {body} answered 201 is not in the database"
        assert (row["date"].isoformat(), row["status"]) == (body["date"], "pending_payment")
    # Beyond those: at most one per order call whose answer the crash took.
    lost = [c for c in in_flight if c.kind == "order" and c.status != 201]
    assert len(told) <= len(placed) <= len(told) + len(lost), (told, placed, lost)
    holding = Counter(
        r["date"] for r in placed if r["status"] in ("pending_payment", "paid", "completed")
    )
    dates = rows(
        db, "SELECT date, capacity, held FROM service_dates WHERE service_id = %s", service_id
    )
    assert {d["date"]: d["held"] for d in dates} == {d["date"]: holding[d["date"]] for d in dates}
    assert set(holding) <= {d["date"] for d in dates}
