"""The platform's fee on an order, and the provider's payout.

Rounding rule (named ``HALF_UP_FEE``): the fee is the exact share of the total in cents, rounded
half up to a whole cent, computed in integers (no float ever); the provider's payout is the rest.
So fee + payout == total always, the fee is within half a cent of the exact share, and neither
ever decreases when the total grows.
"""

from __future__ import annotations

from attrs import field, frozen

from medbook.domain.shared.money import Money

#: Basis points (hundredths of a percent) in a whole.
WHOLE = 10_000


def _basis_points(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= WHOLE:
        raise ValueError(f"the fee rate is 0 to {WHOLE} basis points")
    return value


@frozen
class Split:
    """What an order's total comes to: the platform's fee and the provider's payout."""

    total: Money
    platform_fee: Money
    provider_payout: Money


@frozen
class FeePolicy:
    """The platform keeps ``rate_basis_points`` of each total (default 500: 5%)."""

    rate_basis_points: int = field(default=500, converter=_basis_points)

    def split(self, total: Money) -> Split:
        # Half up: add half a cent's worth of basis points before the integer division.
        fee = (total.cents * self.rate_basis_points + WHOLE // 2) // WHOLE
        platform_fee = Money(fee, total.currency)
        return Split(total, platform_fee, total - platform_fee)
