"""Calendar feeds on the in-memory store: the token (256 random bits, only its hash kept), one
feed per owner (a new one replaces the old), revocation, who may keep one, what each feed shows,
and SEQUENCE growing with each change."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo

import pytest
from attrs import frozen

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, in_memory
from medbook.domain import GeoPoint, Period, WeeklySchedule
from medbook.domain.accounts.model import Patient
from medbook.domain.booking.appointments import Appointment
from medbook.domain.calendar.feeds import CalendarEvent, EventStatus, Feed, is_token, token_hash
from medbook.domain.orders.catalogue import CareService
from medbook.domain.orders.model import Place, ServiceOrder
from medbook.domain.orders.pricing import FeePolicy
from medbook.domain.records.shares import redact_codes
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.calendar import Session
from medbook.domain.shared.errors import CalendarFeedNotFound, Forbidden
from medbook.domain.shared.money import Money
from medbook.entrypoints.calendar import ical

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)  # 08:30 in Shanghai, 01:30 in Berlin
TODAY = dt.date(2026, 11, 25)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = dt.timedelta(days=1)
HOME = GeoPoint(31.22, 121.47)


@frozen
class World:
    services: Services
    clock: ManualClock
    ann: Actor  # a patient
    bob: Actor  # another patient
    doctor: Actor  # Dr Li, cardiology at Ruijin (Shanghai)
    berlin_doctor: Actor  # Dr Weber, at the Charité (Berlin)
    admin: Actor
    ruijin: int
    service: int  # a home-visit service of Ruijin


@pytest.fixture
def world() -> World:
    clock = ManualClock(NOW)
    services = in_memory(clock, public_url="https://api.example.org")
    directory = services.directory
    ruijin = directory.add_hospital(
        "Ruijin Hospital", "197 Ruijin 2nd Road, Shanghai", GeoPoint(31.2122, 121.4688)
    )
    charite = directory.add_hospital(
        "Charité", "Charitéplatz 1, Berlin", GeoPoint(52.5254, 13.3769), "Europe/Berlin"
    )
    cardiology = directory.add_department(ruijin.id or 0, "Cardiology")
    neurology = directory.add_department(charite.id or 0, "Neurology")
    li = directory.add_doctor(ruijin.id or 0, cardiology.id or 0, name="Li Na", phone="13900000001")
    weber = directory.add_doctor(
        charite.id or 0, neurology.id or 0, name="Anna Weber", phone="13900000002"
    )
    for doctor in (li, weber):
        directory.set_schedule(doctor.id or 0, WeeklySchedule.every_day(5, 5))
        directory.set_verified(doctor.id or 0, True)
    with services.new_uow() as uow:
        ann = uow.patients.add(Patient("Ann Example", "13800000001"))
        bob = uow.patients.add(Patient("Bob Example", "13800000002"))
        service = uow.care_services.add(
            CareService(
                ruijin.id or 0,
                "Home nursing visit",
                None,
                Money(19900),
                5,
                frozenset({TODAY + 2 * DAY, TODAY + 3 * DAY}),
                GeoPoint(31.2122, 121.4688),
                20,
            )
        )
        uow.commit()
    return World(
        services,
        clock,
        Actor(ann.id or 0, Role.PATIENT),
        Actor(bob.id or 0, Role.PATIENT),
        Actor(li.id or 0, Role.DOCTOR),
        Actor(weber.id or 0, Role.DOCTOR),
        Actor(99, Role.ADMIN, hospital_id=ruijin.id),
        ruijin.id or 0,
        service.id or 0,
    )


def book(w: World, patient: Actor, date: dt.date, period: Period, doctor: Actor) -> int:
    """An appointment stored as it is, wherever its date (the feed shows the past too)."""
    with w.services.new_uow() as uow:
        stored = uow.appointments.add(
            Appointment.book(Session(doctor.id, date, period), patient.id, 1, NOW - 100 * DAY)
        )
        uow.commit()
    assert stored.id is not None
    return stored.id


def order(w: World, patient: Actor, date: dt.date, place: Place) -> int:
    with w.services.new_uow() as uow:
        service = uow.care_services.get(w.service)
        assert service is not None
        at_home = place is Place.HOME
        placed = ServiceOrder.place_order(
            service,
            patient.id,
            date,
            place,
            "12 Huaihai Road, flat 3" if at_home else "",
            HOME if at_home else None,
            w.clock.now(),
            FeePolicy(),
        )
        stored = uow.orders.add(placed)
        uow.commit()
    assert stored.id is not None
    return stored.id


def change_order(w: World, order_id: int, *steps: str) -> None:
    with w.services.new_uow() as uow:
        found = uow.orders.get(order_id)
        assert found is not None
        for step in steps:
            if step == "pay":
                found.pay("pay-1", found.total, w.clock.now())
            else:
                getattr(found, step)(w.clock.now())
        uow.orders.save(found)
        uow.commit()


def feed_of(w: World, who: Actor) -> Feed:
    return w.services.calendar.feed(w.services.calendar.create_feed_as(who).token)


def event(feed: Feed, key: str) -> CalendarEvent:
    [found] = [e for e in feed.events if e.key == key]
    return found


# --- tokens --------------------------------------------------------------------------------------


def test_a_token_is_256_random_bits_and_only_its_hash_is_kept(world: World) -> None:
    made = world.services.calendar.create_feed_as(world.ann)
    assert is_token(made.token) and len(made.token) == 43  # 32 bytes, URL-safe base64
    assert made.feed.token_hash == hashlib.sha256(made.token.encode()).hexdigest()
    assert made.url == f"https://api.example.org/v1/calendar-feeds/{made.token}"
    with world.services.new_uow() as uow:
        stored = uow.calendar_feeds.of_owner(Role.PATIENT, world.ann.id)
    assert stored is not None and stored.token_hash == token_hash(made.token)
    assert made.token not in repr(stored)
    assert world.services.calendar.create_feed_as(world.bob).token != made.token


def test_a_feed_url_never_reaches_a_log_line_in_clear(world: World) -> None:
    url = world.services.calendar.create_feed_as(world.doctor).url
    token = url.rsplit("/", 1)[1]
    for line in (f"GET {url} HTTP/1.1", f"GET /v1/calendar-feeds/{token}.ics", f"x={token}"):
        assert token not in redact_codes(line) and "***" in redact_codes(line)


def test_a_new_feed_replaces_the_old_one_whose_url_stops_working(world: World) -> None:
    calendar = world.services.calendar
    first = calendar.create_feed_as(world.ann)
    second = calendar.create_feed_as(world.ann)
    with pytest.raises(CalendarFeedNotFound):
        calendar.feed(first.token)
    assert calendar.feed(second.token).events == []
    with world.services.new_uow() as uow:
        rows = list(uow.calendar_feeds.rows.values())  # type: ignore[attr-defined]
    assert [(f.owner_role, f.owner_id) for f in rows] == [(Role.PATIENT, world.ann.id)]


def test_revoking_stops_the_feed_at_once_and_twice_is_fine(world: World) -> None:
    calendar = world.services.calendar
    made = calendar.create_feed_as(world.doctor)
    other = calendar.create_feed_as(world.ann)
    calendar.revoke_feed_as(world.doctor)
    calendar.revoke_feed_as(world.doctor)
    with pytest.raises(CalendarFeedNotFound):
        calendar.feed(made.token)
    calendar.feed(other.token)  # someone else's feed is untouched


@pytest.mark.parametrize("token", ["", "short", "A" * 42, "A" * 44, "A" * 42 + "!", "A" * 43])
def test_an_unknown_or_malformed_token_is_not_found(world: World, token: str) -> None:
    with pytest.raises(CalendarFeedNotFound):
        world.services.calendar.feed(token)


def test_only_patients_and_doctors_keep_feeds(world: World) -> None:
    calendar = world.services.calendar
    with pytest.raises(Forbidden):
        calendar.create_feed_as(world.admin)
    with pytest.raises(Forbidden):
        calendar.revoke_feed_as(world.admin)


# --- what a feed shows ---------------------------------------------------------------------------


def test_a_patients_feed_shows_their_appointments_at_the_hospital_in_its_time_zone(
    world: World,
) -> None:
    shanghai = book(world, world.ann, TODAY + DAY, Period.AFTERNOON, world.doctor)
    berlin = book(world, world.ann, TODAY + 2 * DAY, Period.MORNING, world.berlin_doctor)
    book(world, world.bob, TODAY + DAY, Period.MORNING, world.doctor)  # not Ann's

    feed = feed_of(world, world.ann)

    assert [e.key for e in feed.events] == [f"appointment-{shanghai}", f"appointment-{berlin}"]
    first = event(feed, f"appointment-{shanghai}")
    assert first.start == dt.datetime(2026, 11, 26, 13, 30, tzinfo=SHANGHAI)
    assert first.end == dt.datetime(2026, 11, 26, 17, 30, tzinfo=SHANGHAI)
    assert first.summary == "Cardiology: Dr. Li Na"
    assert "Ruijin Hospital" in first.description and "queue number 1" in first.description
    assert first.location == "Ruijin Hospital, 197 Ruijin 2nd Road, Shanghai"
    assert first.geo == GeoPoint(31.2122, 121.4688)
    assert (first.status, first.sequence) == (EventStatus.CONFIRMED, 0)
    second = event(feed, f"appointment-{berlin}")
    assert second.start == dt.datetime(2026, 11, 27, 8, 0, tzinfo=BERLIN)
    assert second.location == "Charité, Charitéplatz 1, Berlin"


def test_a_patients_feed_shows_home_visits_all_day_at_home_or_at_the_hospital(
    world: World,
) -> None:
    at_home = order(world, world.ann, TODAY + 2 * DAY, Place.HOME)
    at_hospital = order(world, world.ann, TODAY + 3 * DAY, Place.HOSPITAL)
    order(world, world.bob, TODAY + 2 * DAY, Place.HOME)  # not Ann's

    feed = feed_of(world, world.ann)

    home = event(feed, f"order-{at_home}")
    assert (home.start, home.end) == (TODAY + 2 * DAY, TODAY + 3 * DAY)  # a date: all day
    assert home.summary == "Home nursing visit (at home)"
    assert (home.location, home.geo) == ("12 Huaihai Road, flat 3", HOME)
    assert (home.status, home.sequence) == (EventStatus.TENTATIVE, 0)  # waiting for payment
    hospital = event(feed, f"order-{at_hospital}")
    assert hospital.location == "Ruijin Hospital, 197 Ruijin 2nd Road, Shanghai"
    assert hospital.geo == GeoPoint(31.2122, 121.4688)
    assert [e.key for e in feed.events] == [f"order-{at_home}", f"order-{at_hospital}"]


def test_a_doctors_feed_shows_their_clinics_and_names_no_patient(world: World) -> None:
    booked = book(world, world.ann, TODAY + DAY, Period.MORNING, world.doctor)
    book(world, world.bob, TODAY + DAY, Period.MORNING, world.berlin_doctor)  # another doctor's
    order(world, world.ann, TODAY + 2 * DAY, Place.HOME)  # orders are the patient's only

    feed = feed_of(world, world.doctor)

    [only] = feed.events
    assert only.key == f"appointment-{booked}"
    assert only.summary == "Clinic: patient no. 1"
    assert only.start == dt.datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)
    assert only.end == dt.datetime(2026, 11, 26, 12, 0, tzinfo=SHANGHAI)
    rendered = ical(feed, world.services.calendar.host).decode()
    for private in ("Ann", "Example", "13800000001", f"patient-{world.ann.id}"):
        assert private not in rendered


def test_the_feed_reaches_back_ninety_days_and_forward_without_end(world: World) -> None:
    old = book(world, world.ann, TODAY - 91 * DAY, Period.MORNING, world.doctor)
    kept = book(world, world.ann, TODAY - 90 * DAY, Period.MORNING, world.doctor)
    far = book(world, world.ann, TODAY + 400 * DAY, Period.MORNING, world.doctor)

    keys = [e.key for e in feed_of(world, world.ann).events]

    assert keys == [f"appointment-{kept}", f"appointment-{far}"]
    assert f"appointment-{old}" not in keys


# --- changes -------------------------------------------------------------------------------------


def test_a_cancelled_appointment_stays_cancelled_with_a_higher_sequence(world: World) -> None:
    services, calendar = world.services, world.services.calendar
    booked = services.booking.book(world.ann.id, world.doctor.id, TODAY + 3 * DAY, Period.MORNING)
    kept = booked.id or 0
    token = calendar.create_feed_as(world.ann).token
    before = event(calendar.feed(token), f"appointment-{kept}")

    world.clock.advance(dt.timedelta(hours=1))
    services.booking.cancel(world.ann.id, kept)
    after = event(calendar.feed(token), f"appointment-{kept}")

    assert (before.status, before.sequence) == (EventStatus.CONFIRMED, 0)
    assert (after.status, after.sequence) == (EventStatus.CANCELLED, 1)
    assert after.last_modified == NOW + dt.timedelta(hours=1)
    assert after.start == before.start and "Cancelled." in after.description


def test_attendance_raises_the_sequence_too(world: World) -> None:
    attended = book(world, world.ann, TODAY, Period.MORNING, world.doctor)  # started at 08:00
    token = world.services.calendar.create_feed_as(world.ann).token
    world.services.booking.record_attendance(world.doctor.id, attended, attended=True)
    found = event(world.services.calendar.feed(token), f"appointment-{attended}")
    assert (found.status, found.sequence) == (EventStatus.CONFIRMED, 1)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ((), [(EventStatus.TENTATIVE, 0)]),
        (("pay",), [(EventStatus.TENTATIVE, 0), (EventStatus.CONFIRMED, 1)]),
        (
            ("pay", "complete"),
            [(EventStatus.TENTATIVE, 0), (EventStatus.CONFIRMED, 1), (EventStatus.CONFIRMED, 2)],
        ),
        (
            ("pay", "refund"),
            [(EventStatus.TENTATIVE, 0), (EventStatus.CONFIRMED, 1), (EventStatus.CANCELLED, 2)],
        ),
        (("cancel",), [(EventStatus.TENTATIVE, 0), (EventStatus.CANCELLED, 2)]),
    ],
)
def test_an_orders_sequence_grows_with_each_step_of_its_life(
    world: World, steps: tuple[str, ...], expected: list[tuple[EventStatus, int]]
) -> None:
    placed = order(world, world.ann, TODAY + 2 * DAY, Place.HOME)
    token = world.services.calendar.create_feed_as(world.ann).token
    seen = []
    for done in range(len(steps) + 1):
        if done:
            world.clock.advance(dt.timedelta(minutes=1))
            change_order(world, placed, steps[done - 1])
        found = event(world.services.calendar.feed(token), f"order-{placed}")
        seen.append((found.status, found.sequence))
        assert found.last_modified == world.clock.now()
    assert seen == expected


def test_uids_are_stable_and_name_the_public_host(world: World) -> None:
    booked = book(world, world.ann, TODAY + DAY, Period.MORNING, world.doctor)
    calendar = world.services.calendar
    token = calendar.create_feed_as(world.ann).token
    first = ical(calendar.feed(token), calendar.host).decode()
    world.clock.advance(dt.timedelta(hours=2))
    second = ical(calendar.feed(token), calendar.host).decode()
    uid = f"UID:appointment-{booked}@api.example.org"
    assert uid in first and uid in second
    assert in_memory(ManualClock(NOW)).calendar.host == "medbook"  # no public URL set


def test_a_feed_without_events_is_still_a_calendar_of_one_component() -> None:
    """RFC 5545 §3.6: a calendar holds at least one component; a new account's feed has no event
    yet, so it carries the default zone's VTIMEZONE (a strict parser refused the empty one)."""
    from icalendar import Calendar

    from medbook.entrypoints.calendar import ical

    stamp = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
    empty = Feed("Hospital appointments (medbook)", stamp, stamp.date(), ())

    parsed = Calendar.from_ical(ical(empty, "medbook.example"))

    assert [c.name for c in parsed.subcomponents] == ["VTIMEZONE"]
    assert parsed.subcomponents[0]["TZID"] == "Asia/Shanghai"
