"""Running a ``medbook.testing`` state machine on the SQL adapter: a fresh in-memory SQLite
database per example, or the test run's MariaDB database emptied after every example."""

from __future__ import annotations

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from sqlalchemy import Engine

from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.schema import metadata
from medbook.testing import UnitOfWorkFactory


def run_on_sqlite(machine: type[RuleBasedStateMachine], run: settings) -> None:
    class OnSqlite(machine):  # type: ignore[valid-type,misc]
        def make_uow_factory(self) -> UnitOfWorkFactory:
            self.engine = make_engine("sqlite://")
            metadata.create_all(self.engine)
            return lambda: SqlUnitOfWork(self.engine)

        def teardown(self) -> None:
            self.engine.dispose()
            super().teardown()

    OnSqlite.__name__ = f"Sqlite{machine.__name__}"
    run_state_machine_as_test(OnSqlite, settings=run)


def run_on_database(machine: type[RuleBasedStateMachine], url: str, run: settings) -> None:
    engine = make_engine(url)

    class OnDatabase(machine):  # type: ignore[valid-type,misc]
        def make_uow_factory(self) -> UnitOfWorkFactory:
            return lambda: SqlUnitOfWork(engine)

        def teardown(self) -> None:
            _empty(engine)
            super().teardown()

    OnDatabase.__name__ = f"Mariadb{machine.__name__}"
    try:
        run_state_machine_as_test(OnDatabase, settings=run)
    finally:
        _empty(engine)
        engine.dispose()


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
