"""What hospitals offer outside their walls, and which of it reaches a patient's point.

A provider covers the points within its service radius of its hospital (great-circle distance).
For a database to find candidates fast, ``search_box`` gives a latitude/longitude box around the
patient's point that holds every provider that can cover it (no radius exceeds
``MAX_RADIUS_KM``); the exact distance is then decided here, by ``covering``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable
from typing import Any

from attrs import define, field, frozen

from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import InvalidValue
from medbook.domain.shared.geo import EARTH_RADIUS_KM, MAX_LATITUDE, GeoPoint, distance_km
from medbook.domain.shared.money import Money
from medbook.domain.shared.text import DESCRIPTION, SERVICE_NAME, TextRule, is_link, nfc

#: The farthest a provider may travel.
MAX_RADIUS_KM = 100.0
#: The most places a service may offer on one date.
MAX_CAPACITY = 1000
#: The most dates one service may be offered on (a year of days).
MAX_DATES = 366


class ServiceCategory(enum.Enum):
    HOME_NURSING = "home_nursing"
    REHABILITATION = "rehabilitation"
    CHRONIC_DISEASE_FOLLOW_UP = "chronic_disease_follow_up"
    MATERNAL_AND_INFANT_CARE = "maternal_and_infant_care"
    TRADITIONAL_CHINESE_MEDICINE = "traditional_chinese_medicine"


def _radius(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("service_radius_km", "must be a number")
    if not 0 < value <= MAX_RADIUS_KM:
        raise InvalidValue("service_radius_km", f"must be more than 0 and at most {MAX_RADIUS_KM}")
    return float(value)


def _capacity(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise InvalidValue("capacity", f"must be a whole number from 1 to {MAX_CAPACITY}")
    return value


def _date_set(value: Iterable[dt.date]) -> frozenset[dt.date]:
    return frozenset(value)


def _dates(instance: object, attribute: object, value: frozenset[dt.date]) -> None:
    if not value:
        raise InvalidValue("dates", "give at least one date")
    if len(value) > MAX_DATES:
        raise InvalidValue("dates", f"at most {MAX_DATES} dates")


def _text(rule: TextRule, name: str) -> Any:
    return field(default="", converter=nfc, validator=rule.validator(name))


def _price(instance: object, attribute: object, value: Money) -> None:
    if value.cents < 1:
        raise InvalidValue("price_cents", "a service costs at least one cent (fen)")


def _image(instance: object, attribute: object, value: str | None) -> None:
    if value is not None and not is_link(value):
        raise InvalidValue("image_url", "must be an http(s) URL or a path on this host")


#: How far ahead a service may be offered.
OFFER_HORIZON = dt.timedelta(days=366)


def ensure_dates_ahead(dates: Iterable[dt.date], today: dt.date) -> None:
    """A service is published for dates to come, within a year (``today`` in its hospital's
    time zone)."""
    ordered = sorted(dates)
    if ordered and ordered[0] < today:
        raise InvalidValue("dates", f"{ordered[0].isoformat()} has passed")
    if ordered and ordered[-1] > today + OFFER_HORIZON:
        raise InvalidValue("dates", f"{ordered[-1].isoformat()} is more than a year ahead")


@define(slots=False, eq=False)
class CareService(Entity):
    """A service a hospital offers at home or at the hospital, on some dates, for a price."""

    hospital_id: int
    name: str = field(converter=nfc, validator=SERVICE_NAME.validator("name"))
    category: ServiceCategory | None
    price: Money = field(validator=_price)
    capacity: int = field(converter=_capacity)  # places on each date offered
    dates: frozenset[dt.date] = field(converter=_date_set, validator=_dates)
    location: GeoPoint  # the provider hospital's
    radius_km: float = field(converter=_radius)
    description: str = _text(DESCRIPTION, "description")
    tips: str = _text(DESCRIPTION, "tips")
    precautions: str = _text(DESCRIPTION, "precautions")
    image_url: str | None = field(default=None, validator=_image)
    id: int | None = None

    def distance_to(self, point: GeoPoint) -> float:
        return distance_km(self.location, point)

    def covers(self, point: GeoPoint) -> bool:
        return self.distance_to(point) <= self.radius_km

    def is_offered_on(self, date: dt.date) -> bool:
        return date in self.dates


@frozen
class Reach:
    """What decides whether a provider reaches a point: a service's id, its hospital, its point
    and radius (a search weighs many of these before it loads the few services it shows)."""

    service_id: int
    hospital_id: int
    location: GeoPoint
    radius_km: float

    def distance_to(self, point: GeoPoint) -> float:
        return distance_km(self.location, point)


def reaching(reaches: Iterable[Reach], point: GeoPoint) -> list[tuple[Reach, float]]:
    """The reaches whose provider covers ``point``, with the distance, nearest first (then by
    service id)."""
    found = ((r, r.distance_to(point)) for r in reaches)
    return sorted(
        ((r, d) for r, d in found if d <= r.radius_km),
        key=lambda pair: (pair[1], pair[0].service_id),
    )


@frozen
class Nearby:
    service: CareService
    distance_km: float


def covering(services: Iterable[CareService], point: GeoPoint) -> list[Nearby]:
    """The services whose provider reaches ``point``, nearest first (then by id)."""
    found = [Nearby(s, s.distance_to(point)) for s in services]
    reached = [n for n in found if n.distance_km <= n.service.radius_km]
    return sorted(reached, key=lambda n: (n.distance_km, n.service.id or 0))


@frozen
class Box:
    """Latitudes and longitudes, in degrees, that a pre-filter keeps (inclusive). A box that
    crosses the antimeridian has ``west > east``: it keeps longitudes >= west or <= east."""

    south: float
    north: float
    west: float
    east: float

    def holds(self, point: GeoPoint) -> bool:
        if not self.south <= point.lat <= self.north:
            return False
        if self.west <= self.east:
            return self.west <= point.lng <= self.east
        return point.lng >= self.west or point.lng <= self.east


def search_box(point: GeoPoint, radius_km: float = MAX_RADIUS_KM) -> Box:
    """A box that holds every point within ``radius_km`` of ``point`` (a little more, never
    less): the providers that may cover ``point`` are inside it, since the distance is
    symmetric and no radius is larger."""
    angle = math.degrees(radius_km / EARTH_RADIUS_KM) * 1.001  # a margin for rounding
    south, north = point.lat - angle, point.lat + angle
    if south <= -MAX_LATITUDE or north >= MAX_LATITUDE:  # a pole is inside: every longitude
        return Box(max(south, -MAX_LATITUDE), min(north, MAX_LATITUDE), -180.0, 180.0)
    # The widest longitude span is at the latitude of the box's edge nearest a pole.
    widest = max(abs(south), abs(north))
    spread = angle / math.cos(math.radians(widest))
    if spread >= 180:
        return Box(south, north, -180.0, 180.0)
    west, east = point.lng - spread, point.lng + spread
    if west < -180:
        west += 360
    if east > 180:
        east -= 360
    return Box(south, north, west, east)


#: Kilometres in a degree of latitude (and of longitude at the equator).
KM_PER_DEGREE = math.radians(1) * EARTH_RADIUS_KM


@frozen
class FlatMetric:
    """A distance a database can compute with plain arithmetic that never exceeds the
    great-circle one (with a margin), so that a query may drop the services that cannot reach a
    point: keep those with ``lat_weight·Δlat² + lng_weight·Δlng² <= margin·radius²``."""

    lat_weight: float
    lng_weight: float
    margin: float = 1.01**2


def flat_metric(box: Box) -> FlatMetric | None:
    """Within ``box``, an east-west degree is shortest at the edge nearest a pole: weighing every
    longitude degree by that length underestimates each distance (and the 1% margin covers the
    flat approximation, good to ~0.03% at 100 km). None when the box wraps at the antimeridian or
    spans every longitude, where differences of longitude are not plain subtractions."""
    if box.west > box.east or (box.west <= -180 and box.east >= 180):
        return None
    poleward = max(abs(box.south), abs(box.north))
    along = KM_PER_DEGREE * math.cos(math.radians(poleward))
    return FlatMetric(KM_PER_DEGREE**2, along**2)


#: A database indexes providers by longitude strip (then latitude): a box's query seeks each
#: strip it spans instead of reading every longitude at the box's latitudes. A power of two, so
#: that ``lng * STRIPS_PER_DEGREE`` is exact in floating point and every engine floors it alike.
#: Changing it means filling the stored strips again (a migration).
STRIPS_PER_DEGREE = 2


def longitude_strip(lng: float) -> int:
    """The strip of a longitude: ``floor(lng * STRIPS_PER_DEGREE)`` (-360 to 360)."""
    return math.floor(lng * STRIPS_PER_DEGREE)


def box_strips(box: Box) -> list[int]:
    """The strips that hold every longitude ``box`` keeps (in order, each once): from the west
    edge's to the east edge's, or, across the antimeridian, from the west edge's to 180's and
    from -180's to the east edge's."""
    west, east = longitude_strip(box.west), longitude_strip(box.east)
    if box.west <= box.east:
        return list(range(west, east + 1))
    low, high = longitude_strip(-180.0), longitude_strip(180.0)
    return sorted({*range(west, high + 1), *range(low, east + 1)})
