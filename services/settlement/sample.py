"""A realistic day of messages for the demo, the end-to-end tests and the benchmarks.

Seeded, so the same arguments give the same lines. People of every scheme, type and aid
category are enrolled first (staff get their monthly account credits); then a day's visits of
every kind the seeds name, with producer retries, reversals and some broken messages.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

REGION = "640100"
DAY = "2025-06-16"
INSTITUTIONS: dict[str, dict[str, Any]] = {
    "H3": {
        "fixmedins_code": "H64010100001",
        "fixmedins_kind": "hospital",
        "fixmedins_level": "3",
        "dual_channel_designated": True,
    },
    "H2": {"fixmedins_code": "H64010100002", "fixmedins_kind": "hospital", "fixmedins_level": "2"},
    "C": {"fixmedins_code": "H64010100003", "fixmedins_kind": "primary_care"},
    "NET": {"fixmedins_code": "H64010100004", "fixmedins_kind": "internet_hospital", "fixmedins_level": "3"},
    "DCP": {
        "fixmedins_code": "P64010100001",
        "fixmedins_kind": "dual_channel_pharmacy",
        "dual_channel_designated": True,
    },
    "RP": {"fixmedins_code": "P64010100002", "fixmedins_kind": "retail_pharmacy"},
}
STAFF_TYPES = ("in_service", "in_service", "in_service", "retired", "flexible")
RESIDENT_TYPES = ("adult", "adult", "student", "child", "elderly", "newborn")
AID = ("destitute", "min_living", "returned_to_poverty", "monitored", "impoverished_by_illness")


def line_item(sn: str, code: str, lv: str, pric: str, cnt: str = "1", **extra: Any) -> dict[str, Any]:
    amount = (Decimal(pric) * Decimal(cnt)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {
        "feedetl_sn": sn,
        "hilist_code": code,
        "chrgitm_lv": lv,
        "pric": pric,
        "cnt": cnt,
        "det_item_fee_sumamt": str(amount),
        **extra,
    }


def setl_id_for(fixmedins_code: str, request_id: str, year: int = 2025) -> str:
    """The id the service will give this claim (engine/ids.py), so a reversal can name it."""
    digest = hashlib.sha256(f"{fixmedins_code}:{request_id}".encode()).hexdigest()[:16]
    return f"S{year}-{digest}"


@dataclass
class Person:
    psn_no: str
    insutype: str
    psn_type: str
    aid: str | None = None
    diseases: tuple[str, ...] = ()


@dataclass
class DayGenerator:
    people: int = 200
    seed: int = 2025
    lines: list[dict[str, Any] | str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.count = 0

    def _rid(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.seed}-{self.count:06d}"

    def _money(self, low: float, high: float) -> str:
        return f"{self.rng.uniform(low, high):.2f}"

    def _person(self, index: int) -> Person:
        staff = self.rng.random() < 0.45
        psn = f"D{self.seed}{index:06d}"
        if staff:
            return Person(psn, "310", self.rng.choice(STAFF_TYPES), diseases=self._diseases())
        aid = self.rng.choice(AID) if self.rng.random() < 0.15 else None
        return Person(psn, "390", self.rng.choice(RESIDENT_TYPES), aid, self._diseases())

    def _diseases(self) -> tuple[str, ...]:
        return tuple(d for d in ("I10", "E11", "N18") if self.rng.random() < 0.12)

    def _enrol(self, p: Person) -> None:
        facts: dict[str, Any] = {"continuous_years": self.rng.randint(1, 12), "registered_diseases": list(p.diseases)}
        if p.insutype == "310":
            facts["acct_opening_balance"] = self._money(0, 3000)
            if p.psn_type != "retired":
                facts["contribution_base"] = self._money(3500, 15000)
            if p.psn_type == "flexible" and self.rng.random() < 0.3:
                facts |= {"first_enrolment": True, "enrol_date": "2025-02-10"}
        elif p.psn_type == "newborn":
            facts |= {"birth_date": "2025-05-02", "enrol_date": "2025-05-20", "in_collection_period": False}
        if p.aid:
            facts["aid_category"] = p.aid
        self.lines.append(
            {
                "msg_type": "enrolment",
                "request_id": self._rid("E"),
                "sent_at": "2025-01-02T08:00:00+08:00",
                "psn_no": p.psn_no,
                "insutype": p.insutype,
                "psn_type": p.psn_type,
                "insuplc_admdvs": REGION,
                "year": 2025,
                "enrol_date": "2024-11-15",
                **facts,
            }
        )
        if p.insutype == "310":
            for month in range(1, 7):
                self.lines.append(
                    {
                        "msg_type": "account_credit",
                        "request_id": self._rid("A"),
                        "sent_at": f"2025-{month:02d}-01T08:00:00+08:00",
                        "psn_no": p.psn_no,
                        "year": 2025,
                        "month": month,
                    }
                )

    def _visit(self, p: Person) -> dict[str, Any]:
        kind = self.rng.choices(["out", "rx", "chronic", "stay", "dual", "net"], [50, 18, 10, 10, 5, 7])[0]
        begin = end = DAY
        extra: dict[str, Any] = {"acct_used_flag": p.insutype == "310" and self.rng.random() < 0.7}
        if kind == "chronic" and p.diseases:
            where, med, extra["dise_codg"] = "H2", "14", p.diseases[0]
            items = [line_item("1", "XC08CAA001A001010", "01", self._money(5, 30), str(self.rng.randint(10, 60)))]
        elif kind == "stay":
            where, med, begin = self.rng.choice(["H3", "H2"]), "21", "2025-06-05"
            items = [
                line_item("1", "001102000010000", "01", self._money(2000, 40000)),
                line_item("2", "XJ01DCA015A001010", "02", self._money(200, 8000), selfpay_prop="0.10"),
                line_item("3", "C00000000001", "03", self._money(0, 600)),
            ]
            if self.rng.random() < 0.5:
                med, extra["drg_code"], extra["drg_weight"] = "22", "GB29", f"{self.rng.uniform(0.5, 3):.4f}"
        elif kind == "dual":
            where, med = "DCP", "41"
            extra["resp_physician"] = {
                "dr_code": "D01",
                "dr_title": self.rng.choice(["attending", "chief", "resident"]),
            }
            items = [
                line_item(
                    "1", "XL01XEA000A001010", "02", self._money(800, 6000), selfpay_prop="0.05", hi_nego_drug_flag=True
                )
            ]
        elif kind == "rx":
            where, med = "RP", "41"
            extra["extn_rx_flag"] = self.rng.random() < 0.4
            items = [line_item("1", "XR05XAA000A001010", "01", self._money(8, 60), str(self.rng.randint(1, 3)))]
        else:
            where, med = ("NET" if kind == "net" else self.rng.choice(["C", "H2", "H3"])), "11"
            items = [
                line_item("1", "001101000010000", "01", self._money(10, 50)),
                line_item(
                    "2",
                    "XJ01CAA001A001010",
                    self.rng.choice(["01", "02", "03"]),
                    self._money(5, 120),
                    selfpay_prop="0.05",
                ),
            ]
        rid = self._rid("C")
        return {
            "msg_type": "claim",
            "request_id": rid,
            "sent_at": f"{DAY}T10:00:00+08:00",
            "psn_no": p.psn_no,
            "insutype": p.insutype,
            "mdtrt_id": f"MD{rid}",
            **INSTITUTIONS[where],
            "med_type": med,
            "begndate": begin,
            "enddate": end,
            "items": items,
            **extra,
        }

    def generate(self) -> list[dict[str, Any] | str]:
        people = [self._person(i) for i in range(self.people)]
        for p in people:
            self._enrol(p)
        claims = [self._visit(p) for p in people for _ in range(self.rng.choice([1, 1, 1, 2]))]
        for claim in claims:
            self.lines.append(claim)
            roll = self.rng.random()
            if roll < 0.03:
                self.lines.append(dict(claim))  # the HIS retries: same request, same content
            elif roll < 0.04:
                self.lines.append(
                    {
                        "msg_type": "reversal",
                        "request_id": self._rid("R"),
                        "sent_at": f"{DAY}T16:00:00+08:00",
                        "psn_no": claim["psn_no"],
                        "fixmedins_code": claim["fixmedins_code"],
                        "setl_id": setl_id_for(claim["fixmedins_code"], claim["request_id"]),
                        "reason": "撤销重结",
                    }
                )
            elif roll < 0.05:
                self.lines.append(self._broken(claim))
        return self.lines

    def _broken(self, claim: dict[str, Any]) -> dict[str, Any] | str:
        pick = self.rng.randrange(4)
        if pick == 0:
            return '{"msg_type": "claim", "request_id": '  # cut off mid-message
        broken: dict[str, Any] = json.loads(json.dumps(claim))
        broken["request_id"] = self._rid("B")
        broken["mdtrt_id"] = "MD" + broken["request_id"]
        if pick == 1:
            broken["items"][0]["pric"] = "12.345"  # three decimals
        elif pick == 2:
            del broken["med_type"]
        else:
            broken["psn_no"] = "NOBODY" + broken["request_id"]
        return broken


def day_lines(people: int = 200, seed: int = 2025) -> list[str]:
    return [
        ln if isinstance(ln, str) else json.dumps(ln, ensure_ascii=False)
        for ln in DayGenerator(people, seed).generate()
    ]
