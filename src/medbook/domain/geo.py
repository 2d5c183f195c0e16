"""Distances on the Earth's surface."""

from __future__ import annotations

import math

from medbook.domain.directory import GeoPoint

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance by the haversine formula; good to ~0.5% anywhere."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlng = lat2 - lat1, math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
