"""The ``medbook`` command."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from medbook import bootstrap
from medbook.demo import load_demo
from medbook.domain import Period
from medbook.domain.errors import DomainError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medbook",
        description="medbook: book a doctor, consult, order home visits, keep a health file.",
        epilog="Settings come from MEDBOOK_* environment variables; with none, medbook uses a "
        "SQLite database under ./medbook-data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="bring the database schema up to date")
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
    services: bootstrap.Services, doctor_id: int, start: dt.date, end: dt.date
) -> None:
    for offered in services.booking.offered_sessions(doctor_id, start, end):
        session = offered.session
        print(
            f"  {session.date.isoformat()} {session.period.value:<9}"
            f" quota {offered.quota:>3}  remaining {offered.remaining:>3}"
        )


def _demo() -> None:
    services = bootstrap.bootstrap(migrate=True)
    loaded = load_demo(services)
    print("Loaded the demo directory." if loaded else "The demo directory is already loaded.")
    today = services.clock.now().date()
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
                _print_sessions(services, doctor.id, today, today + dt.timedelta(days=2))
    print(
        "\nTry: medbook book --patient 1 --doctor ID --date YYYY-MM-DD --period morning\n"
        "     medbook sessions ID"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "migrate":
            revision = bootstrap.migrate()
            print(f"The database schema is at revision {revision}.")
        elif args.command == "demo":
            _demo()
        elif args.command == "sessions":
            services = bootstrap.bootstrap()
            start = args.start or services.clock.now().date()
            _print_sessions(
                services, args.doctor_id, start, args.end or start + dt.timedelta(days=14)
            )
        elif args.command == "book":
            services = bootstrap.bootstrap()
            appointment = services.booking.book(
                args.patient, args.doctor, args.date, Period(args.period)
            )
            print(
                f"Booked appointment {appointment.id}: number {appointment.number} on "
                f"{appointment.date.isoformat()} {appointment.period.value}."
            )
        elif args.command == "cancel":
            services = bootstrap.bootstrap()
            services.booking.cancel(args.patient, args.appointment_id)
            print(f"Cancelled appointment {args.appointment_id}.")
    except DomainError as error:
        print(f"medbook: {error.code}: {error.message}", file=sys.stderr)
        return 1
    except bootstrap.SchemaOutOfDate as error:
        print(f"medbook: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
