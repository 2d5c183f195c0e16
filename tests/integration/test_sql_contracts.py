"""Family-doctor contracts on the real databases (SQLite and MariaDB): one active contract per
pair whatever races, and the pair's key freed when a contract ends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, select, update

from medbook.adapters.memory import ManualClock
from medbook.adapters.sql import SqlUnitOfWork
from medbook.adapters.sql.contracts import contracts
from medbook.bootstrap import build_services
from medbook.domain import GeoPoint
from medbook.domain.accounts.model import Patient
from medbook.domain.shared.actors import Actor, Role
from medbook.domain.shared.errors import DomainError


def _world(engine: Engine, clock: ManualClock) -> tuple[object, Actor, Actor]:
    services = build_services(lambda: SqlUnitOfWork(engine), clock)
    hospital = services.directory.add_hospital("Ruijin Hospital", "", GeoPoint(31.2, 121.5))
    department = services.directory.add_department(hospital.id or 0, "General practice")
    doctor = services.directory.add_doctor(
        hospital.id or 0, department.id or 0, name="Dr Li", phone="13900000001"
    )
    services.directory.set_verified(doctor.id or 0, True)
    with SqlUnitOfWork(engine) as uow:
        patient = uow.patients.add(Patient("Wang Fang", "13800000001"))
        uow.commit()
    return services, Actor(patient.id or 0, Role.PATIENT), Actor(doctor.id or 0, Role.DOCTOR)


def test_twenty_signings_of_one_pair_racing_make_one_contract(
    engine_factory: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = engine_factory(pool_size=20, max_overflow=0, pool_timeout=120)
    services, patient, doctor = _world(engine, clock)
    barrier = threading.Barrier(20)

    def sign(_: int) -> str:
        barrier.wait()
        try:
            services.contracts.sign_as(patient, doctor.id)  # type: ignore[attr-defined]
        except DomainError as error:
            return error.code
        return "ok"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = Counter(pool.map(sign, range(20)))

    assert outcomes == {"ok": 1, "already_signed": 19}
    with engine.connect() as connection:
        assert len(connection.execute(select(contracts)).all()) == 1


def test_an_ended_contract_frees_the_pair_and_the_database_refuses_two_active(
    engine: Engine, clock: ManualClock
) -> None:
    services, patient, doctor = _world(engine, clock)
    first = services.contracts.sign_as(patient, doctor.id).contract  # type: ignore[attr-defined]
    services.contracts.end_as(doctor, first.id)  # type: ignore[attr-defined]
    second = services.contracts.sign_as(patient, doctor.id).contract  # type: ignore[attr-defined]
    assert second.id != first.id
    # The key, not the service, keeps it to one: reviving the ended row breaks the check or
    # the unique key.
    with engine.connect() as connection:
        try:
            connection.execute(
                update(contracts)
                .where(contracts.c.id == first.id)
                .values(status="active", ended_at=None, active_patient_id=patient.id)
            )
        except Exception as error:  # noqa: BLE001 - either constraint's error is the point
            assert (
                "uq_contracts_active_pair" in str(error)
                or "UNIQUE" in str(error)
                or ("Duplicate" in str(error))
            ), error
        else:  # pragma: no cover - the assertion says what went wrong
            raise AssertionError("two active contracts for one pair were stored")
