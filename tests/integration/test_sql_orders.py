"""Orders on the real databases (SQLite and MariaDB), over real separate connections: the last
place goes to one patient only, a gateway event changes things once however many copies race,
and the places come back when orders end."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select, text

from medbook.adapters.memory import ManualClock
from medbook.adapters.payments.sandbox import SandboxGateway, sign
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.base import insert_if_missing
from medbook.adapters.sql.orders import payment_events, refunds, service_dates
from medbook.bootstrap import Services, build_services
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.orders.model import PAYMENT_TIMEOUT, OrderStatus, Place
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError
from medbook.domain.shared.money import Money
from medbook.services.orders import ServiceDraft

SECRET = b"a sandbox secret of at least 32 bytes"
TOMORROW = dt.date(2026, 11, 26)
RUIJIN = GeoPoint(31.2122, 121.4688)


def _race(workers: int, attempt: Callable[[int], object]) -> Counter[str]:
    """Run ``attempt(i)`` on ``workers`` threads released at once; count outcomes (the error
    code, or what the attempt returned)."""
    barrier = threading.Barrier(workers)

    def run(i: int) -> str:
        barrier.wait()
        try:
            return str(attempt(i))
        except DomainError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(run, range(workers)))


def _world(
    engine: Engine, clock: ManualClock, *, capacity: int, patients: int
) -> tuple[Services, int, Actor, list[Actor]]:
    services = build_services(lambda: SqlUnitOfWork(engine), clock, gateway=SandboxGateway(SECRET))
    hospital = services.directory.add_hospital("Ruijin Hospital", "197 Ruijin 2nd Rd", RUIJIN)
    assert hospital.id is not None
    with SqlUnitOfWork(engine) as uow:
        from medbook.domain.accounts.model import Admin

        admin = uow.admins.add(Admin(hospital.id, "Admin", "13700137000"))
        people = [
            uow.patients.add(Patient(f"Patient {n}", f"1380013{n:04d}")) for n in range(patients)
        ]
        uow.commit()
    assert admin.id is not None
    admin_actor = Actor(admin.id, Role.ADMIN, hospital.id)
    draft = ServiceDraft("Home nursing visit", Money(19_900), capacity, 10.0, frozenset({TOMORROW}))
    offer = services.orders.publish_as(admin_actor, hospital.id, draft)
    assert offer.service.id is not None
    return services, offer.service.id, admin_actor, [Actor(p.id or 0, Role.PATIENT) for p in people]


def _held(engine: Engine, service_id: int) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(service_dates.c.held).where(service_dates.c.service_id == service_id)
            ).scalar_one()
        )


def _pooled(engine_factory: Callable[..., Engine], connections: int) -> Engine:
    return engine_factory(pool_size=connections, max_overflow=0, pool_timeout=120)


def test_many_patients_race_for_the_last_places_and_exactly_capacity_win(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 40)
    services, service_id, _, patients = _world(engine, clock, capacity=3, patients=60)

    outcomes = _race(
        60,
        lambda i: (
            services.orders.place_as(patients[i], service_id, TOMORROW, Place.HOSPITAL) and "ok"
        ),
    )

    assert outcomes == {"ok": 3, "sold_out": 57}
    assert _held(engine, service_id) == 3
    offer = services.orders.service(service_id)
    assert [d.remaining for d in offer.dates] == [0]


def test_a_place_comes_back_when_an_order_expires_or_is_cancelled(
    engine: Engine, clock: ManualClock
) -> None:
    services, service_id, _, (ann, bob, cat) = _world(engine, clock, capacity=1, patients=3)
    first = services.orders.place_as(ann, service_id, TOMORROW, Place.HOSPITAL)
    assert _held(engine, service_id) == 1
    try:
        services.orders.place_as(cat, service_id, TOMORROW, Place.HOSPITAL)
    except DomainError as error:
        assert error.code == "sold_out"

    clock.advance(PAYMENT_TIMEOUT)
    # Ann's order is past its deadline: Bob's order expires it on the way and takes its place.
    second = services.orders.place_as(bob, service_id, TOMORROW, Place.HOSPITAL)
    assert _held(engine, service_id) == 1
    assert services.orders.order_as(ann, first.id or 0).status is OrderStatus.EXPIRED

    services.orders.cancel_as(bob, second.id or 0)
    assert _held(engine, service_id) == 0
    assert services.orders.expire_overdue() == 0


def _notice(payment_id: str, event_id: str, cents: int = 19_900) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event_id": event_id,
            "payment_id": payment_id,
            "status": "succeeded",
            "amount_cents": cents,
        }
    ).encode()
    return body, {"x-medbook-signature": sign(SECRET, body)}


def test_copies_of_one_payment_event_racing_pay_the_order_once(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 30)
    services, service_id, _, (ann,) = _world(engine, clock, capacity=2, patients=1)
    order = services.orders.place_as(ann, service_id, TOMORROW, Place.HOSPITAL)
    payment = services.orders.start_payment_as(ann, order.id or 0)
    body, headers = _notice(payment.start.payment_id, "evt-1")

    outcomes = _race(30, lambda i: services.orders.notify(body, headers).outcome)

    assert outcomes == {"paid": 1, "repeat": 29}
    assert services.orders.order_as(ann, order.id or 0).status is OrderStatus.PAID
    with engine.connect() as connection:
        events = connection.execute(select(payment_events)).all()
    assert [(e.event_id, e.outcome) for e in events] == [("evt-1", "paid")]
    if engine.dialect.name != "sqlite":
        assert events[0].repeats == 29  # MySQL counts the copies
    notices = services.notifications.of_actor(Actor(1, Role.ADMIN, 1))
    assert len([n for n in notices if n.kind.value == "order_paid"]) <= 1


def test_distinct_events_of_one_payment_racing_pay_once_and_the_rest_are_duplicates(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = _pooled(engine_factory, 20)
    services, service_id, _, (ann,) = _world(engine, clock, capacity=2, patients=1)
    order = services.orders.place_as(ann, service_id, TOMORROW, Place.HOSPITAL)
    payment = services.orders.start_payment_as(ann, order.id or 0)
    notices = [_notice(payment.start.payment_id, f"evt-{i}") for i in range(20)]

    outcomes = _race(20, lambda i: services.orders.notify(*notices[i]).outcome)

    assert outcomes == {"paid": 1, "duplicate": 19}
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(refunds)).scalar_one() == 0


def test_a_wrong_amount_changes_nothing_and_a_late_payment_is_refunded(
    engine: Engine, clock: ManualClock
) -> None:
    services, service_id, _, (ann,) = _world(engine, clock, capacity=1, patients=1)
    order = services.orders.place_as(ann, service_id, TOMORROW, Place.HOSPITAL)
    payment = services.orders.start_payment_as(ann, order.id or 0)

    try:
        services.orders.notify(*_notice(payment.start.payment_id, "evt-1", cents=1))
    except DomainError as error:
        assert error.code == "payment_amount_mismatch"
    else:  # pragma: no cover - the assertion below says what went wrong
        raise AssertionError("a wrong amount was taken")
    with engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(payment_events)).scalar_one() == 0
        )

    clock.advance(PAYMENT_TIMEOUT)
    result = services.orders.notify(*_notice(payment.start.payment_id, "evt-2"))
    assert result.outcome == "late"
    assert services.orders.order_as(ann, order.id or 0).status is OrderStatus.EXPIRED
    assert _held(engine, service_id) == 0
    with engine.connect() as connection:
        (refund,) = connection.execute(select(refunds)).all()
    assert (refund.order_id, refund.amount_cents, refund.status) == (order.id, 19_900, "succeeded")


def test_insert_if_missing_tells_an_existing_row_from_a_new_one(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE t_keyed (id INTEGER PRIMARY KEY AUTO_INCREMENT, k VARCHAR(8) UNIQUE)"
            )
            if engine.dialect.name != "sqlite"
            else text(
                "CREATE TABLE t_keyed (id INTEGER PRIMARY KEY AUTOINCREMENT, k VARCHAR(8) UNIQUE)"
            )
        )
    try:
        from sqlalchemy import Column, Integer, MetaData, String, Table

        table = Table(
            "t_keyed",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("k", String(8), unique=True),
        )
        with engine.begin() as connection:
            first = insert_if_missing(connection, table, {"k": "a"})
            again = insert_if_missing(connection, table, {"k": "a"})
        assert first is not None and first > 0
        assert again is None
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE t_keyed"))


def _haversine(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance, computed here on its own (mean Earth radius)."""
    import math

    lat1, lng1, lat2, lng2 = map(math.radians, (a.lat, a.lng, b.lat, b.lng))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_the_search_finds_exactly_the_providers_that_reach_a_point_nearest_first(
    engine: Engine, clock: ManualClock
) -> None:
    """Hospitals scattered around Shanghai, near the antimeridian and near the north pole, each
    with services of random radii; for many points, the search answers what an oracle of its
    own (every service, its own haversine) says, in the same order, through every page."""
    import random

    from medbook.domain.accounts.model import Admin

    rng = random.Random(20261201)
    services = build_services(lambda: SqlUnitOfWork(engine), clock, gateway=SandboxGateway(SECRET))
    centres = [GeoPoint(31.2, 121.5), GeoPoint(-16.5, 179.9), GeoPoint(89.3, 40.0)]
    published: list[tuple[int, GeoPoint, float]] = []
    for n in range(24):
        centre = centres[n % 3]
        lng = (centre.lng + rng.uniform(-0.8, 0.8) + 540) % 360 - 180
        lat = max(-89.9, min(89.9, centre.lat + rng.uniform(-0.6, 0.6)))
        hospital = services.directory.add_hospital(f"Hospital {n}", "", GeoPoint(lat, lng))
        assert hospital.id is not None
        with SqlUnitOfWork(engine) as uow:
            admin = uow.admins.add(Admin(hospital.id, "Admin", f"1370013{n:04d}"))
            uow.commit()
        actor = Actor(admin.id or 0, Role.ADMIN, hospital.id)
        for _ in range(3):
            radius = rng.choice([1.0, 5.0, 20.0, 60.0, 100.0])
            draft = ServiceDraft("Visit", Money(100), 5, radius, frozenset({TOMORROW}))
            offer = services.orders.publish_as(actor, hospital.id, draft)
            published.append((offer.service.id or 0, GeoPoint(lat, lng), radius))

    for _ in range(40):
        centre = rng.choice(centres)
        point = GeoPoint(
            max(-90.0, min(90.0, centre.lat + rng.uniform(-1, 1))),
            (centre.lng + rng.uniform(-1.2, 1.2) + 540) % 360 - 180,
        )
        oracle = sorted(
            (d, service_id)
            for service_id, location, radius in published
            if (d := _haversine(location, point)) <= radius
        )
        for limit in (5, 100):
            found = services.orders.search(point, limit=limit)
            assert [o.service.id for o in found] == [i for _, i in oracle[:limit]], point
            for offer, (distance, _) in zip(found, oracle, strict=False):
                assert abs((offer.distance_km or 0) - distance) < 1e-6
