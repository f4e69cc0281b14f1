"""The ledger service on a settled year: it relays every answer, replays a person's year to
the same totals the settlement service shows, verifies the ledger, and reports its backlog."""

from __future__ import annotations

import httpx
from e2e_stack import ROOT, money_totals

EXAMPLE = [ln for ln in (ROOT / "examples" / "year-2025.jsonl").read_text(encoding="utf-8").splitlines() if ln.strip()]


async def test_replay_and_verify_over_http_agree_with_the_settled_year(make_stack) -> None:
    stack = await make_stack()
    settlement = await stack.start_settlement()
    await stack.send(EXAMPLE)
    ledger = stack.ledger
    assert ledger is not None

    auditor, operator = stack.bearer("auditor"), stack.bearer("operator")
    async with httpx.AsyncClient(timeout=30, headers=auditor) as client:
        replay = await client.get(ledger.url("/v1/persons/P002/years/2025/replay"))
        early = await client.get(
            ledger.url("/v1/persons/P002/years/2025/replay"), params={"as_of": "2000-01-01T00:00:00+08:00"}
        )
        unknown = await client.get(ledger.url("/v1/persons/NOBODY/years/2025/replay"))
        bad = await client.get(ledger.url("/v1/persons/P002/years/2025/replay"), params={"as_of": "yesterday"})
        verify = await client.post(ledger.url("/v1/verify"))
        metrics = (await client.get(ledger.url("/metrics"), headers=operator)).text

    assert replay.status_code == 200, replay.text
    body = replay.json()
    assert body["differences"] == []
    assert money_totals(body["replayed"]) == money_totals(await stack.totals(settlement, "P002"))
    assert early.status_code == 404  # nothing had been recorded by then
    assert unknown.status_code == 404 and "NOBODY" in unknown.json()["message"]
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["message"]
    assert verify.status_code == 200 and verify.json()["ok"] is True
    assert verify.json()["streams"] >= 11
    assert "ledger_outbox_backlog_messages 0.0" in metrics
    assert await stack.metric(ledger, "ledger_outbox_published_total") >= len(EXAMPLE) - 1


async def test_the_ledger_service_stops_cleanly_on_sigterm(make_stack) -> None:
    stack = await make_stack()
    assert stack.ledger is not None
    assert stack.stop(stack.ledger) == 0, stack.ledger.log_tail()
    assert '"message": "stopped"' in stack.ledger.log.read_text()
