"""Chat attachments are the sender's own uploads, and private to the conversation's two parties.

An image or file message must carry the link ``POST /v1/uploads`` gave its sender; it is stored
as the upload's path, and ``GET /v1/uploads/…`` serves it to the uploader and to the other party
of a conversation it was sent in — to no one else, whoever holds the link.
"""

from __future__ import annotations

import datetime as dt
import io

import PIL.Image
import pytest

from medbook.adapters.memory import ManualClock
from medbook.bootstrap import Services, in_memory
from medbook.domain import Period, WeeklySchedule
from medbook.domain.chat.model import MessageKind
from medbook.domain.files.uploads import upload_key, upload_path
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import InvalidValue, ObjectNotFound

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)


def _png() -> io.BytesIO:
    image = io.BytesIO()
    PIL.Image.new("RGB", (3, 2), "white").save(image, "PNG")
    image.seek(0)
    return image


class Cheap:
    """A password hasher for tests that never look at hashes."""

    def hash(self, password: str) -> str:
        return "x" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "x" + password

    def needs_rehash(self, password_hash: str) -> bool:
        return False


@pytest.fixture
def services() -> Services:
    return in_memory(ManualClock(NOW), hasher=Cheap(), public_url="https://api.example.org")


def _patient(services: Services, phone: str) -> Actor:
    patient = services.accounts.register_patient(phone, "Wang Fang", "a long passphrase")
    assert patient.id is not None
    return Actor(patient.id, Role.PATIENT)


@pytest.fixture
def talk(services: Services) -> tuple[Actor, Actor, int, Actor]:
    """A patient and a doctor in a conversation, and another patient of the same doctor."""
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    doctor = directory.add_doctor(hospital.id, department.id, name="Li Na", phone="13800000001")
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
    directory.set_verified(doctor.id, True)
    me, other = _patient(services, "13900000001"), _patient(services, "13900000002")
    for who in (me, other):
        services.booking.book(who.id, doctor.id, TOMORROW, Period.MORNING)
    started = services.chat.start_conversation_as(me, doctor.id).conversation
    services.chat.start_conversation_as(other, doctor.id)
    assert started.id is not None
    return me, Actor(doctor.id, Role.DOCTOR), started.id, other


def test_an_upload_link_names_its_key_and_nothing_else_does() -> None:
    key = "uploads/2026/12/" + "a" * 32 + ".png"
    path = upload_path(key)

    assert path == "/v1/uploads/2026/12/" + "a" * 32 + ".png"
    assert upload_key(path) == key
    assert upload_key("https://api.example.org" + path, "https://api.example.org") == key
    for foreign in (
        "https://evil.example" + path,
        "https://api.example.org.evil.example" + path,
        "/files/" + key,
        path + "?x=1",
        path.replace(".png", ".svg"),
        "/v1/uploads/2026/12/../../../etc/passwd",
        "/v1/uploads/2026/12/" + "A" * 32 + ".png",
        "javascript:alert(1)",
    ):
        assert upload_key(foreign, "https://api.example.org") is None, foreign


def test_a_patient_sends_their_own_upload_and_the_doctor_may_fetch_it(
    services: Services, talk: tuple[Actor, Actor, int, Actor]
) -> None:
    me, doctor, conversation, other = talk
    uploaded = services.uploads.upload(me, _png(), "scan.png")
    assert uploaded.url.startswith("https://api.example.org/v1/uploads/")

    sent = services.chat.send_as(me, conversation, "img-1", MessageKind.IMAGE, uploaded.url)

    path = uploaded.url.removeprefix("https://api.example.org")
    assert sent.message.content == path  # stored as the path: the link of every deployment
    name = path.removeprefix("/v1/uploads/")
    for reader in (me, doctor):
        assert services.uploads.open_as(reader, name).stream.read() == _png().getvalue()
    for stranger in (other, Actor(1, Role.ADMIN, hospital_id=1)):
        with pytest.raises(ObjectNotFound):
            services.uploads.open_as(stranger, name)


def test_an_upload_is_the_uploaders_alone_until_it_is_sent(
    services: Services, talk: tuple[Actor, Actor, int, Actor]
) -> None:
    me, doctor, _, _ = talk
    name = services.uploads.upload(me, _png()).url.rsplit("/v1/uploads/", 1)[1]

    assert services.uploads.open_as(me, name).stored.content_type == "image/png"
    with pytest.raises(ObjectNotFound):
        services.uploads.open_as(doctor, name)


def test_another_users_upload_or_a_foreign_link_is_refused(
    services: Services, talk: tuple[Actor, Actor, int, Actor]
) -> None:
    me, doctor, conversation, other = talk
    theirs = services.uploads.upload(other, _png()).url
    bad_links = [
        theirs,  # another patient's upload: sending it would hand it to this doctor
        "https://evil.example/x.png",
        "/files/avatars/2026/12/" + "b" * 32 + ".png",
        "/v1/uploads/2026/12/" + "c" * 32 + ".png",  # of the right form, but no such upload
    ]
    for n, link in enumerate(bad_links):
        with pytest.raises(InvalidValue) as refused:
            services.chat.send_as(me, conversation, f"bad-{n}", MessageKind.FILE, link)
        assert refused.value.field == "content"

    assert services.chat.messages_as(me, conversation) == []
    assert not services.chat.shares_attachment(
        doctor, theirs.removeprefix("https://api.example.org")
    )


def test_a_doctor_sends_a_file_to_one_patient_and_not_to_the_other(
    services: Services, talk: tuple[Actor, Actor, int, Actor]
) -> None:
    me, doctor, conversation, other = talk
    with io.BytesIO(b"%PDF-1.7\n%advice\n") as pdf:
        url = services.uploads.upload(doctor, pdf, "advice.pdf").url
    services.chat.send_as(doctor, conversation, "d-1", MessageKind.FILE, url)
    name = url.rsplit("/v1/uploads/", 1)[1]

    assert services.uploads.open_as(me, name).stored.content_type == "application/pdf"
    with pytest.raises(ObjectNotFound):
        services.uploads.open_as(other, name)
