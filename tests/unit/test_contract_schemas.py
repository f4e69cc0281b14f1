"""The JSON Schema files hospitals integrate against are the models, byte for byte."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from contracts.schema_export import MESSAGES, SCHEMAS_DIR, render
from contracts.wire import decode_json


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_committed_schema_file_matches_the_model(name: str) -> None:
    path = SCHEMAS_DIR / f"{name}.json"
    assert path.exists(), f"{path} missing: run python -m contracts.schema_export"
    assert path.read_text(encoding="utf-8") == render(MESSAGES[name], name), (
        f"{path} is stale: run python -m contracts.schema_export"
    )


def test_no_schema_file_is_left_without_a_model() -> None:
    on_disk = {p.stem for p in SCHEMAS_DIR.glob("*.json")}
    assert on_disk == set(MESSAGES)


def test_example_claim_lines_validate_against_the_published_claim_schema() -> None:
    schema = json.loads((SCHEMAS_DIR / "claims.v2.claim.json").read_text(encoding="utf-8"))
    lines = [
        decode_json(line)
        for line in (SCHEMAS_DIR.parent.parent / "examples" / "year-2025.jsonl").read_text("utf-8").splitlines()
        if line.startswith('{"msg_type": "claim"') and "CLM-BAD" not in line and "claims.v1" not in line
    ]
    assert len(lines) > 10

    def plain(value: object) -> object:  # jsonschema wants floats where JSON had numbers
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    for line in lines:
        jsonschema.validate(plain(line), schema)


def test_committed_asyncapi_document_matches_the_models() -> None:
    from contracts.asyncapi import OUT, render_document

    assert OUT.read_text(encoding="utf-8") == render_document(), "stale: run python -m contracts.asyncapi"


def test_asyncapi_document_names_every_topic_both_services_use() -> None:
    from contracts.asyncapi import document

    addresses = {channel["address"] for channel in document()["channels"].values()}
    assert addresses == {
        "claims.v1.{principal}",
        "settlements.v1.{principal}",
        "rejections.v1.{principal}",
        "claims.v1",
        "enrolments.v1",
        "settlements.v1",
        "rejections.v1",
        "clearing.v1",
        "claims.dlq.v1",
        "enrolments.dlq.v1",
    }


def test_asyncapi_principal_channels_resolve_to_the_topics_a_registered_sender_uses() -> None:
    """The per-principal addresses, with a principal filled in, are exactly the topics the
    service reads from and answers to for that principal (contracts.topics)."""
    from contracts.asyncapi import document
    from contracts.topics import Topics

    addresses = {channel["address"] for channel in document()["channels"].values()}
    own = Topics().of("his-ningxia-people")
    filled = {a.replace("{principal}", "his-ningxia-people") for a in addresses if "{principal}" in a}
    assert filled == {own.claims, own.settlements, own.rejections}
    assert all("principal" in c["parameters"] for c in document()["channels"].values() if "{" in c["address"])
