"""Producers bound to institutions, without a broker: the registry file, the topic a sender is
known by, what each sender may send, the ACLs that follow, and the `not_authorised` answer."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from group_commit_scenarios import SENDERS
from ledger.adapters.memory import MemoryLedger
from settlement.senders import RegistryError, acls, load_registry
from settlement.service_layer.handlers import SettlementService
from test_settlement_service import BOOK, claim, enrolment, raw

from contracts.results import Rejection, SettlementResult
from contracts.topics import Topics

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "examples" / "principals.toml"
TOPICS = Topics("t.")


def registry_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "principals.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_registry_loads_and_names_one_enrolment_system() -> None:
    registry = load_registry(REGISTRY)
    assert registry.enrolment_system.name == "enrolment-system"
    assert registry.principal_for("H64010100003").name == "his-xingqing"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not toml [", "cannot read"),
        ("[other]\nx = 1", "no \\[principals"),
        ('[principals."his a"]\nfixmedins_codes = ["H1"]\n[principals.e]\nenrolments = true', "1 to 64 letters"),
        ('[principals.h]\nfixmedins_codes = "H1"\n[principals.e]\nenrolments = true', "list of institution"),
        ('[principals.h]\nfixmedins_codes = [" H1"]\n[principals.e]\nenrolments = true', "list of institution"),
        ('[principals.h]\ncodes = ["H1"]\n[principals.e]\nenrolments = true', "only `fixmedins_codes`"),
        ('[principals.h]\nfixmedins_codes = ["H1"]', "exactly one principal"),
        ("[principals.e1]\nenrolments = true\n[principals.e2]\nenrolments = true", "exactly one principal"),
    ],
)
def test_a_malformed_registry_is_refused_with_its_reason(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(RegistryError, match=why):
        load_registry(registry_file(tmp_path, text))


def test_the_sender_is_known_from_the_topic_and_answered_on_its_own_topics(tmp_path: Path) -> None:
    registry = load_registry(registry_file(tmp_path, SENDERS))
    hospital = registry.sender("t.claims.v1.his-a", TOPICS)
    enrolments = registry.sender("t.enrolments.v1", TOPICS)
    stranger = registry.sender("t.claims.v1.his-z", TOPICS)
    assert hospital is not None and hospital.answers.answers == ("t.settlements.v1.his-a", "t.rejections.v1.his-a")
    assert enrolments is not None and enrolments.name == "enrolment-system"
    assert stranger is not None and stranger.principal is None  # a topic nobody registered
    assert registry.sender("t.settlements.v1.his-a", TOPICS) is None
    assert re.match(TOPICS.inbound_pattern, "t.claims.v1.his-a")
    assert not re.match(TOPICS.inbound_pattern, "t.claims.v1") and not re.match(TOPICS.inbound_pattern, "x.claims.v1.a")


def test_each_principal_may_write_only_its_own_inbound_topic_and_read_only_its_answers(tmp_path: Path) -> None:
    grants = {
        (a.principal, a.topic, a.operation) for a in acls(load_registry(registry_file(tmp_path, SENDERS)), TOPICS)
    }
    assert ("his-a", "t.claims.v1.his-a", "WRITE") in grants
    assert ("his-a", "t.settlements.v1.his-a", "READ") in grants
    assert ("enrolment-system", "t.enrolments.v1", "WRITE") in grants
    writes = {(p, t) for p, t, op in grants if op in ("WRITE", "READ")}
    assert {t for p, t in writes if p == "his-a"} == {
        "t.claims.v1.his-a",
        "t.settlements.v1.his-a",
        "t.rejections.v1.his-a",
    }
    assert not any(p != "enrolment-system" and t == "t.enrolments.v1" for p, t in writes)


def bound_service(tmp_path: Path) -> tuple[SettlementService, MemoryLedger]:
    store = MemoryLedger()
    registry = load_registry(registry_file(tmp_path, SENDERS))
    clock = lambda: datetime(2025, 3, 1, tzinfo=UTC)  # noqa: E731
    return SettlementService(store, BOOK, clock=clock, topics=TOPICS, senders=registry), store


def test_a_claim_for_another_institution_is_answered_not_authorised_on_the_senders_topic(tmp_path: Path) -> None:
    service, store = bound_service(tmp_path)

    async def scenario() -> tuple[object, object]:
        await service.handle(raw(enrolment()), source="t.enrolments.v1/0/0", topic="t.enrolments.v1")
        foreign = await service.handle(raw(claim("C1")), source="t.claims.v1.his-b/0/0", topic="t.claims.v1.his-b")
        own = await service.handle(raw(claim("C1")), source="t.claims.v1.his-a/0/0", topic="t.claims.v1.his-a")
        return foreign, own

    foreign, own = asyncio.run(scenario())
    assert isinstance(foreign, Rejection) and foreign.code == "not_authorised" and foreign.field == "fixmedins_code"
    assert "his-b may not send for institution H64010100002" in foreign.message
    assert isinstance(own, SettlementResult)  # the refusal did not take H64010100002:C1, the idempotency key of his-a
    topics = [m.topic for m in store.outbox()]
    assert topics == ["t.settlements.v1.enrolment-system", "t.rejections.v1.his-b", "t.settlements.v1.his-a"]


def test_a_redelivered_refusal_gets_the_same_answer_once(tmp_path: Path) -> None:
    service, store = bound_service(tmp_path)

    async def twice() -> list[object]:
        where = {"source": "t.claims.v1.his-b/0/7", "topic": "t.claims.v1.his-b"}
        return [await service.handle(raw(claim("C9")), **where) for _ in range(2)]  # type: ignore[arg-type]

    first, again = asyncio.run(twice())
    assert first == again
    assert len(store.outbox()) == 1


def test_an_enrolment_fact_from_a_hospital_is_not_authorised(tmp_path: Path) -> None:
    service, _ = bound_service(tmp_path)
    answer = asyncio.run(service.handle(raw(enrolment()), source="t.claims.v1.his-a/0/1", topic="t.claims.v1.his-a"))
    assert isinstance(answer, Rejection) and answer.code == "not_authorised" and answer.field == "msg_type"
