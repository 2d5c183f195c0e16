"""Real databases for the integration tests: a SQLite file per test, and one throwaway MariaDB
database per test run (emptied between tests).

MariaDB is required: when it cannot be reached the tests that need it fail, they never skip.
Point ``MEDBOOK_TEST_MARIADB_URL`` at a server (default ``mysql+pymysql://root@127.0.0.1:3306/``).
Every MariaDB test runs on that URL's driver (PyMySQL); the modules in ``ON_MYSQLDB`` run once
more on mysqlclient, the optional C driver (backend ``mariadb-mysqldb``, the same database), and
so do ``test_sql_mysqldb.py``, the pool tests and the MariaDB booking state machine (through the
``mysqldb_database`` fixture). mysqlclient is in the test extra: without it those tests fail.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork, make_engine
from medbook.adapters.sql.migrate import upgrade
from medbook.adapters.sql.schema import metadata

MARIADB_SERVER = os.environ.get("MEDBOOK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]
#: The run's MariaDB database through mysqlclient (``mysql+mysqldb``) rather than PyMySQL.
MYSQLDB = pytest.param("mariadb-mysqldb", marks=pytest.mark.mariadb)
#: The modules whose ``engine_factory`` tests run on mysqlclient as well: what rests most on the
#: driver (error codes, the insert id the booking's take answers with, row locks under races,
#: values round-tripped), not the whole suite twice.
ON_MYSQLDB = frozenset(
    {
        "test_sql_booking",
        "test_sql_errors",
        "test_sql_login_races",
        "test_sql_races",
        "test_sql_roundtrip",
    }
)

#: 08:30 in Shanghai on a Wednesday: the morning session of today has started, the afternoon not.
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """A fresh database on the MariaDB server for this test run, migrated to head; dropped after."""
    server = make_url(MARIADB_SERVER)
    name = f"medbook_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server is fatal here
        pytest.fail(
            f"MariaDB is required and could not be reached at {server!r}: {error}\n"
            "Start it (see README, 'Running the tests') or set MEDBOOK_TEST_MARIADB_URL.",
            pytrace=False,
        )
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def mysqldb_database(mariadb_database: str) -> str:
    """The run's MariaDB database, to be reached through mysqlclient (``mysql+mysqldb``)."""
    try:
        importlib.import_module("MySQLdb")
    except ImportError as error:
        pytest.fail(
            f"mysqlclient is required and cannot be imported: {error}\n"
            "Install the test extra (pip install -e '.[test]'); building it needs Debian's "
            "libmariadb-dev and pkg-config, which scripts/services-up installs.",
            pytrace=False,
        )
    url = make_url(mariadb_database)
    url = url.set(drivername=f"{url.get_backend_name()}+mysqldb")
    return url.render_as_string(hide_password=False)


def _empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def engine_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Engine]]:
    """Make engines on the backend the test is parametrised with (``backend`` param)."""
    backend = request.param if hasattr(request, "param") else "sqlite"
    made: list[Engine] = []
    if backend == "mariadb":
        url = request.getfixturevalue("mariadb_database")
    elif backend == "mariadb-mysqldb":
        url = request.getfixturevalue("mysqldb_database")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'medbook.sqlite3'}"
        first = make_engine(url)
        upgrade(first)
        first.dispose()

    def factory(**options: object) -> Engine:
        engine = make_engine(url, **options)
        made.append(engine)
        return engine

    yield factory
    if backend != "sqlite" and made:
        _empty(made[0])
    for engine in made:
        engine.dispose()


@pytest.fixture
def engine(engine_factory: Callable[..., Engine]) -> Engine:
    return engine_factory()


@pytest.fixture
def uow_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_factory" in metafunc.fixturenames and "engine_factory" not in {
        m.args[0] for m in metafunc.definition.iter_markers("parametrize")
    }:
        module = metafunc.module.__name__.rpartition(".")[2]
        backends = [*BACKENDS, MYSQLDB] if module in ON_MYSQLDB else BACKENDS
        metafunc.parametrize("engine_factory", backends, indirect=True)
