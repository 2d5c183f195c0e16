"""AccountService through the in-memory store, with a fake hasher and fake tokens for speed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from attrs import define, field
from unit_support import NOW, ident

from medbook.adapters.memory import ManualClock, MemoryStore
from medbook.adapters.security import Argon2Hasher, MemoryThrottle
from medbook.domain import Department, Doctor, Hospital
from medbook.domain.accounts.model import Admin, Credential, Patient
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import (
    DoctorNotFound,
    Forbidden,
    HospitalNotFound,
    InvalidIdNumber,
    InvalidValue,
    NotFound,
    PhoneTaken,
    TooManyAttempts,
    Unauthenticated,
)
from medbook.domain.shared.people import Sex
from medbook.services import DirectoryService
from medbook.services.accounts import LOGIN_CACHE_SECONDS, AccountService

PHONE = "13900000001"
PASSWORD = "correct horse battery"
#: GB 11643's own example: born 1949-12-31, a woman (the 17th digit is even).
ID_NUMBER = "11010519491231002X"
#: Born 1990-03-07, a man (the 17th digit is odd).
MALE_ID_NUMBER = "44030419900307123X"
#: A login that failed 5 times from one address may try again once every 3 minutes.
INTERVAL = dt.timedelta(minutes=3)
ADDRESS_A, ADDRESS_B = "203.0.113.7", "198.51.100.20"


@define
class FakeHasher:
    """Reversible "hashes" ``fake:<generation>:<password>`` that record every call.

    Raising ``generation`` makes every older hash one that needs rehashing.
    """

    generation: int = 1
    hashed: list[str] = field(factory=list)
    verified: list[tuple[str, str]] = field(factory=list)

    def hash(self, password: str) -> str:
        self.hashed.append(password)
        return f"fake:{self.generation}:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append((password_hash, password))
        prefix, _, rest = password_hash.partition(":")
        return prefix == "fake" and rest.partition(":")[2] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake:{self.generation}:")


@define
class FakeTokens:
    """Tokens ``token-<n>`` remembered with their actor; any other text is refused."""

    issued: dict[str, Actor] = field(factory=dict)

    def issue(self, actor: Actor, now: dt.datetime) -> str:
        token = f"token-{len(self.issued) + 1}"
        self.issued[token] = actor
        return token

    def verify(self, token: str, now: dt.datetime) -> Actor:
        try:
            return self.issued[token]
        except KeyError:
            raise Unauthenticated("invalid or expired token") from None


class SpyArgon2Hasher(Argon2Hasher):
    """The real hasher at the lowest cost, remembering the hashes it verified against."""

    def __init__(self) -> None:
        super().__init__(memory_cost=8, time_cost=1, parallelism=1)
        self.verified_against: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified_against.append(password_hash)
        return super().verify(password_hash, password)


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def accounts(
    store: MemoryStore, clock: ManualClock, hasher: FakeHasher, tokens: FakeTokens
) -> AccountService:
    return AccountService(store.unit_of_work, clock, hasher, tokens, MemoryThrottle())


@pytest.fixture
def patient(accounts: AccountService) -> Patient:
    return accounts.register_patient(PHONE, "Wang Fang", PASSWORD)


@pytest.fixture
def patient_actor(patient: Patient) -> Actor:
    return Actor(ident(patient), Role.PATIENT)


def stored_credential(store: MemoryStore, role: Role, phone: str) -> Credential | None:
    with store.unit_of_work() as uow:
        return uow.credentials.find(role, phone)


def stored_patient(store: MemoryStore, patient_id: int) -> Patient:
    with store.unit_of_work() as uow:
        found = uow.patients.get(patient_id)
    assert found is not None
    return found


def stored_doctor(store: MemoryStore, doctor_id: int) -> Doctor:
    with store.unit_of_work() as uow:
        found = uow.doctors.get(doctor_id)
    assert found is not None
    return found


def rows(store: MemoryStore, table: str) -> list[Any]:
    """The committed rows of a table."""
    return list(store.tables[table].values())


def fail_logins(
    accounts: AccountService, times: int, phone: str = PHONE, client: str | None = None
) -> None:
    for _ in range(times):
        with pytest.raises(Unauthenticated):
            accounts.login(phone, "wrong password", Role.PATIENT, client=client)


# --- registration --------------------------------------------------------------------------------


def test_a_patient_registers_with_a_hashed_password(
    store: MemoryStore, accounts: AccountService, hasher: FakeHasher
) -> None:
    patient = accounts.register_patient(PHONE, "Wang Fang", PASSWORD)

    stored = stored_patient(store, ident(patient))
    assert (stored.name, stored.phone, stored.created_at) == ("Wang Fang", PHONE, NOW)
    assert not stored.identity_verified
    credential = stored_credential(store, Role.PATIENT, PHONE)
    assert credential is not None
    assert credential.user_id == ident(patient)
    assert credential.password_hash == f"fake:1:{PASSWORD}"
    assert hasher.hashed == [PASSWORD]


@pytest.mark.parametrize(
    "phone", ["", "1390000000", "139000000011", "12900000001", "+8613900000001", "1390000000\uff11"]
)
def test_a_patient_needs_a_mainland_mobile_number(
    store: MemoryStore, accounts: AccountService, phone: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        accounts.register_patient(phone, "Wang Fang", PASSWORD)

    assert caught.value.field == "phone"
    assert rows(store, "patients") == [] and rows(store, "credentials") == []


@pytest.mark.parametrize("length", [0, 7, 129, 1000])
def test_a_password_outside_8_to_128_characters_is_refused(
    store: MemoryStore, accounts: AccountService, length: int
) -> None:
    with pytest.raises(InvalidValue) as caught:
        accounts.register_patient(PHONE, "Wang Fang", "p" * length)

    assert caught.value.field == "password"
    assert rows(store, "patients") == []


@pytest.mark.parametrize("length", [8, 128])
def test_a_password_of_8_to_128_characters_is_taken(accounts: AccountService, length: int) -> None:
    accounts.register_patient(PHONE, "Wang Fang", "p" * length)

    assert accounts.login(PHONE, "p" * length, Role.PATIENT).name == "Wang Fang"


def test_a_phone_registers_once_as_a_patient(
    store: MemoryStore, accounts: AccountService, patient: Patient
) -> None:
    with pytest.raises(PhoneTaken) as caught:
        accounts.register_patient(PHONE, "Someone Else", "another password")

    assert caught.value.code == "phone_taken"
    # The refused registration leaves no patient behind without a way to log in.
    assert [p.name for p in rows(store, "patients")] == ["Wang Fang"]
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)


def test_the_same_phone_may_register_as_a_patient_and_as_a_doctor(
    accounts: AccountService, patient: Patient
) -> None:
    doctor = accounts.register_doctor(PHONE, "Dr Wang", "doctor password")

    as_patient = accounts.login(PHONE, PASSWORD, Role.PATIENT)
    as_doctor = accounts.login(PHONE, "doctor password", Role.DOCTOR)
    assert as_patient.actor == Actor(ident(patient), Role.PATIENT)
    assert as_doctor.actor == Actor(ident(doctor), Role.DOCTOR)
    with pytest.raises(Unauthenticated):
        accounts.login(PHONE, PASSWORD, Role.DOCTOR)


def test_a_registered_doctor_is_unverified_and_in_no_hospital(
    store: MemoryStore, accounts: AccountService
) -> None:
    doctor = accounts.register_doctor(PHONE, "Dr Wang", PASSWORD)

    stored = stored_doctor(store, ident(doctor))
    assert (stored.name, stored.phone) == ("Dr Wang", PHONE)
    assert (stored.hospital_id, stored.department_id, stored.verified) == (None, None, False)
    credential = stored_credential(store, Role.DOCTOR, PHONE)
    assert credential is not None and credential.user_id == ident(doctor)


def test_a_doctor_needs_a_mainland_mobile_number_and_a_good_password(
    store: MemoryStore, accounts: AccountService
) -> None:
    with pytest.raises(InvalidValue) as bad_phone:
        accounts.register_doctor("12345", "Dr Wang", PASSWORD)
    with pytest.raises(InvalidValue) as bad_password:
        accounts.register_doctor(PHONE, "Dr Wang", "short")

    assert (bad_phone.value.field, bad_password.value.field) == ("phone", "password")
    assert rows(store, "doctors") == [] and rows(store, "credentials") == []


def test_a_phone_registers_once_as_a_doctor(store: MemoryStore, accounts: AccountService) -> None:
    accounts.register_doctor(PHONE, "Dr Wang", PASSWORD)

    with pytest.raises(PhoneTaken):
        accounts.register_doctor(PHONE, "Dr Zhao", PASSWORD)

    assert [d.name for d in rows(store, "doctors")] == ["Dr Wang"]


def test_an_admin_is_created_for_a_hospital(
    store: MemoryStore, accounts: AccountService, hospital: Hospital
) -> None:
    admin = accounts.create_admin(ident(hospital), PHONE, "Admin Chen", PASSWORD)

    with store.unit_of_work() as uow:
        assert uow.admins.of_hospital(ident(hospital)) == [admin]
    assert (admin.hospital_id, admin.name, admin.phone) == (ident(hospital), "Admin Chen", PHONE)
    result = accounts.login(PHONE, PASSWORD, Role.ADMIN)
    assert result.actor == Actor(ident(admin), Role.ADMIN, ident(hospital))


def test_an_admin_needs_a_known_hospital(store: MemoryStore, accounts: AccountService) -> None:
    with pytest.raises(HospitalNotFound):
        accounts.create_admin(404, PHONE, "Admin Chen", PASSWORD)

    assert rows(store, "admins") == [] and rows(store, "credentials") == []


def test_an_existing_doctor_can_be_granted_a_login(
    accounts: AccountService,
    directory: DirectoryService,
    hospital: Hospital,
    department: Department,
) -> None:
    doctor = directory.add_doctor(ident(hospital), ident(department), name="Dr Li", phone=PHONE)

    accounts.grant_login(Role.DOCTOR, ident(doctor), PHONE, PASSWORD)

    result = accounts.login(PHONE, PASSWORD, Role.DOCTOR)
    assert (result.actor, result.name) == (Actor(ident(doctor), Role.DOCTOR), "Dr Li")
    with pytest.raises(PhoneTaken):
        accounts.grant_login(Role.DOCTOR, ident(doctor), PHONE, "another password")


def test_login_cannot_be_granted_to_a_user_who_does_not_exist(
    store: MemoryStore, accounts: AccountService
) -> None:
    # Such a credential would log in whoever is later stored under that id.
    with pytest.raises(NotFound):
        accounts.grant_login(Role.DOCTOR, 404, PHONE, PASSWORD)

    assert rows(store, "credentials") == []


# --- login ---------------------------------------------------------------------------------------


def test_a_patient_logs_in_with_their_phone_and_password(
    accounts: AccountService, tokens: FakeTokens, patient: Patient
) -> None:
    result = accounts.login(PHONE, PASSWORD, Role.PATIENT)

    assert result.actor == Actor(ident(patient), Role.PATIENT)
    assert (result.name, result.avatar_url) == ("Wang Fang", None)
    assert tokens.verify(result.token, NOW) == result.actor


def test_a_doctors_login_carries_their_avatar(store: MemoryStore, accounts: AccountService) -> None:
    doctor = accounts.register_doctor(PHONE, "Dr Wang", PASSWORD)
    with store.unit_of_work() as uow:
        uow.doctors.save(attrs.evolve(doctor, avatar_url="https://cdn.example/dr-wang.png"))
        uow.commit()

    result = accounts.login(PHONE, PASSWORD, Role.DOCTOR)

    assert result.actor == Actor(ident(doctor), Role.DOCTOR)
    assert (result.name, result.avatar_url) == ("Dr Wang", "https://cdn.example/dr-wang.png")


def test_an_unknown_phone_and_a_wrong_password_are_refused_alike(
    accounts: AccountService, patient: Patient
) -> None:
    with pytest.raises(Unauthenticated) as unknown:
        accounts.login("13700000000", PASSWORD, Role.PATIENT)
    with pytest.raises(Unauthenticated) as wrong:
        accounts.login(PHONE, PASSWORD + "!", Role.PATIENT)
    with pytest.raises(Unauthenticated) as other_role:
        accounts.login(PHONE, PASSWORD, Role.DOCTOR)

    assert str(unknown.value) == str(wrong.value) == str(other_role.value)
    assert unknown.value.code == wrong.value.code == "unauthenticated"


def test_the_password_is_verified_even_for_an_unknown_phone(
    accounts: AccountService, hasher: FakeHasher
) -> None:
    with pytest.raises(Unauthenticated):
        accounts.login("13700000000", PASSWORD, Role.PATIENT)

    assert [password for _, password in hasher.verified] == [PASSWORD]


def test_an_unknown_phone_costs_a_real_argon2_verification(
    store: MemoryStore, clock: ManualClock, tokens: FakeTokens
) -> None:
    # A refusal that skips the hashing work answers faster and tells which phones are registered.
    hasher = SpyArgon2Hasher()
    accounts = AccountService(store.unit_of_work, clock, hasher, tokens, MemoryThrottle())

    with pytest.raises(Unauthenticated):
        accounts.login("13700000000", PASSWORD, Role.PATIENT)

    [dummy] = hasher.verified_against
    assert dummy.startswith("$argon2id$")
    assert not hasher.needs_rehash(dummy), "a hash of the current parameters costs the same"


def test_logins_work_with_the_real_argon2_hasher(
    store: MemoryStore, clock: ManualClock, tokens: FakeTokens
) -> None:
    hasher = SpyArgon2Hasher()
    accounts = AccountService(store.unit_of_work, clock, hasher, tokens, MemoryThrottle())
    patient = accounts.register_patient(PHONE, "Wang Fang", PASSWORD)

    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)
    with pytest.raises(Unauthenticated):
        accounts.login(PHONE, PASSWORD.upper(), Role.PATIENT)
    credential = stored_credential(store, Role.PATIENT, PHONE)
    assert credential is not None
    assert credential.password_hash.startswith("$argon2id$")
    assert PASSWORD not in credential.password_hash


def test_after_five_failures_the_phone_may_try_once_every_three_minutes(
    accounts: AccountService, hasher: FakeHasher, clock: ManualClock, patient: Patient
) -> None:
    fail_logins(accounts, 5)
    checks = len(hasher.verified)

    with pytest.raises(TooManyAttempts) as caught:
        accounts.login(PHONE, PASSWORD, Role.PATIENT)

    assert caught.value.code == "too_many_attempts"
    assert caught.value.retry_after == INTERVAL.total_seconds()
    assert len(hasher.verified) == checks, "a blocked login does not check the password"
    clock.advance(INTERVAL)
    fail_logins(accounts, 1)
    with pytest.raises(TooManyAttempts):
        accounts.login(PHONE, PASSWORD, Role.PATIENT)
    clock.advance(INTERVAL)
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)


def test_four_failures_do_not_block(accounts: AccountService, patient: Patient) -> None:
    fail_logins(accounts, 4)

    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)


def test_a_successful_login_resets_the_failures(accounts: AccountService, patient: Patient) -> None:
    fail_logins(accounts, 4)
    accounts.login(PHONE, PASSWORD, Role.PATIENT)
    fail_logins(accounts, 4)

    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)


def test_an_unknown_phone_is_throttled_too(accounts: AccountService) -> None:
    fail_logins(accounts, 5, phone="13700000000")

    with pytest.raises(TooManyAttempts):
        accounts.login("13700000000", PASSWORD, Role.PATIENT)


def test_failures_are_counted_per_phone_and_role(
    accounts: AccountService, patient: Patient
) -> None:
    accounts.register_doctor(PHONE, "Dr Wang", PASSWORD)
    accounts.register_patient("13900000002", "Zhao Lei", PASSWORD)
    fail_logins(accounts, 5)

    assert accounts.login(PHONE, PASSWORD, Role.DOCTOR).name == "Dr Wang"
    assert accounts.login("13900000002", PASSWORD, Role.PATIENT).name == "Zhao Lei"


# --- throttling per client address ---------------------------------------------------------------


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(
    accounts: AccountService, patient: Patient
) -> None:
    fail_logins(accounts, 5, client=ADDRESS_A)
    with pytest.raises(TooManyAttempts):
        accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A)

    owner = accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_B)

    assert owner.actor.id == ident(patient)
    with pytest.raises(TooManyAttempts):  # the guesser's address stays slowed down
        accounts.login(PHONE, "another guess", Role.PATIENT, client=ADDRESS_A)


def test_one_address_spraying_a_password_over_many_phones_is_stopped(
    accounts: AccountService, hasher: FakeHasher, patient: Patient
) -> None:
    phones = [f"137{n:08d}" for n in range(51)]
    for phone in phones[:50]:
        fail_logins(accounts, 1, phone=phone, client=ADDRESS_A)
    checks = len(hasher.verified)

    with pytest.raises(TooManyAttempts) as caught:
        accounts.login(phones[50], "wrong password", Role.PATIENT, client=ADDRESS_A)
    with pytest.raises(TooManyAttempts):
        accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A)

    assert caught.value.retry_after == 18  # 50 per 15 minutes: one every 18 seconds
    assert len(hasher.verified) == checks
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_B).name == "Wang Fang"


def test_a_success_gives_back_its_attempt_but_does_not_clear_the_address(
    accounts: AccountService, patient: Patient
) -> None:
    for n in range(49):
        fail_logins(accounts, 1, phone=f"137{n:08d}", client=ADDRESS_A)
    accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A)
    fail_logins(accounts, 1, phone="13600000000", client=ADDRESS_A)  # the 50th failure

    with pytest.raises(TooManyAttempts):
        accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A)


def test_guessing_one_account_from_many_addresses_is_slowed_after_100_failures(
    accounts: AccountService, clock: ManualClock, patient: Patient
) -> None:
    for n in range(100):
        fail_logins(accounts, 1, client=f"198.51.{n // 250}.{n % 250}")

    with pytest.raises(TooManyAttempts) as caught:
        accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A)

    assert caught.value.retry_after == 15 * 60
    clock.advance(dt.timedelta(minutes=15))
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_A).name == "Wang Fang"
    # The success resets the account's count.
    fail_logins(accounts, 4, client=ADDRESS_B)
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT, client=ADDRESS_B).name == "Wang Fang"


def test_the_addresses_of_one_ipv6_64_count_as_one_client(
    accounts: AccountService, patient: Patient
) -> None:
    for n in range(5):
        fail_logins(accounts, 1, client=f"2001:db8:1:2::{n + 1:x}")

    with pytest.raises(TooManyAttempts):
        accounts.login(PHONE, PASSWORD, Role.PATIENT, client="2001:db8:1:2:ffff::1")
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT, client="2001:db8:1:3::1").name


def test_registrations_from_one_address_are_limited(
    accounts: AccountService, hasher: FakeHasher, clock: ManualClock, patient: Patient
) -> None:
    # Each answer tells whether a phone is taken: probing counts as much as registering.
    for n in range(10):
        with pytest.raises(PhoneTaken):
            accounts.register_patient(PHONE, "Prober", PASSWORD, client=ADDRESS_A)
        accounts.register_doctor(f"136{n:08d}", "Dr Li", PASSWORD, client=ADDRESS_A)
    hashed = len(hasher.hashed)

    with pytest.raises(TooManyAttempts) as caught:
        accounts.register_patient("13500000000", "Zhao Lei", PASSWORD, client=ADDRESS_A)
    with pytest.raises(TooManyAttempts):
        accounts.register_doctor("13500000001", "Dr Zhao", PASSWORD, client=ADDRESS_A)

    assert caught.value.retry_after == 3 * 60  # 20 an hour: one every 3 minutes
    assert len(hasher.hashed) == hashed, "a refused registration costs no hashing"
    assert accounts.register_patient("13500000000", "Zhao Lei", PASSWORD, client=ADDRESS_B).id
    clock.advance(dt.timedelta(minutes=3))
    assert accounts.register_patient("13500000002", "Qian Yu", PASSWORD, client=ADDRESS_A).id


def test_registrations_by_a_library_caller_are_not_limited(accounts: AccountService) -> None:
    for n in range(30):
        accounts.register_patient(f"136{n:08d}", "Imported Patient", PASSWORD)


def test_a_hash_made_with_old_parameters_is_replaced_at_login(
    store: MemoryStore, accounts: AccountService, hasher: FakeHasher, patient: Patient
) -> None:
    hasher.generation = 2

    accounts.login(PHONE, PASSWORD, Role.PATIENT)

    credential = stored_credential(store, Role.PATIENT, PHONE)
    assert credential is not None
    assert credential.password_hash == f"fake:2:{PASSWORD}"
    assert accounts.login(PHONE, PASSWORD, Role.PATIENT).actor.id == ident(patient)


def test_a_current_hash_is_left_alone_at_login(
    store: MemoryStore, accounts: AccountService, hasher: FakeHasher, patient: Patient
) -> None:
    accounts.login(PHONE, PASSWORD, Role.PATIENT)

    assert hasher.hashed == [PASSWORD]  # only the registration's
    credential = stored_credential(store, Role.PATIENT, PHONE)
    assert credential is not None and credential.password_hash == f"fake:1:{PASSWORD}"


def test_a_failed_login_does_not_rehash(
    store: MemoryStore, accounts: AccountService, hasher: FakeHasher, patient: Patient
) -> None:
    hasher.generation = 2

    fail_logins(accounts, 1)

    credential = stored_credential(store, Role.PATIENT, PHONE)
    assert credential is not None and credential.password_hash == f"fake:1:{PASSWORD}"


# --- authentication ------------------------------------------------------------------------------


def test_a_valid_token_authenticates_its_actor(accounts: AccountService, patient: Patient) -> None:
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token

    assert accounts.authenticate(token) == Actor(ident(patient), Role.PATIENT)


def test_an_unknown_token_is_refused(accounts: AccountService) -> None:
    with pytest.raises(Unauthenticated):
        accounts.authenticate("forged")


def test_a_token_for_a_credential_that_no_longer_exists_is_refused(
    store: MemoryStore, accounts: AccountService, patient: Patient
) -> None:
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token
    with store.unit_of_work() as uow:
        credential = uow.credentials.find(Role.PATIENT, PHONE)
        assert credential is not None
        del uow.credentials.rows[credential.id]
        uow.commit()

    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def _delete_login(store: MemoryStore, role: Role, phone: str) -> None:
    with store.unit_of_work() as uow:
        credential = uow.credentials.find(role, phone)
        assert credential is not None
        del uow.credentials.rows[credential.id]
        uow.commit()


def test_a_login_deleted_after_use_loses_access_within_the_cache_interval(
    store: MemoryStore, accounts: AccountService, clock: ManualClock, patient: Patient
) -> None:
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token
    accounts.authenticate(token)  # remembered from here
    _delete_login(store, Role.PATIENT, PHONE)

    clock.advance(dt.timedelta(seconds=LOGIN_CACHE_SECONDS - 0.5))
    assert accounts.authenticate(token) == Actor(ident(patient), Role.PATIENT)
    clock.advance(dt.timedelta(seconds=0.5))
    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def test_forgetting_logins_makes_a_deletion_count_at_once(
    store: MemoryStore, accounts: AccountService, patient: Patient
) -> None:
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token
    accounts.authenticate(token)
    _delete_login(store, Role.PATIENT, PHONE)

    accounts.forget_logins()

    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def test_the_login_cache_asks_the_database_once_per_interval(
    store: MemoryStore, clock: ManualClock, hasher: FakeHasher, tokens: FakeTokens
) -> None:
    asked = []

    def counting_uow() -> Any:
        uow = store.unit_of_work()
        actor = uow.credentials.actor

        def spy(role: Role, user_id: int) -> Actor | None:
            asked.append((role, user_id))
            return actor(role, user_id)

        uow.credentials.actor = spy  # type: ignore[method-assign]
        return uow

    accounts = AccountService(counting_uow, clock, hasher, tokens, MemoryThrottle())
    patient = accounts.register_patient(PHONE, "Wang Fang", PASSWORD)
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token

    for _ in range(3):
        accounts.authenticate(token)
    clock.advance(dt.timedelta(seconds=LOGIN_CACHE_SECONDS))
    accounts.authenticate(token)

    assert asked == [(Role.PATIENT, ident(patient))] * 2


def test_without_a_login_cache_every_request_asks_the_database(
    store: MemoryStore, clock: ManualClock, hasher: FakeHasher, tokens: FakeTokens
) -> None:
    accounts = AccountService(
        store.unit_of_work, clock, hasher, tokens, MemoryThrottle(), login_cache_seconds=0
    )
    accounts.register_patient(PHONE, "Wang Fang", PASSWORD)
    token = accounts.login(PHONE, PASSWORD, Role.PATIENT).token
    accounts.authenticate(token)
    _delete_login(store, Role.PATIENT, PHONE)

    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


def test_a_token_for_another_role_of_the_same_id_is_refused(
    accounts: AccountService, tokens: FakeTokens, patient: Patient
) -> None:
    token = tokens.issue(Actor(ident(patient), Role.DOCTOR), NOW)

    with pytest.raises(Unauthenticated):
        accounts.authenticate(token)


# --- the caller ----------------------------------------------------------------------------------


def test_a_patient_sees_their_own_profile(
    accounts: AccountService, patient: Patient, patient_actor: Actor
) -> None:
    profile = accounts.me(patient_actor)

    assert (profile.actor, profile.name, profile.phone) == (patient_actor, "Wang Fang", PHONE)
    assert profile.patient == patient
    assert (profile.doctor, profile.admin) == (None, None)


def test_a_doctor_sees_their_own_profile(accounts: AccountService) -> None:
    doctor = accounts.register_doctor(PHONE, "Dr Wang", PASSWORD)
    actor = Actor(ident(doctor), Role.DOCTOR)

    profile = accounts.me(actor)

    assert (profile.actor, profile.name, profile.phone) == (actor, "Dr Wang", PHONE)
    assert profile.doctor == doctor and profile.doctor.verified is False
    assert (profile.patient, profile.admin) == (None, None)


def test_an_admin_sees_their_own_profile_with_their_hospital(
    accounts: AccountService, hospital: Hospital
) -> None:
    admin = accounts.create_admin(ident(hospital), PHONE, "Admin Chen", PASSWORD)

    profile = accounts.me(Actor(ident(admin), Role.ADMIN, ident(hospital)))

    assert profile.actor == Actor(ident(admin), Role.ADMIN, ident(hospital))
    assert (profile.name, profile.phone, profile.admin) == ("Admin Chen", PHONE, admin)
    assert isinstance(profile.admin, Admin) and profile.admin.hospital_id == ident(hospital)


def test_the_profile_of_a_vanished_account_is_unauthenticated(accounts: AccountService) -> None:
    with pytest.raises(Unauthenticated):
        accounts.me(Actor(404, Role.PATIENT))


# --- identity ------------------------------------------------------------------------------------


def test_a_patient_verifies_their_identity(
    store: MemoryStore, accounts: AccountService, patient: Patient, patient_actor: Actor
) -> None:
    returned = accounts.verify_identity(patient_actor, "  王芳 ", ID_NUMBER).patient

    stored = stored_patient(store, ident(patient))
    assert returned.birth_date == stored.birth_date == dt.date(1949, 12, 31)
    assert stored.sex is Sex.FEMALE
    assert stored.id_number_last4 == "002X"
    assert stored.legal_name == "王芳"
    assert stored.name == "Wang Fang"  # the display name stays
    assert stored.identity_verified


def test_the_full_identity_number_is_never_stored(
    store: MemoryStore, accounts: AccountService, patient: Patient, patient_actor: Actor
) -> None:
    accounts.verify_identity(patient_actor, "Wang Fang", ID_NUMBER)

    stored = stored_patient(store, ident(patient))
    for name, value in attrs.asdict(stored, recurse=True).items():
        assert ID_NUMBER not in str(value), name
    assert ID_NUMBER not in repr(store.tables)


def test_a_lowercase_check_character_and_a_man(
    store: MemoryStore, accounts: AccountService, patient: Patient, patient_actor: Actor
) -> None:
    accounts.verify_identity(patient_actor, "Wang Fang", MALE_ID_NUMBER.lower())

    stored = stored_patient(store, ident(patient))
    assert (stored.birth_date, stored.sex) == (dt.date(1990, 3, 7), Sex.MALE)
    assert stored.id_number_last4 == "123X"


@pytest.mark.parametrize(
    "id_number", ["110105194912310021", "11010519491231002", "11010519491331002X", ""]
)
def test_an_invalid_identity_number_is_refused_naming_the_field(
    store: MemoryStore,
    accounts: AccountService,
    patient: Patient,
    patient_actor: Actor,
    id_number: str,
) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        accounts.verify_identity(patient_actor, "Wang Fang", id_number)

    assert caught.value.field == "id_number"
    assert caught.value.code == "invalid_id_number"
    assert not stored_patient(store, ident(patient)).identity_verified


@pytest.mark.parametrize("name", ["", "   ", "x" * 51])
def test_the_legal_name_must_be_given(
    store: MemoryStore, accounts: AccountService, patient: Patient, patient_actor: Actor, name: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        accounts.verify_identity(patient_actor, name, ID_NUMBER)

    assert caught.value.field == "name"
    assert stored_patient(store, ident(patient)).legal_name is None


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.ADMIN])
def test_only_a_patient_verifies_an_identity(
    store: MemoryStore, accounts: AccountService, patient: Patient, role: Role
) -> None:
    with pytest.raises(Forbidden):
        accounts.verify_identity(Actor(ident(patient), role, 1), "Wang Fang", ID_NUMBER)

    assert not stored_patient(store, ident(patient)).identity_verified


# --- doctor approval -----------------------------------------------------------------------------


@pytest.fixture
def applicant(directory: DirectoryService, hospital: Hospital, department: Department) -> Doctor:
    """A registered doctor who chose the hospital's cardiology department: awaiting approval."""
    return directory.add_doctor(ident(hospital), ident(department), name="Dr Li", phone=PHONE)


@pytest.fixture
def admin(accounts: AccountService, hospital: Hospital) -> Actor:
    created = accounts.create_admin(ident(hospital), "13600000001", "Admin Chen", PASSWORD)
    return Actor(ident(created), Role.ADMIN, ident(hospital))


def test_the_hospitals_admin_approves_and_withdraws_a_doctor(
    store: MemoryStore, accounts: AccountService, applicant: Doctor, admin: Actor
) -> None:
    approved = accounts.approve_doctor(admin, ident(applicant), True)

    assert approved.verified and stored_doctor(store, ident(applicant)).verified
    accounts.approve_doctor(admin, ident(applicant), False)
    assert not stored_doctor(store, ident(applicant)).verified


def test_another_hospitals_admin_does_not_find_the_doctor(
    store: MemoryStore, accounts: AccountService, directory: DirectoryService, applicant: Doctor
) -> None:
    other = directory.add_hospital("Huashan Hospital")
    stranger = Actor(777, Role.ADMIN, ident(other))

    with pytest.raises(DoctorNotFound):
        accounts.approve_doctor(stranger, ident(applicant), True)

    assert not stored_doctor(store, ident(applicant)).verified


@pytest.mark.parametrize("role", [Role.PATIENT, Role.DOCTOR])
def test_only_an_admin_approves_a_doctor(
    store: MemoryStore, accounts: AccountService, applicant: Doctor, role: Role
) -> None:
    with pytest.raises(Forbidden):
        accounts.approve_doctor(Actor(ident(applicant), role), ident(applicant), True)

    assert not stored_doctor(store, ident(applicant)).verified


def test_a_patient_is_refused_whether_or_not_the_doctor_exists(accounts: AccountService) -> None:
    # Otherwise 403 and 404 tell a patient which unverified doctors exist.
    with pytest.raises(Forbidden):
        accounts.approve_doctor(Actor(1, Role.PATIENT), 404, True)


def test_a_doctor_in_no_hospital_is_not_found_by_an_admin(
    store: MemoryStore, accounts: AccountService, admin: Actor
) -> None:
    loner = accounts.register_doctor("13900000009", "Dr Zhao", PASSWORD)

    with pytest.raises(DoctorNotFound):
        accounts.approve_doctor(admin, ident(loner), True)

    assert not stored_doctor(store, ident(loner)).verified


def test_an_unknown_doctor_is_not_found(accounts: AccountService, admin: Actor) -> None:
    with pytest.raises(DoctorNotFound):
        accounts.approve_doctor(admin, 404, True)
