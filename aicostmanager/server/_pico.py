"""Costs as integer pico-dollars (``10**-12`` dollars), the unit the spend rollups sum."""

from __future__ import annotations

from decimal import Decimal

__all__ = ("PICO", "to_pico")

PICO = Decimal(10) ** 12
"""Pico-dollars per dollar."""


def to_pico(cost: str | Decimal) -> int:
    """A cost in dollars as integer pico-dollars (rounded half-even)."""
    if isinstance(cost, str):
        # Plain decimal text with at most 12 decimals (what /track stores) is exact in pico:
        # shift the point in the text rather than through Decimal.
        whole, _, frac = cost.partition(".")
        digits = whole[1:] if whole[:1] == "-" else whole
        if (
            len(frac) <= 12
            and digits.isascii()
            and digits.isdigit()
            and (not frac or (frac.isascii() and frac.isdigit()))
        ):
            return int(whole + frac.ljust(12, "0"))
    return int((Decimal(cost) * PICO).to_integral_value())
