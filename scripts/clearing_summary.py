"""The end of `make demo` (docs/clearing.md): one hospital's monthly clearing statement as its
finance office reads it, and the region's DIP point value — a what-if (`ledger reprice
--clearing`, nothing written) with a DIP budget of 95% of what the basic fund paid item by item
for the year's DIP cases (a region's budget is set from such history), since a demo day does not
close a year.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REGION, YEAR = "640000", 2025
BIN = Path(sys.executable).parent


def _busiest(statement: dict[str, Any]) -> tuple[str, int] | None:
    """The DRG/DIP hospital and month with the most cases in the statement."""
    best: tuple[int, str, int] | None = None
    for inst in statement["institutions"]:
        if inst["paymtd"] not in ("drg", "dip"):
            continue
        for book in inst["books"]:
            for month in book["months"]:
                found = (month["cases"], inst["fixmedins_code"], month["month"])
                best = max(best, found) if best else found
    return (best[1], best[2]) if best and best[0] else None


def _budgets(statement: dict[str, Any]) -> list[str]:
    paid: dict[str, Decimal] = {}
    for inst in statement["institutions"]:
        if inst["paymtd"] == "dip":
            for book in inst["books"]:
                item_level = sum((Decimal(m["item_fund"]) for m in book["months"]), Decimal(0))
                paid[book["fund_pay_type"]] = paid.get(book["fund_pay_type"], Decimal(0)) + item_level
    args = []
    for book, total in sorted(paid.items()):
        args += ["--dip-budget", f"{book}={max(Decimal(0), total * Decimal('0.95')).quantize(Decimal('0.01'))}"]
    return args


def clearing_summary(read: Callable[[str, dict[str, str]], Any], bearer: Callable[..., dict[str, str]],
                     env: dict[str, str], policies: Path) -> list[str]:  # fmt: skip
    """``read(path, headers)``: a GET on the ledger service."""
    from ledger.clearing.render import table

    statement = read(f"/v1/clearing/{REGION}/{YEAR}", bearer("auditor"))
    busiest = _busiest(statement)
    if busiest is None:
        return ["clearing: no DRG/DIP case was valued in this day (is SETTLEMENT_CASEMIX set?)"]
    code, month = busiest
    one = read(f"/v1/clearing/{REGION}/{YEAR}?institution={code}&month={month}", bearer("hospital", code))
    lines = [f"clearing statement of {code} for {YEAR}-{month:02d}, as its finance office reads it:"]
    lines += ["  " + line for line in table(one).splitlines()[2:]]
    command = [str(BIN / "ledger"), "reprice", "--clearing", "--region", REGION, "--year", str(YEAR),
               "--policies", str(policies), "--json", *_budgets(statement)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return [*lines, f"DIP point value: not computed ({done.stderr.strip().splitlines()[-1]})"]
    for book in json.loads(done.stdout)["books"]:
        value = book["point_value_yuan"] or "no grouped DIP case in this day"
        what = "what-if: a budget of 95% of the DIP cases' item-level payments"
        lines.append(f"DIP point value {REGION} {YEAR} {book['fund_pay_type']} ({what}): {value}")
    return lines
