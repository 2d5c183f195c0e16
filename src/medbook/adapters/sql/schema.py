"""The whole schema: every context's tables, registered on the one ``MetaData``.

Import ``metadata`` from here, not from ``metadata.py``, whenever all the tables must be there:
Alembic's ``env.py`` compares against it and tests ``create_all`` from it. A context's module
registers its tables when it is imported; this module imports them all.
"""

from __future__ import annotations

from medbook.adapters.sql import (
    accounts,
    booking,
    calendar,
    chat,
    contracts,
    directory,
    hospital_policies,
    notifications,
    orders,
    records,
    reminders,
    throttle,
    waitlist,
)
from medbook.adapters.sql.metadata import metadata

#: The modules that define tables, one per context (the throttle's bucket table sits with it).
CONTEXTS = (
    accounts,
    directory,
    booking,
    waitlist,
    notifications,
    chat,
    orders,
    contracts,
    records,
    calendar,
    reminders,
    hospital_policies,
    throttle,
)

__all__ = ["CONTEXTS", "metadata"]
