"""Demo data: a few hospitals with departments and verified doctors keeping real schedules."""

from __future__ import annotations

import datetime as dt

from medbook.bootstrap import Services
from medbook.domain import GeoPoint, Rank, WeeklySchedule
from medbook.domain.accounts.model import Patient
from medbook.domain.orders.catalogue import ServiceCategory
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.money import Money
from medbook.services.orders import ServiceDraft

#: (hospital, address, (lat, lng), {department: [(doctor, phone, rank, specialty)]})
DEMO_HOSPITALS = (
    (
        "Peking Union Medical College Hospital",
        "1 Shuaifuyuan, Dongcheng District, Beijing",
        (39.9127, 116.4171),
        {
            "Cardiology": [
                ("Zhang Wei", "13800000001", Rank.CHIEF, "coronary heart disease"),
                ("Li Na", "13800000002", Rank.ATTENDING, "arrhythmia"),
            ],
            "Endocrinology": [("Wang Fang", "13800000003", Rank.ASSOCIATE_CHIEF, "diabetes")],
        },
    ),
    (
        "Ruijin Hospital",
        "197 Ruijin 2nd Road, Huangpu District, Shanghai",
        (31.2122, 121.4688),
        {
            "Orthopaedics": [("Chen Jie", "13900000004", Rank.ATTENDING, "sports injuries")],
            "Paediatrics": [("Liu Yang", "13900000005", Rank.RESIDENT, "childhood asthma")],
        },
    ),
)

DEMO_SCHEDULE = WeeklySchedule.from_mapping(
    {
        "monday": {"morning": 20, "afternoon": 15},
        "tuesday": {"morning": 20, "afternoon": 0},
        "wednesday": {"morning": 20, "afternoon": 15},
        "thursday": {"morning": 0, "afternoon": 15},
        "friday": {"morning": 20, "afternoon": 15},
        "saturday": {"morning": 10, "afternoon": 0},
        "sunday": {"morning": 5, "afternoon": 0},
    }
)


#: (name, category, price in cents, places a day, radius km, description) of every demo hospital.
DEMO_SERVICES = (
    (
        "Home nursing visit",
        ServiceCategory.HOME_NURSING,
        19_900,
        8,
        10.0,
        "A registered nurse comes home: injections, dressings, catheter care, vital signs.",
    ),
    (
        "Post-operative rehabilitation",
        ServiceCategory.REHABILITATION,
        29_900,
        4,
        15.0,
        "A physiotherapist guides exercises at home after surgery.",
    ),
    (
        "Chronic disease follow-up",
        ServiceCategory.CHRONIC_DISEASE_FOLLOW_UP,
        9_900,
        12,
        20.0,
        "Blood pressure, blood glucose and medication review for hypertension and diabetes.",
    ),
    (
        "Maternal and infant care",
        ServiceCategory.MATERNAL_AND_INFANT_CARE,
        39_900,
        3,
        10.0,
        "A midwife visits mother and newborn in the first weeks.",
    ),
    (
        "Traditional Chinese medicine: acupuncture",
        ServiceCategory.TRADITIONAL_CHINESE_MEDICINE,
        15_000,
        6,
        5.0,
        "Acupuncture and cupping, at home or at the hospital.",
    ),
)
#: How many days ahead the demo services are offered.
DEMO_SERVICE_DAYS = 14

DEMO_PASSWORD = "medbook-demo"  # noqa: S105 - demo data, printed for the user
DEMO_PATIENT = ("13800138000", "Demo Patient")
DEMO_ADMIN = ("13700137000", "Demo Admin")


def load_demo(services: Services) -> bool:
    """Load the demo directory unless hospitals exist already; True when it loaded."""
    directory = services.directory
    if directory.hospitals():
        return False
    doctor_ids: list[int] = []
    for name, address, (lat, lng), departments in DEMO_HOSPITALS:
        hospital = directory.add_hospital(name, address, GeoPoint(lat, lng))
        assert hospital.id is not None
        for department_name, doctors in departments.items():
            department = directory.add_department(hospital.id, department_name)
            assert department.id is not None
            for doctor_name, phone, rank, specialty in doctors:
                doctor = directory.add_doctor(
                    hospital.id,
                    department.id,
                    name=doctor_name,
                    phone=phone,
                    rank=rank,
                    specialty=specialty,
                )
                assert doctor.id is not None
                doctor_ids.append(doctor.id)
                directory.set_schedule(doctor.id, DEMO_SCHEDULE)
                directory.set_verified(doctor.id, True)
                services.accounts.grant_login(Role.DOCTOR, doctor.id, phone, DEMO_PASSWORD)
    # An admin per hospital (13700137000, 13700137001, …), who publishes its services.
    for number, hospital in enumerate(directory.hospitals()):
        assert hospital.id is not None
        phone = str(int(DEMO_ADMIN[0]) + number)
        admin = services.accounts.create_admin(hospital.id, phone, DEMO_ADMIN[1], DEMO_PASSWORD)
        assert admin.id is not None
        _publish_services(services, Actor(admin.id, Role.ADMIN, hospital.id), hospital.id)
    patient = services.accounts.register_patient(DEMO_PATIENT[0], DEMO_PATIENT[1], DEMO_PASSWORD)
    _book_and_open_chat(services, patient, doctor_ids[0])
    return True


def _publish_services(services: Services, admin: Actor, hospital_id: int) -> None:
    """The demo services of a hospital, offered every day of the next two weeks from tomorrow
    (published as its admin would)."""
    tomorrow = services.clock.now().date() + dt.timedelta(days=1)
    dates = frozenset(tomorrow + dt.timedelta(days=n) for n in range(DEMO_SERVICE_DAYS))
    for name, category, cents, capacity, radius, description in DEMO_SERVICES:
        draft = ServiceDraft(
            name, Money(cents), capacity, radius, dates, category, description=description
        )
        services.orders.publish_as(admin, hospital_id, draft)


def _book_and_open_chat(services: Services, patient: Patient, doctor_id: int) -> None:
    """The demo patient has an appointment with the first demo doctor, so the two can chat."""
    assert patient.id is not None
    offered = next(o for o in services.booking.offered_sessions(doctor_id) if o.remaining > 0)
    session = offered.session
    services.booking.book(patient.id, doctor_id, session.date, session.period)
    services.chat.start_conversation_as(Actor(patient.id, Role.PATIENT), doctor_id)


def how_to_log_in(http: str = "localhost:8000", chat: str = "localhost:8001") -> str:
    doctor = DEMO_HOSPITALS[0][3]["Cardiology"][0]
    return (
        f"The web client: http://{http}/ (log in as the demo patient below).\n"
        f"Demo accounts (password {DEMO_PASSWORD!r}): patient {DEMO_PATIENT[0]}, "
        f"hospital admins {DEMO_ADMIN[0]} (Peking Union) and 13700137001 (Ruijin), "
        "doctors 13800000001 to 13900000005.\n"
        f"  curl -s -X POST {http}/v1/sessions -H 'content-type: application/json' "
        f'-d \'{{"phone": "{DEMO_PATIENT[0]}", "password": "{DEMO_PASSWORD}", '
        f'"role": "patient"}}\'\n'
        f"The demo patient has an appointment with Dr. {doctor[0]} ({doctor[1]}) and a "
        f"conversation with them (GET /v1/conversations). Chat in two terminals:\n"
        f"  python -m websockets ws://{chat}/v1/chat\n"
        f'  > {{"type": "auth", "token": "<the token from POST /v1/sessions>"}}\n'
        f'  > {{"type": "send", "conversation_id": 1, "client_id": "hello-1", '
        f'"kind": "text", "content": "Hello, doctor"}}\n'
        f"Home-visit services near Ruijin Hospital: curl -s '{http}/v1/services?lat=31.2122"
        f"&lng=121.4688' (ordering and paying in the sandbox: see the README)."
    )
