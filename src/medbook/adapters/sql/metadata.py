"""The one ``MetaData`` every context's tables are registered on, and the column types they share.

Each context's module (``accounts``, ``directory``, ``booking``, ``notifications``, ``chat``,
``throttle``) defines its own tables on it; ``schema`` imports them all, for Alembic and
``create_all``.
"""

from __future__ import annotations

import enum

from sqlalchemy import Enum, MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def value_enum(cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    """An enum stored as its value in a VARCHAR (portable; no native ENUM to migrate)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
