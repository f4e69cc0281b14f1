"""Every message sequence of tests/fixtures/national/ replayed against the gateway over the real
PostgreSQL ledger, with the request bytes as committed: each answer has what the codebase that
sent it reads (tests/national.py, read_problems), and ``ledger verify`` finds the ledger intact.

Only the sample side is made to know the fixtures' invented codes (tests/fixtures/national/
sample/: people, enrolments, the fixture regions' sample policies; the payer's sample catalogue
and registry); the platform's ids are handed out as the fixtures recorded them (FixtureIds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ledger.adapters.postgres import PostgresLedger
from ledger.verify import verify_ledger
from ledger_contract import migrated_pool
from national import FixtureIds, parsed, read_problems, requests, sample_gateway, steps
from settlement.gateway.context import Access

pytestmark = pytest.mark.integration

BINZHE, HSA, STAY = "outpatient_binzhe_shenzhen", "outpatient_hsa_his", "inpatient_hsa_his"
REFUNDS, REVERSAL, STAY_REVERSAL = "refund_lines", "reversal_outpatient_2208", "reversal_inpatient_2305"
RECONCILIATION = "reconciliation_3201_3202"
# (scenario, step) → the answer expected when it is not success, and why.
REFUSED = {
    (REVERSAL, "r2"): "already reversed",  # the fixture's own note: r1 reversed it first
    (RECONCILIATION, "f2"): "stmt_begndate is required",  # binzhe's page leaves infno 3201 and empty fields
}


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresLedger]:
    async with migrated_pool(database_url, role="ledger_app") as pool:
        yield PostgresLedger(pool)


async def _replay(store: PostgresLedger, *names: str) -> dict[tuple[str, str], dict[str, object]]:
    gateway, _ = await sample_gateway(store, FixtureIds(*names))
    answers = {}
    for name in names:
        sent = requests(name)
        for step in steps(name):
            body = parsed(await gateway.handle(sent[step["id"]], access=Access.only(frozenset({_code(step)}))))
            answers[(name, step["id"])] = body
            expected = REFUSED.get((name, step["id"]))
            if expected is None:
                assert body["infcode"] == "0", (name, step["id"], body["err_msg"])
            else:
                assert body["infcode"] == "-1" and expected in str(body["err_msg"]), (name, step["id"], body)
            assert read_problems(step, body) == [], (name, step["id"])
    return answers


def _code(step: dict[str, object]) -> str:
    request = step["request"]
    assert isinstance(request, dict)
    return str(request.get("fixmedins_code") or request.get("medins_code"))


async def _intact(store: PostgresLedger) -> None:
    report = await verify_ledger(store)
    assert report.ok, report.problems()


def _echoes(answers: dict[tuple[str, str], dict[str, object]], name: str, step_id: str) -> list[str]:
    output = answers[(name, step_id)]["output"]
    assert isinstance(output, dict)
    return [str(row["feedetl_sn"]) for row in output["result"]]


async def test_the_shenzhen_outpatient_visit_its_reversal_and_the_days_reconciliation(store: PostgresLedger) -> None:
    answers = await _replay(store, BINZHE, REVERSAL, RECONCILIATION)
    assert _echoes(answers, BINZHE, "a5") == ["H44030500123202503140938056121"]
    await _intact(store)


async def test_the_changsha_outpatient_visit_and_its_partial_refund(store: PostgresLedger) -> None:
    answers = await _replay(store, HSA, REFUNDS)
    assert _echoes(answers, HSA, "b5") == [
        "1503912400000000011",
        "1503912400000000012",
        "1503912400000000013",
        "1503912400000000014",
    ]
    await _intact(store)


async def test_the_changsha_stay_with_a_refund_line_and_its_reversal(store: PostgresLedger) -> None:
    answers = await _replay(store, STAY, STAY_REVERSAL)
    assert _echoes(answers, STAY, "c4") == ["504200000000000201", "504200000000000202", "504200000000000203"]
    await _intact(store)
