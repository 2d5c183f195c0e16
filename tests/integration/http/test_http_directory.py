"""The directory over HTTP: hospitals near a point, departments, doctors, profiles, schedules."""

from __future__ import annotations

import pytest
from http_support import (
    FRIDAY,
    SCHEDULE_BODY,
    SUNDAY,
    THURSDAY,
    World,
    ok,
    problem,
)

WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# --- hospitals -----------------------------------------------------------------------------------


def test_hospitals_without_a_position_are_all_listed_without_distance(world: World) -> None:
    hospitals = ok(world.api.get("/v1/hospitals"))

    assert {h["id"] for h in hospitals} == {world.shanghai, world.beijing}
    shanghai = next(h for h in hospitals if h["id"] == world.shanghai)
    assert shanghai["name"] == "Ruijin Hospital"
    assert shanghai["address"] == "197 Ruijin 2nd Road, Shanghai"
    assert (shanghai["lat"], shanghai["lng"]) == (31.2122, 121.4688)
    assert all(h["distance_km"] is None for h in hospitals)


@pytest.mark.parametrize(
    ("lat", "lng", "nearest"),
    [("39.9", "116.4", "beijing"), ("31.23", "121.47", "shanghai")],
)
def test_hospitals_near_a_point_come_nearest_first_with_their_distance(
    world: World, lat: str, lng: str, nearest: str
) -> None:
    hospitals = ok(world.api.get("/v1/hospitals", params={"lat": lat, "lng": lng}))

    assert hospitals[0]["id"] == getattr(world, nearest)
    distances = [h["distance_km"] for h in hospitals]
    assert distances == sorted(distances)
    assert distances[0] < 5
    assert 1000 < distances[1] < 1100  # Beijing to Shanghai, as the crow flies


def test_a_hospital_without_a_position_comes_last_near_a_point(world: World) -> None:
    nowhere = world.services.directory.add_hospital("Mobile Clinic", "on the road")

    hospitals = ok(world.api.get("/v1/hospitals", params={"lat": "31.2", "lng": "121.5"}))

    assert hospitals[-1]["id"] == nowhere.id
    assert hospitals[-1]["distance_km"] is None
    assert hospitals[-1]["lat"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "abc", "lng": "121.5"}, "lat"),
        ({"lat": "31.2", "lng": "1e"}, "lng"),
        ({"lat": "91", "lng": "121.5"}, "lat"),
        ({"lat": "31.2", "lng": "-181"}, "lng"),
    ],
)
def test_a_bad_position_is_422_naming_it(world: World, params: dict[str, str], field: str) -> None:
    problem(world.api.get("/v1/hospitals", params=params), 422, fields={field})


# --- departments ---------------------------------------------------------------------------------


def test_a_hospitals_departments(world: World) -> None:
    departments = ok(world.api.get(f"/v1/hospitals/{world.shanghai}/departments"))

    assert departments == [
        {
            "id": world.cardiology,
            "hospital_id": world.shanghai,
            "name": "Cardiology",
            "description": "Heart and vessels",
        },
        {
            "id": world.paediatrics,
            "hospital_id": world.shanghai,
            "name": "Paediatrics",
            "description": "Children",
        },
    ]


def test_departments_of_an_unknown_hospital_is_404(world: World) -> None:
    problem(world.api.get("/v1/hospitals/999999/departments"), 404, "hospital_not_found")


def test_the_hospitals_admin_adds_a_department(world: World) -> None:
    body = {"name": "Neurology", "description": "Brain and nerves"}

    created = ok(
        world.api.post(
            f"/v1/hospitals/{world.shanghai}/departments", token=world.admin.token, json=body
        ),
        201,
    )

    assert created["name"] == "Neurology"
    assert created["description"] == "Brain and nerves"
    assert created["hospital_id"] == world.shanghai
    listed = ok(world.api.get(f"/v1/hospitals/{world.shanghai}/departments"))
    assert created in listed
    assert ok(world.api.get(f"/v1/departments/{created['id']}/doctors")) == []


def test_a_department_description_is_optional(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/departments"
    created = ok(world.api.post(path, token=world.admin.token, json={"name": "Neurology"}), 201)
    assert created["description"] == ""


def test_another_hospitals_admin_cannot_add_a_department(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/departments"

    problem(world.api.post(path, token=world.other_admin.token, json={"name": "Neurology"}), 403)

    names = [d["name"] for d in ok(world.api.get(path))]
    assert "Neurology" not in names


def test_adding_a_department_anonymously_is_401(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/departments"
    problem(world.api.post(path, json={"name": "Neurology"}), 401)


@pytest.mark.parametrize(
    ("body", "fields"),
    [({"name": "  "}, {"name"}), ({}, {"name"}), ({"name": "N", "beds": 3}, {"beds"})],
)
def test_a_bad_department_is_422(world: World, body: dict[str, object], fields: set[str]) -> None:
    path = f"/v1/hospitals/{world.shanghai}/departments"
    problem(world.api.post(path, token=world.admin.token, json=body), 422, fields=fields)


def test_a_department_name_twice_in_a_hospital_is_409(world: World) -> None:
    path = f"/v1/hospitals/{world.shanghai}/departments"
    problem(world.api.post(path, token=world.admin.token, json={"name": "Cardiology"}), 409)
    names = [d["name"] for d in ok(world.api.get(path))]
    assert names.count("Cardiology") == 1


def test_the_same_department_name_in_another_hospital_is_fine(world: World) -> None:
    path = f"/v1/hospitals/{world.beijing}/departments"
    ok(world.api.post(path, token=world.other_admin.token, json={"name": "Cardiology"}), 201)


# --- doctors -------------------------------------------------------------------------------------


def test_a_department_lists_only_its_verified_doctors(world: World) -> None:
    world.services.directory.add_doctor(
        world.shanghai, world.cardiology, name="Not Yet Approved", phone="13911111111"
    )

    doctors = ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors"))

    assert doctors == [
        {
            "id": world.doctor.id,
            "name": "Zhang Wei",
            "rank": "chief",
            "specialty": "general",
            "avatar_url": None,
        }
    ]


def test_a_hospitals_admin_lists_its_doctors_approved_and_awaiting_approval(
    world: World,
) -> None:
    pending = world.services.directory.add_doctor(
        world.shanghai, world.paediatrics, name="Not Yet Approved", phone="13911111111"
    )
    path = f"/v1/hospitals/{world.shanghai}/doctors"

    listed = ok(world.api.get(path, token=world.admin.token))
    awaiting = ok(world.api.get(path, token=world.admin.token, params={"verified": "false"}))
    approved = ok(world.api.get(path, token=world.admin.token, params={"verified": "true"}))

    ids = {world.doctor.id, world.paediatrician.id, pending.id}
    assert [d["id"] for d in listed] == sorted(ids)
    assert awaiting == [
        {
            "id": pending.id,
            "name": "Not Yet Approved",
            "phone": "13911111111",
            "department_id": world.paediatrics,
            "department": "Paediatrics",
            "staff_number": None,
            "rank": "resident",
            "specialty": "",
            "verified": False,
        }
    ]
    assert {d["id"] for d in approved} == {world.doctor.id, world.paediatrician.id}
    assert world.beijing_doctor.id not in {d["id"] for d in listed}


def test_an_approval_moves_a_doctor_out_of_the_awaiting_list(world: World) -> None:
    pending = world.services.directory.add_doctor(
        world.shanghai, world.paediatrics, name="Not Yet Approved", phone="13911111111"
    )
    path = f"/v1/hospitals/{world.shanghai}/doctors"

    ok(
        world.api.post(
            f"/v1/doctors/{pending.id}/approval", token=world.admin.token, json={"approved": True}
        )
    )

    assert ok(world.api.get(path, token=world.admin.token, params={"verified": "false"})) == []


@pytest.mark.parametrize("account", ["other_admin", "doctor", "patient_a"])
def test_only_the_hospitals_own_admin_lists_its_doctors(world: World, account: str) -> None:
    token = getattr(world, account).token

    problem(world.api.get(f"/v1/hospitals/{world.shanghai}/doctors", token=token), 403)


def test_listing_a_hospitals_doctors_needs_a_login_and_a_yes_or_no(world: World) -> None:
    problem(world.api.get(f"/v1/hospitals/{world.shanghai}/doctors"), 401)
    problem(
        world.api.get(
            f"/v1/hospitals/{world.shanghai}/doctors",
            token=world.admin.token,
            params={"verified": "maybe"},
        ),
        422,
    )


def test_doctors_of_an_unknown_department_is_404(world: World) -> None:
    problem(world.api.get("/v1/departments/999999/doctors"), 404, "department_not_found")


def test_a_verified_doctors_public_profile(world: World) -> None:
    profile = ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))

    assert profile["id"] == world.doctor.id
    assert profile["name"] == "Zhang Wei"
    assert (profile["hospital_id"], profile["hospital"]) == (world.shanghai, "Ruijin Hospital")
    assert (profile["department_id"], profile["department"]) == (world.cardiology, "Cardiology")
    assert profile["rank"] == "chief"
    assert profile["verified"] is True
    assert profile["schedule"] == SCHEDULE_BODY
    assert "phone" not in profile  # a doctor's phone number is not public


def test_an_unverified_or_unknown_doctor_has_no_public_profile(world: World) -> None:
    pending = world.services.directory.add_doctor(
        world.shanghai, world.cardiology, name="Not Yet Approved", phone="13911111111"
    )
    newcomer = world.register_doctor("Zhou Min")

    for doctor_id in (pending.id, newcomer.id, 999999):
        problem(world.api.get(f"/v1/doctors/{doctor_id}"), 404, "doctor_not_found")


#: Path segments an ``{name:id}`` route does not match: ids are positive 32-bit integers.
NOT_IDS = [
    "0",
    "2147483648",  # MAX_ID + 1
    "99999999999",
    "abc",
    "-1",
    "1.5",
    "1e3",
    "+1",
    " 1",
    "%D9%A1",  # ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
]


@pytest.mark.parametrize("segment", NOT_IDS)
def test_a_doctor_id_that_is_no_id_is_404_as_if_no_route_served_it(
    world: World, segment: str
) -> None:
    """The route does not match: the answer is the one for a path no route serves, never the
    handler's "no such doctor", a 422, or a 500."""
    no_route = problem(world.api.get("/v1/nothing-here"), 404)

    answer = problem(world.api.get(f"/v1/doctors/{segment}"), 404)

    assert answer == no_route


@pytest.mark.parametrize(
    ("method", "path", "account"),
    [
        ("GET", "/v1/doctors/{}/sessions", None),
        ("POST", "/v1/doctors/{}/approval", "admin"),
        ("GET", "/v1/hospitals/{}/departments", None),
        ("POST", "/v1/hospitals/{}/departments", "admin"),
        ("GET", "/v1/departments/{}/doctors", None),
        ("GET", "/v1/appointments/{}", "patient_a"),
        ("POST", "/v1/appointments/{}/cancel", "patient_a"),
        ("POST", "/v1/notifications/{}/read", "patient_a"),
    ],
)
@pytest.mark.parametrize("segment", ["0", "2147483648", "abc"])
def test_every_id_in_a_path_is_checked_by_the_route(
    world: World, method: str, path: str, account: str | None, segment: str
) -> None:
    token = getattr(world, account).token if account else None
    no_route = problem(world.api.get("/v1/nothing-here"), 404)

    answer = problem(world.api.request(method, path.format(segment), token=token), 404)

    assert answer == no_route


def test_the_largest_id_is_routed_to_the_handler(world: World) -> None:
    problem(world.api.get("/v1/doctors/2147483647"), 404, "doctor_not_found")
    problem(world.api.get("/v1/doctors/2147483647/sessions"), 404, "doctor_not_found")
    ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))


# --- a doctor's own profile ----------------------------------------------------------------------


def test_a_new_doctor_chooses_their_hospital_and_department(world: World) -> None:
    newcomer = world.register_doctor("Zhou Min")
    changes = {
        "hospital_id": world.shanghai,
        "department_id": world.paediatrics,
        "gender": "female",
        "staff_number": "RJ-0042",
        "rank": "attending",
        "specialty": "childhood asthma",
        "birth_date": "1985-03-14",
    }

    profile = ok(world.api.patch("/v1/doctors/me", token=newcomer.token, json=changes))

    assert profile["id"] == newcomer.id
    assert (profile["hospital"], profile["department"]) == ("Ruijin Hospital", "Paediatrics")
    for name, value in changes.items():
        assert profile[name] == value
    assert profile["verified"] is False
    me = ok(world.api.get("/v1/me", token=newcomer.token))
    assert me["doctor"] == profile


def test_a_doctor_edits_only_what_they_send(world: World) -> None:
    before = ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))

    after = ok(
        world.api.patch("/v1/doctors/me", token=world.doctor.token, json={"specialty": "heart"})
    )

    # The public profile shows a part of what the doctor sees of themselves.
    assert {name: after[name] for name in before} == before | {"specialty": "heart"}
    assert "birth_date" not in before and "staff_number" not in before
    assert after["verified"] is True  # no move, no new approval needed


def test_a_department_of_another_hospital_is_422_naming_department_id(world: World) -> None:
    changes = {"hospital_id": world.shanghai, "department_id": world.orthopaedics}

    result = world.api.patch("/v1/doctors/me", token=world.doctor.token, json=changes)

    problem(result, 422, fields={"department_id"})
    assert ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))["department_id"] == world.cardiology


def test_moving_to_another_hospital_without_its_department_is_422(world: World) -> None:
    result = world.api.patch(
        "/v1/doctors/me", token=world.doctor.token, json={"hospital_id": world.beijing}
    )
    problem(result, 422, fields={"department_id"})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hospital_id": 999999, "department_id": 1}, "hospital_id"),
        ({"department_id": 999999}, "department_id"),
        ({"rank": "professor"}, "rank"),
        ({"gender": "x"}, "gender"),
        ({"staff_number": "123456789"}, "staff_number"),
        ({"birth_date": "14/03/1985"}, "birth_date"),
        ({"hospital_id": "1"}, "hospital_id"),
        ({"verified": True}, "verified"),
    ],
)
def test_a_bad_profile_edit_is_422_naming_the_field(
    world: World, changes: dict[str, object], field: str
) -> None:
    result = world.api.patch("/v1/doctors/me", token=world.doctor.token, json=changes)
    problem(result, 422, fields={field})


def test_a_doctor_who_moves_hospital_needs_approval_again(world: World) -> None:
    changes = {"hospital_id": world.beijing, "department_id": world.orthopaedics}

    moved = ok(world.api.patch("/v1/doctors/me", token=world.doctor.token, json=changes))

    assert moved["verified"] is False
    assert moved["hospital"] == "Peking Union Medical College Hospital"
    problem(world.api.get(f"/v1/doctors/{world.doctor.id}"), 404)
    assert ok(world.api.get(f"/v1/departments/{world.cardiology}/doctors")) == []
    assert ok(world.api.get(f"/v1/departments/{world.orthopaedics}/doctors")) == [
        {
            "id": world.beijing_doctor.id,
            "name": "Chen Jie",
            "rank": "attending",
            "specialty": "general",
            "avatar_url": None,
        }
    ]


def test_moving_department_within_the_hospital_keeps_the_approval(world: World) -> None:
    changes = {"department_id": world.paediatrics}

    moved = ok(world.api.patch("/v1/doctors/me", token=world.doctor.token, json=changes))

    assert (moved["department"], moved["verified"]) == ("Paediatrics", True)


@pytest.mark.parametrize("account", ["patient_a", "admin"])
def test_only_doctors_edit_a_doctor_profile(world: World, account: str) -> None:
    token = getattr(world, account).token
    problem(world.api.patch("/v1/doctors/me", token=token, json={"specialty": "x"}), 403)


# --- schedules -----------------------------------------------------------------------------------


def test_a_doctor_sets_their_weekly_schedule(world: World) -> None:
    schedule = {day: {"morning": 5, "afternoon": 0} for day in WEEK}

    saved = ok(world.api.put("/v1/doctors/me/schedule", token=world.doctor.token, json=schedule))

    assert saved == schedule
    assert ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))["schedule"] == schedule
    assert world.remaining(THURSDAY, "morning") == 5
    assert world.remaining(THURSDAY, "afternoon") is None
    assert world.remaining(SUNDAY, "morning") == 5


def test_a_lower_quota_never_takes_a_place_from_a_patient(world: World) -> None:
    world.book(world.patient_a, FRIDAY, "morning")
    world.book(world.patient_b, FRIDAY, "morning")
    off = {day: {"morning": 0, "afternoon": 0} for day in WEEK}

    ok(world.api.put("/v1/doctors/me/schedule", token=world.doctor.token, json=off))

    mine = ok(world.api.get("/v1/appointments", token=world.patient_a.token))
    assert [a["status"] for a in mine] == ["booked"]
    assert world.remaining(FRIDAY, "morning") is None  # no longer offered


def _without(day: str) -> dict[str, object]:
    return {d: q for d, q in SCHEDULE_BODY.items() if d != day}


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (_without("wednesday"), "wednesday"),
        (
            SCHEDULE_BODY | {"wednesday": {"morning": -1, "afternoon": 0}},
            "schedule.wednesday.morning",
        ),
        (SCHEDULE_BODY | {"friday": {"morning": 2, "afternoon": 501}}, "schedule.friday.afternoon"),
        (SCHEDULE_BODY | {"monday": {"morning": 2}}, "monday.afternoon"),
        (SCHEDULE_BODY | {"monday": {"morning": "2", "afternoon": 0}}, "monday.morning"),
        (SCHEDULE_BODY | {"monday": {"morning": 1.5, "afternoon": 0}}, "monday.morning"),
        (
            SCHEDULE_BODY | {"monday": {"morning": 1, "afternoon": 0, "evening": 3}},
            "monday.evening",
        ),
        (SCHEDULE_BODY | {"funday": {"morning": 1, "afternoon": 0}}, "funday"),
    ],
)
def test_a_bad_schedule_is_422_naming_the_day(
    world: World, schedule: dict[str, object], field: str
) -> None:
    result = world.api.put("/v1/doctors/me/schedule", token=world.doctor.token, json=schedule)

    problem(result, 422, fields={field})
    assert ok(world.api.get(f"/v1/doctors/{world.doctor.id}"))["schedule"] == SCHEDULE_BODY


@pytest.mark.parametrize("account", ["patient_a", "admin"])
def test_only_doctors_set_a_schedule(world: World, account: str) -> None:
    token = getattr(world, account).token
    problem(world.api.put("/v1/doctors/me/schedule", token=token, json=SCHEDULE_BODY), 403)
