"""Hypothesis strategies for medbook's domain, and a state machine that runs against any adapter.

Hospital systems built on medbook reuse the strategies in their own property tests::

    from hypothesis import given
    from medbook.testing import weekly_schedules

    @given(weekly_schedules(max_quota=40))
    def test_roster_export_round_trips(schedule): ...

``BookingStateMachine`` books, cancels, takes leave, changes schedules and moves the clock at
random, and checks the booking invariants after every step against its own model of who holds
what. ``WaitlistStateMachine`` does the same for the waitlists of full sessions (joins, offers in
join order, holds, acceptances, lapses, the sweep), against its own model of each queue. Subclass
either with the unit-of-work factory of the adapter under test (see ``make_uow_factory``).

The strategies live in ``medbook.testing.strategies``, the machine in
``medbook.testing.booking_machine``, the waitlist's in ``medbook.testing.waitlist_machine``;
import any of them from here.

Needs the ``testing`` extra (``pip install medbook[testing]``).
"""

from __future__ import annotations

# The names imported "as" themselves were public in the single-module medbook.testing without
# being in __all__; they stay importable from here.
from medbook.testing.booking_machine import (
    CLOCK_STEPS as CLOCK_STEPS,
)
from medbook.testing.booking_machine import (
    DAYS_AHEAD as DAYS_AHEAD,
)
from medbook.testing.booking_machine import (
    DOCTOR as DOCTOR,
)
from medbook.testing.booking_machine import (
    MACHINE_EPOCH as MACHINE_EPOCH,
)
from medbook.testing.booking_machine import (
    MACHINE_EPOCH_END as MACHINE_EPOCH_END,
)
from medbook.testing.booking_machine import (
    MAX_WINDOW_DAYS as MAX_WINDOW_DAYS,
)
from medbook.testing.booking_machine import (
    PATIENT_IDS as PATIENT_IDS,
)
from medbook.testing.booking_machine import (
    SOON as SOON,
)
from medbook.testing.booking_machine import (
    TIMEZONE as TIMEZONE,
)
from medbook.testing.booking_machine import (
    UNKNOWN_APPOINTMENT_ID as UNKNOWN_APPOINTMENT_ID,
)
from medbook.testing.booking_machine import (
    BookingStateMachine,
    UnitOfWorkFactory,
)
from medbook.testing.strategies import (
    EARLIEST,
    HOSPITAL_TIMEZONES,
    LATEST,
    aware_datetimes,
    booking_policies,
    geo_points,
    hospital_names,
    hospitals,
    periods,
    phones,
    sessions,
    weekly_schedules,
)
from medbook.testing.strategies import (
    appointments as appointments,
)
from medbook.testing.strategies import (
    doctors as doctors,
)
from medbook.testing.waitlist_machine import WaitlistStateMachine

__all__ = [
    "EARLIEST",
    "HOSPITAL_TIMEZONES",
    "LATEST",
    "BookingStateMachine",
    "UnitOfWorkFactory",
    "WaitlistStateMachine",
    "aware_datetimes",
    "booking_policies",
    "geo_points",
    "hospital_names",
    "hospitals",
    "periods",
    "phones",
    "sessions",
    "weekly_schedules",
]
