"""The gateway's two transports over the in-memory ledger: HTTP behind the services' guard
(tokens of the local issuer; one clean national answer for any body, any caller) and national
envelopes streamed on a sender's topic (bound to its institutions by the registry of senders,
answered once, on its own answer topic, through the outbox)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from ledger.adapters.memory import MemoryLedger
from national import FixtureIds, requests, sample_gateway
from prometheus_client import CollectorRegistry
from settlement.gateway.context import Access
from settlement.gateway.http import GatewayMetrics, gateway_endpoints
from settlement.senders import Principal, Registry
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from contracts.topics import Topics
from devservers.issuer import AUDIENCE, ISSUER, LocalIssuer
from engine.visit_events import visit_stream_id
from ops.auth import AuthConfig, TokenVerifier
from ops.http import Guard, HttpMetrics
from ops.ratelimit import RateLimiter

BINZHE = "outpatient_binzhe_shenzhen"
OWN, OTHER = "H44030500123", "H43010200456"  # binzhe's community centre (the fixture's), hsa-his's hospital
MDTRT_ID = "44030025031400012345"  # what FixtureIds gives binzhe's registration (a3)
App = Callable[[Scope, Receive, Send], Any]


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("issuer")).ensure()


def guarded_app(gateway: object, issuer: LocalIssuer, *, burst: int = 1000) -> App:
    """The gateway's endpoints behind the guard every route of the services goes through
    (ops.http.service_app builds the same guard from the settings)."""
    config = AuthConfig(ISSUER, AUDIENCE, ("ES256",), 5, "roles", jwks_file=str(issuer.jwks_file))
    registry = CollectorRegistry()
    guard = Guard(TokenVerifier(config), RateLimiter(rate=0.001, burst=burst), HttpMetrics(registry))
    routes = Starlette(routes=guard.routes(gateway_endpoints(GatewayMetrics(registry), max_body=64 * 1024)))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # the lifespan's state, as ops.http reads it
        await routes({**scope, "state": {"running": SimpleNamespace(gateway=gateway)}}, receive, send)

    return app


@pytest.fixture
async def store() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
async def client(store: MemoryLedger, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    gateway = (await sample_gateway(store, FixtureIds(BINZHE)))[0]
    transport = httpx.ASGITransport(app=guarded_app(gateway, issuer))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as test_client:
        yield test_client


def bearer(issuer: LocalIssuer, roles: list[str], *institutions: str, **claims: Any) -> dict[str, str]:
    token = issuer.mint("his-of-" + "-".join(institutions or ("nobody",)), roles, institutions, **claims)
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_a_counter_registers_over_the_per_transaction_url_and_the_single_url(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    own = bearer(issuer, ["hospital"], OWN)
    first = await client.post("/fsi/api/2201", content=requests(BINZHE)["a3"], headers=own)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    assert first.json()["output"]["data"]["mdtrt_id"] == MDTRT_ID
    again = await client.post("/fsi/api", content=requests(BINZHE)["a3"], headers=own)
    assert again.content == first.content  # the same msgid: the stored answer, byte for byte


# Who calls → (headers, a phrase of the national err_msg). Each is refused before the envelope
# is read, so nothing is recorded under its msgid.
CALLERS: dict[str, tuple[Callable[[LocalIssuer], dict[str, str]], str]] = {
    "no token": (lambda i: {"Content-Type": "application/json"}, "a bearer token is required"),
    "not a token": (lambda i: {"Authorization": "Bearer garbage"}, "the token was refused: it is not a JWT"),
    "an expired token": (lambda i: bearer(i, ["hospital"], OWN, ttl=-120), "it has expired"),
    "another issuer's token": (lambda i: bearer(i, ["hospital"], OWN, iss="https://elsewhere"), "another issuer"),
    "an auditor": (lambda i: bearer(i, ["auditor"], OWN), "this needs the role hospital"),
    "an operator": (lambda i: bearer(i, ["operator"]), "this needs the role hospital"),
    "another institution's hospital": (
        lambda i: bearer(i, ["hospital"], OTHER),
        f"not_authorised: this token may act only for the institution codes it names, not for {OWN}",
    ),
    "a hospital token naming no institution": (lambda i: bearer(i, ["hospital"]), f"not for {OWN}"),
}


@pytest.mark.parametrize("who", list(CALLERS))
async def test_a_caller_who_may_not_act_for_the_institution_gets_a_national_refusal_and_nothing_is_done(
    client: httpx.AsyncClient, issuer: LocalIssuer, store: MemoryLedger, who: str
) -> None:
    headers, phrase = CALLERS[who]
    refused = await client.post("/fsi/api/2201", content=requests(BINZHE)["a3"], headers=headers(issuer))
    assert refused.status_code == 200  # national clients read the body: HTTP 200, infcode "-1"
    answer = refused.json()
    assert answer["infcode"] == "-1" and phrase in answer["err_msg"], answer
    assert answer["output"] == {} and await store.read_stream(visit_stream_id(MDTRT_ID)) == []
    # The refusal took nothing of the institution's: its own counter registers under the same msgid.
    own = await client.post("/fsi/api/2201", content=requests(BINZHE)["a3"], headers=bearer(issuer, ["hospital"], OWN))
    assert own.json()["infcode"] == "0" and own.json()["output"]["data"]["mdtrt_id"] == MDTRT_ID


async def test_a_caller_without_a_token_is_told_the_scheme_and_one_over_its_rate_when_to_retry(
    store: MemoryLedger, issuer: LocalIssuer
) -> None:
    gateway = (await sample_gateway(store, FixtureIds(BINZHE)))[0]
    transport = httpx.ASGITransport(app=guarded_app(gateway, issuer, burst=1))
    own = bearer(issuer, ["hospital"], OWN)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        anonymous = await client.post("/fsi/api/9001", content=requests(BINZHE)["a1"])
        first = await client.post("/fsi/api/9001", content=requests(BINZHE)["a1"], headers=own)
        limited = await client.post("/fsi/api/9001", content=requests(BINZHE)["a1"], headers=own)
    assert anonymous.headers["www-authenticate"] == "Bearer" and anonymous.json()["infcode"] == "-1"
    assert first.json()["infcode"] == "0"
    assert limited.status_code == 200 and limited.json()["infcode"] == "-1"
    assert "too many requests" in limited.json()["err_msg"] and int(limited.headers["retry-after"]) >= 1


AUTHORISED = {"Content-Type": "application/json"}  # + the hospital's token, added by the test
HOSTILE = {
    "deep nesting": b'{"infno":"2201","input":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "NUL in an id": b'{"infno":"2201","msgid":"M\\u00001","fixmedins_code":"H44030500123","input":{}}',
    "raw NUL byte": b'{"infno":"2201",\x00}',
    "not UTF-8": b'{"infno":"\xff\xfe"}',
    "huge number": (
        b'{"infno":"2207","msgid":"M2","fixmedins_code":"H44030500123","input":{"data":{"mdtrt_id":"X",'
        b'"psn_no":"P","medfee_sumamt":1' + b"0" * 4000 + b"}}}"
    ),
    "an array": b"[1,2,3]",
    "too large": b'{"x":"' + b"a" * 70_000 + b'"}',
    "gzip bomb as body": gzip.compress(b"{" * 10_000),
    "empty": b"",
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_message_gets_one_clean_national_refusal_never_a_500(
    client: httpx.AsyncClient, issuer: LocalIssuer, name: str
) -> None:
    response = await client.post("/fsi/api/2201", content=HOSTILE[name], headers=bearer(issuer, ["hospital"], OWN))
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
    assert json.loads(answers[0].value)["output"]["data"]["mdtrt_id"] == MDTRT_ID
    assert (answers[0].headers["infno"], answers[0].key) == ("2201", OWN)


async def test_a_streamed_query_is_answered_once_and_a_claims_v1_message_still_goes_to_the_claims_path() -> None:
    store = MemoryLedger()
    _, service = await sample_gateway(store)
    for _ in range(2):  # the same Kafka record delivered twice
        await service.handle(requests(BINZHE)["a2"], source="claims.v1/0/9")
    answers = [m for m in await store.read_outbox(0, 100) if m.headers.get("infno") == "1101"]
    assert len(answers) == 1 and json.loads(answers[0].value)["output"]["baseinfo"]["psn_name"] == "张三"
    claim = await service.handle(b'{"msg_type":"claim","infno":"2207"}', source="claims.v1/0/10")
    assert claim.msg_type == "rejection"  # msg_type decides: a claims message with a stray infno is a claim


# The registry of senders these tests bind: binzhe's HIS, hsa-his's HIS, the enrolment system.
SENDERS = Registry(
    {
        "his-binzhe": Principal("his-binzhe", frozenset({OWN})),
        "his-hsa": Principal("his-hsa", frozenset({OTHER})),
        "enrolment-system": Principal("enrolment-system", frozenset(), enrolments=True),
    }
)


async def _national_answers(store: MemoryLedger) -> list[tuple[str, dict[str, Any]]]:
    outbox = await store.read_outbox(0, 100)
    return [(m.topic, json.loads(m.value)) for m in outbox if m.headers.get("msg_type") == "national_answer"]


async def test_a_streamed_envelope_for_an_institution_its_principal_does_not_speak_for_is_not_authorised() -> None:
    store = MemoryLedger()
    _, service = await sample_gateway(store, FixtureIds(BINZHE), senders=SENDERS)
    hsa = Topics().of("his-hsa")
    for _ in range(2):  # hsa-his's HIS, on its own topic, registers at binzhe's centre; redelivered
        await service.handle(requests(BINZHE)["a3"], source=f"{hsa.claims}/0/3", topic=hsa.claims)

    ((topic, refused),) = await _national_answers(store)  # recorded: answered once
    assert topic == hsa.settlements  # on the sender's own answer topic
    assert refused["infcode"] == "-1"
    assert refused["err_msg"] == f"not_authorised: principal his-hsa may not send for institution {OWN}"
    assert await store.read_stream(visit_stream_id(MDTRT_ID)) == []
    # The refusal did not take the msgid of the institution it named: its own HIS registers.
    binzhe = Topics().of("his-binzhe")
    await service.handle(requests(BINZHE)["a3"], source=f"{binzhe.claims}/0/1", topic=binzhe.claims)
    topic, registered = (await _national_answers(store))[-1]
    assert topic == binzhe.settlements
    assert registered["infcode"] == "0" and registered["output"]["data"]["mdtrt_id"] == MDTRT_ID


async def test_a_streamed_envelope_from_a_principal_not_in_the_registry_or_the_enrolment_system_is_refused() -> None:
    store = MemoryLedger()
    _, service = await sample_gateway(store, FixtureIds(BINZHE), senders=SENDERS)
    stranger = Topics().of("stranger")
    await service.handle(requests(BINZHE)["a1"], source=f"{stranger.claims}/0/0", topic=stranger.claims)
    await service.handle(requests(BINZHE)["a1"], source="enrolments.v1/0/5", topic=Topics().enrolments)

    (unknown, enrolments) = await _national_answers(store)
    assert unknown[0] == stranger.settlements and unknown[1]["infcode"] == "-1"
    assert "principal stranger is not in the registry of senders" in unknown[1]["err_msg"]
    assert enrolments[0] == Topics().of("enrolment-system").settlements and enrolments[1]["infcode"] == "-1"
    assert f"principal enrolment-system may not send for institution {OWN}" in enrolments[1]["err_msg"]


async def test_an_answer_given_over_http_is_published_on_the_answer_topic_of_the_institutions_principal() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store, FixtureIds(BINZHE), senders=SENDERS)
    reply = await gateway.handle(requests(BINZHE)["a3"], access=Access.only(frozenset({OWN})))
    assert reply.answer["infcode"] == "0"
    # Bound senders have no shared answer topic: a message for one would stall the relay.
    assert [topic for topic, _ in await _national_answers(store)] == [Topics().of("his-binzhe").settlements]


async def test_an_http_answer_for_an_institution_no_principal_speaks_for_is_recorded_without_a_kafka_copy() -> None:
    store = MemoryLedger()
    only_hsa = Registry({name: p for name, p in SENDERS.principals.items() if name != "his-binzhe"})
    gateway, _ = await sample_gateway(store, FixtureIds(BINZHE), senders=only_hsa)
    first = await gateway.handle(requests(BINZHE)["a3"], access=Access.only(frozenset({OWN})))
    again = await gateway.handle(requests(BINZHE)["a3"], access=Access.only(frozenset({OWN})))
    assert first.recorded and again.text == first.text  # on record: the retry gets the stored answer
    assert await _national_answers(store) == []
