"""Family-doctor contracts over HTTP: sign, list ("my doctors" / "my patients"), end."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from attrs import frozen

from medbook.domain.contracts.model import ContractStatus
from medbook.domain.shared.actors import Role
from medbook.entrypoints.http.api import Call, Operation, Route
from medbook.ports.contracts import ContractView

if TYPE_CHECKING:
    from medbook.bootstrap import Services

# --- commands and queries ------------------------------------------------------------------------


@frozen
class NewContract:
    doctor_id: int


@frozen
class ContractsQuery:
    #: With ``true``, ended contracts too (the history).
    include_ended: bool = False


# --- views ---------------------------------------------------------------------------------------


@frozen
class ContractOut:
    id: int
    status: ContractStatus
    patient_id: int
    patient_name: str | None
    doctor_id: int
    doctor_name: str
    hospital: str | None
    department: str | None
    signed_at: dt.datetime
    ended_at: dt.datetime | None
    ended_by: Role | None

    @classmethod
    def of(cls, view: ContractView) -> ContractOut:
        c = view.contract
        assert c.id is not None
        return cls(
            c.id,
            c.status,
            c.patient_id,
            view.patient_name,
            c.doctor_id,
            view.doctor_name,
            view.hospital,
            view.department,
            c.signed_at,
            c.ended_at,
            c.ended_by,
        )


# --- handlers ------------------------------------------------------------------------------------


def sign(s: Services, c: Call[NewContract, None]) -> ContractOut:
    return ContractOut.of(s.contracts.sign_as(c.me, c.body.doctor_id))


def my_contracts(s: Services, c: Call[None, ContractsQuery]) -> list[ContractOut]:
    found = s.contracts.contracts_as(c.me, active_only=not c.query.include_ended)
    return [ContractOut.of(v) for v in found]


def end(s: Services, c: Call[None, None]) -> ContractOut:
    return ContractOut.of(s.contracts.end_as(c.me, c.params["contract_id"]))


# --- routes --------------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/contracts",
        {
            "POST": Operation(
                sign,
                "A patient signs a verified doctor as their family doctor",
                body=NewContract,
                status=201,
                response=ContractOut,
                errors=(403, 404, 409),
                description="409 `already_signed` while the two have an active contract. The "
                "doctor gets a `contract_signed` notification; the two may then chat, and the "
                "doctor may read the patient's vital signs.",
            ),
            "GET": Operation(
                my_contracts,
                "A patient's family doctors, or a doctor's patients (active contracts)",
                query=ContractsQuery,
                response=list[ContractOut],
                errors=(403,),
            ),
        },
        "contracts",
    ),
    Route(
        "/v1/contracts/{contract_id:id}/end",
        {
            "POST": Operation(
                end,
                "Either party ends the contract; the other is told",
                response=ContractOut,
                errors=(403, 404, 409),
                description="404 for anyone but its two parties; 409 `contract_not_active` "
                "once it has ended.",
            )
        },
        "contracts",
    ),
)
