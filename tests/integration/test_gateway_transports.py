"""One contract, two transports: the same visit — hsa-his's outpatient visit of
outpatient_hsa_his.json — settled over the gateway, as national envelopes streamed through the
Kafka consumer's path, and as one claims.v2 claim through the same path, gives the same ledger
figures. Three people with the same enrolment (the sample's 李四 and two clones) each have it
once, so each settlement meets the same year."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import group_commit_scenarios as scenarios
import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.store import LedgerStore
from ledger_contract import migrated_pool
from national import FixtureIds, enrolments, requests, sample_gateway, sample_people, steps
from prometheus_client import CollectorRegistry
from settlement.entrypoints.consumer import process_batch
from settlement.gateway.context import Access
from settlement.gateway.people import PersonDirectory

from engine.codec_settlement import amounts_to_json, funds_to_json, splits_to_json
from engine.events import ClaimSettled
from engine.person import stream_id
from engine.records import from_record
from engine.snapshot import from_json
from ops.metrics import SettlementMetrics

pytestmark = pytest.mark.integration
HSA = "outpatient_hsa_his"
PERSON = "43000000000000009900000002"


TAKEN = int(datetime(2025, 3, 18, 1, 0, tzinfo=UTC).timestamp() * 1000)  # when Kafka took the records


def Record(value: bytes, offset: int) -> scenarios.Record:
    return scenarios.Record(value, offset, timestamp=TAKEN)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresLedger]:
    async with migrated_pool(database_url, role="ledger_app") as pool:
        yield PostgresLedger(pool)


def _clone_enrolment(psn_no: str) -> bytes:
    line = json.loads(next(e for e in enrolments() if PERSON.encode() in e))
    return json.dumps({**line, "psn_no": psn_no, "request_id": f"E-{psn_no}"}).encode()


async def _figures(store: LedgerStore, psn_no: str) -> dict[str, Any]:
    events = await store.read_stream(stream_id(psn_no, 2025))
    (settled,) = [from_record(e.event_type, e.data) for e in events if e.event_type == "ClaimSettled"]
    assert isinstance(settled, ClaimSettled)
    _, projection = await store.read_projection(stream_id(psn_no, 2025))
    assert projection is not None
    return {
        "amounts": amounts_to_json(settled.amounts),
        "funds": funds_to_json(settled.funds),
        "items": splits_to_json(settled.items),
        "delta": settled.delta.to_json(),
        "policy": settled.policy,
        "totals": from_json(dict(projection)).totals,
    }


def _streamed_envelopes(psn_no: str) -> list[bytes]:
    """The fixture's b3–b7 for another person, as another HIS run would send them (its own
    msgids); the visit id is the one the platform issued to that run's 2201."""
    sent = requests(HSA)
    out = []
    for step in steps(HSA)[2:]:
        text = sent[step["id"]].decode().replace(PERSON, psn_no)
        out.append(text.replace('"msgid": "H43010200456', '"msgid": "K43010200456').encode())
    return out


def _claim(psn_no: str) -> bytes:
    """The same visit as one claims.v2 claim: the uploaded lines inline, the visit's facts."""
    fees = json.loads(requests(HSA)["b5"], parse_float=Decimal)["input"]
    lines = [
        {k: row[k] for k in ("feedetl_sn", "med_list_codg", "medins_list_codg", "pric", "cnt", "det_item_fee_sumamt")}
        for row in fees["feedetail"]
    ]
    claim = {
        "msg_type": "claim", "schema_version": "claims.v2", "request_id": "V2-1", "sent_at": "2025-03-18 09:13:05",
        "psn_no": psn_no, "insutype": "310", "mdtrt_id": "V2-VISIT-1", "fixmedins_code": "H43010200456",
        "med_type": "11", "begntime": "2025-03-18 08:55:40", "endtime": "2025-03-18 08:55:40",
        "diseinfo": [{"diag_type": "1", "diag_code": "J06.900", "maindiag_flag": "1"}],
        "gend": "1", "brdy": "1985-06-15", "acct_used_flag": "1", "feedetail": lines,
    }  # fmt: skip
    return json.dumps(claim, default=str).encode()


async def test_the_same_visit_over_the_gateway_streamed_envelopes_and_claims_v2_has_the_same_figures(
    store: PostgresLedger,
) -> None:
    people = sample_people()
    original = people.by_psn_no(PERSON)
    assert original is not None
    clones = [replace(original, psn_no=p, certno=p) for p in ("CLONE-KAFKA", "CLONE-V2")]
    gateway, service = await sample_gateway(store, FixtureIds(HSA), PersonDirectory([*people.records(), *clones]))
    metrics = SettlementMetrics(CollectorRegistry())
    records = [Record(_clone_enrolment(p), offset) for offset, p in enumerate(("CLONE-KAFKA", "CLONE-V2"))]
    await process_batch(service, tuple(records), metrics)
    for step in steps(HSA)[2:]:  # over the gateway
        answer = await gateway.handle(requests(HSA)[step["id"]], access=Access.only(frozenset({"H43010200456"})))
        assert answer.answer["infcode"] == "0", answer.answer["err_msg"]
    streamed = _streamed_envelopes("CLONE-KAFKA")
    first = await service.handle(streamed[0], source="claims.v1/0/10")
    issued = json.loads(first.body())["output"]["data"]["mdtrt_id"]  # type: ignore[attr-defined]
    later = [r.replace(b"430100250318000321", issued.encode()) for r in streamed[1:]]
    await process_batch(service, tuple(Record(v, 11 + i) for i, v in enumerate(later)), metrics)
    await process_batch(service, (Record(_claim("CLONE-V2"), 20),), metrics)
    over_gateway = await _figures(store, PERSON)
    assert await _figures(store, "CLONE-KAFKA") == over_gateway
    assert await _figures(store, "CLONE-V2") == over_gateway
