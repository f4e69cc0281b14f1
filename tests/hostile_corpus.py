"""The committed corpus of hostile messages (tests/fixtures/hostile/), and the canary claim that
follows each one: read by the offline and the Kafka corpus tests alike."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent / "fixtures" / "hostile"
SENT = "2025-03-01T09:00:00+08:00"
PERSON = "HP1"  # the canaries' person, enrolled first


@dataclass(frozen=True)
class Hostile:
    name: str
    why: str
    body: bytes
    answer: str  # the msg_type its answer must have
    offline: bool
    kafka: dict[str, Any] = field(default_factory=dict)
    field: str | None = None  # the field its rejection must name, where the corpus says


def corpus() -> list[Hostile]:
    entries = json.loads((FOLDER / "corpus.json").read_text("utf-8"))
    loaded = []
    for entry in entries:
        path = FOLDER / entry["file"]
        body = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        loaded.append(
            Hostile(
                entry["name"],
                entry["why"],
                body,
                entry["answer"],
                entry["offline"],
                entry.get("kafka", {}),
                entry.get("field"),
            )
        )
    return loaded


H2 = "H64010100002"  # the SAMPLE registry's level-2 hospital of 银川 (policies/payer/640000)
BED = "001102000010000"  # 甲类 in the SAMPLE catalogue


def enrolment() -> bytes:
    return json.dumps(
        {
            "msg_type": "enrolment",
            "schema_version": "enrolments.v2",
            "request_id": "CANARY-ENROLMENT",
            "sent_at": SENT,
            "psn_no": PERSON,
            "insutype": "390",
            "psn_type": "1501",
            "insuplc_admdvs": "640100",
            "year": 2025,
            "enrol_date": "2024-10-01",
        }
    ).encode()


def canary(number: int) -> bytes:
    """A general outpatient claim of 100.00 for the enrolled person: it must settle."""
    request_id = f"CANARY-{number:03d}"
    return json.dumps(
        {
            "msg_type": "claim",
            "schema_version": "claims.v2",
            "request_id": request_id,
            "sent_at": SENT,
            "psn_no": PERSON,
            "insutype": "390",
            "mdtrt_id": f"MD-{request_id}",
            "fixmedins_code": H2,
            "med_type": "11",
            "begntime": "2025-03-01 08:00:00",
            "endtime": "2025-03-01 09:00:00",
            "feedetail": [
                {"feedetl_sn": "1", "med_list_codg": BED, "pric": "100.00", "cnt": "1", "det_item_fee_sumamt": "100.00"}
            ],
        }
    ).encode()


def request_id_of(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("request_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) else None
