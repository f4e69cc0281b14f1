"""Write the JSON Schema of every wire message into contracts/schemas/.

Run `python -m contracts.schema_export` after changing a model; tests/unit/test_contract_schemas.py
fails while the files and the models disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from contracts.claims import Claim, Reversal
from contracts.enrolments import AccountCredit, Contribution, Enrolment
from contracts.reconciliation import Reconciliation, ReconciliationResult
from contracts.results import AnnualTotals, EnrolmentAccepted, Rejection, ReversalResult, SettlementResult

SCHEMAS_DIR = Path(__file__).parent / "schemas"
MESSAGES: dict[str, type[BaseModel]] = {
    "claims.v2.claim": Claim,
    "claims.v2.reversal": Reversal,
    "claims.v2.reconciliation": Reconciliation,
    "enrolments.v2.enrolment": Enrolment,
    "enrolments.v2.account_credit": AccountCredit,
    "enrolments.v2.contribution": Contribution,
    "settlements.v1.settlement": SettlementResult,
    "settlements.v1.reversal_result": ReversalResult,
    "settlements.v1.enrolment_accepted": EnrolmentAccepted,
    "settlements.v1.reconciliation_result": ReconciliationResult,
    "settlements.v1.annual_totals": AnnualTotals,
    "rejections.v1.rejection": Rejection,
}


def schema_of(model: type[BaseModel], name: str) -> dict[str, Any]:
    # Inbound messages are validated (mode="validation"); outbound ones are what we serialise.
    inbound = name.startswith(("claims", "enrolments"))
    schema = model.model_json_schema(mode="validation" if inbound else "serialization")
    if inbound:
        # The model gives msg_type a default, but the service reads it first to know which model
        # to apply: a message without it is answered unknown_message_type, so it is required.
        schema["required"] = ["msg_type", *(f for f in schema.get("required", []) if f != "msg_type")]
    return schema


def render(model: type[BaseModel], name: str) -> str:
    schema = schema_of(model, name)
    schema["$id"] = f"https://medins-settlement.example/contracts/{name}.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMAS_DIR.mkdir(exist_ok=True)
    for name, model in MESSAGES.items():
        (SCHEMAS_DIR / f"{name}.json").write_text(render(model, name), encoding="utf-8")
    print(f"wrote {len(MESSAGES)} schemas to {SCHEMAS_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
