"""Fen arithmetic with the one rounding rule of this project.

The rule (docs/money.md): a product of an amount and a ratio is rounded to the fen, half up
(0.5 fen → 1 fen), once, at the step that makes it. Accumulating rules (major illness,
medical aid) round the *cumulative* figure for the year and pay the difference, so the
year's payments never drift from the rounded yearly total.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

Fen = int


def half_up(value: Decimal) -> Fen:
    """Round an exact decimal number of fen to whole fen, half away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def times(amount: Fen, ratio: Decimal) -> Fen:
    """amount × ratio, rounded half up to the fen."""
    return half_up(Decimal(amount) * ratio)


def times_quantity(unit_price: Fen, quantity: Decimal) -> Fen:
    """A unit price in fen × a (possibly fractional) quantity, rounded half up to the fen."""
    return half_up(Decimal(unit_price) * quantity)


def clamp(value: Fen, low: Fen, high: Fen) -> Fen:
    return max(low, min(value, high))
