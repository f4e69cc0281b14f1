"""A statement as a finance office reads it: a table per institution, or CSV rows (one per
institution, fund book and month, then the year). JSON is the statement dict itself."""

from __future__ import annotations

import csv
import io
from typing import Any

MONTH_COLUMNS = ("cases", "reversals", "points", "item_fund", "drg_due", "item_cleared", "prepay")
BOOK_NAMES = {"310100": "职工基本医疗保险统筹基金", "390100": "城乡居民基本医疗保险基金"}


def _prepay(row: dict[str, Any]) -> str:
    return str(row.get("prepay") or row.get("prepay_if_closed_now") or "-")


def table(body: dict[str, Any]) -> str:
    lines = [f"clearing statement {body['region']} {body['year']}" + (f"-{body['month']:02d}" if body["month"] else "")]
    lines.append(f"  closed months: {body['closed_months'] or 'none'}; year closed: {body['year_closed']}")
    for p in body["point_values"]:
        lines.append(f"  DIP point value {p['fund_pay_type']}: {p['published_yuan']} yuan ({p['value_fen']} fen)")
    for inst in body["institutions"]:
        lines += _institution(inst)
    for c in body.get("counties", []):
        lines.append(
            f"county {c['admdvs']} {c['fund_pay_type']}: spending {c['spending']} budget {c['budget'] or '-'}"
            f" city→county {c['city_to_county']} (county bears {c['county_bears']}, keeps {c['county_keeps']})"
        )
    return "\n".join(lines)


def _institution(inst: dict[str, Any]) -> list[str]:
    lines = [f"{inst['fixmedins_code']} (county {inst['admdvs']}, level {inst['hosp_lv']}, paid by {inst['paymtd']})"]
    for book in inst["books"]:
        lines.append(f"  {book['fund_pay_type']} {BOOK_NAMES.get(book['fund_pay_type'], '')}")
        lines.append("    month " + "".join(f"{c:>14}" for c in MONTH_COLUMNS))
        for m in book["months"]:
            cells = [str(m[c]) for c in MONTH_COLUMNS[:-1]] + [_prepay(m) + ("" if m["closed"] else "*")]
            lines.append(f"    {m['month']:>5} " + "".join(f"{c:>14}" for c in cells))
        year = book["year"]
        if year["closed"]:
            lines.append(
                f"    year: DIP {year['dip_due']} + DRG {year['drg_due']} + item {year['item_due']}"
                f" = due {year['annual_due']}; pre-paid {year['prepaid']}; deposit {year['deposit']};"
                f" balance {year['balance']}"
            )
        else:
            lines.append(f"    year (open): provisional due {year['provisional_due']}; pre-paid {year['prepaid']}")
    if inst["flagged"]:
        lines.append(f"  flagged cases ({len(inst['flagged'])}):")
        for f in inst["flagged"]:
            decided = f" decided: {f['decision']['outcome']}" if f["decision"] else ""
            group = f["group_code"] or "-"
            lines.append(f"    {f['setl_id']} {f['day']} {','.join(f['flags'])} group {group}{decided}")
    lines.append("  (* open month: what a close now would pre-pay)")
    return lines


def csv_text(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["region", "year", "fixmedins_code", "fund_pay_type", "period", "closed", *MONTH_COLUMNS,
                     "annual_due", "prepaid", "deposit", "balance"])  # fmt: skip
    for inst in body["institutions"]:
        for book in inst["books"]:
            head = [body["region"], body["year"], inst["fixmedins_code"], book["fund_pay_type"]]
            for m in book["months"]:
                cells = [m[c] for c in MONTH_COLUMNS[:-1]] + [_prepay(m)]
                writer.writerow([*head, f"{body['year']}-{m['month']:02d}", m["closed"], *cells, "", "", "", ""])
            y = book["year"]
            totals = [y.get("annual_due", ""), y["prepaid"], y.get("deposit", ""), y.get("balance", "")]
            writer.writerow([*head, str(body["year"]), y["closed"], *([""] * len(MONTH_COLUMNS)), *totals])
    return out.getvalue()
