"""Chat on SQLite and MariaDB: one message per client id under racing resends, one conversation
per pair, one query per listing, the same listing as the in-memory store, and round trips."""

from __future__ import annotations

import datetime as dt
import io
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import PIL.Image
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from test_sql_read_side import selects

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.chat import chat_parties, conversations, messages
from medbook.adapters.sql.migrate import downgrade, upgrade
from medbook.bootstrap import Services, build_services
from medbook.domain import Doctor, Period, WeeklySchedule
from medbook.domain.chat.model import Conversation, Message, MessageKind
from medbook.domain.shared.actors import Actor, Role
from medbook.ports.chat import ConversationView
from medbook.ports.unit_of_work import UnitOfWork

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)


def _world(services: Services, doctors: int = 3) -> tuple[Actor, list[Actor], list[int]]:
    """A patient with an appointment and a conversation with each of ``doctors`` doctors."""
    directory = services.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    patient = services.accounts.register_patient("13900000001", "Wang Fang", "a long passphrase")
    me = Actor(patient.id, Role.PATIENT)
    talked_to, started = [], []
    for n in range(doctors):
        doctor = directory.add_doctor(
            hospital.id, department.id, name=f"Dr {n}", phone=f"1380000{n:04d}"
        )
        directory.set_schedule(doctor.id, WeeklySchedule.every_day(5, 5))
        directory.set_verified(doctor.id, True)
        services.booking.book(
            patient.id, doctor.id, TOMORROW + dt.timedelta(days=n), Period.MORNING
        )
        talked_to.append(Actor(doctor.id, Role.DOCTOR))
        started.append(services.chat.start_conversation_as(me, doctor.id).conversation.id)
    return me, talked_to, started


def _talk(services: Services, me: Actor, doctors: list[Actor], started: list[int]) -> None:
    """Some messages back and forth, some of them read: the first conversation stays silent."""
    chat = services.chat
    for n, (doctor, conversation) in enumerate(zip(doctors, started, strict=True)):
        if n == 0:
            continue
        sent = chat.send_as(me, conversation, f"p{n}", MessageKind.TEXT, f"Question {n} 😀")
        chat.send_as(doctor, conversation, f"d{n}", MessageKind.TEXT, f"Answer {n}")
        scan = services.uploads.upload(me, io.BytesIO(_png()), "scan.png").url
        chat.send_as(me, conversation, f"q{n}", MessageKind.IMAGE, scan)
        chat.read_as(doctor, conversation, sent.message.id or 0)


def _png() -> bytes:
    image = io.BytesIO()
    PIL.Image.new("RGB", (2, 2), "white").save(image, "PNG")
    return image.getvalue()


def _sql(engine: Engine, clock: ManualClock) -> Services:
    return build_services(lambda: SqlUnitOfWork(engine), clock)


def test_racing_resends_of_one_client_id_store_one_message(engine: Engine) -> None:
    services = _sql(engine, ManualClock(NOW))
    me, _, [conversation] = _world(services, 1)

    def send(n: int) -> int:
        sent = services.chat.send_as(me, conversation, "the-one", MessageKind.TEXT, "try")
        assert sent.message.id is not None
        return sent.message.id

    with ThreadPoolExecutor(20) as pool:
        ids = set(pool.map(send, range(20)))

    assert len(ids) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(messages)).scalar_one() == 1


def test_racing_starts_make_one_conversation(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory()
    services = _sql(engine, ManualClock(NOW))
    me, [doctor], _ = _world(services, 1)
    with engine.begin() as connection:
        connection.execute(conversations.delete())

    with ThreadPoolExecutor(10) as pool:
        found = set(
            pool.map(
                lambda _: services.chat.start_conversation_as(me, doctor.id).conversation.id,
                range(10),
            )
        )

    assert len(found) == 1


@pytest.mark.parametrize("doctors", [1, 4])
def test_a_listing_is_one_select_whatever_its_length(engine: Engine, doctors: int) -> None:
    services = _sql(engine, ManualClock(NOW))
    me, talked_to, started = _world(services, doctors)
    _talk(services, me, talked_to, started)

    with selects(engine) as seen:
        mine = services.chat.conversations_as(me)
    with selects(engine) as seen_by_doctor:
        theirs = services.chat.conversations_as(talked_to[-1])

    assert len(mine) == doctors and len(theirs) == 1
    assert len(seen) == 1 and len(seen_by_doctor) == 1


def _comparable(views: list[ConversationView]) -> list[tuple[object, ...]]:
    """The listing without the ids, which the two stores number differently (nor the random
    names of uploads: an image is its kind and folder)."""
    return [
        (
            v.patient_name,
            v.doctor_name,
            v.unread,
            None
            if v.last_message is None
            else (v.last_message.kind, v.last_message.content.rsplit("/", 3)[0]),
        )
        for v in views
    ]


def test_the_listings_equal_the_in_memory_ones(engine: Engine) -> None:
    stores: dict[str, Services] = {
        "sql": _sql(engine, ManualClock(NOW)),
        "memory": build_services(MemoryStore().unit_of_work, ManualClock(NOW)),
    }
    listings = {}
    for name, services in stores.items():
        me, doctors, started = _world(services)
        _talk(services, me, doctors, started)
        listings[name] = [
            _comparable(list(services.chat.conversations_as(actor))) for actor in (me, *doctors)
        ]
    assert listings["sql"] == listings["memory"]
    last = (MessageKind.IMAGE, "/v1/uploads")
    assert listings["sql"][0][0] == ("Wang Fang", "Dr 2", 1, last)  # the doctor's answer is unread


def test_pages_receipts_and_sync_on_sql(engine: Engine) -> None:
    services = _sql(engine, ManualClock(NOW))
    me, [doctor], [conversation] = _world(services, 1)
    chat = services.chat
    ids = [
        chat.send_as(me, conversation, f"c{n}", MessageKind.TEXT, str(n)).message.id
        for n in range(6)
    ]
    chat.read_as(doctor, conversation, ids[2] or 0)
    chat.read_as(doctor, conversation, 1)  # never back

    page = chat.messages_as(me, conversation, before=ids[4], limit=2)
    assert [v.message.id for v in page] == ids[2:4]
    assert [v.read for v in page] == [True, False]
    assert [v.message.id for v in chat.messages_as(me, conversation, after=ids[3])] == ids[4:]
    assert chat.unread_as(doctor, conversation) == 3
    assert [v.message.id for v in chat.sync_as(doctor, ids[1] or 0)] == ids[2:]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(MessageKind),
    text=st.text(min_size=1, max_size=200).filter(lambda t: t.strip()),
    client_id=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
    ),
    sender=st.sampled_from([Role.PATIENT, Role.DOCTOR]),
    at=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    ),
)
def test_a_message_round_trips(
    uow_factory: Callable[[], UnitOfWork],
    kind: MessageKind,
    text: str,
    client_id: str,
    sender: Role,
    at: dt.datetime,
) -> None:
    """Whatever the mapper stores comes back as it was (the rules are not involved: any text).
    Nothing is committed: each example leaves the store as it found it."""
    with uow_factory() as uow:
        doctor = uow.doctors.add(Doctor(None, None, name="Dr Round", phone="13800000099"))
        conversation = uow.conversations.add(Conversation.start(1, doctor.id or 0, at))
        assert conversation.id is not None
        assert uow.conversations.get(conversation.id) == conversation
        stored = uow.messages.add(Message(conversation.id, sender, 7, kind, text, client_id, at))
        [back] = uow.messages.page(conversation.id, after=None, before=None, limit=1)
        assert back == stored and stored.id is not None
        assert (back.sender_role, back.kind, back.content, back.client_id, back.sent_at) == (
            sender,
            kind,
            text,
            client_id,
            at,
        )


def ident(message: Message) -> int:
    assert message.id is not None
    return message.id


class _SlowCommits(SqlUnitOfWork):
    """Commits that take a moment, as they do over a network: a message stored later may then
    commit earlier than one stored before it, unless the store serialises them."""

    def commit(self) -> None:
        time.sleep(random.uniform(0, 0.004))
        super().commit()


def test_a_party_syncing_while_others_send_misses_no_message(
    engine_factory: Callable[..., Engine],
) -> None:
    """The doctor syncs from the highest id seen while eight patients write to them at once:
    without the parties' locks a message with a lower id commits after a higher one was seen,
    and "every id above the last one I saw" skips it forever."""
    engine = engine_factory(pool_size=12, max_overflow=4)
    setup = _sql(engine, ManualClock(NOW))
    directory = setup.directory
    hospital = directory.add_hospital("Ruijin Hospital")
    department = directory.add_department(hospital.id, "Cardiology")
    doctor = directory.add_doctor(hospital.id, department.id, name="Dr Li", phone="13800000001")
    directory.set_schedule(doctor.id, WeeklySchedule.every_day(50, 50))
    directory.set_verified(doctor.id, True)
    talks: list[tuple[Actor, int]] = []
    for n in range(8):
        p = setup.accounts.register_patient(f"1390000{n:04d}", f"Patient {n}", "a long passphrase")
        setup.booking.book(p.id, doctor.id, TOMORROW, Period.MORNING)
        me = Actor(p.id, Role.PATIENT)
        talks.append((me, setup.chat.start_conversation_as(me, doctor.id).conversation.id))
    chat = build_services(lambda: _SlowCommits(engine), ManualClock(NOW)).chat
    the_doctor = Actor(doctor.id, Role.DOCTOR)
    writing = threading.Event()
    writing.set()

    def write(talk: tuple[Actor, int]) -> list[int]:
        me, conversation = talk
        return [
            ident(chat.send_as(me, conversation, f"m{n}", MessageKind.TEXT, str(n)).message)
            for n in range(25)
        ]

    def follow() -> list[int]:
        seen: list[int] = []
        cursor = 0
        while True:
            last_round = not writing.is_set()
            page = chat.sync_as(the_doctor, cursor)
            seen += [ident(v.message) for v in page]
            cursor = max([cursor, *seen])
            if last_round and len(page) < 100:
                return seen

    with ThreadPoolExecutor(9) as pool:
        reader = pool.submit(follow)
        written = [i for ids in pool.map(write, talks) for i in ids]
        writing.clear()
        seen = reader.result(timeout=60)

    assert sorted(seen) == sorted(written) and len(written) == 200


def test_migration_0007_gives_existing_conversations_their_parties(engine: Engine) -> None:
    """A conversation started before revision 0007 can still be written in after it."""
    services = _sql(engine, ManualClock(NOW))
    me, [doctor], [conversation] = _world(services, 1)
    downgrade(engine, "0006")
    upgrade(engine)

    sent = services.chat.send_as(me, conversation, "after-upgrade", MessageKind.TEXT, "Still here?")
    answer = services.chat.send_as(doctor, conversation, "a", MessageKind.TEXT, "Yes")

    assert ident(answer.message) > ident(sent.message)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(chat_parties)).scalar_one() == 2


def test_absent_notices_and_the_feed_on_sql(engine: Engine) -> None:
    services = _sql(engine, ManualClock(NOW))
    me, [doctor], [conversation] = _world(services, 1)
    before = services.notifications.newest_id()
    first = services.chat.send_as(me, conversation, "1", MessageKind.TEXT, "a")
    second = services.chat.send_as(me, conversation, "2", MessageKind.TEXT, "b")

    notice = services.chat.notify_absent(first.message)
    assert services.chat.notify_absent(second.message) is None

    assert notice is not None and notice.data["conversation_id"] == conversation
    assert [n.id for n in services.notifications.since(before)] == [notice.id]
    assert services.notifications.newest_id() == notice.id
    assert [n.id for n in services.notifications.of_actor(doctor)] == [notice.id]
