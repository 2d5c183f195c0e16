"""The ``medbook`` command."""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import getpass
import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medbook import bootstrap
from medbook.demo import how_to_log_in, load_demo
from medbook.domain import GeoPoint, Period
from medbook.domain.shared.errors import DomainError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be 1 to 256, not {value}")
    return value


def default_workers() -> int:
    return 2 * (os.cpu_count() or 1) + 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medbook",
        description="medbook: book a doctor, consult, order home visits, keep a health file.",
        epilog="Settings come from MEDBOOK_* environment variables; with none, medbook uses a "
        "SQLite database under ./medbook-data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API with gunicorn")
    serve.add_argument("--bind", default="127.0.0.1:8000", help="host:port (default %(default)s)")
    serve.add_argument(
        "--workers", type=int, default=default_workers(), help="default 2 x cores + 1"
    )
    serve.add_argument(
        "--threads",
        type=_positive,
        default=1,
        help="threads per worker: 1 (default) runs gunicorn's sync workers, more its gthread "
        "workers, which keep client connections open between requests; only behind nginx: "
        "a gthread worker waits for a slow client's request without any time limit",
    )
    serve.add_argument(
        "--demo", action="store_true", help="load demo data and use a throwaway token secret"
    )
    serve.add_argument(
        "--chat-bind",
        default="127.0.0.1:8001",
        help="with --demo, where the chat server it starts listens (default %(default)s)",
    )
    chat = commands.add_parser("chat", help="serve the consultation chat (websockets)")
    chat.add_argument("--bind", default="127.0.0.1:8001", help="host:port (default %(default)s)")
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser(
        "expire-orders",
        help="expire unpaid orders past their deadline (their places return) and ask the "
        "gateway again for the refunds it has not taken",
    )
    worker = commands.add_parser(
        "worker",
        help="send appointment reminders, settle waitlists, expire unpaid orders and settle "
        "refunds, every "
        "--interval seconds until SIGTERM (several workers may run at once)",
    )
    worker.add_argument(
        "--interval", type=_positive_seconds, default=30.0, help="seconds (default %(default)s)"
    )
    remind = commands.add_parser(
        "remind", help="send the appointment reminders that are due, once (for cron)"
    )
    remind.add_argument("--once", action="store_true", required=True, help="one run, then exit")
    remind.add_argument(
        "--at",
        type=_aware_time,
        help="act as if it were this time (ISO 8601 with its offset): catching up, tests",
    )
    remind.add_argument(
        "--batch",
        type=_batch,
        metavar="N",
        default=100,
        help="reminders claimed and sent per transaction, 1 to 1000 (default %(default)s)",
    )
    sweep = commands.add_parser(
        "sweep-waitlists",
        help="settle the waitlists once (for cron): offers whose hold ran out lapse and go to "
        "the next patient waiting, free places are offered, started sessions' waitlists close",
    )
    sweep.add_argument("--once", action="store_true", required=True, help="one run, then exit")
    sweep.add_argument(
        "--at",
        type=_aware_time,
        help="act as if it were this time (ISO 8601 with its offset): catching up, tests",
    )
    hospital = commands.add_parser("add-hospital", help="add a hospital; prints its id")
    hospital.add_argument("--name", required=True)
    hospital.add_argument("--address", default="")
    hospital.add_argument("--lat", type=float)
    hospital.add_argument("--lng", type=float)
    hospital.add_argument("--timezone", default="Asia/Shanghai")
    admin = commands.add_parser(
        "create-admin", help="create a hospital administrator (password from stdin or a prompt)"
    )
    admin.add_argument("--hospital", type=int, required=True)
    admin.add_argument("--phone", required=True)
    admin.add_argument("--name", required=True)
    commands.add_parser(
        "demo", help="load the demo hospitals and doctors, then show what can be booked"
    )
    sessions = commands.add_parser("sessions", help="a doctor's bookable sessions")
    sessions.add_argument("doctor_id", type=int)
    sessions.add_argument("--from", dest="start", type=_date)
    sessions.add_argument("--to", dest="end", type=_date)
    book = commands.add_parser("book", help="book a session for a patient")
    book.add_argument("--patient", type=int, required=True)
    book.add_argument("--doctor", type=int, required=True)
    book.add_argument("--date", type=_date, required=True)
    book.add_argument("--period", choices=[p.value for p in Period], required=True)
    cancel = commands.add_parser("cancel", help="cancel a patient's appointment")
    cancel.add_argument("--patient", type=int, required=True)
    cancel.add_argument("appointment_id", type=int)
    return parser


def _print_sessions(
    services: bootstrap.Services,
    doctor_id: int,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    most: int | None = None,
) -> None:
    """The doctor's bookable sessions; without dates, the booking window as the booking rules
    and the hospital's time zone decide it (never a window of the CLI's own)."""
    for offered in services.booking.offered_sessions(doctor_id, start, end)[:most]:
        session = offered.session
        print(
            f"  {session.date.isoformat()} {session.period.value:<9}"
            f" quota {offered.quota:>3}  remaining {offered.remaining:>3}"
        )


def _demo() -> None:
    services = bootstrap.bootstrap(migrate=True)
    loaded = load_demo(services)
    print("Loaded the demo directory." if loaded else "The demo directory is already loaded.")
    for hospital in services.directory.hospitals():
        assert hospital.id is not None
        print(f"\n{hospital.name} (hospital {hospital.id})")
        for department in services.directory.departments(hospital.id):
            assert department.id is not None
            for doctor in services.directory.doctors(department.id):
                assert doctor.id is not None
                print(
                    f"- {department.name}: {doctor.name}, {doctor.rank.value} (doctor {doctor.id})"
                )
                _print_sessions(services, doctor.id, most=4)
    print(
        "\nTry: medbook book --patient 1 --doctor ID --date YYYY-MM-DD --period morning\n"
        "     medbook sessions ID\n     medbook serve --demo"
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise SystemExit("medbook: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def exposure_warning(bind: str) -> str | None:
    """A warning when ``medbook serve`` listens where other machines reach gunicorn directly.

    Sync workers serve one connection each: without a buffering proxy in front, a few clients
    sending half a request hold every worker until the 30 s timeout. Loopback and Unix sockets
    are for a proxy on the same host; anything else gets the warning.
    """
    if bind.startswith(("unix:", "fd://")):
        return None
    host = bind.rpartition(":")[0].strip("[]") if ":" in bind else bind
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve anywhere
    return (
        f"medbook: warning: serving on {bind}, where other machines reach gunicorn's sync "
        "workers directly; a few slow clients can stall them all. Bind to 127.0.0.1 and put "
        "nginx in front (docs/deployment.md)."
    )


def metrics_directory() -> None:
    """Where gunicorn's workers write their numbers for ``/metrics`` to add up: the operator's
    ``PROMETHEUS_MULTIPROC_DIR``, emptied, or a fresh one for this run. It must be set before
    ``prometheus_client`` is first imported (it picks its storage then), so before the server
    module is."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # a previous run's workers: not ours
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="medbook-metrics-"))
        master = os.getpid()

        def remove() -> None:
            # gunicorn's workers inherit this exit hook: only the master, last to exit, removes
            # the folder (a worker removing it under the others broke their next request).
            if os.getpid() == master:
                shutil.rmtree(folder, ignore_errors=True)

        atexit.register(remove)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _serve(args: argparse.Namespace) -> int:
    warning = exposure_warning(args.bind)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        proxies = bootstrap.parse_networks(os.environ.get("MEDBOOK_TRUSTED_PROXIES", ""))
    except ValueError as error:
        print(f"medbook: refusing to serve: {error}", file=sys.stderr)
        return 2
    chat: subprocess.Popen[bytes] | None = None
    if args.demo:
        os.environ.setdefault("MEDBOOK_JWT_SECRET", secrets.token_urlsafe(48))
        os.environ.setdefault("MEDBOOK_PAYMENT_SECRET", secrets.token_urlsafe(32))
        # The sandbox gateway's payment page, so an order can be paid from the web client.
        os.environ.setdefault("MEDBOOK_SANDBOX_CHECKOUT", "1")
        # The web client's chat: the chat server this demo starts.
        os.environ.setdefault("MEDBOOK_CHAT_URL", f"ws://{args.chat_bind}/v1/chat")
        services = bootstrap.bootstrap(migrate=True)
        load_demo(services)
        services.close()
        print(how_to_log_in(args.bind, args.chat_bind), flush=True)
        if os.environ.get("MEDBOOK_PAYMENT_GATEWAY", "sandbox") == "sandbox":
            print(
                "The sandbox payment gateway signs with this run's secret:\n"
                f"  export MEDBOOK_PAYMENT_SECRET={os.environ['MEDBOOK_PAYMENT_SECRET']}",
                flush=True,
            )
        # The chat server shares the demo's database and token secret (inherited through the
        # environment); it stops with this process.
        chat = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "medbook.entrypoints.cli", "chat", "--bind", args.chat_bind]
        )
    if not _secret_is_strong("serve"):
        return 2
    bootstrap.bootstrap().close()  # SchemaOutOfDate here, in one line, not in every worker
    metrics_directory()  # after the demo's chat started: the chat keeps its numbers to itself
    from medbook.entrypoints.http.server import run

    try:
        run(bind=args.bind, workers=args.workers, threads=args.threads, trusted_proxies=proxies)
    finally:
        if chat is not None:
            chat.terminate()
            chat.wait(10)
    return 0


def _secret_is_strong(command: str) -> bool:
    try:
        bootstrap.check_jwt_secret(os.environ.get("MEDBOOK_JWT_SECRET", ""))
    except ValueError as error:
        print(
            f"medbook: refusing to {command}: MEDBOOK_JWT_SECRET {error}. Set a random secret of "
            "at least 32 bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            "`), or run `medbook serve --demo` to try medbook out.",
            file=sys.stderr,
        )
        return False
    return True


def _host_port(bind: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SystemExit(f"medbook: --bind wants host:port, not {bind!r}")
    return host.strip("[]"), int(port)


def _chat(args: argparse.Namespace) -> int:
    # One process: its metrics live in its memory, never in the HTTP workers' shared folder
    # (prometheus_client chooses where when it is first imported, below).
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    import asyncio
    import logging.config

    from medbook.entrypoints.chat.server import run_server
    from medbook.entrypoints.logs import json_log_config
    from medbook.entrypoints.metrics import MetricsAccess

    if not _secret_is_strong("chat"):
        return 2
    host, port = _host_port(args.bind)
    logging.config.dictConfig(json_log_config())
    settings = bootstrap.Settings.from_env()
    access = MetricsAccess(
        settings.metrics_token, settings.metrics_networks, settings.trusted_proxies
    )
    services = bootstrap.bootstrap(settings)
    try:
        asyncio.run(run_server(services, bootstrap.chat_broker(settings), host, port, access))
    finally:
        services.close()
    return 0


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("from more than 0 to 3600 seconds")
    return value


def _aware_time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time's offset (…+08:00, …Z)")
    if not 2000 <= value.year < 3000:
        raise argparse.ArgumentTypeError("a time from the year 2000 to 2999")
    return value


def _batch(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError("a whole number from 1 to 1000")
    return int(text)


def _json_logs() -> None:
    import logging.config

    from medbook.entrypoints.logs import json_log_config

    logging.config.dictConfig(json_log_config())


def _worker(args: Any) -> int:
    from medbook.entrypoints.worker import run_until_signalled

    _json_logs()
    services = bootstrap.bootstrap()
    try:
        return run_until_signalled(services, args.interval)
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except DomainError as error:
        print(f"medbook: {error.code}: {error.message}", file=sys.stderr)
        return 1
    except bootstrap.SchemaOutOfDate as error:
        print(f"medbook: {error}", file=sys.stderr)
        return 1


def _run(args: Any) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "chat":
        return _chat(args)
    if args.command == "migrate":
        revision = bootstrap.migrate()
        print(f"The database schema is at revision {revision}.")
    elif args.command == "demo":
        _demo()
    elif args.command == "expire-orders":
        services = bootstrap.bootstrap()
        try:
            expired = services.orders.expire_overdue()
            refunded = services.orders.settle_refunds()
        finally:
            services.close()
        print(f"Expired {expired} unpaid orders; the gateway took {refunded} refunds.")
    elif args.command == "worker":
        return _worker(args)
    elif args.command == "remind":
        _json_logs()  # each reminder's channel line, and any failure, as the worker writes them
        services = bootstrap.bootstrap()
        services.reminders.batch = args.batch
        try:
            result = services.reminders.run_once(args.at)
        finally:
            services.close()
        print(
            f"Recorded {result.recorded} reminders that came due; sent {result.sent}, "
            f"skipped {result.skipped} (cancelled or started)."
        )
    elif args.command == "sweep-waitlists":
        _json_logs()
        services = bootstrap.bootstrap()
        try:
            swept = services.waitlist.sweep(args.at)
        finally:
            services.close()
        print(
            f"Settled {swept.sessions} waitlists: {swept.offered} places offered, "
            f"{swept.lapsed} offers lapsed, {swept.closed} entries closed (session started)."
        )
    elif args.command == "add-hospital":
        location = (
            GeoPoint(args.lat, args.lng) if args.lat is not None and args.lng is not None else None
        )
        hospital = bootstrap.bootstrap(migrate=True).directory.add_hospital(
            args.name, args.address, location, args.timezone
        )
        print(hospital.id)
    elif args.command == "create-admin":
        services = bootstrap.bootstrap()
        admin = services.accounts.create_admin(
            args.hospital, args.phone, args.name, _read_password()
        )
        print(f"Created admin {admin.id} of hospital {admin.hospital_id}.")
    elif args.command == "sessions":
        services = bootstrap.bootstrap()
        _print_sessions(services, args.doctor_id, args.start, args.end)
    elif args.command == "book":
        appointment = bootstrap.bootstrap().booking.book(
            args.patient, args.doctor, args.date, Period(args.period)
        )
        print(
            f"Booked appointment {appointment.id}: number {appointment.number} on "
            f"{appointment.date.isoformat()} {appointment.period.value}."
        )
    elif args.command == "cancel":
        bootstrap.bootstrap().booking.cancel(args.patient, args.appointment_id)
        print(f"Cancelled appointment {args.appointment_id}.")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
