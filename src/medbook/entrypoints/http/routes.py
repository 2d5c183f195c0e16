"""The routes of the v1 API (see ../shared/API.md), assembled from each context's own table.

The order is the order of the paths in the OpenAPI document: keep it.
"""

from __future__ import annotations

from medbook.entrypoints.http import (
    accounts,
    booking,
    calendar,
    chat,
    contracts,
    directory,
    files,
    notifications,
    orders,
    records,
    waitlist,
)
from medbook.entrypoints.http.api import Route

ROUTES: tuple[Route, ...] = (
    *accounts.ROUTES,
    *directory.ROUTES,
    *files.ROUTES,  # a doctor's avatar, uploads
    *booking.ROUTES,  # a doctor's leave first, then sessions and appointments
    *waitlist.ROUTES,  # the waitlists of full sessions
    *notifications.ROUTES,
    *chat.ROUTES,
    *orders.ROUTES,
    *contracts.ROUTES,
    *records.ROUTES,
    *calendar.ROUTES,
)

__all__ = ["ROUTES"]
