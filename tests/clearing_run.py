"""Running a generated year through the settlement service and the clearing commands, and the
independent oracle the clearing tests compare with: the same figures computed from the
settlements.v1 answers and the payer's data alone (no code of engine.clearing.periods or
year_end), so a bug in the clearing cannot agree with itself."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from clearing_year import CHINA

# How the SAMPLE registry (policies/payer/640000/registry/institutions.csv) pays each hospital:
# written here, not read through the code under test.
METHOD = {"H64010100001": "drg", "H64010100002": "dip", "H64010100005": "item", "H64010100003": "item"}
BOOK = {"310": "310100", "390": "390100"}


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen(yuan: str) -> int:
    return int(Decimal(yuan) * 100)


@dataclass
class Oracle:
    """Per (institution, fund book): the month (by the answer's time) of each DRG/DIP case's
    item-level basic-fund payment, and each case's DIP points and what others paid."""

    settled: dict[str, dict[str, Any]] = field(default_factory=dict)  # setl_id → answer
    month_of: dict[str, int] = field(default_factory=dict)
    reversed_in: dict[str, int] = field(default_factory=dict)  # setl_id → month of its reversal

    def take(self, answers: Iterable[Mapping[str, Any]]) -> None:
        for a in answers:
            month = datetime.fromisoformat(a["occurred_at"]).astimezone(CHINA).month
            if a["msg_type"] == "settlement":
                self.settled[a["setl_id"]] = dict(a)
                self.month_of[a["setl_id"]] = month
            elif a["msg_type"] == "reversal_result":
                self.reversed_in[a["reversed_setl_id"]] = month

    def _cases(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for setl_id, a in self.settled.items():
            if a["case_payment"] is not None and METHOD[a["fixmedins_code"]] in ("drg", "dip"):
                yield setl_id, a

    def prepay(self, month: int, ratio: Decimal = Decimal("0.9")) -> dict[tuple[str, str], int]:
        """0.9 × Σ hifp_pay of the month's DRG/DIP cases, net of the month's reversals."""
        base: dict[tuple[str, str], int] = defaultdict(int)
        for setl_id, a in self._cases():
            key = (a["fixmedins_code"], BOOK[a["insutype"]])
            if self.month_of[setl_id] == month:
                base[key] += fen(a["setlinfo"]["hifp_pay"])
            if self.reversed_in.get(setl_id) == month:
                base[key] -= fen(a["setlinfo"]["hifp_pay"])
        return {k: half_up(Decimal(v) * ratio) for k, v in base.items()}

    def dip_dues(self, budgets: Mapping[str, int]) -> tuple[dict[str, Decimal], dict[tuple[str, str], int]]:
        """The year-end point value per book and each DIP institution's due, from the answers:
        points from case_payment, others' share = medfee − hifp_pay."""
        points: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        others: dict[tuple[str, str], int] = defaultdict(int)
        for setl_id, a in self._cases():
            case = a["case_payment"]
            if setl_id in self.reversed_in or case["method"] != "dip" or case["points"] is None:
                continue
            key = (a["fixmedins_code"], BOOK[a["insutype"]])
            points[key] += Decimal(case["points"])
            others[key] += fen(a["setlinfo"]["medfee_sumamt"]) - fen(a["setlinfo"]["hifp_pay"])
        values = {}
        for book, budget in budgets.items():
            total_points = sum((p for (c, b), p in points.items() if b == book), Decimal(0))
            total_others = sum(o for (c, b), o in others.items() if b == book)
            if total_points:
                values[book] = (Decimal(budget) + total_others) / total_points
        dues = {k: half_up(points[k] * values[k[1]] - others[k]) for k in points if k[1] in values}
        return values, dues


def answers_of(replies: Iterable[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.model_dump_json()) for r in replies]
