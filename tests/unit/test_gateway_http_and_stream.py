"""The gateway's two transports over the in-memory ledger: HTTP (one clean national answer for
any body, any caller) and national envelopes streamed on the inbound topic (answered once,
through the outbox)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from ledger.memory import MemoryLedger
from national import FixtureIds, requests, sample_gateway
from prometheus_client import CollectorRegistry
from settlement.gateway.context import Access
from settlement.gateway.fields import NationalRefusal
from settlement.gateway.http import GatewayMetrics, gateway_endpoints
from settlement.gateway.service import NationalGateway
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

BINZHE = "outpatient_binzhe_shenzhen"
TOKENS = {"token-of-binzhe": frozenset({"H44030500123"})}  # what a verified token would say


async def _bearer(request: Request) -> Access:
    """The seam the HTTP shell's token check plugs into: here a table of tokens."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or token not in TOKENS:
        raise NationalRefusal("a valid bearer token is required (Authorization: Bearer …)")
    return Access(TOKENS[token])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    gateway: NationalGateway = (await sample_gateway(MemoryLedger(), FixtureIds(BINZHE)))[0]
    endpoints = gateway_endpoints(_bearer, GatewayMetrics(CollectorRegistry()), max_body=64 * 1024)
    routes = Starlette(routes=[Route(e.path, e.handler, methods=list(e.methods)) for e in endpoints])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # the lifespan's state, as ops.http reads it
        await routes({**scope, "state": {"running": SimpleNamespace(gateway=gateway)}}, receive, send)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as test_client:
        yield test_client


AUTH = {"Authorization": "Bearer token-of-binzhe", "Content-Type": "application/json"}


async def test_a_counter_registers_over_the_per_transaction_url_and_the_single_url(client: httpx.AsyncClient) -> None:
    first = await client.post("/fsi/api/2201", content=requests(BINZHE)["a3"], headers=AUTH)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    assert first.json()["output"]["data"]["mdtrt_id"] == "44030025031400012345"
    again = await client.post("/fsi/api", content=requests(BINZHE)["a3"], headers=AUTH)
    assert again.content == first.content  # the same msgid: the stored answer, byte for byte


HOSTILE = {
    "no token": (b"{}", {"Content-Type": "application/json"}),
    "deep nesting": (b'{"infno":"2201","input":' + b"[" * 50_000 + b"]" * 50_000 + b"}", AUTH),
    "NUL in an id": (b'{"infno":"2201","msgid":"M\\u00001","fixmedins_code":"H44030500123","input":{}}', AUTH),
    "raw NUL byte": (b'{"infno":"2201",\x00}', AUTH),
    "not UTF-8": (b'{"infno":"\xff\xfe"}', AUTH),
    "huge number": (
        b'{"infno":"2207","msgid":"M2","fixmedins_code":"H44030500123","input":{"data":{"mdtrt_id":"X",'
        b'"psn_no":"P","medfee_sumamt":1' + b"0" * 4000 + b"}}}",
        AUTH,
    ),
    "an array": (b"[1,2,3]", AUTH),
    "another institution": (
        json.dumps({**json.loads(requests(BINZHE)["a3"]), "fixmedins_code": "H43010200456"}).encode(),
        AUTH,
    ),
    "too large": (b'{"x":"' + b"a" * 70_000 + b'"}', AUTH),
    "gzip bomb as body": (gzip.compress(b"{" * 10_000), AUTH),
    "empty": (b"", AUTH),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_message_gets_one_clean_national_refusal_never_a_500(
    client: httpx.AsyncClient, name: str
) -> None:
    body, headers = HOSTILE[name]
    response = await client.post("/fsi/api/2201", content=body, headers=headers)
    assert response.status_code == 200
    answer = response.json()
    assert answer["infcode"] == "-1" and answer["err_msg"], answer
    assert set(answer) >= {"inf_refmsgid", "refmsg_time", "respond_time", "warn_msg", "output"}


async def test_a_streamed_envelope_is_answered_once_on_the_answer_topic_and_a_redelivery_repeats_it() -> None:
    store = MemoryLedger()
    _, service = await sample_gateway(store, FixtureIds(BINZHE))
    raw = requests(BINZHE)["a3"]
    first = await service.handle(raw, source="claims.v1/0/7")
    again = await service.handle(raw, source="claims.v1/0/7")
    assert first.msg_type == again.msg_type == "national_answer"
    answers = [m for m in await store.read_outbox(0, 100) if m.headers.get("msg_type") == "national_answer"]
    assert len(answers) == 1
    assert json.loads(answers[0].value)["output"]["data"]["mdtrt_id"] == "44030025031400012345"
    assert (answers[0].headers["infno"], answers[0].key) == ("2201", "H44030500123")


async def test_a_streamed_query_is_answered_once_and_a_claims_v1_message_still_goes_to_the_claims_path() -> None:
    store = MemoryLedger()
    _, service = await sample_gateway(store)
    for _ in range(2):  # the same Kafka record delivered twice
        await service.handle(requests(BINZHE)["a2"], source="claims.v1/0/9")
    answers = [m for m in await store.read_outbox(0, 100) if m.headers.get("infno") == "1101"]
    assert len(answers) == 1 and json.loads(answers[0].value)["output"]["baseinfo"]["psn_name"] == "张三"
    claim = await service.handle(b'{"msg_type":"claim","infno":"2207"}', source="claims.v1/0/10")
    assert claim.msg_type == "rejection"  # msg_type decides: a claims message with a stray infno is a claim
