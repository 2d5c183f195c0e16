"""Record shares on the in-memory store: what a code opens and for how long, who may open it,
the audit of every opening, and the rate of failed tries per doctor."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, in_memory
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.records.shares import MAX_SHARE_MINUTES, code_hash, is_code
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError, TooManyAttempts

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
VISIT = dt.date(2026, 11, 20)


@pytest.fixture
def world() -> tuple[Services, ManualClock, Actor, Actor, Actor, Actor]:
    clock = ManualClock(NOW)
    services = in_memory(clock)
    hospital = services.directory.add_hospital("Ruijin Hospital", "", GeoPoint(31.2, 121.5))
    department = services.directory.add_department(hospital.id or 0, "General practice")
    verified = services.directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr Li", phone="13900000001"
    )
    services.directory.set_verified(verified.id or 0, True)
    unverified = services.directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr New", phone="13900000002"
    )
    with services.new_uow() as uow:
        ann = uow.patients.add(Patient("Ann", "13800000001"))
        bob = uow.patients.add(Patient("Bob", "13800000002"))
        uow.commit()
    return (
        services,
        clock,
        Actor(ann.id or 0, Role.PATIENT),
        Actor(bob.id or 0, Role.PATIENT),
        Actor(verified.id or 0, Role.DOCTOR),
        Actor(unverified.id or 0, Role.DOCTOR),
    )


def code_of(work: object) -> str:
    assert callable(work)
    with pytest.raises(DomainError) as refused:
        work()
    return refused.value.code


def test_a_code_is_256_random_bits_and_only_its_hash_is_kept(world) -> None:  # type: ignore[no-untyped-def]
    services, _, ann, _, _, _ = world
    record = services.health.create_record_as(ann, "Ruijin", VISIT, "Check-up").record
    made = services.health.share_as(ann, [record.id or 0])
    assert is_code(made.code) and len(made.code) == 43
    assert made.share.code_hash == hashlib.sha256(made.code.encode()).hexdigest()
    assert made.code not in repr(made.share)
    other = services.health.share_as(ann, None)
    assert other.code != made.code and other.share.all_records


def test_what_a_share_opens_for_how_long_and_to_whom(world) -> None:  # type: ignore[no-untyped-def]
    services, clock, ann, bob, doctor, unverified = world
    health = services.health
    shown = health.create_record_as(ann, "Ruijin", VISIT, "Shown").record
    health.create_record_as(ann, "Ruijin", VISIT, "Kept")
    made = health.share_as(ann, [shown.id or 0], expires_in_minutes=60)

    opened = health.open_share_as(doctor, made.code)
    assert opened.patient_id == ann.id
    assert [v.record.title for v in opened.records] == ["Shown"]
    assert code_of(lambda: health.open_share_as(unverified, made.code)) == "forbidden"
    assert code_of(lambda: health.open_share_as(bob, made.code)) == "forbidden"
    assert code_of(lambda: health.share_qr_as(bob, made.code)) == "share_not_found"
    assert code_of(lambda: health.revoke_share_as(bob, made.code)) == "share_not_found"
    assert code_of(lambda: health.share_as(bob, [shown.id or 0])) == "record_not_found"

    clock.advance(dt.timedelta(minutes=60) - dt.timedelta(seconds=1))
    health.open_share_as(doctor, made.code)
    clock.advance(dt.timedelta(seconds=1))
    assert code_of(lambda: health.open_share_as(doctor, made.code)) == "share_not_found"
    assert code_of(lambda: health.open_share_as(doctor, "x" * 43)) == "share_not_found"
    assert code_of(lambda: health.open_share_as(doctor, "short")) == "share_not_found"


def test_revoking_stops_a_share_at_once_and_all_shares_include_later_records(world) -> None:  # type: ignore[no-untyped-def]
    services, _, ann, _, doctor, _ = world
    health = services.health
    everything = health.share_as(ann, None)
    health.create_record_as(ann, "Ruijin", VISIT, "Later")
    assert [v.record.title for v in health.open_share_as(doctor, everything.code).records] == [
        "Later"
    ]
    health.revoke_share_as(ann, everything.code)
    health.revoke_share_as(ann, everything.code)  # twice is fine
    assert code_of(lambda: health.open_share_as(doctor, everything.code)) == "share_not_found"
    assert code_of(lambda: health.share_qr_as(ann, everything.code)) == "share_not_found"


def test_every_opening_is_logged_and_the_patient_told_once(world) -> None:  # type: ignore[no-untyped-def]
    services, _, ann, _, doctor, _ = world
    health = services.health
    record = health.create_record_as(ann, "Ruijin", VISIT, "Check-up").record
    made = health.share_as(ann, [record.id or 0])
    for _ in range(3):
        health.open_share_as(doctor, made.code)
    log = health.access_log_as(ann)
    assert [(e.entry.kind.value, e.entry.detail["records"]) for e in log] == [
        ("share", str(record.id))
    ] * 3
    told = [
        n for n in services.notifications.of_actor(ann) if n.kind.value == "record_share_opened"
    ]
    assert len(told) == 1 and told[0].data["share_id"] == made.share.id


def test_failed_tries_are_limited_per_doctor_and_successes_are_given_back(world) -> None:  # type: ignore[no-untyped-def]
    services, _, ann, _, doctor, _ = world
    health = services.health
    made = health.share_as(ann, None)
    for _ in range(25):
        health.open_share_as(doctor, made.code)  # successes never wear the bucket down
    for _ in range(10):
        assert code_of(lambda: health.open_share_as(doctor, "A" * 43)) == "share_not_found"
    with pytest.raises(TooManyAttempts) as slowed:
        health.open_share_as(doctor, made.code)
    assert slowed.value.retry_after >= 1


def test_expiry_bounds_and_a_deleted_record_leaves_every_share(world) -> None:  # type: ignore[no-untyped-def]
    services, _, ann, _, doctor, _ = world
    health = services.health
    record = health.create_record_as(ann, "Ruijin", VISIT, "Check-up").record
    for minutes in (0, MAX_SHARE_MINUTES + 1, -5):
        assert code_of(lambda m=minutes: health.share_as(ann, [record.id or 0], m)) == (
            "invalid_value"
        )
    assert code_of(lambda: health.share_as(ann, [])) == "invalid_value"
    made = health.share_as(ann, [record.id or 0], MAX_SHARE_MINUTES)
    assert made.share.expires_at == NOW + dt.timedelta(days=30)
    health.delete_record_as(ann, record.id or 0)
    assert health.open_share_as(doctor, made.code).records == []
    assert code_hash(made.code) == made.share.code_hash


def test_codes_are_taken_out_of_log_lines_in_every_form_they_travel() -> None:
    """Found by the live probe: a percent-escaped code (``%5F`` for ``_``), a code on a wrong path
    or in a query were logged in clear."""
    from medbook.domain.records.shares import new_code, redact_codes

    code = new_code()
    escaped = "".join(f"%{ord(c):02X}" if c in "_-" else c for c in code)
    for line in (
        f"GET /v1/shared-records/{code} HTTP/1.1",
        f"GET /v1/shared-records/{escaped} HTTP/1.1",
        f"GET /v1/shared%2Drecords/{code} HTTP/1.1",
        f"GET /V1/shared-records/{code}",
        f"GET /v1/x?code={code}",
        f"GET /v1/record-shares/{code}/qr.png",
    ):
        redacted = redact_codes(line)
        assert code not in redacted and escaped not in redacted and "***" in redacted, line
    upload = "/v1/uploads/2026/12/0123456789abcdef0123456789abcdef.png"
    assert redact_codes(upload) == upload


def test_more_than_a_hundred_record_ids_are_refused_even_repeated(world) -> None:  # type: ignore[no-untyped-def]
    """Found by the live probe: 101 copies of one id passed the documented limit of 100."""
    services, _, ann, _, _, _ = world
    record = services.health.create_record_as(ann, "Ruijin", VISIT, "Check-up").record
    refused = code_of(lambda: services.health.share_as(ann, [record.id or 0] * 101))
    assert refused == "invalid_value"
