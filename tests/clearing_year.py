"""A generated coverage year for one pooling region, for the clearing tests: residents and staff
enrolled in 640000 (Ningxia), inpatient stays every month at the hospitals of the SAMPLE payer
data (policies/payer/640000: level 3 on DRG, level 2 on DIP, level 1 and primary care item by
item), a few outpatient visits, and reversals — some in the month after their settlement, in
claims.v2 / enrolments.v2 with the catalogue's items. Deterministic for a seed.

Each message comes with the time the service receives it (``received_at``): the settlement's
day in China time, which decides its clearing month and its reconciliation day.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from engine.ids import settlement_id

CHINA = timezone(timedelta(hours=8))
# The SAMPLE registry's hospitals (policies/payer/640000/registry/institutions.csv) the senders'
# registry (examples/principals.toml) speaks for: DRG level 3, DIP level 2, item level 1 and primary.
HOSPITALS = ("H64010100001", "H64010100002", "H64010100005", "H64010100003")
STAYS = (  # (main diagnosis, main procedure or None, DRG code a grouper would give, base cost yuan)
    ("K35.800", "47.0900", "GB29", 9000),  # SAMPLE DIP core DIP-K35-1
    ("K35.800", None, "GB29", 4000),  # DIP-K35-0 (comprehensive, conservative)
    ("J18.900", None, "ES23", 5000),  # DIP-J18-0
    ("C50.900", "85.4300", "ES23", 15000),  # DIP-C50-1
    ("N18.500", None, "RE19", 8000),  # DIP-N18-0
    ("Z99.900", None, "ZZ99", 3000),  # neither catalogue has it: ungrouped
)
BED, SINGLE_ROOM, VISIT = "001102000010000", "C00000000001", "001101000010000"  # 甲类, 丙类, 甲类 (SAMPLE)


@dataclass(frozen=True)
class Message:
    raw: bytes
    received_at: datetime
    kind: str  # enrolment | claim | reversal


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(9, 0), CHINA) + timedelta(minutes=minute)


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def enrolments(people: int) -> list[Message]:
    out = []
    for n in range(people):
        staff = n % 3 == 0
        body: dict[str, object] = {
            "msg_type": "enrolment", "schema_version": "enrolments.v2", "request_id": f"ENR-{n:04d}",
            "sent_at": "2024-12-20T09:00:00+08:00", "psn_no": f"C{n:04d}", "insutype": "310" if staff else "390",
            "psn_type": "1101" if staff else "1501", "insuplc_admdvs": "640100", "year": 2025,
            "enrol_date": "2024-11-01",
        }  # fmt: skip
        if staff:
            body.update(contribution_base="8000.00", acct_opening_balance="1200.00")
        out.append(Message(_line(body), _at(date(2024, 12, 20), n % 600), "enrolment"))
    return out


def _fee(sn: str, code: str, yuan: float) -> dict[str, str]:
    return {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "pric": f"{yuan:.2f}",
        "cnt": "1",
        "det_item_fee_sumamt": f"{yuan:.2f}",
    }


def claim(
    n: int, person: int, hospital: str, stay: tuple[str, str | None, str, int], day: date, rng: random.Random
) -> dict[str, object]:
    diag, oprn, drg, base = stay
    cost = max(300, int(base * rng.choice([0.3, 0.8, 1.0, 1.2, 1.5, 3.5])))
    staff = person % 3 == 0
    begin = day - timedelta(days=5)
    body: dict[str, object] = {
        "msg_type": "claim", "schema_version": "claims.v2", "request_id": f"CLM-{n:05d}",
        "sent_at": _at(day, n % 600).isoformat(), "psn_no": f"C{person:04d}", "insutype": "310" if staff else "390",
        "mdtrt_id": f"MD-{n:05d}", "fixmedins_code": hospital, "med_type": "21",
        "begntime": f"{begin.isoformat()} 08:00:00", "endtime": f"{day.isoformat()} 16:00:00",
        "diseinfo": [{"diag_type": "1", "diag_code": diag, "maindiag_flag": "1"}],
        "oprninfo": [{"oprn_oprt_code": oprn, "oprn_oprt_type": "1"}] if oprn else [],
        "drg_code": drg,
        "feedetail": [_fee("1", BED, cost * 0.85), _fee("2", SINGLE_ROOM, cost * 0.15)],
    }  # fmt: skip
    return body


def outpatient(n: int, person: int, hospital: str, day: date) -> dict[str, object]:
    staff = person % 3 == 0
    return {
        "msg_type": "claim", "schema_version": "claims.v2", "request_id": f"OUT-{n:05d}",
        "sent_at": _at(day, n % 600).isoformat(), "psn_no": f"C{person:04d}", "insutype": "310" if staff else "390",
        "mdtrt_id": f"MO-{n:05d}", "fixmedins_code": hospital, "med_type": "11",
        "begntime": f"{day.isoformat()} 09:00:00", "endtime": f"{day.isoformat()} 10:00:00",
        "feedetail": [_fee("1", VISIT, 180)],
    }  # fmt: skip


def year_of_claims(people: int, per_month: int, seed: int = 7, months: int = 12) -> list[list[Message]]:
    """Per month (1..months), the claims and reversals received that month, in order."""
    rng = random.Random(seed)
    out: list[list[Message]] = []
    pending: list[tuple[str, str, str]] = []  # (psn_no, fixmedins_code, request_id) to reverse next month
    n = 0
    for month in range(1, months + 1):
        batch: list[Message] = []
        for psn_no, hospital, request_id in pending:
            day = date(2025, month, 2)
            body = {"msg_type": "reversal", "schema_version": "claims.v2", "request_id": f"REV-{request_id}",
                    "sent_at": _at(day, 1).isoformat(),
                    "psn_no": psn_no, "fixmedins_code": hospital,
                    "setl_id": settlement_id(f"{hospital}:{request_id}", 2025)}  # fmt: skip
            batch.append(Message(_line(body), _at(day, 1), "reversal"))
        pending = []
        for _ in range(per_month):
            n += 1
            person, hospital = rng.randrange(people), rng.choice(HOSPITALS)
            day = date(2025, month, rng.randint(3, 27))
            body = claim(n, person, hospital, rng.choice(STAYS), day, rng)
            batch.append(Message(_line(body), _at(day, n % 600), "claim"))
            if rng.random() < 0.08:
                pending.append((str(body["psn_no"]), hospital, str(body["request_id"])))
            if rng.random() < 0.3:
                n += 1
                batch.append(Message(_line(outpatient(n, person, hospital, day)), _at(day, 700), "claim"))
        out.append(sorted(batch, key=lambda m: m.received_at))
    return out
