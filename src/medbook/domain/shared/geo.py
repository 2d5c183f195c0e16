"""Positions and distances on the Earth's surface."""

from __future__ import annotations

import math

from attrs import field, frozen

from medbook.domain.shared.errors import InvalidValue


@frozen
class GeoPoint:
    """A WGS-84 position in degrees."""

    lat: float = field()
    lng: float = field()

    @lat.validator
    def _lat(self, attribute: object, value: float) -> None:
        if not -90.0 <= value <= 90.0:
            raise InvalidValue("lat", "latitude must be between -90 and 90")

    @lng.validator
    def _lng(self, attribute: object, value: float) -> None:
        if not -180.0 <= value <= 180.0:
            raise InvalidValue("lng", "longitude must be between -180 and 180")


EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance by the haversine formula; good to ~0.5% anywhere."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
