"""SQL adapters through SQLAlchemy 2 Core: SQLite (the embedded default) and MySQL/MariaDB."""

from medbook.adapters.sql.engine import make_engine, make_migration_engine
from medbook.adapters.sql.unit_of_work import SqlUnitOfWork

__all__ = ["SqlUnitOfWork", "make_engine", "make_migration_engine"]
