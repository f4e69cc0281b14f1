"""Each uploaded fee line priced by the payer's catalogue in force on the day.

The seam to the engine's item stage: the catalogue and its rules are the engine's (one
catalogue, one pricing, the same at upload and at settlement); this module only asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.visit_events import LinePricing
from engine.visit_stream import VisitState
from settlement.gateway.context import Context
from settlement.gateway.fields import NationalRefusal
from settlement.gateway.lines import SentLine


async def price_lines(context: Context, state: VisitState, lines: Sequence[SentLine]) -> list[LinePricing]:
    raise NationalRefusal("fee lines cannot be priced yet: the payer's catalogue is not loaded in this build")
