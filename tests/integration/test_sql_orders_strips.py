"""Revision 0014 on both databases: services stored before it get their longitude strip, the
column is required after it, and the search finds the services it filled."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.directory import hospitals
from medbook.adapters.sql.migrate import current_revision, downgrade, head_revision, upgrade
from medbook.adapters.sql.orders import care_services, service_dates
from medbook.bootstrap import build_services
from medbook.domain import GeoPoint

TOMORROW = dt.date(2026, 11, 26)
RADIUS_KM = 100.0

#: Longitudes stored before 0014 and the strip each must get (floor(lng * 2), written out): the
#: antimeridian from both sides, zero of both signs, strip edges and a hair either side of them.
STORED = [
    (-180.0, -360),
    (-179.9, -360),
    (-179.5, -359),
    (-0.5000001, -2),
    (-0.5, -1),
    (-0.25, -1),
    (-1e-9, -1),
    (-0.0, 0),
    (0.0, 0),
    (1e-9, 0),
    (0.4999999, 0),
    (0.5, 1),
    (121.47, 242),
    (121.5, 243),
    (179.75, 359),
    (179.9999999, 359),
    (180.0, 360),
]


def test_migration_0014_fills_the_strip_of_every_existing_service(
    engine: Engine, clock: ManualClock
) -> None:
    downgrade(engine, "0013")
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(hospitals),
                [{"id": 1, "name": "H", "address": "", "timezone": "Asia/Shanghai"}],
            )
            # The columns of revision 0013: no lng_strip.
            connection.execute(
                insert(care_services),
                [
                    {
                        "id": n + 1,
                        "hospital_id": 1,
                        "name": f"Visit {n}",
                        "category": None,
                        "price_cents": 100,
                        "currency": "CNY",
                        "capacity": 5,
                        "lat": 10.0,
                        "lng": lng,
                        "radius_km": RADIUS_KM,
                        "description": "",
                        "tips": "",
                        "precautions": "",
                        "image_url": None,
                    }
                    for n, (lng, _) in enumerate(STORED)
                ],
            )
            connection.execute(
                insert(service_dates),
                [
                    {"service_id": n + 1, "date": TOMORROW, "capacity": 5, "held": 0}
                    for n in range(len(STORED))
                ],
            )
    finally:
        upgrade(engine)
    assert current_revision(engine) == head_revision(engine)

    c = care_services.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.id, c.lng, c.lng_strip).order_by(c.id)).all()
    assert [(row.lng, row.lng_strip) for row in rows] == STORED

    # Required from now on: MariaDB refuses a service without its strip; SQLite (which could
    # only add the column with a default, see the revision) stores 0.
    forgot = insert(care_services).values(
        hospital_id=1,
        name="No strip",
        price_cents=100,
        currency="CNY",
        capacity=5,
        lat=-60.0,
        lng=100.0,
        radius_km=20.0,
        description="",
        tips="",
        precautions="",
    )
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.execute(forgot)
            strip = connection.execute(select(c.lng_strip).where(c.lat == -60.0)).scalar_one()
            assert strip == 0
            connection.execute(care_services.delete().where(c.lat == -60.0))
    else:
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(forgot)

    # The search seeks the filled strips: across the antimeridian and around zero.
    services = build_services(lambda: SqlUnitOfWork(engine), clock)
    for point in (GeoPoint(10.0, 179.95), GeoPoint(10.0, -179.95), GeoPoint(10.0, 0.0)):
        found = {o.service.id for o in services.orders.search(point, limit=100)}
        reaching = {n + 1 for n, (lng, _) in enumerate(STORED) if _km(point, lng) <= RADIUS_KM}
        assert found == reaching and found, point

    # Down and up again with the services (and their dates) in place.
    try:
        downgrade(engine, "0013")
    finally:
        upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(select(c.lng, c.lng_strip).order_by(c.id)).all()
    assert [(row.lng, row.lng_strip) for row in rows] == STORED


def _km(point: GeoPoint, lng: float) -> float:
    """Great-circle distance to (10, lng), on its own (mean Earth radius)."""
    lat1, lng1, lat2, lng2 = map(math.radians, (point.lat, point.lng, 10.0, lng))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))
