"""Family-doctor contracts over HTTP: signing a verified doctor, "my doctors" and "my patients",
ending by either party, who may touch whose contract, the notifications each step leaves, and the
link a contract makes for chat; on the in-memory store and (``sql_world``) on SQLite and MariaDB,
with races on the real databases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import falcon.testing
import pytest
from http_support import (
    NOW,
    THURSDAY,
    Account,
    World,
    ok,
    pooled_world,
    problem,
    race,
)
from sqlalchemy import Engine

#: A step of the clock, short enough that the world's tokens (valid an hour) stay valid.
STEP = dt.timedelta(minutes=10)

# --- helpers -------------------------------------------------------------------------------------


def sign(world: World, patient: Account, doctor_id: int) -> falcon.testing.Result:
    return world.api.post("/v1/contracts", token=patient.token, json={"doctor_id": doctor_id})


def signed(world: World, patient: Account, doctor: Account) -> dict[str, Any]:
    return ok(sign(world, patient, doctor.id), 201)  # type: ignore[no-any-return]


def end(world: World, who: Account, contract_id: int) -> falcon.testing.Result:
    return world.api.post(f"/v1/contracts/{contract_id}/end", token=who.token)


def contracts(world: World, who: Account, *, include_ended: bool | None = None) -> list[Any]:
    params = None if include_ended is None else {"include_ended": str(include_ended).lower()}
    return ok(world.api.get("/v1/contracts", token=who.token, params=params))  # type: ignore[no-any-return]


def ids(found: list[dict[str, Any]]) -> list[int]:
    return [c["id"] for c in found]


def notifications(world: World, who: Account) -> list[dict[str, Any]]:
    return ok(world.api.get("/v1/notifications", token=who.token))  # type: ignore[no-any-return]


def kinds(world: World, who: Account) -> list[str]:
    return [n["kind"] for n in notifications(world, who)]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def start_conversation(world: World, patient: Account, doctor: Account) -> falcon.testing.Result:
    return world.api.post("/v1/conversations", token=patient.token, json={"doctor_id": doctor.id})


# --- signing -------------------------------------------------------------------------------------


def test_a_patient_signs_a_verified_doctor(world: World) -> None:
    created = signed(world, world.patient_a, world.doctor)

    assert created == {
        "id": created["id"],
        "status": "active",
        "patient_id": world.patient_a.id,
        "patient_name": "Wang Xiaoming",
        "doctor_id": world.doctor.id,
        "doctor_name": "Zhang Wei",
        "hospital": "Ruijin Hospital",
        "department": "Cardiology",
        "signed_at": created["signed_at"],
        "ended_at": None,
        "ended_by": None,
    }
    assert isinstance(created["id"], int) and created["id"] >= 1
    assert at(created["signed_at"]) == NOW


def test_the_doctor_hears_of_the_signing_and_no_one_else_does(world: World) -> None:
    created = signed(world, world.patient_a, world.beijing_doctor)

    [notice] = notifications(world, world.beijing_doctor)
    assert notice["kind"] == "contract_signed"
    assert notice["data"] == {"contract_id": created["id"], "patient_id": world.patient_a.id}
    assert notice["read"] is False
    assert "Wang Xiaoming" in notice["body"]
    assert at(notice["created_at"]) == NOW
    for other in (world.patient_a, world.patient_b, world.doctor, world.paediatrician):
        assert notifications(world, other) == []
    assert notifications(world, world.admin) == []
    # The signed doctor's hospital and department are Beijing's.
    assert (created["hospital"], created["department"]) == (
        "Peking Union Medical College Hospital",
        "Orthopaedics",
    )


def test_signing_again_while_active_is_409_already_signed(world: World) -> None:
    first = signed(world, world.patient_a, world.doctor)

    problem(sign(world, world.patient_a, world.doctor.id), 409, "already_signed")

    assert ids(contracts(world, world.patient_a, include_ended=True)) == [first["id"]]
    # The refused signing left no second notice.
    assert kinds(world, world.doctor) == ["contract_signed"]
    # Another patient may sign the same doctor, and the same patient another doctor.
    signed(world, world.patient_b, world.doctor)
    signed(world, world.patient_a, world.paediatrician)


def test_an_unverified_doctor_cannot_be_signed(world: World) -> None:
    unverified = world.register_doctor("Ma Lin")

    problem(sign(world, world.patient_a, unverified.id), 404, "doctor_not_found")

    assert contracts(world, world.patient_a, include_ended=True) == []
    assert contracts(world, unverified, include_ended=True) == []
    assert notifications(world, unverified) == []


def test_an_unverified_doctor_answers_as_an_unknown_one(world: World) -> None:
    """To a patient an unverified doctor does not exist: the same status, code and detail form as
    an id no doctor has."""
    unverified = world.register_doctor("Ma Lin")
    unknown = unverified.id + 1000

    hidden = problem(sign(world, world.patient_a, unverified.id), 404, "doctor_not_found")
    missing = problem(sign(world, world.patient_a, unknown), 404, "doctor_not_found")

    assert hidden["detail"].replace(str(unverified.id), "N") == missing["detail"].replace(
        str(unknown), "N"
    )


@pytest.mark.parametrize("doctor_id", [999_999, 2**31 - 1, 0, -1])
def test_an_unknown_doctor_is_404(world: World, doctor_id: int) -> None:
    problem(sign(world, world.patient_a, doctor_id), 404, "doctor_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"doctor_id": "1"},
        {"doctor_id": 1.5},
        {"doctor_id": True},
        {"doctor_id": None},
        {"doctor_id": 2**31},
        {"doctor_id": -(2**63)},
        {},
    ],
    ids=["string", "float", "bool", "null", "2_pow_31", "minus_2_pow_63", "missing"],
)
def test_a_doctor_id_that_is_no_id_is_422(world: World, body: dict[str, Any]) -> None:
    refused = world.api.post("/v1/contracts", token=world.patient_a.token, json=body)
    problem(refused, 422, fields={"doctor_id"})


def test_an_unknown_field_is_422(world: World) -> None:
    body = {"doctor_id": world.doctor.id, "patient_id": world.patient_b.id}
    refused = world.api.post("/v1/contracts", token=world.patient_a.token, json=body)
    problem(refused, 422, fields={"patient_id"})
    assert contracts(world, world.patient_b, include_ended=True) == []
    assert contracts(world, world.patient_a, include_ended=True) == []


@pytest.mark.parametrize("caller", ["doctor", "paediatrician", "admin", "other_admin"])
def test_only_patients_sign(world: World, caller: str) -> None:
    account: Account = getattr(world, caller)

    problem(sign(world, account, world.beijing_doctor.id), 403, "forbidden")

    assert contracts(world, world.beijing_doctor, include_ended=True) == []
    assert notifications(world, world.beijing_doctor) == []


def test_signing_needs_a_session(world: World) -> None:
    anonymous = world.api.post("/v1/contracts", json={"doctor_id": world.doctor.id})
    problem(anonymous, 401)
    problem(world.api.get("/v1/contracts"), 401)
    problem(world.api.post("/v1/contracts/1/end"), 401)


# --- listing -------------------------------------------------------------------------------------


def test_my_doctors_and_my_patients_newest_first(world: World) -> None:
    a_doctor = signed(world, world.patient_a, world.doctor)
    world.clock.advance(STEP)
    a_paediatrician = signed(world, world.patient_a, world.paediatrician)
    world.clock.advance(STEP)
    b_doctor = signed(world, world.patient_b, world.doctor)

    mine = contracts(world, world.patient_a)
    assert ids(mine) == [a_paediatrician["id"], a_doctor["id"]]
    assert [c["doctor_name"] for c in mine] == ["Liu Yang", "Zhang Wei"]
    assert [c["department"] for c in mine] == ["Paediatrics", "Cardiology"]
    assert {c["patient_id"] for c in mine} == {world.patient_a.id}
    assert at(mine[0]["signed_at"]) == NOW + STEP

    theirs = contracts(world, world.doctor)
    assert ids(theirs) == [b_doctor["id"], a_doctor["id"]]
    assert [c["patient_name"] for c in theirs] == ["Zhao Li", "Wang Xiaoming"]
    assert theirs[1] == a_doctor

    assert ids(contracts(world, world.patient_b)) == [b_doctor["id"]]
    assert ids(contracts(world, world.paediatrician)) == [a_paediatrician["id"]]
    assert contracts(world, world.beijing_doctor) == []
    # Nothing ended yet: the history is the same list.
    assert contracts(world, world.patient_a, include_ended=True) == mine
    assert contracts(world, world.patient_a, include_ended=False) == mine


@pytest.mark.parametrize("caller", ["admin", "other_admin"])
def test_admins_do_not_list_contracts(world: World, caller: str) -> None:
    signed(world, world.patient_a, world.doctor)
    account: Account = getattr(world, caller)
    problem(world.api.get("/v1/contracts", token=account.token), 403, "forbidden")
    refused = world.api.get("/v1/contracts", token=account.token, params={"include_ended": "true"})
    problem(refused, 403, "forbidden")


@pytest.mark.parametrize("value", ["yes", "1", "", "TRUE "])
def test_include_ended_takes_only_true_or_false(world: World, value: str) -> None:
    refused = world.api.get(
        "/v1/contracts", token=world.patient_a.token, params={"include_ended": value}
    )
    problem(refused, 422, fields={"include_ended"})


# --- ending --------------------------------------------------------------------------------------


def test_the_patient_ends_a_contract_and_the_doctor_is_told(world: World) -> None:
    created = signed(world, world.patient_a, world.doctor)
    world.clock.advance(STEP)

    ended = ok(end(world, world.patient_a, created["id"]))

    assert ended == {
        **created,
        "status": "ended",
        "ended_at": ended["ended_at"],
        "ended_by": "patient",
    }
    assert at(ended["ended_at"]) == NOW + STEP
    assert kinds(world, world.doctor) == ["contract_ended", "contract_signed"]
    notice = notifications(world, world.doctor)[0]
    assert notice["data"] == {"contract_id": created["id"]}
    assert "Wang Xiaoming" in notice["body"]
    assert notifications(world, world.patient_a) == []

    assert contracts(world, world.patient_a) == []
    assert contracts(world, world.doctor) == []
    assert contracts(world, world.patient_a, include_ended=True) == [ended]
    assert contracts(world, world.doctor, include_ended=True) == [ended]


def test_the_doctor_ends_a_contract_and_the_patient_is_told(world: World) -> None:
    created = signed(world, world.patient_b, world.paediatrician)
    world.clock.advance(2 * STEP)

    ended = ok(end(world, world.paediatrician, created["id"]))

    assert (ended["status"], ended["ended_by"]) == ("ended", "doctor")
    assert at(ended["ended_at"]) == NOW + 2 * STEP
    [notice] = notifications(world, world.patient_b)
    assert notice["kind"] == "contract_ended"
    assert notice["data"] == {"contract_id": created["id"]}
    assert "Liu Yang" in notice["body"]
    # The doctor hears only of the signing, not of their own ending.
    assert kinds(world, world.paediatrician) == ["contract_signed"]
    assert contracts(world, world.patient_b) == []
    assert contracts(world, world.patient_b, include_ended=True) == [ended]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("patient_a", "patient_a"),
        ("doctor", "patient_a"),
        ("patient_a", "doctor"),
        ("doctor", "doctor"),
    ],
)
def test_ending_twice_is_409_contract_not_active(world: World, first: str, second: str) -> None:
    created = signed(world, world.patient_a, world.doctor)
    ended = ok(end(world, getattr(world, first), created["id"]))
    world.clock.advance(STEP)
    notices = {who: notifications(world, getattr(world, who)) for who in ("patient_a", "doctor")}

    problem(end(world, getattr(world, second), created["id"]), 409, "contract_not_active")

    # The first ending stands, and the refused one told no one anything.
    assert contracts(world, world.patient_a, include_ended=True) == [ended]
    for who, before in notices.items():
        assert notifications(world, getattr(world, who)) == before


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("patient_b", 404, "contract_not_found"),
        ("paediatrician", 404, "contract_not_found"),
        ("beijing_doctor", 404, "contract_not_found"),
        # Admins are refused by the role check before the contract is looked at.
        ("admin", 403, "forbidden"),
        ("other_admin", 403, "forbidden"),
    ],
)
def test_a_third_party_cannot_end_a_contract(
    world: World, caller: str, status: int, code: str
) -> None:
    created = signed(world, world.patient_a, world.doctor)

    refused = problem(end(world, getattr(world, caller), created["id"]), status, code)

    assert "Wang Xiaoming" not in refused["detail"] and "Zhang Wei" not in refused["detail"]
    assert contracts(world, world.patient_a) == [created]
    assert kinds(world, world.doctor) == ["contract_signed"]
    assert notifications(world, world.patient_a) == []


def test_a_third_party_gets_the_same_404_for_an_ended_contract(world: World) -> None:
    """An outsider learns nothing: not even that the contract has ended (no 409)."""
    created = signed(world, world.patient_a, world.doctor)
    ok(end(world, world.patient_a, created["id"]))

    problem(end(world, world.patient_b, created["id"]), 404, "contract_not_found")
    problem(end(world, world.paediatrician, created["id"]), 404, "contract_not_found")


def test_a_doctor_and_a_patient_of_another_contract_cannot_end_this_one(world: World) -> None:
    """Being a party to some contract is not enough: patient B's doctor is not patient A's."""
    a = signed(world, world.patient_a, world.doctor)
    b = signed(world, world.patient_b, world.paediatrician)

    problem(end(world, world.paediatrician, a["id"]), 404, "contract_not_found")
    problem(end(world, world.patient_b, a["id"]), 404, "contract_not_found")
    problem(end(world, world.doctor, b["id"]), 404, "contract_not_found")
    problem(end(world, world.patient_a, b["id"]), 404, "contract_not_found")
    assert contracts(world, world.patient_a) == [a]
    assert contracts(world, world.patient_b) == [b]


@pytest.mark.parametrize("contract_id", [999_999, 2**31 - 1])
def test_ending_an_unknown_contract_is_404(world: World, contract_id: int) -> None:
    problem(end(world, world.patient_a, contract_id), 404, "contract_not_found")


@pytest.mark.parametrize("segment", ["0", "01", "-1", "2147483648", "99999999999999999999", "abc"])
def test_an_id_that_is_no_id_is_a_plain_404(world: World, segment: str) -> None:
    signed(world, world.patient_a, world.doctor)
    problem(world.api.post(f"/v1/contracts/{segment}/end", token=world.patient_a.token), 404)
    assert len(contracts(world, world.patient_a)) == 1


def test_signing_again_after_ending_makes_a_new_contract(world: World) -> None:
    first = signed(world, world.patient_a, world.doctor)
    world.clock.advance(STEP)
    ended = ok(end(world, world.doctor, first["id"]))
    world.clock.advance(STEP)

    second = signed(world, world.patient_a, world.doctor)

    assert second["id"] != first["id"]
    assert second["status"] == "active"
    assert at(second["signed_at"]) == NOW + 2 * STEP
    assert contracts(world, world.patient_a) == [second]
    assert contracts(world, world.doctor) == [second]
    assert contracts(world, world.patient_a, include_ended=True) == [second, ended]
    assert kinds(world, world.doctor) == ["contract_signed", "contract_signed"]
    # The old contract stays ended; the new one ends on its own.
    problem(end(world, world.patient_a, first["id"]), 409, "contract_not_active")
    assert ok(end(world, world.patient_a, second["id"]))["status"] == "ended"


# --- the link a contract makes for chat ----------------------------------------------------------


def test_a_contract_lets_the_patient_start_a_conversation(world: World) -> None:
    """Patient A has no appointment with the Beijing doctor: without a contract chat is refused,
    with one it starts."""
    problem(
        start_conversation(world, world.patient_a, world.beijing_doctor), 403, "no_relationship"
    )

    signed(world, world.patient_a, world.beijing_doctor)
    started = ok(start_conversation(world, world.patient_a, world.beijing_doctor), 201)

    assert started == {
        "id": started["id"],
        "doctor_id": world.beijing_doctor.id,
        "patient_id": world.patient_a.id,
    }
    listed = ok(world.api.get("/v1/conversations", token=world.beijing_doctor.token))
    assert [c["id"] for c in listed] == [started["id"]]
    # Another patient's contract links only its own patient.
    problem(
        start_conversation(world, world.patient_b, world.beijing_doctor), 403, "no_relationship"
    )


def test_an_ended_contract_no_longer_links(world: World) -> None:
    created = signed(world, world.patient_b, world.paediatrician)
    ok(end(world, world.patient_b, created["id"]))

    problem(start_conversation(world, world.patient_b, world.paediatrician), 403, "no_relationship")

    # Signed again, it links again.
    signed(world, world.patient_b, world.paediatrician)
    ok(start_conversation(world, world.patient_b, world.paediatrician), 201)


def test_a_conversation_started_under_a_contract_outlives_it(world: World) -> None:
    """As for appointments, the link is checked when a conversation starts: the existing one is
    found again (200) after the contract has ended."""
    created = signed(world, world.patient_a, world.beijing_doctor)
    started = ok(start_conversation(world, world.patient_a, world.beijing_doctor), 201)
    ok(end(world, world.beijing_doctor, created["id"]))

    again = ok(start_conversation(world, world.patient_a, world.beijing_doctor))
    assert again == started


def test_an_appointment_still_links_without_a_contract(world: World) -> None:
    world.book(world.patient_a, THURSDAY)
    ok(start_conversation(world, world.patient_a, world.doctor), 201)
    assert contracts(world, world.patient_a, include_ended=True) == []


# --- the same on SQL (SQLite and MariaDB) --------------------------------------------------------


def _contract_flow(world: World) -> None:
    first = signed(world, world.patient_a, world.doctor)
    assert (first["status"], first["hospital"], first["department"]) == (
        "active",
        "Ruijin Hospital",
        "Cardiology",
    )
    assert at(first["signed_at"]) == NOW
    assert kinds(world, world.doctor) == ["contract_signed"]

    problem(sign(world, world.patient_a, world.doctor.id), 409, "already_signed")
    unverified = world.register_doctor("Ma Lin")
    problem(sign(world, world.patient_a, unverified.id), 404, "doctor_not_found")
    problem(sign(world, world.doctor, world.doctor.id), 403, "forbidden")
    other = signed(world, world.patient_b, world.doctor)
    assert ids(contracts(world, world.doctor)) == [other["id"], first["id"]]

    world.clock.advance(STEP)
    problem(end(world, world.paediatrician, first["id"]), 404, "contract_not_found")
    problem(end(world, world.admin, first["id"]), 403, "forbidden")
    ended = ok(end(world, world.patient_a, first["id"]))
    assert (ended["status"], ended["ended_by"]) == ("ended", "patient")
    assert at(ended["ended_at"]) == NOW + STEP
    assert kinds(world, world.doctor) == ["contract_ended", "contract_signed", "contract_signed"]
    problem(end(world, world.doctor, first["id"]), 409, "contract_not_active")
    problem(start_conversation(world, world.patient_a, world.doctor), 403, "no_relationship")

    world.clock.advance(STEP)
    second = signed(world, world.patient_a, world.doctor)
    assert second["id"] != first["id"]
    assert contracts(world, world.patient_a) == [second]
    assert contracts(world, world.patient_a, include_ended=True) == [second, ended]
    assert ids(contracts(world, world.doctor)) == [second["id"], other["id"]]
    ok(start_conversation(world, world.patient_a, world.doctor), 201)

    by_doctor = ok(end(world, world.doctor, second["id"]))
    assert by_doctor["ended_by"] == "doctor"
    assert kinds(world, world.patient_a) == ["contract_ended"]
    assert ids(contracts(world, world.patient_a, include_ended=True)) == [second["id"], first["id"]]


def test_the_contract_flow(world: World) -> None:
    _contract_flow(world)


def test_the_contract_flow_on_sql(sql_world: World) -> None:
    _contract_flow(sql_world)


def test_long_and_unusual_names_show_in_the_listing_on_sql(sql_world: World) -> None:
    world = sql_world
    patient = world.register_patient("欧阳 娜娜 😀")
    created = signed(world, patient, world.paediatrician)

    assert created["patient_name"] == "欧阳 娜娜 😀"
    assert contracts(world, world.paediatrician) == [created]
    assert "欧阳 娜娜 😀" in notifications(world, world.paediatrician)[0]["body"]


# --- races on the real databases -----------------------------------------------------------------

RACERS = 20


@pytest.fixture
def racing_world(engine_factory: Callable[..., Engine], openapi_document: dict[str, Any]) -> World:
    return pooled_world(engine_factory, openapi_document, RACERS)


def test_concurrent_signs_of_one_pair_make_one_contract(racing_world: World) -> None:
    world = racing_world

    outcomes = race(RACERS, lambda i: sign(world, world.patient_a, world.doctor.id))

    assert outcomes == {"201": 1, "409 already_signed": RACERS - 1}
    assert len(contracts(world, world.patient_a, include_ended=True)) == 1
    assert kinds(world, world.doctor) == ["contract_signed"]


def test_concurrent_signs_of_many_pairs_all_succeed(racing_world: World) -> None:
    """The unique key is on the pair: signings of different pairs do not block one another out."""
    world = racing_world
    doctors = (world.doctor, world.paediatrician, world.beijing_doctor)
    patients = (world.patient_a, world.patient_b)
    pairs = [(p, d) for p in patients for d in doctors]

    outcomes = race(len(pairs) * 3, lambda i: sign(world, *_pair(pairs[i % len(pairs)])))

    assert outcomes == {"201": len(pairs), "409 already_signed": 2 * len(pairs)}
    for doctor in doctors:
        assert len(contracts(world, doctor)) == 2
        assert kinds(world, doctor) == ["contract_signed"] * 2


def _pair(pair: tuple[Account, Account]) -> tuple[Account, int]:
    return pair[0], pair[1].id


def test_both_parties_ending_at_once_end_it_once(racing_world: World) -> None:
    world = racing_world
    parties = (world.patient_a, world.doctor)
    for round_ in range(5):
        created = signed(world, world.patient_a, world.doctor)

        contract_id: int = created["id"]

        def ending(i: int, contract_id: int = contract_id) -> falcon.testing.Result:
            return end(world, parties[i], contract_id)

        outcomes = race(2, ending)

        assert outcomes == {"200": 1, "409 contract_not_active": 1}, round_
        told = len(notifications(world, world.patient_a)) + kinds(world, world.doctor).count(
            "contract_ended"
        )
        assert told == round_ + 1  # one notice per ending, to the other party


def test_ending_and_signing_again_at_once_leave_at_most_one_active(racing_world: World) -> None:
    """The patient ends the contract while signing the doctor again: the end always succeeds; the
    new signing either lands after it (201) or sees the old contract still active (409)."""
    world = racing_world
    current = signed(world, world.patient_a, world.doctor)
    for round_ in range(5):
        contract_id = current["id"]

        def end_or_sign(i: int, contract_id: int = contract_id) -> falcon.testing.Result:
            if i == 0:
                return end(world, world.patient_a, contract_id)
            return sign(world, world.patient_a, world.doctor.id)

        outcomes = race(2, end_or_sign)

        assert outcomes["200"] == 1, (round_, outcomes)
        assert outcomes["201"] + outcomes["409 already_signed"] == 1, (round_, outcomes)
        active = contracts(world, world.patient_a)
        assert len(active) == outcomes["201"], (round_, active)
        current = active[0] if active else signed(world, world.patient_a, world.doctor)
