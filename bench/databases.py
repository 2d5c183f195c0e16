"""A throwaway database for a benchmark: a SQLite file in a temporary folder, or a fresh
database on MEDBOOK_TEST_MARIADB_URL (default root@127.0.0.1) that ``cleanup()`` drops."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


def throwaway_database(kind: str) -> tuple[str, object]:
    """The database's URL, and what to call ``cleanup()`` on afterwards."""
    if kind == "sqlite":
        folder = tempfile.TemporaryDirectory()
        return f"sqlite:///{Path(folder.name) / 'bench.sqlite3'}", folder
    server = make_url(os.environ.get("MEDBOOK_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1/"))
    name = f"medbook_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))

    class Drop:
        def cleanup(self) -> None:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE `{name}`"))

    return server.set(database=name).render_as_string(hide_password=False), Drop()
