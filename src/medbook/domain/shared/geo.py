"""Positions and distances on the Earth's surface."""

from __future__ import annotations

import math

from attrs import field, frozen

from medbook.domain.shared.errors import InvalidValue

#: The range of a latitude, -90 to 90 degrees, and of a longitude, -180 to 180.
MAX_LATITUDE = 90
MAX_LONGITUDE = 180


@frozen
class GeoPoint:
    """A WGS-84 position in degrees."""

    lat: float = field()
    lng: float = field()

    @lat.validator
    def _lat(self, attribute: object, value: float) -> None:
        if not -MAX_LATITUDE <= value <= MAX_LATITUDE:
            raise InvalidValue(
                "lat", f"latitude must be between -{MAX_LATITUDE} and {MAX_LATITUDE}"
            )

    @lng.validator
    def _lng(self, attribute: object, value: float) -> None:
        if not -MAX_LONGITUDE <= value <= MAX_LONGITUDE:
            raise InvalidValue(
                "lng", f"longitude must be between -{MAX_LONGITUDE} and {MAX_LONGITUDE}"
            )


EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance by the haversine formula; good to ~0.5% anywhere."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
