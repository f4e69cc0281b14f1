"""2601 冲正交易: undo an earlier message named by its msgid (``omsgid``) and transaction
(``oinfno``) — what a hospital sends when it never got the answer (binzhe ``YBSYB.js``;
openhis sends it for 2304 and 2401).

- A settlement (2207 / 2304 / 2102) is reversed, as 2208 / 2305 / 2103 would.
- A registration (2201 / 2401) is cancelled, as 2202 would (refused while settled).
- A fee upload (2204 / 2301) is not undone here: its lines are withdrawn with 2205 / 2302.
- A message that was refused, or recorded nothing, leaves nothing to undo: success, said so.
- A message that never arrived is cancelled before it comes: a row under its msgid answers
  it, when it does arrive, with a refusal naming this 2601 — it is never done late.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.errors import DuplicateRequest
from ledger.store import IdempotentRequest, StoredRequest

from engine.visit_events import VisitCancelled
from settlement.gateway.answers import STORED_KEY, TOMBSTONE, answer, encode, stored_row
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, identifier
from settlement.gateway.transactions.reverse import reverse_visit
from settlement.gateway.visits import open_visit, source_of, visit_append

SETTLEMENTS, REGISTRATIONS = ("2207", "2304", "2102"), ("2201", "2401")


async def _cancel_ahead(context: Context, key: str, omsgid: str) -> StoredRequest | None:
    """Leave the row that answers ``omsgid`` if it comes; None, or what arrived meanwhile."""
    e = context.envelope
    refusal = answer(
        region=e.mdtrtarea_admvs,
        msgid=omsgid,
        received_at=context.at,
        answered_at=context.at,
        output={},
        err_msg=f"message {omsgid} was cancelled by 2601 (msgid {e.msgid}) before it arrived; nothing was done",
    )
    row = {**stored_row(encode(refusal), key=key, infno=""), TOMBSTONE: e.msgid}
    try:
        await context.deps.store.commit([], request=IdempotentRequest(key, "cancelled", row))
    except DuplicateRequest as arrived:
        return arrived.stored
    return None


def _output(stored: StoredRequest) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(stored.result[STORED_KEY])
    return parsed


async def _undo(context: Context, oinfno: str, output: dict[str, Any], psn_no: str | None) -> Done:
    if oinfno in SETTLEMENTS:
        info = output["setlinfo"]
        state = await open_visit(context, info["mdtrt_id"], psn_no)
        return await reverse_visit(context, state, info["setl_id"])
    if oinfno in REGISTRATIONS:
        visit = output.get("data") or output.get("result") or {}
        state = await open_visit(context, visit["mdtrt_id"], psn_no)
        if state.open_setl_id is not None:
            raise NationalRefusal(f"visit {state.mdtrt_id} is settled ({state.open_setl_id}): reverse it first")
        return Done({}, (visit_append(context, state, [VisitCancelled(source_of(context))]),))
    raise NationalRefusal(f"2601 does not undo {oinfno}")  # undo() let only the two kinds through


async def undo(context: Context) -> Done:
    data = context.envelope.data()
    omsgid, oinfno = identifier(data, "omsgid"), identifier(data, "oinfno")
    psn_no = identifier(data, "psn_no", required=False) or None
    if oinfno not in (*SETTLEMENTS, *REGISTRATIONS):
        raise NationalRefusal(f"2601 undoes {', '.join((*SETTLEMENTS, *REGISTRATIONS))} here, not {oinfno}")
    key = f"fsi:{context.envelope.fixmedins_code}:{omsgid}"
    stored = await context.deps.store.find_request(key) or await _cancel_ahead(context, key, omsgid)
    if stored is None:
        return Done({}, warn=f"message {omsgid} had not arrived; it is cancelled and will not be done")
    if TOMBSTONE in stored.result:
        return Done({}, warn=f"message {omsgid} was already cancelled by 2601 (msgid {stored.result[TOMBSTONE]})")
    if stored.result.get("infno") != oinfno:
        raise NationalRefusal(f"message {omsgid} was a {stored.result.get('infno')}, not a {oinfno}")
    previous = _output(stored)
    if previous.get("infcode") != "0":
        return Done({}, warn=f"message {omsgid} was refused; there is nothing to undo")
    return await _undo(context, oinfno, previous["output"], psn_no)
