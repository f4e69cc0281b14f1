"""The one seeded generator of example messages (claims.v2, enrolments.v2), for the demo, the
end-to-end tests and benchmarks, and examples/year-2025.jsonl.

Every institution is one of the SAMPLE registry's (examples/catalogue.py: hospitals of levels
1–3 on DRG, DIP and item-by-item payment, primary care, an internet hospital, a dual-channel and
a retail pharmacy) and every fee line one of the SAMPLE catalogue's items — 甲/乙/丙 classes,
a capped drug, 先行自付 by insurance type, negotiated drugs, a restricted item — plus one item
no catalogue lists. Same arguments, same lines.

    python -m examples.generator day --people 200 --seed 2025 > day.jsonl
    python -m examples.generator year > examples/year-2025.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from examples.catalogue import ITEMS, NOT_IN_CATALOGUE, PLACES, fixmedins_code

REGION = "640100"  # 银川市: priced under the Ningxia-wide policies (640000) and their SAMPLE payer data
CITY = "6401"
INSTITUTIONS = {p.key: fixmedins_code(p, CITY) for p in PLACES}
NAMES = {p.key: p.name for p in PLACES}
PRICES = {it.code: it.unit_price for it in ITEMS}
PSN_TYPES = {  # the engine's words → the national psn_type code sent (the policies map them back)
    "in_service": "1101",
    "retired": "1201",
    "flexible": "1103",
    "adult": "1501",
    "student": "1403",
    "child": "1402",
    "elderly": "1560",
    "newborn": "1401",
}
BED, VISIT_FEE, NET_VISIT, DIALYSIS, CT = (
    "001102000010000",
    "001101000010000",
    "001101000020000",
    "003107000010000",
    "002202000010000",
)
CEFTRIAXONE, METFORMIN, CAPTOPRIL, AMOXICILLIN, AMLODIPINE, COLD = (
    "XJ01DCA015A001010",
    "XA10BAA002A001010",
    "XC09AAA001A001010",
    "XJ01CAA001A001010",
    "XC08CAA001A001010",
    "XR05XAA000A001010",
)
OSIMERTINIB, TRASTUZUMAB, INFUSION_SET, SINGLE_ROOM = (
    "XL01XEA000A001010",
    "XL01FDT001B002010",
    "C0311000000001",
    "C00000000001",
)


def amount(pric: str, cnt: str) -> str:
    return str((Decimal(pric) * Decimal(cnt)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def fee(sn: str, code: str, cnt: str | int = "1", pric: str | None = None, **extra: Any) -> dict[str, Any]:
    """One fee line as a HIS sends it: the national code, its own price and count."""
    price = pric or PRICES.get(code) or NOT_IN_CATALOGUE[2]
    line = {"feedetl_sn": sn, "med_list_codg": code, "pric": price, "cnt": str(cnt)}
    return {**line, "det_item_fee_sumamt": amount(price, str(cnt)), **extra}


def setl_id_for(fixmedins: str, request_id: str, year: int = 2025) -> str:
    """The id the service gives this claim (engine/ids.py), so a reversal can name it."""
    return f"S{year}-{hashlib.sha256(f'{fixmedins}:{request_id}'.encode()).hexdigest()[:16]}"


def enrolment(request_id: str, sent: str, psn: str, insutype: str, psn_type: str, **facts: Any) -> dict[str, Any]:
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": request_id,
        "sent_at": sent,
        "psn_no": psn,
        "insutype": insutype,
        "psn_type": PSN_TYPES[psn_type],
        "insuplc_admdvs": REGION,
        "year": 2025,
        **facts,
    }


def account_credit(request_id: str, psn: str, month: int) -> dict[str, Any]:
    return {
        "msg_type": "account_credit",
        "schema_version": "enrolments.v2",
        "request_id": request_id,
        "sent_at": f"2025-{month:02d}-01 08:00:00",
        "psn_no": psn,
        "year": 2025,
        "month": month,
    }


def claim(
    request_id: str,
    psn: str,
    insutype: str,
    where: str,
    med_type: str,
    begin: str,
    end: str,
    lines: list[Any],
    **kw: Any,
) -> dict[str, Any]:
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": request_id,
        "sent_at": f"{end} 10:00:00",
        "psn_no": psn,
        "insutype": insutype,
        "mdtrt_id": kw.pop("mdtrt_id", f"MD{request_id}"),
        "fixmedins_code": INSTITUTIONS[where],
        "fixmedins_name": NAMES[where],
        "med_type": med_type,
        "begntime": f"{begin} 08:00:00",
        "endtime": f"{end} 16:00:00",
        "feedetail": lines,
        **kw,
    }


def reversal(request_id: str, sent: str, psn: str, where: str, setl_id: str) -> dict[str, Any]:
    return {
        "msg_type": "reversal",
        "schema_version": "claims.v2",
        "request_id": request_id,
        "sent_at": f"{sent} 16:00:00",
        "psn_no": psn,
        "fixmedins_code": INSTITUTIONS[where],
        "setl_id": setl_id,
        "reason": "费用明细上传有误,撤销重结",
    }


def stay(days: int, vials: int, sets: int = 10, room_days: int = 0) -> list[dict[str, Any]]:
    """A stay: 甲类 beds, a 乙类 antibiotic priced above its 45.00 cap (10% 先行自付), 乙类 infusion
    sets (20% staff / 30% residents 先行自付), and 丙类 single-room days."""
    lines = [fee("1", BED, days), fee("2", CEFTRIAXONE, vials), fee("3", INFUSION_SET, sets)]
    return lines + ([fee("4", SINGLE_ROOM, room_days)] if room_days else [])


STAFF_TYPES = ("in_service", "in_service", "in_service", "retired", "flexible")
RESIDENT_TYPES = ("adult", "adult", "student", "child", "elderly", "newborn")
AID = ("destitute", "min_living", "returned_to_poverty", "monitored", "impoverished_by_illness")
DAY = "2025-06-16"


@dataclass
class Person:
    psn_no: str
    insutype: str
    psn_type: str
    aid: str | None = None
    diseases: tuple[str, ...] = ()


@dataclass
class DayGenerator:
    """A realistic day: people of every scheme, type and aid category enrolled first (staff get
    their monthly account credits), then visits of every kind, with producer retries, reversals
    and some broken messages."""

    people: int = 200
    seed: int = 2025
    lines: list[dict[str, Any] | str] = field(default_factory=list)
    visits: int | None = None  # visits per person; None: one or two (a day's mix)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.count = 0

    def _rid(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.seed}-{self.count:06d}"

    def _money(self, low: float, high: float) -> str:
        return f"{self.rng.uniform(low, high):.2f}"

    def _person(self, index: int) -> Person:
        psn = f"D{self.seed}{index:06d}"
        diseases = tuple(d for d in ("I10", "E11", "N18") if self.rng.random() < 0.12)
        if self.rng.random() < 0.45:
            return Person(psn, "310", self.rng.choice(STAFF_TYPES), diseases=diseases)
        aid = self.rng.choice(AID) if self.rng.random() < 0.15 else None
        return Person(psn, "390", self.rng.choice(RESIDENT_TYPES), aid, diseases)

    def _enrol(self, p: Person) -> None:
        facts: dict[str, Any] = {"continuous_years": self.rng.randint(1, 12), "registered_diseases": list(p.diseases)}
        facts["enrol_date"] = "2024-11-15"
        if p.insutype == "310":
            facts["acct_opening_balance"] = self._money(0, 3000)
            if p.psn_type != "retired":
                facts["contribution_base"] = self._money(3500, 15000)
            if p.psn_type == "flexible" and self.rng.random() < 0.3:
                facts |= {"first_enrolment": "1", "enrol_date": "2025-02-10"}
        elif p.psn_type == "newborn":
            facts |= {"birth_date": "2025-05-02", "enrol_date": "2025-05-20", "in_collection_period": "0"}
        if p.aid:
            facts["aid_category"] = p.aid
        sent = "2025-01-02 08:00:00"
        self.lines.append(enrolment(self._rid("E"), sent, p.psn_no, p.insutype, p.psn_type, **facts))
        if p.insutype == "310":
            self.lines += [account_credit(self._rid("A"), p.psn_no, month) for month in range(1, 7)]

    def _stay(self, p: Person, extra: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]], str]:
        where = self.rng.choice(["H3", "H2", "H1"])
        days = self.rng.randint(3, 20)
        lines = stay(days, self.rng.randint(2, 40), self.rng.randint(0, 30) or 1, self.rng.choice([0, 0, days]))
        if where == "H3":
            extra["drg_code"] = self.rng.choice(["ES23", "GB29", "FM19"])
        elif where == "H2":
            extra["dip_code"], main = self.rng.choice([("DIP-K35-0", "K35.8"), ("DIP-J18-0", "J18.9")])
            extra["diseinfo"] = [{"diag_type": "1", "diag_code": main, "maindiag_flag": "1"}]
        return where, self.rng.choice(["21", "21", "21", "22", "24"]), lines, "2025-06-05"

    def _visit(self, p: Person) -> dict[str, Any]:
        kind = self.rng.choices(["out", "rx", "chronic", "stay", "dual", "net"], [50, 18, 10, 10, 5, 7])[0]
        begin = DAY
        extra: dict[str, Any] = {"acct_used_flag": "1" if p.insutype == "310" and self.rng.random() < 0.7 else "0"}
        if kind == "chronic" and p.diseases:
            where, med, extra["dise_codg"] = "H2", "14", p.diseases[0]
            lines = [fee("1", AMLODIPINE, self.rng.randint(10, 60))]
        elif kind == "stay":
            where, med, lines, begin = self._stay(p, extra)
        elif kind == "dual":
            where, med = "DCP", "41"
            extra["resp_physician"] = {"dr_code": self.rng.choice(["D001", "D002", "D003"])}
            lines = [fee("1", OSIMERTINIB, self.rng.randint(5, 30))]
        elif kind == "rx":
            where, med = "RP", "41"
            extra["extn_rx_flag"] = "1" if self.rng.random() < 0.4 else "0"
            lines = [fee("1", COLD, self.rng.randint(1, 3))]
            if self.rng.random() < 0.2:
                lines.append(fee("2", NOT_IN_CATALOGUE[0], 1, med_list_name=NOT_IN_CATALOGUE[1]))
        else:
            where, med = ("NET", "11") if kind == "net" else (self.rng.choice(["C", "H2", "H3"]), "11")
            drug = self.rng.choice([AMOXICILLIN, CAPTOPRIL, SINGLE_ROOM if kind != "net" else CAPTOPRIL])
            first = NET_VISIT if kind == "net" else VISIT_FEE
            lines = [fee("1", first), fee("2", drug, self.rng.randint(1, 24))]
        return claim(self._rid("C"), p.psn_no, p.insutype, where, med, begin, DAY, lines, **extra)

    def generate(self) -> list[dict[str, Any] | str]:
        people = [self._person(i) for i in range(self.people)]
        for p in people:
            self._enrol(p)
        claims = [self._visit(p) for p in people for _ in range(self.visits or self.rng.choice([1, 1, 1, 2]))]
        for c in claims:
            self.lines.append(c)
            roll = self.rng.random()
            if roll < 0.03:
                self.lines.append(dict(c))  # the HIS retries: same request, same content
            elif roll < 0.04:
                key = next(k for k, v in INSTITUTIONS.items() if v == c["fixmedins_code"])
                setl_id = setl_id_for(c["fixmedins_code"], c["request_id"])
                self.lines.append(reversal(self._rid("R"), DAY, c["psn_no"], key, setl_id))
            elif roll < 0.05:
                self.lines.append(self._broken(c))
        return self.lines

    def _broken(self, c: dict[str, Any]) -> dict[str, Any] | str:
        pick = self.rng.randrange(4)
        if pick == 0:
            return '{"msg_type": "claim", "request_id": '  # cut off mid-message
        broken: dict[str, Any] = json.loads(json.dumps(c))
        broken["request_id"] = self._rid("B")
        broken["mdtrt_id"] = "MD" + broken["request_id"]
        if pick == 1:
            broken["feedetail"][0]["det_item_fee_sumamt"] = "12.345"  # three decimals
        elif pick == 2:
            del broken["med_type"]
        else:
            broken["psn_no"] = "NOBODY" + broken["request_id"]
        return broken


def day_lines(people: int = 200, seed: int = 2025, visits: int | None = None) -> list[str]:
    return [
        ln if isinstance(ln, str) else json.dumps(ln, ensure_ascii=False)
        for ln in DayGenerator(people, seed, visits=visits).generate()
    ]


@dataclass
class Year:
    """One person of each kind through each visit kind the seeds name, over 2025, in the order a
    day-by-day feed would deliver them (examples/year-2025.jsonl)."""

    lines: list[dict[str, Any] | str] = field(default_factory=list)
    seq: int = 0

    def rid(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{self.seq:04d}"

    def enrol(self, psn: str, insutype: str, psn_type: str, enrol_date: str, **facts: Any) -> None:
        sent = f"{enrol_date} 09:00:00"
        self.lines.append(enrolment(self.rid("ENR"), sent, psn, insutype, psn_type, enrol_date=enrol_date, **facts))

    def claim(
        self, psn: str, insutype: str, where: str, med: str, begin: str, end: str, lines: list[Any], **kw: Any
    ) -> str:
        rid = kw.pop("request_id", None) or self.rid("CLM")
        self.lines.append(claim(rid, psn, insutype, where, med, begin, end, lines, **kw))
        return rid


def _people(y: Year) -> None:
    y.enrol("P001", "310", "in_service", "2024-12-20", psn_name="张伟", contribution_base="8000.00")
    last = y.lines[-1]
    assert isinstance(last, dict)
    last |= {
        "acct_opening_balance": "1200.00",
        "continuous_years": 9,
        "family_members": [{"psn_no": "P005", "relation": "child"}],
        "registered_diseases": ["E11"],
        "psn_insu_date": "2009-07-01",  # first insured in 2009: not this year's enrol_date
    }
    y.enrol("P002", "310", "retired", "2024-12-20", psn_name="李秀英", acct_opening_balance="3500.00")
    y.lines[-1] |= {"continuous_years": 30, "registered_diseases": ["N18", "I10"]}  # type: ignore[operator]
    y.enrol("P003", "310", "flexible", "2025-01-15", psn_name="王磊", contribution_base="4500.00", first_enrolment="1")
    y.enrol("P004", "390", "adult", "2024-11-02", psn_name="刘洋", continuous_years=6, zero_claim_years=1)
    y.lines[-1] |= {"registered_diseases": ["C50"]}  # type: ignore[operator]
    y.enrol("P005", "390", "student", "2024-10-08", psn_name="张小明", continuous_years=8, birth_date="2012-05-01")
    y.enrol(
        "P006", "390", "newborn", "2025-05-20", psn_name="陈宝宝", birth_date="2025-04-10", in_collection_period="0"
    )
    y.enrol("P007", "390", "adult", "2025-03-15", psn_name="赵强", in_collection_period="0", break_years=2)
    y.enrol("P008", "390", "elderly", "2024-09-15", psn_name="孙桂兰", aid_category="destitute", continuous_years=10)
    y.enrol("P009", "390", "adult", "2024-12-01", psn_name="周建国", aid_category="impoverished_by_illness")
    y.enrol("P010", "390", "adult", "2025-04-10", psn_name="吴敏", in_collection_period="0")
    y.lines[-1] |= {"prior_cover": {"left_scheme": "staff", "left_on": "2025-02-28"}}  # type: ignore[operator]
    y.enrol("P011", "390", "elderly", "2024-10-20", psn_name="郑淑珍", registered_diseases=["E11"], continuous_years=7)
    for month in range(1, 7):
        y.lines += [account_credit(y.rid("ACR"), "P001", month), account_credit(y.rid("ACR"), "P002", month)]


def _first_half(y: Year) -> str:
    y.claim(
        "P001",
        "310",
        "C",
        "11",
        "2025-01-08",
        "2025-01-08",
        [fee("1", VISIT_FEE), fee("2", METFORMIN, 30)],
        acct_used_flag="1",
    )
    y.claim("P011", "390", "C", "11", "2025-01-10", "2025-01-10", [fee("1", METFORMIN, 60)], dise_codg="E11")
    y.claim("P004", "390", "NET", "11", "2025-01-15", "2025-01-15", [fee("1", NET_VISIT), fee("2", CAPTOPRIL, 100)])
    # A level-3 DRG hospital: a breast-cancer stay with a restricted negotiated drug (C50, level ≥ 2:
    # met), and a single-room line the HIS calls 甲类 (01) that the catalogue lists as 丙类 (03).
    cancer = [*stay(17, 40, 30), fee("4", SINGLE_ROOM, 17, chrgitm_lv="01"), fee("5", TRASTUZUMAB, 2), fee("6", CT, 2)]
    diagnosis = [{"diag_type": "1", "diag_code": "C50.900", "diag_name": "乳腺恶性肿瘤", "maindiag_flag": "1"}]
    surgery = [{"oprn_oprt_type": "1", "oprn_oprt_code": "85.4300", "oprn_oprt_name": "乳房切除术"}]
    kw = {"diseinfo": diagnosis, "oprninfo": surgery, "drg_code": "ES23", "ipt_otp_no": "ZY2025020301"}
    y.claim("P004", "390", "H3", "21", "2025-02-03", "2025-02-20", cancer, **kw)
    retried = y.lines[-1]
    assert isinstance(retried, dict)
    y.lines.append(dict(retried))  # the HIS retries the same request: it must settle once
    y.claim("P003", "310", "H2", "11", "2025-03-05", "2025-03-05", [fee("1", VISIT_FEE), fee("2", AMOXICILLIN, 24)])
    kidney = [{"diag_type": "1", "diag_code": "N18.500", "maindiag_flag": "1"}]
    y.claim(
        "P002",
        "310",
        "H2",
        "21",
        "2025-03-10",
        "2025-03-24",
        stay(14, 20),
        diseinfo=kidney,
        dip_code="DIP-N18-0",
        acct_used_flag="1",
    )
    y.claim(
        "P002",
        "310",
        "H3",
        "14",
        "2025-03-28",
        "2025-03-28",
        [fee("1", DIALYSIS, 3)],
        dise_codg="N18",
        acct_used_flag="1",
    )
    y.claim("P999", "390", "C", "11", "2025-03-30", "2025-03-30", [fee("1", VISIT_FEE)])
    y.claim("P006", "390", "H2", "21", "2025-04-12", "2025-04-22", stay(10, 6))
    y.claim("P010", "390", "H2", "21", "2025-03-20", "2025-03-26", stay(6, 8))
    child = [*stay(7, 10), fee("4", "XR06AXA001A001010", 12)]  # a children's drug: paid up to age 14
    family = {"acct_used_flag": "1", "acct_payer_psn_no": "P001", "acct_payer_relation": "child"}
    y.claim("P005", "390", "H2", "21", "2025-04-02", "2025-04-09", child, **family)
    y.claim(
        "P001",
        "310",
        "DCP",
        "41",
        "2025-04-15",
        "2025-04-15",
        [fee("1", OSIMERTINIB, 30)],
        resp_physician={"dr_code": "D001"},
        acct_used_flag="1",
    )
    y.claim(
        "P004",
        "390",
        "H2",
        "11",
        "2025-04-20",
        "2025-04-20",
        [fee("1", OSIMERTINIB, 30)],
        resp_physician={"dr_code": "D002"},
    )
    protein = fee("2", NOT_IN_CATALOGUE[0], 1, med_list_name=NOT_IN_CATALOGUE[1], excluded_category="wellness")
    y.claim("P001", "310", "RP", "41", "2025-05-06", "2025-05-06", [fee("1", COLD, 2), protein], acct_used_flag="1")
    return y.claim("P008", "390", "H3", "21", "2025-05-10", "2025-05-25", stay(15, 30))


def _second_half(y: Year, wrong: str) -> None:
    y.lines.append(reversal(y.rid("REV"), "2025-05-26", "P008", "H3", setl_id_for(INSTITUTIONS["H3"], wrong)))
    y.claim("P008", "390", "H3", "21", "2025-05-10", "2025-05-25", stay(15, 28), mdtrt_id="MD" + wrong)
    y.claim("P007", "390", "C", "11", "2025-06-03", "2025-06-03", [fee("1", VISIT_FEE)])
    # Five infusion sets of line 3 were not used: the HIS sends a refund line naming it.
    refund = fee("5", INFUSION_SET, -5, init_feedetl_sn="3")
    y.claim("P009", "390", "H3", "21", "2025-06-05", "2025-06-28", [*stay(23, 40, 30, 10), refund])
    y.claim("P009", "390", "H3", "21", "2025-08-02", "2025-08-21", stay(19, 36))
    y.claim("P003", "310", "H2", "21", "2025-08-11", "2025-08-16", stay(5, 12))
    # 22 外伤住院 at a level-1 hospital paid item by item: an inpatient stay, no DRG.
    y.claim("P007", "390", "H1", "22", "2025-09-01", "2025-09-08", stay(7, 14))
    y.claim(
        "P004",
        "390",
        "H3",
        "21",
        "2025-10-09",
        "2025-10-30",
        [*stay(21, 60, 40), fee("4", TRASTUZUMAB, 150)],
        drg_code="ES23",
        diseinfo=[{"diag_code": "C50.900", "maindiag_flag": "1"}],
    )
    y.claim("P011", "390", "C", "11", "2025-11-03", "2025-11-03", [fee("1", METFORMIN, 90)], dise_codg="E11")
    y.claim(
        "P002",
        "310",
        "C",
        "11",
        "2025-11-20",
        "2025-11-20",
        [fee("1", AMLODIPINE, 30)],
        dise_codg="I10",
        acct_used_flag="1",
    )
    y.claim("P004", "390", "H3", "11", "2025-12-01", "2025-12-01", [fee("1", VISIT_FEE)], dise_codg="E11")
    y.claim("P003", "310", "H2", "52", "2025-12-02", "2025-12-05", stay(3, 2))  # 生育住院: not settled here
    bad = claim("CLM-BAD", "P004", "390", "C", "11", "2025-12-02", "2025-12-02", [fee("1", VISIT_FEE)])
    bad["feedetail"][0]["det_item_fee_sumamt"] = "25.005"  # three decimals: refused with the field named
    old = {k: v for k, v in claim("CLM-V1", "P004", "390", "C", "11", "2025-12-03", "2025-12-03", []).items()}
    old |= {"schema_version": "claims.v1", "items": [{"feedetl_sn": "1", "hilist_code": VISIT_FEE, "chrgitm_lv": "01"}]}
    y.lines += [bad, old]


def year_lines() -> list[str]:
    y = Year()
    _people(y)
    _second_half(y, _first_half(y))
    return [json.dumps(line, ensure_ascii=False) for line in y.lines] + ["not json at all"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.generator", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["day", "year"])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    lines = year_lines() if args.what == "year" else day_lines(args.people, args.seed)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
