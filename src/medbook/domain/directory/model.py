"""The hospital directory: hospital → department → doctor."""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from typing import Any

from attrs import define, field

from medbook.domain.shared.calendar import WeeklySchedule
from medbook.domain.shared.entity import Entity
from medbook.domain.shared.errors import DepartmentMismatch, InvalidValue
from medbook.domain.shared.geo import GeoPoint
from medbook.domain.shared.people import Sex
from medbook.domain.shared.text import (
    ADDRESS,
    DEPARTMENT_NAME,
    DESCRIPTION,
    HOSPITAL_NAME,
    PERSON_NAME,
    SPECIALTY,
    STAFF_NUMBER,
    TextRule,
    ensure_mobile,
    nfc,
    nfc_or_none,
)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def _text(rule: TextRule, name: str, default: str) -> Any:
    """An attrs field of optional free text: normalised to NFC, checked by ``rule``."""
    return field(default=default, converter=nfc, validator=rule.validator(name))


def _timezone(instance: object, attribute: object, value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("timezone", f"unknown time zone {value!r}") from None


@define(slots=False, eq=False)
class Hospital(Entity):
    name: str = field(converter=nfc, validator=HOSPITAL_NAME.validator("name"))
    address: str = _text(ADDRESS, "address", default="")
    location: GeoPoint | None = None
    timezone: str = field(default=DEFAULT_TIMEZONE, validator=_timezone)
    id: int | None = None

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@define(slots=False, eq=False)
class Department(Entity):
    hospital_id: int
    name: str = field(converter=nfc, validator=DEPARTMENT_NAME.validator("name"))
    description: str = _text(DESCRIPTION, "description", default="")
    id: int | None = None


class Rank(enum.Enum):
    """Clinical title, lowest first."""

    RESIDENT = "resident"
    ATTENDING = "attending"
    ASSOCIATE_CHIEF = "associate_chief"
    CHIEF = "chief"


#: What a hospital checks before approving a doctor: changing any of it needs a new approval (and
#: so does moving to another hospital, see ``Doctor.move_to``).
QUALIFICATIONS = frozenset({"rank", "staff_number"})


@define(slots=False, eq=False)
class Doctor(Entity):
    """A doctor of one hospital and one of its departments, with the weekly schedule they keep.

    Unverified doctors are neither listed nor bookable until their hospital's admin approves them.
    """

    hospital_id: int | None
    department_id: int | None
    name: str = field(converter=nfc, validator=PERSON_NAME.validator("name"))
    phone: str = field(validator=lambda i, a, v: ensure_mobile(v))
    rank: Rank = Rank.RESIDENT
    gender: Sex | None = None
    staff_number: str | None = field(
        default=None, converter=nfc_or_none, validator=STAFF_NUMBER.validator("staff_number")
    )
    specialty: str = _text(SPECIALTY, "specialty", default="")
    birth_date: dt.date | None = None
    avatar_url: str | None = None
    avatar_key: str | None = None  # the object-storage key of an uploaded avatar
    schedule: WeeklySchedule = field(factory=WeeklySchedule.off)
    verified: bool = False
    id: int | None = None

    @classmethod
    def join(
        cls,
        hospital: Hospital,
        department: Department,
        *,
        name: str,
        phone: str,
        rank: Rank = Rank.RESIDENT,
        gender: Sex | None = None,
        staff_number: str | None = None,
        specialty: str = "",
        birth_date: dt.date | None = None,
    ) -> Doctor:
        """A doctor joining ``department`` of ``hospital``, unverified; the pair must match."""
        ensure_department_of(hospital, department)
        assert hospital.id is not None and department.id is not None
        return cls(
            hospital.id,
            department.id,
            name=name,
            phone=phone,
            rank=rank,
            gender=gender,
            staff_number=staff_number,
            specialty=specialty,
            birth_date=birth_date,
        )

    def move_to(self, hospital: Hospital, department: Department) -> None:
        """Join another hospital or department; a new hospital must approve the doctor again."""
        ensure_department_of(hospital, department)
        assert hospital.id is not None and department.id is not None
        if hospital.id != self.hospital_id:
            self.verified = False
        self.hospital_id, self.department_id = hospital.id, department.id

    def revise(
        self,
        *,
        gender: Sex | None = None,
        staff_number: str | None = None,
        rank: Rank | None = None,
        specialty: str | None = None,
        birth_date: dt.date | None = None,
    ) -> None:
        """The doctor edits their profile (None keeps a field). A change to what the hospital
        vouches for (``QUALIFICATIONS``: rank, staff number) needs its approval again."""
        changes = {
            "gender": gender,
            "staff_number": staff_number,
            "rank": rank,
            "specialty": specialty,
            "birth_date": birth_date,
        }
        for name, value in changes.items():
            if value is not None and value != getattr(self, name):
                setattr(self, name, value)
                if name in QUALIFICATIONS:
                    self.verified = False

    @classmethod
    def register(cls, *, name: str, phone: str) -> Doctor:
        """A doctor signing up: no hospital yet, unverified until their hospital approves them."""
        return cls(None, None, name=name, phone=phone)

    @property
    def bookable(self) -> bool:
        return self.verified and self.hospital_id is not None


def ensure_department_of(hospital: Hospital, department: Department) -> None:
    """A doctor's department must be one of their hospital's."""
    if department.hospital_id != hospital.id:
        raise DepartmentMismatch()
