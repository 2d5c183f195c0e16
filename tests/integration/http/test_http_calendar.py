"""Calendar feeds over HTTP: a patient or doctor makes a secret feed URL, a calendar app fetches
it without logging in, and every feed is parsed back by two independent parsers, the
``icalendar`` package (which writes the feeds) and ``vobject``. UIDs stay the same across
fetches, a cancelled appointment stays as STATUS:CANCELLED with a higher SEQUENCE, times are the
hospital's local times with a VTIMEZONE for Asia/Shanghai, a doctor's feed names no patient, a
replaced or revoked URL is a 404, and the database keeps the token's hash only (read straight from
the ``calendar_feeds`` table on SQLite and MariaDB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo
from typing import Any

import icalendar
import pytest
import vobject  # type: ignore[import-untyped]
from http_support import FRIDAY, THURSDAY, Account, World, ok, problem
from sqlalchemy import Engine, select

from medbook.adapters.sql.calendar import calendar_feeds
from medbook.entrypoints.http import server

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
FEED = "/v1/me/calendar-feed"
CALENDAR = "text/calendar; charset=utf-8"
SERVICE = {
    "name": "Home nursing visit",
    "price_cents": 19900,
    "capacity": 5,
    "service_radius_km": 20,
    "dates": [THURSDAY.isoformat(), FRIDAY.isoformat()],
}
HOME = {"place": "home", "address": "12 Huaihai Road, flat 3", "lat": 31.22, "lng": 121.47}


# --- helpers -------------------------------------------------------------------------------------


def make_feed(world: World, who: Account) -> str:
    """A new feed of ``who``: its URL (relative: these services have no public URL)."""
    made = ok(world.api.post(FEED, token=who.token), 201)
    assert set(made) == {"url", "created_at"}
    assert made["url"].startswith("/v1/calendar-feeds/")
    return str(made["url"])


def fetch(world: World, url: str) -> bytes:
    result = world.api.get(url)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"] == CALENDAR
    return bytes(result.content)


class Parsed:
    """A feed as both parsers read it, with what each says of every event by UID."""

    def __init__(self, data: bytes) -> None:
        assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
        self.ical = icalendar.Calendar.from_ical(data)
        self.vobj = vobject.readOne(data.decode("utf-8"))
        self.events = {str(e["UID"]): e for e in self.ical.walk("VEVENT")}
        self.vevents = {e.uid.value: e for e in self.vobj.vevent_list}
        assert set(self.events) == set(self.vevents), "the two parsers read other events"
        assert len(self.events) == len(self.ical.walk("VEVENT")), "a UID twice"

    def uids(self) -> set[str]:
        return set(self.events)

    def uid_of(self, prefix: str) -> str:
        [uid] = [u for u in self.events if u.startswith(prefix)]
        return uid

    def status(self, uid: str) -> str:
        first, second = str(self.events[uid]["STATUS"]), self.vevents[uid].status.value
        assert first == second
        return first

    def sequence(self, uid: str) -> int:
        first, second = self.events[uid].decoded("SEQUENCE"), int(self.vevents[uid].sequence.value)
        assert isinstance(first, int) and first == second
        return first

    def times(self, uid: str) -> tuple[Any, Any]:
        """(start, end) as both parsers read them: aware datetimes, or dates."""
        event, vevent = self.events[uid], self.vevents[uid]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert (start, end) == (vevent.dtstart.value, vevent.dtend.value)
        return start, end

    def text(self, uid: str, name: str) -> str:
        first = str(self.events[uid][name])
        second = getattr(self.vevents[uid], name.lower()).value
        assert first == second
        return first

    def timezones(self) -> set[str]:
        first = {str(tz["TZID"]) for tz in self.ical.walk("VTIMEZONE")}
        second = {tz.tzid.value for tz in getattr(self.vobj, "vtimezone_list", [])}
        assert first == second
        return first


def feed_of(world: World, url: str) -> Parsed:
    return Parsed(fetch(world, url))


def home_visit(world: World, patient: Account) -> int:
    path = f"/v1/hospitals/{world.shanghai}/services"
    service = ok(world.api.post(path, token=world.admin.token, json=SERVICE), 201)
    body = {"service_id": service["id"], "date": FRIDAY.isoformat(), **HOME}
    return int(ok(world.api.post("/v1/orders", token=patient.token, json=body), 201)["id"])


# --- a patient's feed ----------------------------------------------------------------------------


def test_a_patients_feed_parses_in_both_parsers_in_the_hospitals_local_time(world: World) -> None:
    morning = world.book(world.patient_a, THURSDAY, "morning")
    afternoon = world.book(world.patient_a, FRIDAY, "afternoon", doctor=world.paediatrician)
    world.book(world.patient_b, THURSDAY, "morning")  # patient B's: not in A's feed
    order_id = home_visit(world, world.patient_a)

    feed = feed_of(world, make_feed(world, world.patient_a))

    assert feed.uids() == {
        f"appointment-{morning['id']}@medbook",
        f"appointment-{afternoon['id']}@medbook",
        f"order-{order_id}@medbook",
    }
    assert feed.timezones() == {"Asia/Shanghai"}
    assert str(feed.ical["METHOD"]) == "PUBLISH" and str(feed.ical["VERSION"]) == "2.0"
    assert feed.vobj.prodid.value and feed.vobj.getChildValue("x_wr_calname")
    uid = f"appointment-{morning['id']}@medbook"
    start, end = feed.times(uid)
    assert start == dt.datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)
    assert end == dt.datetime(2026, 11, 26, 12, 0, tzinfo=SHANGHAI)
    assert start.utcoffset() == dt.timedelta(hours=8)
    assert feed.events[uid]["DTSTART"].params["TZID"] == "Asia/Shanghai"
    later = f"appointment-{afternoon['id']}@medbook"
    assert feed.times(later) == (
        dt.datetime(2026, 11, 27, 13, 30, tzinfo=SHANGHAI),
        dt.datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI),
    )
    assert feed.text(uid, "SUMMARY") == "Cardiology: Dr. Zhang Wei"
    assert feed.text(later, "SUMMARY") == "Paediatrics: Dr. Liu Yang"
    assert "197 Ruijin 2nd Road, Shanghai" in feed.text(uid, "LOCATION")
    assert "Ruijin Hospital" in feed.text(uid, "DESCRIPTION")
    assert feed.events[uid].decoded("GEO") == (31.2122, 121.4688)
    assert feed.vevents[uid].geo.value == "31.2122;121.4688"
    assert (feed.status(uid), feed.sequence(uid)) == ("CONFIRMED", 0)
    visit = f"order-{order_id}@medbook"
    assert feed.times(visit) == (FRIDAY, FRIDAY + dt.timedelta(days=1))  # all day
    assert feed.text(visit, "LOCATION") == HOME["address"]
    assert (feed.status(visit), feed.sequence(visit)) == ("TENTATIVE", 0)  # not paid yet


def test_uids_stay_and_a_cancelled_appointment_stays_cancelled_with_a_higher_sequence(
    world: World,
) -> None:
    kept = world.book(world.patient_a, THURSDAY, "morning")
    cancelled = world.book(world.patient_a, FRIDAY, "morning")
    url = make_feed(world, world.patient_a)
    before = feed_of(world, url)
    assert feed_of(world, url).uids() == before.uids()  # fetched again: the same UIDs

    world.clock.advance(dt.timedelta(minutes=10))
    path = f"/v1/appointments/{cancelled['id']}/cancel"
    ok(world.api.post(path, token=world.patient_a.token))
    after = feed_of(world, url)

    assert after.uids() == before.uids()
    uid = f"appointment-{cancelled['id']}@medbook"
    assert (before.status(uid), before.sequence(uid)) == ("CONFIRMED", 0)
    assert after.status(uid) == "CANCELLED"
    assert after.sequence(uid) > before.sequence(uid)
    assert after.times(uid) == before.times(uid)
    assert after.events[uid].decoded("LAST-MODIFIED") == world.clock.now()
    assert (before.text(uid, "TRANSP"), after.text(uid, "TRANSP")) == ("OPAQUE", "TRANSPARENT")
    other = f"appointment-{kept['id']}@medbook"
    assert (after.status(other), after.sequence(other)) == ("CONFIRMED", 0)


# --- a doctor's feed -----------------------------------------------------------------------------


def test_a_doctors_feed_names_no_patient(world: World) -> None:
    a = world.book(world.patient_a, THURSDAY, "morning")
    b = world.book(world.patient_b, THURSDAY, "morning")
    world.book(world.patient_b, FRIDAY, "morning", doctor=world.paediatrician)  # not his

    data = fetch(world, make_feed(world, world.doctor))
    feed = Parsed(data)

    assert feed.uids() == {f"appointment-{a['id']}@medbook", f"appointment-{b['id']}@medbook"}
    text = data.decode("utf-8")
    for patient in (world.patient_a, world.patient_b):
        for private in (patient.name, *patient.name.split(), patient.phone):
            assert private not in text, f"{private!r} is in the doctor's feed"
    uid = f"appointment-{b['id']}@medbook"
    assert feed.text(uid, "SUMMARY") == f"Clinic: patient no. {b['number']}"
    assert feed.times(uid)[0] == dt.datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)
    assert feed.timezones() == {"Asia/Shanghai"}


# --- making, replacing, revoking -----------------------------------------------------------------


def test_a_new_url_replaces_the_old_which_is_then_404(world: World) -> None:
    old = make_feed(world, world.patient_a)
    new = make_feed(world, world.patient_a)
    assert new != old
    problem(world.api.get(old), 404, "calendar_feed_not_found")
    fetch(world, new)


def test_a_revoked_url_is_404_as_an_unknown_one(world: World) -> None:
    url = make_feed(world, world.doctor)
    fetch(world, url)
    result = world.api.request("DELETE", FEED, token=world.doctor.token)
    assert result.status_code == 204 and not result.content
    revoked = problem(world.api.get(url), 404, "calendar_feed_not_found")
    unknown = problem(world.api.get("/v1/calendar-feeds/" + "A" * 43), 404)
    assert revoked == unknown
    problem(world.api.get("/v1/calendar-feeds/short"), 404)
    assert world.api.request("DELETE", FEED, token=world.doctor.token).status_code == 204


def test_admins_keep_no_feed(world: World) -> None:
    problem(world.api.post(FEED, token=world.admin.token), 403)
    problem(world.api.request("DELETE", FEED, token=world.admin.token), 403)
    problem(world.api.post(FEED), 401)


# --- on the real databases -----------------------------------------------------------------------


def test_the_database_keeps_the_tokens_hash_only(sql_world: World, engine: Engine) -> None:
    world = sql_world
    booked = world.book(world.patient_a, THURSDAY, "morning")
    url = make_feed(world, world.patient_a)
    token = url.rsplit("/", 1)[1]
    feed = feed_of(world, url)  # the whole feed, read from SQL
    assert feed.uids() == {f"appointment-{booked['id']}@medbook"}
    assert feed.timezones() == {"Asia/Shanghai"}

    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(select(calendar_feeds))]
    [row] = rows
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(rows)
    assert (row["owner_role"].value, row["owner_id"]) == ("patient", world.patient_a.id)

    replaced = make_feed(world, world.patient_a)
    problem(world.api.get(url), 404)
    fetch(world, replaced)
    with engine.connect() as connection:
        assert len(connection.execute(select(calendar_feeds)).all()) == 1


@pytest.mark.parametrize("who", ["patient_a", "doctor"])
def test_every_feed_of_the_sql_world_parses(sql_world: World, who: str) -> None:
    world = sql_world
    world.book(world.patient_a, THURSDAY, "morning")
    home_visit(world, world.patient_a)
    feed = feed_of(world, make_feed(world, getattr(world, who)))
    assert feed.uids() and feed.timezones() == {"Asia/Shanghai"}


def test_no_log_line_carries_a_feed_token(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """The request log names the route, not the path; gunicorn's own lines are scrubbed."""
    url = make_feed(world, world.patient_a)
    token = url.rsplit("/", 1)[1]
    caplog.set_level(logging.DEBUG)
    fetch(world, url)
    world.api.request("DELETE", FEED, token=world.patient_a.token)
    problem(world.api.get(url), 404)

    records = [r for r in caplog.records if r.name == "medbook.access"]
    assert [r.__dict__["route"] for r in records] == [
        "/v1/calendar-feeds/{token}",
        "/v1/me/calendar-feed",
        "/v1/calendar-feeds/{token}",
    ]
    for record in caplog.records:
        assert token not in repr(record.__dict__)
    assert token not in server.scrub(f"Invalid request from 203.0.113.7: GET {url} HTTP/1.1")
