"""The order service under a random life of create / start payment / notify (and its repeat) /
cancel / expire / complete / time passing, on the in-memory store, with the sandbox gateway.

The model keeps its own count of places, its own status of each order and its own ledger of
money (what the gateway took, what went back); after every step the service's answers must agree
with it: the places left, each order's status, and the refunds owed.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from medbook.adapters.memory import ManualClock
from medbook.adapters.payments.sandbox import SandboxGateway, sign
from medbook.bootstrap import Services, in_memory
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Admin, Patient
from medbook.domain.orders.model import OrderStatus, Place
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError
from medbook.domain.shared.money import Money
from medbook.services.orders import ServiceDraft

SECRET = b"a sandbox secret of at least 32 bytes"
NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
TOMORROW = dt.date(2026, 11, 26)
CAPACITY = 3
PRICE = 19_900
PATIENTS = 3


class OrderServiceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(NOW)
        self.services: Services = in_memory(self.clock, gateway=SandboxGateway(SECRET))
        hospital = self.services.directory.add_hospital(
            "Ruijin Hospital", "197 Ruijin 2nd Rd", GeoPoint(31.2122, 121.4688)
        )
        assert hospital.id is not None
        with self.services.new_uow() as uow:
            admin = uow.admins.add(Admin(hospital.id, "Admin", "13700137000"))
            people = [uow.patients.add(Patient(f"P{n}", f"1380013800{n}")) for n in range(PATIENTS)]
            uow.commit()
        self.admin = Actor(admin.id or 0, Role.ADMIN, hospital.id)
        self.patients = [Actor(p.id or 0, Role.PATIENT) for p in people]
        draft = ServiceDraft("Home nursing", Money(PRICE), CAPACITY, 10.0, frozenset({TOMORROW}))
        offer = self.services.orders.publish_as(self.admin, hospital.id, draft)
        self.service_id = offer.service.id or 0
        # The model.
        self.orders: list[tuple[int, Actor]] = []  # (order id, its patient)
        self.status: dict[int, str] = {}
        self.pay_by: dict[int, dt.datetime] = {}
        self.payment: dict[int, str] = {}
        self.events = 0
        self.taken: set[int] = set()  # orders whose payment the gateway took (once each)
        self.taken_in = 0  # cents the gateway took
        self.owed_back = 0  # cents to go back (refunds decided)

    # --- the model's own reckoning ---------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.clock.now()

    def overdue(self, order_id: int) -> bool:
        return self.status[order_id] == "pending_payment" and self.now() >= self.pay_by[order_id]

    def holding(self) -> int:
        return sum(s in ("pending_payment", "paid", "completed") for s in self.status.values())

    def pick(self, data: st.DataObject) -> tuple[int, Actor]:
        return self.orders[data.draw(st.integers(0, len(self.orders) - 1))]

    # --- rules -----------------------------------------------------------------------------------

    @rule(who=st.integers(0, PATIENTS - 1))
    def create(self, who: int) -> None:
        patient = self.patients[who]
        if self.holding() >= CAPACITY:
            overdue = [o for o, _ in self.orders if self.overdue(o)]
            if not overdue:
                with pytest.raises(DomainError) as refused:
                    self.services.orders.place_as(
                        patient, self.service_id, TOMORROW, Place.HOSPITAL
                    )
                assert refused.value.code == "sold_out"
                return
            # When none is left, the service expires every overdue order to make room.
            for o in overdue:
                self.status[o] = "expired"
        order = self.services.orders.place_as(patient, self.service_id, TOMORROW, Place.HOSPITAL)
        assert order.id is not None and order.total == Money(PRICE)
        assert order.platform_fee.cents + order.provider_payout.cents == PRICE
        self.orders.append((order.id, patient))
        self.status[order.id] = "pending_payment"
        self.pay_by[order.id] = order.pay_by

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def start_payment(self, data: st.DataObject) -> None:
        order_id, patient = self.pick(data)
        if self.overdue(order_id):
            self.status[order_id] = "expired"
        if self.status[order_id] != "pending_payment":
            with pytest.raises(DomainError) as refused:
                self.services.orders.start_payment_as(patient, order_id)
            assert refused.value.code == "order_not_payable"
            return
        started = self.services.orders.start_payment_as(patient, order_id)
        payment_id = self.payment.setdefault(order_id, started.start.payment_id)
        assert started.start.payment_id == payment_id  # asked again: the same payment

    @precondition(lambda self: bool(self.payment))
    @rule(data=st.data(), copies=st.integers(1, 3), wrong_amount=st.booleans())
    def notify(self, data: st.DataObject, copies: int, wrong_amount: bool) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.payment)))
        self.events += 1
        cents = PRICE + 1 if wrong_amount else PRICE
        body = json.dumps(
            {
                "event_id": f"evt-{self.events}",
                "payment_id": self.payment[order_id],
                "status": "succeeded",
                "amount_cents": cents,
            }
        ).encode()
        headers = {"x-medbook-signature": sign(SECRET, body)}
        if wrong_amount:
            with pytest.raises(DomainError) as refused:
                self.services.orders.notify(body, headers)
            assert refused.value.code == "payment_amount_mismatch"
            return
        if self.overdue(order_id):
            self.status[order_id] = "expired"
        state = self.status[order_id]
        if order_id in self.taken:
            expected = "duplicate"  # another event of a payment already taken
        elif state == "pending_payment":
            expected = "paid"
        else:
            expected = "late"  # the order ended before the money came: it goes back
        outcome = self.services.orders.notify(body, headers).outcome
        assert outcome == expected, (state, outcome)
        if expected != "duplicate":
            self.taken.add(order_id)
            self.taken_in += PRICE
        if expected == "paid":
            self.status[order_id] = "paid"
        elif expected == "late":
            self.owed_back += PRICE
        for _ in range(copies - 1):  # the gateway says it again: nothing changes
            assert self.services.orders.notify(body, headers).outcome == "repeat"

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), by_admin=st.booleans())
    def cancel(self, data: st.DataObject, by_admin: bool) -> None:
        order_id, patient = self.pick(data)
        actor = self.admin if by_admin else patient
        if self.overdue(order_id):
            self.status[order_id] = "expired"
        state = self.status[order_id]
        if state not in ("pending_payment", "paid"):
            with pytest.raises(DomainError) as refused:
                self.services.orders.cancel_as(actor, order_id)
            assert refused.value.code == "order_not_cancellable"
            return
        order = self.services.orders.cancel_as(actor, order_id)
        if state == "paid":
            assert order.status is OrderStatus.REFUNDED
            self.status[order_id] = "refunded"
            self.owed_back += PRICE
        else:
            assert order.status is OrderStatus.CANCELLED
            self.status[order_id] = "cancelled"

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        order_id, _ = self.pick(data)
        if self.overdue(order_id):
            self.status[order_id] = "expired"
        if self.status[order_id] != "paid":
            with pytest.raises(DomainError) as refused:
                self.services.orders.complete_as(self.admin, order_id)
            assert refused.value.code == "order_not_completable"
            return
        self.services.orders.complete_as(self.admin, order_id)
        self.status[order_id] = "completed"

    @rule(minutes=st.sampled_from([1, 7, 14, 15, 30]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(dt.timedelta(minutes=minutes))

    @rule()
    def expire_orders(self) -> None:
        expected = sum(self.overdue(o) for o, _ in self.orders)
        assert self.services.orders.expire_overdue() == expected
        for o, _ in self.orders:
            if self.overdue(o):
                self.status[o] = "expired"

    # --- after every step ------------------------------------------------------------------------

    @invariant()
    def places_agree(self) -> None:
        offer = self.services.orders.service(self.service_id)
        (date,) = offer.dates
        # An order past its deadline holds its place in the database until touched, but the
        # place shows as free: the next order takes it.
        overdue = sum(self.overdue(o) for o, _ in self.orders)
        assert date.remaining == CAPACITY - self.holding() + overdue
        assert 0 <= date.remaining <= CAPACITY

    @invariant()
    def statuses_agree(self) -> None:
        for patient in self.patients:
            listed = {
                o.id: o.status.value
                for o in self.services.orders.orders_as(patient)  # expires overdue ones
            }
            for order_id, who in self.orders:
                if who == patient:
                    if self.overdue(order_id):
                        self.status[order_id] = "expired"
                    assert listed[order_id] == self.status[order_id]

    @invariant()
    def money_agrees(self) -> None:
        with self.services.new_uow() as uow:
            refunds = [uow.refunds.of_order(o) for o, _ in self.orders]
        owed = sum(r.amount.cents for r in refunds if r is not None)
        assert owed == self.owed_back
        kept = sum(PRICE for s in self.status.values() if s in ("paid", "completed"))
        assert self.taken_in - self.owed_back == kept


TestOrderService = OrderServiceMachine.TestCase
TestOrderService.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
