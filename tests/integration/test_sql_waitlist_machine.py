"""The waitlist state machine of ``medbook.testing`` against the SQL adapter, on real databases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from machine_support import run_on_database, run_on_sqlite

from medbook.testing import WaitlistStateMachine

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    # No explain phase: its tracing takes minutes on a failure of a machine this size.
    "phases": [phase for phase in Phase if phase is not Phase.explain],
}


def test_the_waitlist_rules_hold_on_sqlite() -> None:
    run_on_sqlite(
        WaitlistStateMachine,
        settings(max_examples=40, stateful_step_count=30, **SETTINGS),  # type: ignore[arg-type]
    )


@pytest.mark.mariadb
@pytest.mark.parametrize("database", ["mariadb_database", "mysqldb_database"])
def test_the_waitlist_rules_hold_on_mariadb(database: str, request: pytest.FixtureRequest) -> None:
    """On PyMySQL and on mysqlclient (``mysqldb_database``: the same database, the C driver)."""
    run_on_database(
        WaitlistStateMachine,
        request.getfixturevalue(database),
        settings(max_examples=15, stateful_step_count=30, **SETTINGS),  # type: ignore[arg-type]
    )
