"""NotificationService through the in-memory store: the caller's notifications and reading them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from unit_support import NOW, TOMORROW, ident

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import Doctor, Period
from medbook.domain.accounts.model import Patient
from medbook.domain.notifications.model import Notification, NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import NotificationNotFound
from medbook.services import BookingService
from medbook.services.notifications import NotificationService

PATIENT = Actor(7, Role.PATIENT)


@pytest.fixture
def notices(store: MemoryStore, clock: ManualClock) -> NotificationService:
    return NotificationService(store.unit_of_work, clock)


def notify(
    store: MemoryStore,
    title: str,
    recipient: Actor = PATIENT,
    created_at: dt.datetime = NOW,
) -> Notification:
    """Store a notification, as the service that raises it would."""
    notification = Notification(
        recipient.role,
        recipient.id,
        NotificationKind.APPOINTMENT_CANCELLED_BY_LEAVE,
        title=title,
        body=f"{title}.",
        created_at=created_at,
    )
    with store.unit_of_work() as uow:
        stored = uow.notifications.add(notification)
        uow.commit()
    return stored


def titles(found: Sequence[Notification]) -> list[str]:
    return [n.title for n in found]


def test_a_caller_sees_their_notifications_newest_first(
    store: MemoryStore, notices: NotificationService
) -> None:
    for hours, title in enumerate(["first", "second", "third"]):
        notify(store, title, created_at=NOW + dt.timedelta(hours=hours))

    assert titles(notices.of_actor(PATIENT)) == ["third", "second", "first"]


def test_a_caller_sees_only_their_own_notifications(
    store: MemoryStore, notices: NotificationService
) -> None:
    notify(store, "mine")
    notify(store, "another patient's", Actor(8, Role.PATIENT))
    notify(store, "a doctor's of the same id", Actor(PATIENT.id, Role.DOCTOR))
    notify(store, "an admin's of the same id", Actor(PATIENT.id, Role.ADMIN, 1))

    assert titles(notices.of_actor(PATIENT)) == ["mine"]
    assert titles(notices.of_actor(Actor(PATIENT.id, Role.DOCTOR))) == ["a doctor's of the same id"]
    assert notices.of_actor(Actor(9, Role.PATIENT)) == []


def test_unread_only_leaves_out_the_read_ones(
    store: MemoryStore, notices: NotificationService
) -> None:
    first = notify(store, "first")
    notify(store, "second")
    notices.mark_read(PATIENT, ident(first))

    assert titles(notices.of_actor(PATIENT, unread_only=True)) == ["second"]
    assert titles(notices.of_actor(PATIENT)) == ["second", "first"]


def test_the_owner_marks_a_notification_read(
    store: MemoryStore, notices: NotificationService, clock: ManualClock
) -> None:
    notification = notify(store, "first")
    clock.advance(dt.timedelta(minutes=5))

    marked = notices.mark_read(PATIENT, ident(notification))

    assert marked.read and marked.read_at == NOW + dt.timedelta(minutes=5)
    [stored] = notices.of_actor(PATIENT)
    assert stored.read_at == NOW + dt.timedelta(minutes=5)


def test_marking_read_again_keeps_the_first_reading(
    store: MemoryStore, notices: NotificationService, clock: ManualClock
) -> None:
    notification = notify(store, "first")
    notices.mark_read(PATIENT, ident(notification))
    clock.advance(dt.timedelta(days=1))

    again = notices.mark_read(PATIENT, ident(notification))

    assert again.read_at == NOW
    assert [n.read_at for n in notices.of_actor(PATIENT)] == [NOW]


@pytest.mark.parametrize(
    "caller",
    [Actor(8, Role.PATIENT), Actor(PATIENT.id, Role.DOCTOR), Actor(PATIENT.id, Role.ADMIN, 1)],
    ids=["another-patient", "a-doctor-of-the-same-id", "an-admin-of-the-same-id"],
)
def test_no_one_else_marks_a_notification_read(
    store: MemoryStore, notices: NotificationService, caller: Actor
) -> None:
    notification = notify(store, "mine")

    with pytest.raises(NotificationNotFound) as caught:
        notices.mark_read(caller, ident(notification))

    assert caught.value.code == "notification_not_found"
    assert [n.read for n in notices.of_actor(PATIENT)] == [False]


def test_an_unknown_notification_is_not_found(notices: NotificationService) -> None:
    with pytest.raises(NotificationNotFound):
        notices.mark_read(PATIENT, 404)


def test_a_patient_reads_the_notice_of_their_doctors_leave(
    store: MemoryStore, booking: BookingService, notices: NotificationService, doctor: Doctor
) -> None:
    with store.unit_of_work() as uow:
        patient = uow.patients.add(Patient("Wang Fang", "13900000001", created_at=NOW))
        uow.commit()
    actor = Actor(ident(patient), Role.PATIENT)
    appointment = booking.book_as(actor, ident(doctor), TOMORROW, Period.MORNING).appointment
    booking.take_leave_as(Actor(ident(doctor), Role.DOCTOR), TOMORROW, Period.MORNING)

    [notice] = notices.of_actor(actor, unread_only=True)

    assert notice.kind is NotificationKind.APPOINTMENT_CANCELLED_BY_LEAVE
    assert notice.data["appointment_id"] == ident(appointment)
    notices.mark_read(actor, ident(notice))
    assert notices.of_actor(actor, unread_only=True) == []
    assert notices.of_actor(Actor(ident(doctor), Role.DOCTOR)) == []
