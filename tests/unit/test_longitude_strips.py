"""The longitude strips the search box's index seeks: a longitude's strip, and the strips a box
spans, checked against an oracle of their own in exact rational arithmetic (strip k is the
longitudes from k/2 included to (k+1)/2 excluded)."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from medbook.domain.orders.catalogue import (
    MAX_RADIUS_KM,
    STRIPS_PER_DEGREE,
    Box,
    box_strips,
    longitude_strip,
    search_box,
)
from medbook.domain.shared.geo import GeoPoint

EVERY_STRIP = range(-360, 361)  # 180 and -180 included


def strip_of(lng: float) -> int:
    """The oracle's strip: the k with k/2 <= lng < (k+1)/2, found by comparison, not floor."""
    exact = Fraction(lng)
    return next(k for k in EVERY_STRIP if Fraction(k, 2) <= exact < Fraction(k + 1, 2))


def strips_meeting(west: float, east: float) -> set[int]:
    """The oracle's strips holding some longitude from ``west`` to ``east`` (inclusive)."""
    low, high = Fraction(west), Fraction(east)
    return {k for k in EVERY_STRIP if Fraction(k, 2) <= high and Fraction(k + 1, 2) > low}


def oracle(box: Box) -> list[int]:
    if box.west <= box.east:
        return sorted(strips_meeting(box.west, box.east))
    return sorted(strips_meeting(box.west, 180.0) | strips_meeting(-180.0, box.east))


# Longitudes anywhere, on a strip's edge, and a hair either side of one.
edges = st.integers(-360, 360).map(lambda k: k / 2)
longitudes = st.one_of(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    edges,
    edges.map(lambda e: max(-180.0, math.nextafter(e, -math.inf))),
    edges.map(lambda e: min(180.0, math.nextafter(e, math.inf))),
)
latitudes = st.floats(min_value=-89.9, max_value=89.9, allow_nan=False)


def test_the_factor_is_the_one_the_migration_wrote_out() -> None:
    assert STRIPS_PER_DEGREE == 2  # revision 0014 fills floor(lng * 2)


@settings(max_examples=500)
@given(longitudes)
def test_a_longitude_lies_in_its_strip(lng: float) -> None:
    assert longitude_strip(lng) == strip_of(lng)


def test_the_strips_of_the_edges_and_of_zero() -> None:
    assert [longitude_strip(x) for x in (-180.0, 180.0, 0.0, -0.0)] == [-360, 360, 0, 0]
    assert [longitude_strip(x) for x in (0.4999, 0.5, -0.0001, -0.5, -0.5001)] == [0, 1, -1, -1, -2]


@settings(max_examples=300)
@given(st.builds(GeoPoint, latitudes, longitudes), st.floats(min_value=0.1, max_value=1))
def test_a_search_box_asks_exactly_the_strips_its_longitudes_meet(
    centre: GeoPoint, fraction: float
) -> None:
    box = search_box(centre, fraction * MAX_RADIUS_KM)
    assert box_strips(box) == oracle(box), box


@settings(max_examples=300)
@given(longitudes, longitudes)
def test_any_box_asks_exactly_the_strips_its_longitudes_meet(west: float, east: float) -> None:
    """Boxes across the antimeridian (``west > east``) included."""
    box = Box(0.0, 1.0, west, east)
    assert box_strips(box) == oracle(box), box


@settings(max_examples=300)
@given(longitudes, longitudes, longitudes)
def test_every_longitude_a_box_holds_is_in_a_strip_it_asks(
    west: float, east: float, lng: float
) -> None:
    box = Box(0.0, 1.0, west, east)
    if box.holds(GeoPoint(0.5, lng)):
        assert strip_of(lng) in box_strips(box), (box, lng)


def test_across_the_antimeridian_and_at_a_pole() -> None:
    wrapped = search_box(GeoPoint(0, 179.9))
    strips = box_strips(wrapped)
    assert 359 in strips and 360 in strips and -360 in strips and -359 in strips
    assert 0 not in strips and len(strips) == len(set(strips))
    polar = search_box(GeoPoint(89.5, 10))
    assert box_strips(polar) == list(EVERY_STRIP)
