"""The AsyncAPI 3.0 document of both services, generated from the wire models.

Run `python -m contracts.asyncapi` after changing a model; a test fails while
contracts/asyncapi/medins-settlement.json and the models disagree, and another parses it with
the AsyncAPI project's own parser (contracts/asyncapi/validate/).

A JSON Schema from pydantic keeps its sub-schemas in ``$defs`` and points at them with
``#/$defs/…``, which is relative to the document that holds it. Inside an AsyncAPI document
that root is the AsyncAPI document itself, so every sub-schema is hoisted into
``components/schemas`` and every ``$ref`` rewritten to point there.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from contracts.schema_export import MESSAGES, schema_of

OUT = Path(__file__).parent / "asyncapi" / "medins-settlement.json"

CLAIM_MESSAGES = ["claims.v2.claim", "claims.v2.reversal", "claims.v2.reconciliation"]
ANSWER_MESSAGES = [
    "settlements.v1.settlement",
    "settlements.v1.reversal_result",
    "settlements.v1.enrolment_accepted",
    "settlements.v1.reconciliation_result",
]
# Where producers are bound to institutions (SASL principals, docs/integrating.md) each hospital
# system has its own topics, named by its principal; the shared topics serve a local or
# unsecured setup only (no registry of senders). Both are listed: a tool reading this document
# must see the addresses a hospital really writes to and reads from.
PER_PRINCIPAL = (
    " Written by one hospital system only: the broker's ACLs give principal P this topic alone, and "
    "the service answers `not_authorised` to a claim for an institution P does not speak for."
)
SHARED_ONLY_LOCALLY = " The shared topic of a local or unsecured setup (no registry of senders)."
CHANNELS: dict[str, tuple[str, list[str]]] = {
    "claims.v1.{principal}": (
        "Claims to settle or pre-settle, reversals and reconciliations (NHSA 2206/2207, 2303/2304, "
        "2101/2102; 2208/2305/2103; 3201/3202), as claims.v2 (the topic keeps its name; schema_version "
        "says the contract). Key: psn_no." + PER_PRINCIPAL,
        CLAIM_MESSAGES,
    ),
    "settlements.v1.{principal}": (
        "Answers to what principal P sent: settlement, reversal and reconciliation results (and "
        "enrolment_accepted for the enrolment system's principal). Key: psn_no (a reconciliation: "
        "fixmedins_code). Header message id = event_id, stable across redeliveries. Readable by P only.",
        ANSWER_MESSAGES,
    ),
    "rejections.v1.{principal}": (
        "What principal P sent that could not be settled, with a stable code and a sentence. "
        "Key: psn_no when known. Readable by P only.",
        ["rejections.v1.rejection"],
    ),
    "claims.v1": ("The same messages as claims.v1.{principal}." + SHARED_ONLY_LOCALLY, CLAIM_MESSAGES),
    "enrolments.v1": (
        "Enrolment facts per person and year, monthly personal-account credits and contributions paid, "
        "as enrolments.v2 (the topic keeps its name). Key: psn_no. With principals, written by the "
        "enrolment system's principal only, and answered on its own settlements/rejections topics.",
        ["enrolments.v2.enrolment", "enrolments.v2.account_credit", "enrolments.v2.contribution"],
    ),
    "settlements.v1": (
        "Every answer, in a local or unsecured setup; with principals, the record of answers to "
        "requests made over HTTP. Key: psn_no. Header message id = event_id, stable across redeliveries.",
        ANSWER_MESSAGES,
    ),
    "rejections.v1": (
        "Every rejection, in a local or unsecured setup. Key: psn_no when known.",
        ["rejections.v1.rejection"],
    ),
    "clearing.v1": (
        "The fund agency's clearing: month_closed, year_closed, budget_set, special_review_decided, "
        "deposit_released, written by the ledger service (docs/clearing.md). Key: region or "
        "fixmedins_code. Not for hospital systems.",
        ["clearing_answer"],
    ),
    "claims.dlq.v1": (
        "Operators only: claims records (of every principal) the service failed on while healthy "
        "(answered internal_error), value, key and headers as received plus medins.dlq.* headers; "
        "`settlement redrive` sends them back.",
        ["dead_letter"],
    ),
    "enrolments.dlq.v1": ("Operators only: the same for enrolments.v1.", ["dead_letter"]),
}
# The broker a hospital system connects to (docs/integrating.md): TLS, and a SCRAM user that is
# the principal its topics are named by. The host is the operator's; this one is an example.
SERVERS = {
    "production": {
        "host": "kafka.example.cn:9093",
        "protocol": "kafka-secure",
        "description": "SASL_SSL with SCRAM-SHA-512; the principal's topics only (broker ACLs).",
        "security": [{"$ref": "#/components/securitySchemes/scram"}],
    },
    "local": {
        "host": "localhost:29792",
        "protocol": "kafka",
        "description": "The development broker's plaintext listener (devservers; its SASL_SSL listener is "
        "on 29794), for a setup with no registry of senders: the shared topics.",
    },
}
SECURITY_SCHEMES = {
    "scram": {"type": "scramSha512", "description": "One SCRAM user per hospital system (its principal)."}
}
PRINCIPAL_PARAMETER = {
    "description": "The hospital system's SASL/SCRAM user name: 1 to 64 letters, digits, '_' or '-' "
    "(contracts/topics.py), as registered in the registry of senders (SETTLEMENT_PRINCIPALS_FILE)."
}
CLEARING_ANSWER = {
    "name": "clearing_answer",
    "contentType": "application/json",
    "summary": "A clearing command's answer: the statement of a period, or why it was refused.",
    "payload": {
        "type": "object",
        "description": "Described field by field in docs/clearing.md; amounts are yuan strings "
        "with two decimals, like every answer.",
    },
}
# A dead letter is the original record, byte for byte: any bytes, described by its headers.
DEAD_LETTER = {
    "name": "dead_letter",
    "contentType": "application/octet-stream",
    "summary": "The failed record as received; why and where in its medins.dlq.* headers.",
    "payload": {"description": "The original value, unchanged (it may not be JSON at all)."},
    "headers": {
        "type": "object",
        "properties": {
            "medins.dlq.source": {"type": "string", "description": "topic/partition/offset of the failed record"},
            "medins.dlq.error": {"type": "string", "description": "the exception's type"},
            "medins.dlq.reason": {"type": "string", "description": "its text, at most 500 characters"},
            "medins.dlq.attempts": {"type": "string", "description": "how many times it was tried"},
            "medins.dlq.failed_at": {"type": "string", "description": "ISO time the service gave up"},
            "medins.dlq.record_timestamp": {"type": "string", "description": "the record's timestamp (ms)"},
        },
    },
}
OPERATIONS = {
    "settleClaims": (
        "receive",
        "claims.v1.{principal}",
        "The settlement service consumes every principal's claims in bounded batches and "
        "commits offsets only after the ledger transaction commits.",
    ),
    "settleSharedClaims": ("receive", "claims.v1", "The same, for the shared topic of a local setup."),
    "recordEnrolments": ("receive", "enrolments.v1", "The settlement service records enrolment facts and credits."),
    "publishSettlements": (
        "send",
        "settlements.v1",
        "The ledger's outbox relay publishes every answer at least "
        "once with an idempotent producer; deduplicate on event_id.",
    ),
    "publishRejections": ("send", "rejections.v1", "Rejections are relayed like results."),
    "publishSettlementsToPrincipal": (
        "send",
        "settlements.v1.{principal}",
        "Answers to a principal's claims, relayed to that principal's own topic.",
    ),
    "publishRejectionsToPrincipal": (
        "send",
        "rejections.v1.{principal}",
        "Rejections of a principal's claims, relayed to that principal's own topic.",
    ),
    "publishClearing": ("send", "clearing.v1", "The ledger relays the answers of clearing commands."),
    "deadLetterClaims": (
        "send",
        "claims.dlq.v1",
        "A claims record tried SETTLEMENT_MAX_MESSAGE_ATTEMPTS times while the database and "
        "broker were healthy is copied here after its internal_error answer.",
    ),
    "deadLetterEnrolments": ("send", "enrolments.dlq.v1", "The same for enrolments.v1."),
}


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (_component_ref(value, renamed) if key == "$ref" else _rewrite_refs(value, renamed))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renamed) for item in node]
    return node


def _component_ref(ref: str, renamed: dict[str, str]) -> str:
    name = ref.removeprefix("#/$defs/")
    return f"#/components/schemas/{renamed[name]}"


def _hoist(name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """The message's payload with its ``$defs`` moved into ``schemas``: shared when another
    message defined the same sub-schema identically, all prefixed with the message's name when
    one of them would clash with a different sub-schema of the same name."""
    payload = schema_of(MESSAGES[name], name)
    definitions: dict[str, Any] = payload.pop("$defs", {})
    renamed = {def_name: def_name for def_name in definitions}
    hoisted = {renamed[k]: _rewrite_refs(v, renamed) for k, v in definitions.items()}
    if any(schemas.get(k) not in (None, v) for k, v in hoisted.items()):
        renamed = {def_name: f"{name.replace('.', '_')}_{def_name}" for def_name in definitions}
        hoisted = {renamed[k]: _rewrite_refs(v, renamed) for k, v in definitions.items()}
    schemas.update(hoisted)
    return dict(_rewrite_refs(payload, renamed))


def _channel_id(address: str) -> str:
    """claims.v1.{principal} → claims_v1_principal: a JSON-pointer-safe key per address."""
    return re.sub(r"[^A-Za-z0-9]+", "_", address).strip("_")


def _channel(address: str, text: str, names: list[str]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "description": text,
        "messages": {m.replace(".", "_"): {"$ref": f"#/components/messages/{m.replace('.', '_')}"} for m in names},
    }
    if "{principal}" in address:
        channel["parameters"] = {"principal": PRINCIPAL_PARAMETER}
    return channel


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages = {
        name.replace(".", "_"): {
            "name": name,
            "contentType": "application/json",
            "payload": _hoist(name, schemas),
        }
        for name in MESSAGES
        if name != "settlements.v1.annual_totals"
    }
    channels = {_channel_id(topic): _channel(topic, text, names) for topic, (text, names) in CHANNELS.items()}
    operations = {
        name: {"action": action, "channel": {"$ref": f"#/channels/{_channel_id(topic)}"}, "description": text}
        for name, (action, topic, text) in OPERATIONS.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "medins-settlement",
            "version": "1.0.0",
            "description": "Settlement of China basic medical insurance claims: what hospital and pharmacy "
            "systems send and receive. Field names are the national platform's.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "servers": SERVERS,
        "components": {
            "messages": messages | {"dead_letter": DEAD_LETTER, "clearing_answer": CLEARING_ANSWER},
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render_document() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(render_document(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
