"""Chat: the domain's rules on their own, and ChatService through the in-memory store."""

from __future__ import annotations

import datetime as dt

import pytest
from unit_support import NOW, TODAY, ident

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.domain import Appointment, CancelledBy, Doctor, Period, Session
from medbook.domain.accounts.model import Patient
from medbook.domain.chat.model import Conversation, Message, MessageKind, Party
from medbook.domain.chat.rules import (
    ChatPolicy,
    Encounter,
    Link,
    ensure_client_id,
    ensure_content,
    ensure_relationship,
)
from medbook.domain.notifications.model import NotificationKind
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    ClientIdReused,
    ConversationNotFound,
    DoctorNotFound,
    Forbidden,
    InvalidValue,
    NoRelationship,
)
from medbook.services.chat import ChatService
from medbook.services.notifications import NotificationService

DAY = dt.timedelta(days=1)

# --- the rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "stands", "linked"),
    [
        (0, True, True),
        (7, True, True),
        (-7, True, True),
        (8, True, False),
        (-8, True, False),
        (0, False, False),
    ],
)
def test_an_appointment_links_within_the_window_only_while_it_stands(
    offset: int, stands: bool, linked: bool
) -> None:
    encounter = Encounter(TODAY + offset * DAY, stands)
    assert ChatPolicy(appointment_days=7).appointment_links([encounter], TODAY) is linked


def test_a_window_of_zero_days_means_today_only() -> None:
    policy = ChatPolicy(appointment_days=0)
    assert policy.appointment_links([Encounter(TODAY, True)], TODAY)
    assert not policy.appointment_links([Encounter(TODAY + DAY, True)], TODAY)
    with pytest.raises(ValueError):
        ChatPolicy(appointment_days=-1)


def test_ensure_relationship_takes_any_link_and_refuses_none() -> None:
    assert ensure_relationship([None, Link.APPOINTMENT]) is Link.APPOINTMENT
    with pytest.raises(NoRelationship) as refused:
        ensure_relationship([None, None])
    assert refused.value.code == "no_relationship" and isinstance(refused.value, Forbidden)


def test_text_goes_through_the_text_rule() -> None:
    assert ensure_content(MessageKind.TEXT, "  line one\nline two ") == "line one\nline two"
    for bad in ("", "   ", "a\u202eb", "x" * 4001, "a\x00b"):
        with pytest.raises(InvalidValue) as refused:
            ensure_content(MessageKind.TEXT, bad)
        assert refused.value.field == "content"
    assert ensure_content(MessageKind.TEXT, "x" * 4000)


def test_an_image_or_file_is_an_http_url_or_a_path_of_this_host() -> None:
    for url in ("https://cdn.example.com/a.png", "/v1/uploads/2026/12/a.pdf", "http://h:8000/x"):
        assert ensure_content(MessageKind.IMAGE, url) == url
        assert ensure_content(MessageKind.FILE, url) == url
    hostile = (
        "",
        "hello",
        "https://a b",
        "https://" + "a" * 2000,
        "javascript alert(1)",
        # Found by the probe of the chat server: every scheme written with "//" passed.
        "javascript://%0aalert(1)",
        "vbscript://x",
        "file:///etc/passwd",
        "ftp://evil.example/x",
        "memory://objects/k",
        "//evil.example/x.png",  # another host, for a browser
        "/\\evil.example",  # the same, as browsers read it
        '/files/x"onerror=alert(1)',
        "/files/<svg>",
    )
    for bad in hostile:
        with pytest.raises(InvalidValue):
            ensure_content(MessageKind.IMAGE, bad)


def test_client_ids_are_1_to_64_printable_ascii_characters() -> None:
    assert ensure_client_id("550e8400-e29b-41d4-a716-446655440000")
    assert ensure_client_id("x" * 64)
    for bad in ("", "x" * 65, "a b", "é", "a\nb"):
        with pytest.raises(InvalidValue):
            ensure_client_id(bad)


def test_a_message_is_read_once_its_recipient_read_up_to_it() -> None:
    conversation = Conversation(1, 2, NOW, patient_read_up_to=5, doctor_read_up_to=9, id=3)
    to_doctor = Message(3, Role.PATIENT, 1, MessageKind.TEXT, "hi", "a", NOW, id=9)
    to_patient = Message(3, Role.DOCTOR, 2, MessageKind.TEXT, "hi", "b", NOW, id=6)
    assert conversation.is_read(to_doctor) and not conversation.is_read(to_patient)
    assert conversation.is_party(Actor(1, Role.PATIENT))
    assert not conversation.is_party(Actor(2, Role.PATIENT))
    assert not conversation.is_party(Actor(1, Role.ADMIN))


# --- the service ---------------------------------------------------------------------------------


@pytest.fixture
def chat(store: MemoryStore, clock: ManualClock) -> ChatService:
    return ChatService(store.unit_of_work, clock)


def patient(store: MemoryStore, name: str = "Wang Xiaoming") -> Actor:
    with store.unit_of_work() as uow:
        stored = uow.patients.add(Patient(name, "13800000001"))
        uow.commit()
    return Actor(ident(stored), Role.PATIENT)


def appointment(
    store: MemoryStore, who: Actor, doctor: Doctor, date: dt.date, *, cancelled: bool = False
) -> None:
    """An appointment stored as it stands (past ones too, which the service would not book)."""
    booked = Appointment.book(Session(ident(doctor), date, Period.MORNING), who.id, 1, NOW)
    if cancelled:
        booked.cancel(NOW, CancelledBy.PATIENT)
    with store.unit_of_work() as uow:
        uow.appointments.add(booked)
        uow.commit()


def as_doctor(doctor: Doctor) -> Actor:
    return Actor(ident(doctor), Role.DOCTOR)


@pytest.fixture
def talking(store: MemoryStore, chat: ChatService, doctor: Doctor) -> tuple[Actor, Actor, int]:
    """A patient and the doctor, with an appointment tomorrow and a conversation."""
    me = patient(store)
    appointment(store, me, doctor, TODAY + DAY)
    started = chat.start_conversation_as(me, ident(doctor))
    return me, as_doctor(doctor), ident(started.conversation)


def test_a_patient_with_an_appointment_starts_one_conversation(
    store: MemoryStore, chat: ChatService, doctor: Doctor
) -> None:
    me = patient(store)
    appointment(store, me, doctor, TODAY + DAY)

    first = chat.start_conversation_as(me, ident(doctor))
    again = chat.start_conversation_as(me, ident(doctor))

    assert first.created and not again.created
    assert first.conversation == again.conversation
    assert (first.conversation.patient_id, first.conversation.doctor_id) == (me.id, doctor.id)


@pytest.mark.parametrize(
    ("offset", "cancelled", "allowed"),
    [(-7, False, True), (7, False, True), (-8, False, False), (8, False, False), (0, True, False)],
)
def test_the_relationship_window_edges(
    store: MemoryStore,
    chat: ChatService,
    doctor: Doctor,
    offset: int,
    cancelled: bool,
    allowed: bool,
) -> None:
    me = patient(store)
    appointment(store, me, doctor, TODAY + offset * DAY, cancelled=cancelled)
    if allowed:
        assert chat.start_conversation_as(me, ident(doctor)).created
    else:
        with pytest.raises(NoRelationship):
            chat.start_conversation_as(me, ident(doctor))


def test_the_window_is_counted_in_the_hospitals_time_zone(
    store: MemoryStore, clock: ManualClock, doctor: Doctor
) -> None:
    """23:30 UTC on the 17th is already the 18th in Shanghai: an appointment on the 25th is then
    7 days ahead, not 8."""
    me = patient(store)
    appointment(store, me, doctor, TODAY)
    clock.set(dt.datetime(2026, 11, 17, 23, 30, tzinfo=dt.UTC))
    assert ChatService(store.unit_of_work, clock).start_conversation_as(me, ident(doctor)).created


def test_more_relationship_checks_plug_in(
    store: MemoryStore, clock: ManualClock, doctor: Doctor
) -> None:
    """A contract or a paid order will link the two without an appointment."""
    me = patient(store)
    contract = ChatService(
        store.unit_of_work, clock, checks=(lambda uow, p, d, now: Link.APPOINTMENT,)
    )
    assert contract.start_conversation_as(me, ident(doctor)).created


def test_only_a_patient_starts_and_only_with_a_doctor_there_is(
    store: MemoryStore, chat: ChatService, doctor: Doctor
) -> None:
    with pytest.raises(Forbidden):
        chat.start_conversation_as(as_doctor(doctor), ident(doctor))
    with pytest.raises(DoctorNotFound):
        chat.start_conversation_as(patient(store), 999)


def test_send_is_idempotent_per_client_id(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    first = chat.send_as(me, conversation, "c-1", MessageKind.TEXT, "Hello")
    again = chat.send_as(
        me, conversation, "c-1", MessageKind.TEXT, " Hello"
    )  # the same, once NFC'd
    other = chat.send_as(doctor, conversation, "c-1", MessageKind.TEXT, "Hi")  # not the same sender
    with pytest.raises(ClientIdReused) as refused:
        chat.send_as(me, conversation, "c-1", MessageKind.TEXT, "Hello again")

    assert refused.value.field == "client_id"
    assert again.message.id == first.message.id and again.message.content == "Hello"
    assert other.message.id != first.message.id
    assert [v.message.content for v in chat.messages_as(me, conversation)] == ["Hello", "Hi"]


def test_a_client_id_reused_in_another_conversation_is_refused_not_delivered_there(
    store: MemoryStore, chat: ChatService, doctor: Doctor, talking: tuple[Actor, Actor, int]
) -> None:
    """Found by the probe of the chat server: a doctor's client id "reuse-X" sent first to one
    patient, then to another, acked the first message and delivered it to the second patient."""
    first_patient, the_doctor, first = talking
    other = patient(store, "Li Lei")
    appointment(store, other, doctor, TODAY)
    second = ident(chat.start_conversation_as(other, ident(doctor)).conversation)
    chat.send_as(the_doctor, first, "reuse-X", MessageKind.TEXT, "for the first patient only")

    with pytest.raises(ClientIdReused):
        chat.send_as(the_doctor, second, "reuse-X", MessageKind.TEXT, "for the first patient only")

    assert chat.messages_as(other, second) == []
    assert len(chat.messages_as(first_patient, first)) == 1


def test_a_read_receipt_stops_at_the_newest_message_and_moves_only_forward(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    """Found by the probe: ``up_to`` 2^31 - 1 marked every later message read, for good."""
    me, doctor, conversation = talking
    first = chat.send_as(doctor, conversation, "d-1", MessageKind.TEXT, "Hello").message

    receipt = chat.read_as(me, conversation, 2**31 - 1)
    later = chat.send_as(doctor, conversation, "d-2", MessageKind.TEXT, "Are you there?")

    assert (receipt.up_to, receipt.moved) == (first.id, True)
    assert not later.read and chat.unread_as(me, conversation) == 1
    assert not chat.read_as(me, conversation, ident(first)).moved  # nothing new: no receipt
    assert chat.read_as(me, conversation, ident(later.message)).moved


def test_only_the_two_parties_read_or_send(
    store: MemoryStore,
    chat: ChatService,
    talking: tuple[Actor, Actor, int],
    make_doctor,  # type: ignore[no-untyped-def]
) -> None:
    me, _, conversation = talking
    strangers = (
        patient(store, "Zhao Li"),
        as_doctor(make_doctor(name="Dr Other")),
        Actor(me.id, Role.ADMIN, 1),
        Actor(me.id, Role.DOCTOR),  # the patient's id, in another role
    )
    for stranger in strangers:
        with pytest.raises(ConversationNotFound):
            chat.messages_as(stranger, conversation)
        with pytest.raises(ConversationNotFound):
            chat.send_as(stranger, conversation, "x", MessageKind.TEXT, "hi")
        with pytest.raises(ConversationNotFound):
            chat.read_as(stranger, conversation, 1)
    with pytest.raises(ConversationNotFound):
        chat.messages_as(me, 12345)


def test_pages_are_oldest_first_with_after_before_and_limit(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, _, conversation = talking
    ids = [
        ident(chat.send_as(me, conversation, f"c-{n}", MessageKind.TEXT, str(n)).message)
        for n in range(10)
    ]

    def page(**cursor: int) -> list[int]:
        return [ident(v.message) for v in chat.messages_as(me, conversation, **cursor)]

    assert page() == ids
    assert page(limit=3) == ids[-3:]
    assert page(before=ids[5], limit=3) == ids[2:5]
    assert page(after=ids[5], limit=3) == ids[6:9]
    assert page(after=ids[1], before=ids[4]) == ids[2:4]
    assert page(after=0, limit=2) == ids[:2]
    assert page(after=ids[-1]) == []
    for bad in ({"limit": 0}, {"limit": 101}, {"after": -1}, {"before": 0}):
        with pytest.raises(InvalidValue):
            page(**bad)


def test_unread_counts_and_read_receipts(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    sent = [
        chat.send_as(me, conversation, f"p-{n}", MessageKind.TEXT, "?").message for n in range(3)
    ]
    chat.send_as(doctor, conversation, "d-1", MessageKind.TEXT, "Yes")

    assert chat.unread_as(doctor, conversation) == 3
    assert chat.unread_as(me, conversation) == 1
    chat.read_as(doctor, conversation, ident(sent[1]))
    assert chat.unread_as(doctor, conversation) == 1
    chat.read_as(doctor, conversation, 0)  # a receipt never moves back
    assert chat.unread_as(doctor, conversation) == 1
    assert [v.read for v in chat.messages_as(me, conversation)] == [True, True, False, False]
    [listed] = chat.conversations_as(doctor)
    assert listed.unread == 1 and listed.last_message is not None
    assert listed.last_message.content == "Yes"
    assert listed.patient_name == "Wang Xiaoming" and listed.doctor_name == "Dr Li"


def test_sync_gives_every_later_message_of_every_conversation_in_id_order(
    store: MemoryStore,
    chat: ChatService,
    talking: tuple[Actor, Actor, int],
    make_doctor,  # type: ignore[no-untyped-def]
) -> None:
    me, doctor, first = talking
    other = make_doctor(name="Dr Wu")
    appointment(store, me, other, TODAY)
    second = ident(chat.start_conversation_as(me, ident(other)).conversation)
    a = chat.send_as(me, first, "1", MessageKind.TEXT, "a").message
    b = chat.send_as(as_doctor(other), second, "2", MessageKind.TEXT, "b").message
    c = chat.send_as(doctor, first, "3", MessageKind.IMAGE, "/files/x.png").message

    assert [v.message for v in chat.sync_as(me, 0)] == [a, b, c]
    assert [v.message for v in chat.sync_as(me, ident(a))] == [b, c]
    assert [v.message for v in chat.sync_as(doctor, 0)] == [a, c]
    assert [v.message for v in chat.sync_as(me, 0, limit=1)] == [a]
    with pytest.raises(Forbidden):
        chat.sync_as(Actor(1, Role.ADMIN, 1), 0)


def test_listings_put_the_latest_activity_first(
    store: MemoryStore,
    chat: ChatService,
    talking: tuple[Actor, Actor, int],
    make_doctor,  # type: ignore[no-untyped-def]
) -> None:
    me, _, first = talking
    other = make_doctor(name="Dr Wu")
    appointment(store, me, other, TODAY)
    second = ident(chat.start_conversation_as(me, ident(other)).conversation)
    assert [ident(v.conversation) for v in chat.conversations_as(me)] == [second, first]
    chat.send_as(me, first, "1", MessageKind.TEXT, "a")
    assert [ident(v.conversation) for v in chat.conversations_as(me)] == [first, second]
    with pytest.raises(Forbidden):
        chat.conversations_as(Actor(1, Role.ADMIN, 1))


# --- what the chat server relies on --------------------------------------------------------------


def test_send_says_who_receives_it_and_whether_it_is_new(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    first = chat.send_as(me, conversation, "c-1", MessageKind.TEXT, "Hello")
    again = chat.send_as(me, conversation, "c-1", MessageKind.TEXT, "Hello")
    answer = chat.send_as(doctor, conversation, "d-1", MessageKind.TEXT, "Hi")

    assert (first.new, again.new, answer.new) == (True, False, True)
    assert first.recipient == Party(Role.DOCTOR, doctor.id)
    assert answer.recipient == Party(Role.PATIENT, me.id)


def test_read_as_returns_the_conversation_whose_parties_hear_of_it(
    chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    read = chat.read_as(doctor, conversation, 0).conversation
    assert set(read.parties) == {Party(Role.PATIENT, me.id), Party(Role.DOCTOR, doctor.id)}


def test_counterparts_are_the_other_party_of_each_conversation(
    store: MemoryStore, chat: ChatService, doctor: Doctor, talking: tuple[Actor, Actor, int]
) -> None:
    me, the_doctor, _ = talking
    other = patient(store, "Li Lei")
    appointment(store, other, doctor, TODAY)
    chat.start_conversation_as(other, ident(doctor))

    assert chat.counterparts_of(me) == [Party(Role.DOCTOR, the_doctor.id)]
    assert sorted(chat.counterparts_of(the_doctor)) == sorted(
        [Party(Role.PATIENT, me.id), Party(Role.PATIENT, other.id)]
    )
    with pytest.raises(Forbidden):
        chat.counterparts_of(Actor(1, Role.ADMIN, hospital_id=1))


def test_an_absent_recipient_gets_one_notice_per_conversation_until_they_read_it(
    store: MemoryStore, clock: ManualClock, chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    notices = NotificationService(store.unit_of_work, clock)
    secret = "my blood sugar was 11.2 this morning"
    first = chat.send_as(me, conversation, "c-1", MessageKind.TEXT, secret)
    second = chat.send_as(me, conversation, "c-2", MessageKind.TEXT, "and 12 at noon")

    notice = chat.notify_absent(first.message)
    assert chat.notify_absent(second.message) is None  # the first is still unread

    assert notice is not None
    inbox = notices.of_actor(doctor)
    assert [n.id for n in inbox] == [notice.id]
    assert notice.kind is NotificationKind.CHAT_MESSAGE
    assert notice.title == "New message from Wang Xiaoming"
    assert notice.data == {"conversation_id": conversation, "message_id": first.message.id}
    assert secret not in notice.title + notice.body and "11.2" not in str(notice.data)
    assert notices.of_actor(me) == []

    notices.mark_read(doctor, ident(notice))
    third = chat.send_as(me, conversation, "c-3", MessageKind.TEXT, "?")
    assert chat.notify_absent(third.message) is not None
    answer = chat.send_as(doctor, conversation, "d-1", MessageKind.TEXT, "Come tomorrow")
    to_patient = chat.notify_absent(answer.message)
    assert to_patient is not None and to_patient.recipient_id == me.id
    assert to_patient.title.startswith("New message from Dr. ")


def test_the_notification_feed_gives_everyones_new_notices_oldest_first(
    store: MemoryStore, clock: ManualClock, chat: ChatService, talking: tuple[Actor, Actor, int]
) -> None:
    me, doctor, conversation = talking
    notices = NotificationService(store.unit_of_work, clock)
    before = notices.newest_id()
    a = chat.notify_absent(chat.send_as(me, conversation, "1", MessageKind.TEXT, "a").message)
    b = chat.notify_absent(chat.send_as(doctor, conversation, "2", MessageKind.TEXT, "b").message)
    assert a is not None and b is not None

    assert [n.id for n in notices.since(before)] == [a.id, b.id]
    assert [n.id for n in notices.since(ident(a))] == [b.id]
    assert notices.since(before, limit=1) == [a]
    assert notices.newest_id() == b.id
