"""The booking state machine of ``medbook.testing`` against the SQL adapter, on real databases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from machine_support import run_on_database, run_on_sqlite

from medbook.testing import BookingStateMachine

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def test_the_booking_invariants_hold_on_sqlite() -> None:
    run_on_sqlite(
        BookingStateMachine,
        settings(max_examples=40, stateful_step_count=25, **SETTINGS),  # type: ignore[arg-type]
    )


@pytest.mark.mariadb
@pytest.mark.parametrize("database", ["mariadb_database", "mysqldb_database"])
def test_the_booking_invariants_hold_on_mariadb(
    database: str, request: pytest.FixtureRequest
) -> None:
    """On PyMySQL and on mysqlclient (``mysqldb_database``: the same database, the C driver)."""
    run_on_database(
        BookingStateMachine,
        request.getfixturevalue(database),
        settings(max_examples=10, stateful_step_count=20, **SETTINGS),  # type: ignore[arg-type]
    )
