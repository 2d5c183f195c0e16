"""The resident identity number check (GB 11643-1999): check character, birth date, sex, age."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medbook.domain.accounts.identity import ResidentId, check_resident_id
from medbook.domain.shared.errors import InvalidIdNumber, InvalidValue
from medbook.domain.shared.people import Sex

TODAY = dt.date(2026, 11, 25)
#: The example printed in the standard itself: a woman born on 31 December 1949.
STANDARD_EXAMPLE = "11010519491231002X"


def id_number(birth_date: dt.date, sequence: str = "123", region: str = "310104") -> str:
    """A valid number for that birth date, sequence and region."""
    return completed(f"{region}{birth_date:%Y%m%d}{sequence}")


def completed(first17: str) -> str:
    """``first17`` and its check character, computed here independently of medbook."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # ISO 7064 MOD 11-2: 7, 9, 10, 5, 8, ...
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    return first17 + "10X98765432"[remainder]


def with_check(number: str, check: str) -> str:
    return number[:17] + check


def age_by_counting_birthdays(born: dt.date, today: dt.date) -> int:
    """Whole years, counted one birthday at a time; 29 February falls on 1 March in common years."""

    def birthday(year: int) -> dt.date:
        try:
            return born.replace(year=year)
        except ValueError:
            return dt.date(year, 3, 1)

    return sum(1 for year in range(born.year + 1, today.year + 1) if birthday(year) <= today)


def test_the_example_of_the_standard_is_accepted() -> None:
    assert check_resident_id(STANDARD_EXAMPLE, TODAY) == ResidentId(
        birth_date=dt.date(1949, 12, 31), sex=Sex.FEMALE, age=76, last4="002X"
    )


def test_a_lowercase_x_is_accepted_and_normalised() -> None:
    resident = check_resident_id(STANDARD_EXAMPLE.lower(), TODAY)

    assert resident.last4 == "002X"


def test_the_test_helper_agrees_with_the_standard() -> None:
    assert id_number(dt.date(1949, 12, 31), "002", region="110105") == STANDARD_EXAMPLE


@pytest.mark.parametrize("check", ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"])
def test_every_check_character_is_reachable(check: str) -> None:
    # Search the sequences of one birth date for a number ending in ``check``.
    number = next(
        n
        for n in (id_number(dt.date(1990, 5, 17), f"{s:03}") for s in range(1000))
        if n.endswith(check)
    )

    assert check_resident_id(number, TODAY).last4.endswith(check)


def test_every_wrong_check_character_is_refused() -> None:
    number = id_number(dt.date(1990, 5, 17))
    for check in "0123456789X":
        if check != number[17]:
            with pytest.raises(InvalidIdNumber, match="check character"):
                check_resident_id(with_check(number, check), TODAY)


def test_a_swapped_pair_of_digits_is_caught() -> None:
    number = id_number(dt.date(1990, 5, 17), "123")
    swapped = number[:14] + "213" + number[17]

    with pytest.raises(InvalidIdNumber, match="check character"):
        check_resident_id(swapped, TODAY)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "1",
        STANDARD_EXAMPLE[:17],
        STANDARD_EXAMPLE + "0",
        "110105491231002",
        " " + STANDARD_EXAMPLE,
    ],
)
def test_a_number_of_the_wrong_length_is_refused(number: str) -> None:
    with pytest.raises(InvalidIdNumber, match="exactly 18 characters"):
        check_resident_id(number, TODAY)


@pytest.mark.parametrize(
    "number",
    [
        "A1010519491231002X",  # a letter
        "1101051949123100X2",  # X anywhere but last
        "11010519491231 02X",  # a space
        "-1010519491231002X",  # a sign
        "\uff111010519491231002X",  # a fullwidth digit one
        "\u06611010519491231002X",  # an Arabic-Indic digit one
        "\u00b91010519491231002X",  # a superscript one
    ],
)
def test_anything_but_ascii_digits_in_the_first_17_is_refused(number: str) -> None:
    assert len(number) == 18

    with pytest.raises(InvalidIdNumber, match="digits 0-9"):
        check_resident_id(number, TODAY)


# Among them a fullwidth X, a fullwidth 9 and a sharp s (which uppercases to two letters).
@pytest.mark.parametrize("check", ["Y", "\uff38", "\uff19", " ", "\u00df", "*"])
def test_a_last_character_other_than_a_digit_or_x_is_refused(check: str) -> None:
    with pytest.raises(InvalidIdNumber, match="digit 0-9 or X"):
        check_resident_id(with_check(STANDARD_EXAMPLE, check), TODAY)


@pytest.mark.parametrize("digits", ["19900230", "19900431", "19901301", "19900001", "19900100"])
def test_an_impossible_birth_date_is_refused(digits: str) -> None:
    with pytest.raises(InvalidIdNumber, match="not a real date"):
        check_resident_id(completed(f"310104{digits}123"), TODAY)


def test_the_29th_of_february_exists_only_in_leap_years() -> None:
    assert check_resident_id(id_number(dt.date(2000, 2, 29)), TODAY).birth_date.day == 29
    with pytest.raises(InvalidIdNumber, match="not a real date"):
        check_resident_id(completed("31010419000229123"), TODAY)


def test_a_birth_date_after_today_is_refused() -> None:
    with pytest.raises(InvalidIdNumber, match="future"):
        check_resident_id(id_number(TODAY + dt.timedelta(days=1)), TODAY)


def test_someone_born_today_is_accepted_at_age_zero() -> None:
    assert check_resident_id(id_number(TODAY), TODAY).age == 0


def test_a_birth_date_before_1900_is_refused() -> None:
    assert check_resident_id(id_number(dt.date(1900, 1, 1)), TODAY).age == 126
    with pytest.raises(InvalidIdNumber, match="before 1900"):
        check_resident_id(id_number(dt.date(1899, 12, 31)), TODAY)


@pytest.mark.parametrize(
    ("sequence", "sex"),
    [("000", Sex.FEMALE), ("001", Sex.MALE), ("998", Sex.FEMALE), ("999", Sex.MALE)],
)
def test_the_17th_digit_gives_the_sex(sequence: str, sex: Sex) -> None:
    assert check_resident_id(id_number(dt.date(1990, 5, 17), sequence), TODAY).sex is sex


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (dt.date(1990, 5, 17), dt.date(2026, 5, 16), 35),  # the day before the birthday
        (dt.date(1990, 5, 17), dt.date(2026, 5, 17), 36),  # on the birthday
        (dt.date(1990, 12, 31), dt.date(2026, 1, 1), 35),
        (dt.date(1990, 1, 1), dt.date(2025, 12, 31), 35),
        (dt.date(2000, 2, 29), dt.date(2025, 2, 28), 24),  # not yet: 29 February has not passed
        (dt.date(2000, 2, 29), dt.date(2025, 3, 1), 25),
        (dt.date(2000, 2, 29), dt.date(2028, 2, 28), 27),
        (dt.date(2000, 2, 29), dt.date(2028, 2, 29), 28),  # a leap year: the day itself
        (dt.date(2000, 3, 1), dt.date(2028, 2, 29), 27),
        (dt.date(2026, 11, 24), dt.date(2026, 11, 25), 0),
    ],
)
def test_age_is_counted_in_whole_years(born: dt.date, today: dt.date, age: int) -> None:
    assert check_resident_id(id_number(born), today).age == age


def test_the_error_names_the_field_and_does_not_repeat_the_number() -> None:
    with pytest.raises(InvalidValue) as raised:
        check_resident_id(with_check(STANDARD_EXAMPLE, "1"), TODAY)

    assert raised.value.field == "id_number"
    assert raised.value.code == "invalid_id_number"
    assert STANDARD_EXAMPLE[:17] not in str(raised.value)


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    sequence=st.integers(0, 999).map(lambda n: f"{n:03}"),
    region=st.integers(110000, 829999).map(str),
    lowercase=st.booleans(),
)
def test_every_well_formed_number_is_accepted_and_tells_its_birth_date_and_sex(
    born: dt.date, sequence: str, region: str, lowercase: bool
) -> None:
    number = id_number(born, sequence, region)
    resident = check_resident_id(number.lower() if lowercase else number, TODAY)

    assert resident.birth_date == born
    assert resident.sex is (Sex.MALE if int(sequence[2]) % 2 else Sex.FEMALE)
    assert resident.last4 == number[14:]
    assert resident.age == age_by_counting_birthdays(born, TODAY)


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    position=st.integers(0, 16),
    delta=st.integers(1, 9),
)
def test_changing_any_one_digit_is_caught(born: dt.date, position: int, delta: int) -> None:
    number = id_number(born)
    digit = str((int(number[position]) + delta) % 10)
    changed = number[:position] + digit + number[position + 1 :]

    # MOD 11-2 catches every single wrong digit, before the birth date is even looked at.
    with pytest.raises(InvalidIdNumber, match="check character"):
        check_resident_id(changed, TODAY)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), st.dates(max_value=TODAY))
def test_age_matches_counting_birthdays(born: dt.date, today: dt.date) -> None:
    if today >= born:
        assert check_resident_id(id_number(born), today).age == age_by_counting_birthdays(
            born, today
        )
