"""The waitlist state machine of ``medbook.testing`` against the SQL adapter, on real databases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import Engine

from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.schema import metadata
from medbook.testing import UnitOfWorkFactory, WaitlistStateMachine

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    # No explain phase: its tracing takes minutes on a failure of a machine this size.
    "phases": [phase for phase in Phase if phase is not Phase.explain],
}


class SqliteWaitlistMachine(WaitlistStateMachine):
    """A fresh in-memory SQLite database per example."""

    def make_uow_factory(self) -> UnitOfWorkFactory:
        self.engine = make_engine("sqlite://")
        metadata.create_all(self.engine)
        return lambda: SqlUnitOfWork(self.engine)

    def teardown(self) -> None:
        self.engine.dispose()
        super().teardown()


def test_the_waitlist_rules_hold_on_sqlite() -> None:
    run_state_machine_as_test(
        SqliteWaitlistMachine,
        settings=settings(max_examples=40, stateful_step_count=30, **SETTINGS),  # type: ignore[arg-type]
    )


@pytest.mark.mariadb
@pytest.mark.parametrize("database", ["mariadb_database", "mysqldb_database"])
def test_the_waitlist_rules_hold_on_mariadb(database: str, request: pytest.FixtureRequest) -> None:
    """On PyMySQL and on mysqlclient (``mysqldb_database``: the same database, the C driver)."""
    engine = make_engine(request.getfixturevalue(database))

    class MariadbWaitlistMachine(WaitlistStateMachine):
        """The run's MariaDB database, emptied after every example."""

        def make_uow_factory(self) -> UnitOfWorkFactory:
            return lambda: SqlUnitOfWork(engine)

        def teardown(self) -> None:
            _empty(engine)
            super().teardown()

    try:
        run_state_machine_as_test(
            MariadbWaitlistMachine,
            settings=settings(max_examples=15, stateful_step_count=30, **SETTINGS),  # type: ignore[arg-type]
        )
    finally:
        _empty(engine)
        engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
