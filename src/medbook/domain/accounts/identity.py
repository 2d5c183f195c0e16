"""The mainland resident identity number (GB 11643-1999) and what it tells about its holder.

Eighteen characters: a six-digit region code, the birth date as ``YYYYMMDD``, a three-digit
sequence whose last digit is odd for men and even for women, and an ISO 7064 MOD 11-2 check
character (``0``-``9`` or ``X``). Only the derived facts are kept; the number itself is not.
"""

from __future__ import annotations

import datetime as dt

from attrs import frozen

from medbook.domain.shared.errors import InvalidIdNumber
from medbook.domain.shared.people import Sex

ID_NUMBER_LENGTH = 18
#: No resident identity number was issued to anyone born earlier.
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: The check character for each remainder of the weighted sum modulo 11.
_CHECK_CHARACTERS = "10X98765432"
# Not str.isdigit(): that also accepts fullwidth, Arabic-Indic and superscript digits.
_ASCII_DIGITS = frozenset("0123456789")


@frozen
class ResidentId:
    """What a checked identity number says: birth date, sex, age on the day it was checked."""

    birth_date: dt.date
    sex: Sex
    age: int
    last4: str


def check_resident_id(id_number: str, today: dt.date) -> ResidentId:
    """The facts in ``id_number``, or ``InvalidIdNumber`` when it is not a possible number.

    A lowercase ``x`` is accepted as the check character. The region code is not checked: the
    list of codes changes, and the check character already catches a mistyped digit.
    """
    number = _normalised(id_number)
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("the check character does not match: a character is mistyped")
    birth_date = _birth_date(number[6:14], today)
    sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
    return ResidentId(birth_date, sex, age_on(birth_date, today), number[14:])


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of an identity number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def age_on(birth_date: dt.date, today: dt.date) -> int:
    """Age in whole years. Someone born on 29 February turns a year older on 1 March of a common
    year, as in Chinese practice: the birthday counts only once the day itself has passed.
    """
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def _normalised(id_number: str) -> str:
    if len(id_number) != ID_NUMBER_LENGTH:
        raise InvalidIdNumber(f"must be exactly {ID_NUMBER_LENGTH} characters")
    number = id_number[:17] + ("X" if id_number[17] == "x" else id_number[17])
    if not set(number[:17]) <= _ASCII_DIGITS:
        raise InvalidIdNumber("the first 17 characters must be the digits 0-9")
    if number[17] not in _ASCII_DIGITS and number[17] != "X":
        raise InvalidIdNumber("the last character must be a digit 0-9 or X")
    return number


def _birth_date(digits: str, today: dt.date) -> dt.date:
    try:
        birth_date = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise InvalidIdNumber("characters 7-14 are not a real date (YYYYMMDD)") from None
    if birth_date > today:
        raise InvalidIdNumber("the birth date lies in the future")
    if birth_date < EARLIEST_BIRTH_DATE:
        raise InvalidIdNumber(f"the birth date lies before {EARLIEST_BIRTH_DATE.year}")
    return birth_date
