"""Accounts: registration, login, identity verification, doctor approval, the caller's profile."""

from __future__ import annotations

import secrets
import threading
import zoneinfo
from collections.abc import Callable
from typing import TypeVar

from attrs import define, field, frozen
from cachetools import TTLCache

from medbook.domain import Doctor
from medbook.domain.accounts.identity import check_resident_id
from medbook.domain.accounts.model import Admin, Credential, Patient, ensure_password_policy
from medbook.domain.accounts.throttling import AttemptLimits
from medbook.domain.directory.model import DEFAULT_TIMEZONE
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    DoctorNotFound,
    DomainError,
    InvalidValue,
    NotFound,
    PatientNotFound,
    TooManyAttempts,
    Unauthenticated,
)
from medbook.domain.shared.text import PERSON_NAME, ensure_mobile
from medbook.ports.accounts import AccountsUnitOfWork
from medbook.ports.clock import Clock
from medbook.ports.security import PasswordHasher, Throttle, TokenService
from medbook.services.authorization import require_admin_of, require_role
from medbook.services.directory import doctor_of, hospital_of
from medbook.services.transactions import read_only, transactionally

#: The record a login belongs to.
Account = TypeVar("Account", Patient, Doctor, Admin)

#: Seconds for which ``authenticate`` trusts what it last read of a login (its role, and an
#: admin's hospital) without asking the database again. A login deleted, or an admin moved to
#: another hospital, by another process or directly in the database loses (or changes) its access
#: within this many seconds on every process; ``forget_logins`` makes it immediate in this one.
#: A token's signature and expiry are checked on every request whatever the cache holds.
LOGIN_CACHE_SECONDS = 5.0
#: At most this many logins are remembered per process (the least recently used go first).
LOGIN_CACHE_SIZE = 10_000


@frozen
class LoginResult:
    actor: Actor
    name: str
    token: str
    avatar_url: str | None


@frozen
class IdentityChecked:
    patient: Patient
    age: int


@frozen
class Profile:
    """The caller's own account, whatever their role."""

    actor: Actor
    name: str
    phone: str
    patient: Patient | None = None
    doctor: Doctor | None = None
    admin: Admin | None = None


@define
class AccountService:
    new_uow: Callable[[], AccountsUnitOfWork]
    clock: Clock
    hasher: PasswordHasher
    tokens: TokenService
    throttle: Throttle
    limits: AttemptLimits = field(factory=AttemptLimits)
    #: A real hash of a random password, verified against when the phone is unknown, so that an
    #: unknown phone costs as much time as a wrong password (no account enumeration by timing).
    _decoy_hash: str | None = field(default=None, init=False, repr=False)
    login_cache_seconds: float = LOGIN_CACHE_SECONDS
    _logins: TTLCache[tuple[Role, int], Actor] = field(init=False, repr=False)
    _logins_lock: threading.Lock = field(factory=threading.Lock, init=False, repr=False)

    @_logins.default
    def _new_login_cache(self) -> TTLCache[tuple[Role, int], Actor]:
        # Timed by the service's clock, so that a test's clock moves it too.
        return TTLCache(
            LOGIN_CACHE_SIZE,
            self.login_cache_seconds,
            timer=lambda: self.clock.now().timestamp(),
        )

    # --- registration ----------------------------------------------------------------------------

    def register_patient(
        self, phone: str, name: str, password: str, *, client: str | None = None
    ) -> Patient:
        """``client`` is the caller's address: registrations from one address are throttled
        (each tells whether a phone is taken); None for a trusted library caller."""
        self._count_registration(client)
        now = self.clock.now()
        return self._with_login(
            Role.PATIENT, phone, password, lambda uow: uow.patients.add(Patient(name, phone, now))
        )

    def register_doctor(
        self, phone: str, name: str, password: str, *, client: str | None = None
    ) -> Doctor:
        """A doctor signs up; they choose their hospital next, and its admin approves them.
        ``client`` as for ``register_patient``."""
        self._count_registration(client)
        doctor = Doctor.register(name=name, phone=phone)
        return self._with_login(Role.DOCTOR, phone, password, lambda uow: uow.doctors.add(doctor))

    def _with_login(
        self,
        role: Role,
        phone: str,
        password: str,
        store: Callable[[AccountsUnitOfWork], Account],
    ) -> Account:
        """Store a patient, doctor or admin record and its login, in one transaction; the phone
        is unique per role (``PhoneTaken`` otherwise, decided by the store)."""
        ensure_mobile(phone)
        password_hash = self.hasher.hash(ensure_password_policy(password))

        def work(uow: AccountsUnitOfWork) -> Account:
            record = store(uow)
            assert record.id is not None
            uow.credentials.add(Credential(role, phone, record.id, password_hash))
            return record

        return transactionally(self.new_uow, work)

    def _count_registration(self, client: str | None) -> None:
        if client is None:
            return
        retry_after = self.throttle.take([self.limits.registration(client)], self.clock.now())
        if retry_after is not None:
            raise TooManyAttempts(retry_after)

    def create_admin(self, hospital_id: int, phone: str, name: str, password: str) -> Admin:
        """An operator's act (``medbook create-admin``): no actor, the caller is trusted."""

        def store(uow: AccountsUnitOfWork) -> Admin:
            hospital_of(uow, hospital_id)
            return uow.admins.add(Admin(hospital_id, name, phone))

        return self._with_login(Role.ADMIN, phone, password, store)

    def grant_login(self, role: Role, user_id: int, phone: str, password: str) -> Credential:
        """Let an existing record (e.g. a doctor added by a hospital system) log in."""
        ensure_mobile(phone)
        password_hash = self.hasher.hash(ensure_password_policy(password))

        def work(uow: AccountsUnitOfWork) -> Credential:
            found = _profile(uow, role, user_id, missing=NotFound)
            if found.phone != phone:
                raise InvalidValue("phone", "is not the phone number of that account")
            return uow.credentials.add(Credential(role, phone, user_id, password_hash))

        return transactionally(self.new_uow, work)

    # --- login -----------------------------------------------------------------------------------

    def login(
        self, phone: str, password: str, role: Role, *, client: str | None = None
    ) -> LoginResult:
        """A token for the account; the same ``Unauthenticated`` for an unknown phone or a wrong
        password, and ``TooManyAttempts`` after repeated attempts (see ``AttemptLimits``).

        ``client`` is the caller's address (None for a library caller: then attempts count per
        account only). Every attempt is taken from the throttle before the password is checked,
        in one atomic step, so parallel guesses cannot slip past it; a success gives it back.
        """
        ensure_mobile(phone)
        now = self.clock.now()
        buckets = self.limits.login(role.value, phone, client)
        retry_after = self.throttle.take(buckets.all, now)
        if retry_after is not None:
            raise TooManyAttempts(retry_after)
        credential = read_only(self.new_uow, lambda uow: uow.credentials.find(role, phone))
        password_hash = credential.password_hash if credential else self._decoy()
        if not self.hasher.verify(password_hash, password) or credential is None:
            raise Unauthenticated("wrong phone number or password")
        self.throttle.reset(buckets.account_and_client.key)
        self.throttle.reset(buckets.account.key)
        if buckets.client is not None:
            # Only this attempt: one good password must not wipe an address's failed guesses.
            self.throttle.give_back(buckets.client, now)
        if self.hasher.needs_rehash(credential.password_hash):
            self._rehash(credential, password)
        profile = read_only(
            self.new_uow, lambda uow: _profile(uow, credential.role, credential.user_id)
        )
        actor = profile.actor
        avatar = profile.doctor.avatar_url if profile.doctor else None
        return LoginResult(actor, profile.name, self.tokens.issue(actor, now), avatar)

    def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = self.hasher.hash(secrets.token_urlsafe(16))
        return self._decoy_hash

    def _rehash(self, credential: Credential, password: str) -> None:
        credential.password_hash = self.hasher.hash(password)

        def work(uow: AccountsUnitOfWork) -> None:
            uow.credentials.save(credential)

        transactionally(self.new_uow, work)

    def authenticate(self, token: str) -> Actor:
        """The actor behind a bearer token; ``Unauthenticated`` when it is not valid (any more)."""
        claimed = self.tokens.verify(token, self.clock.now())

        # Who the caller is now comes from the stored login, not from the token: an admin moved
        # to another hospital acts for that one, whatever an older token says. What was read is
        # trusted for LOGIN_CACHE_SECONDS: one query per login and interval, not per request.
        key = (claimed.role, claimed.id)
        with self._logins_lock:
            actor = self._logins.get(key)
        if actor is not None:
            return actor

        def who(uow: AccountsUnitOfWork) -> Actor | None:
            return uow.credentials.actor(claimed.role, claimed.id)

        actor = read_only(self.new_uow, who)
        if actor is None:  # never remembered: a login made again is found at once
            raise Unauthenticated("the account no longer exists")
        if self.login_cache_seconds > 0:
            with self._logins_lock:
                self._logins[key] = actor
        return actor

    def forget_logins(self) -> None:
        """Forget what ``authenticate`` remembers of logins: for a hospital system that has just
        deleted logins or moved admins in the database itself, so that this process sees it at
        once (other processes see it within ``LOGIN_CACHE_SECONDS``)."""
        with self._logins_lock:
            self._logins.clear()

    # --- the caller ------------------------------------------------------------------------------

    def me(self, actor: Actor) -> Profile:
        return read_only(self.new_uow, lambda uow: _profile(uow, actor.role, actor.id))

    def verify_identity(self, actor: Actor, name: str, id_number: str) -> IdentityChecked:
        """A patient proves who they are with their resident identity number (GB 11643).

        Only what is derived from it (birth date, sex) and its last four characters are kept.
        """
        require_role(actor, Role.PATIENT)
        legal_name = PERSON_NAME.check(name, "name")  # NFC, trimmed
        # Birthdays and "not born in the future" are judged on the mainland's calendar date.
        today = self.clock.now().astimezone(zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)).date()
        resident = check_resident_id(id_number, today)

        def work(uow: AccountsUnitOfWork) -> IdentityChecked:
            patient = uow.patients.get(actor.id)
            if patient is None:
                raise PatientNotFound("no such patient")
            patient.legal_name = legal_name
            patient.birth_date = resident.birth_date
            patient.sex = resident.sex
            patient.id_number_last4 = resident.last4
            uow.patients.save(patient)
            return IdentityChecked(patient, resident.age)

        return transactionally(self.new_uow, work)

    def approve_doctor(self, actor: Actor, doctor_id: int, approved: bool) -> Doctor:
        """An administrator of the doctor's hospital verifies (or un-verifies) them."""

        require_role(actor, Role.ADMIN)

        def work(uow: AccountsUnitOfWork) -> Doctor:
            doctor = doctor_of(uow, doctor_id, for_update=True)
            if actor.role is Role.ADMIN and doctor.hospital_id != actor.hospital_id:
                # Existence of another hospital's doctors is not the admin's business: the same
                # answer as for an id that names no doctor at all.
                raise DoctorNotFound(f"no doctor {doctor_id}")
            require_admin_of(actor, doctor.hospital_id)
            doctor.verified = approved
            uow.doctors.save(doctor)
            return doctor

        return transactionally(self.new_uow, work)


def _profile(
    uow: AccountsUnitOfWork, role: Role, user_id: int, missing: type[DomainError] = Unauthenticated
) -> Profile:
    gone = f"no {role.value} {user_id}" if missing is not Unauthenticated else "the account is gone"
    if role is Role.PATIENT:
        patient = uow.patients.get(user_id)
        if patient is None:
            raise missing(gone)
        return Profile(Actor(user_id, role), patient.name, patient.phone, patient=patient)
    if role is Role.DOCTOR:
        doctor = uow.doctors.get(user_id)
        if doctor is None:
            raise missing(gone)
        return Profile(Actor(user_id, role), doctor.name, doctor.phone, doctor=doctor)
    admin = uow.admins.get(user_id)
    if admin is None:
        raise missing(gone)
    return Profile(Actor(user_id, role, admin.hospital_id), admin.name, admin.phone, admin=admin)


__all__ = ["AccountService", "LoginResult", "Profile"]
