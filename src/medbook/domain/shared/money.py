"""Money: whole cents (fen) of one currency, never a float."""

from __future__ import annotations

from attrs import field, frozen

from medbook.domain.shared.errors import InvalidValue

#: The largest amount medbook handles: ten million yuan, in cents (far beyond any home visit,
#: and far within what every column and JSON number holds exactly).
MAX_CENTS = 1_000_000_000


def _cents(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CENTS:
        raise InvalidValue("amount_cents", f"must be a whole number of cents from 0 to {MAX_CENTS}")
    return value


@frozen(order=True)
class Money:
    """An amount in cents of ``currency`` (CNY: cents are fen)."""

    cents: int = field(converter=_cents)
    currency: str = "CNY"

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + self._same(other).cents, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - self._same(other).cents, self.currency)

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")
        return other

    def __str__(self) -> str:
        return f"{self.currency} {self.cents // 100}.{self.cents % 100:02d}"
