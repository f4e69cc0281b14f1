"""Hostile review of main's changes since a63fa07 (two-region clearing, the year not begun, the
orjson body hash). Each test names a defect the review found, fixed since (each failed before its fix).
The attacks that found the changes sound are listed in the review's report, not here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ledger.adapters.memory import MemoryLedger
from national import envelope, parsed, pharmacy_purchase, sample_gateway
from settlement.gateway.context import Access
from test_clearing_two_regions import HOSPITAL, RESIDENTS, V1_RELEASE, YEAR, YUAN, ledger_with, year_closed

COUNTER, PERSON = "H43010200456", "43000000000000009900000002"  # the national sample's 长沙 counter, staff member
DECEMBER_20_2024 = datetime(2024, 12, 20, 2, 0, tzinfo=UTC)  # 10:00 in China: 2025 has not begun


async def test_a_national_pharmacy_purchase_dated_in_a_year_not_begun_is_refused_not_settled() -> None:
    # 2102 (pharmacy settlement) dated 2025-03-18, received on 2024-12-20 (China): the same
    # mistyped date that claims.v2 refuses as outside_policy_year (handlers.refuse_a_year_not_begun).
    gateway, _ = await sample_gateway(MemoryLedger())
    raw = envelope("2102", "M-2102-AHEAD", pharmacy_purchase("2025-03-18", psn_no=PERSON), fixmedins_code=COUNTER)
    body = parsed(await gateway.handle(raw, access=Access.anyone(), received_at=DECEMBER_20_2024))
    assert body["infcode"] != "0", "settled against 2025's enrolment and caps before 2025 began"
    assert "not begun" in body["err_msg"]


async def test_a_release_written_before_the_upgrade_does_not_block_a_second_regions_release() -> None:
    # Before the upgrade: 640000 closed the hospital's year and its deposit was released (v1, no
    # region: the old code released against the one YearClosed then in the stream). After it,
    # 640500 closes the year too, withholding 200 yuan of its own.
    _, commands = await ledger_with([year_closed("640000", 300 * YUAN), V1_RELEASE, year_closed("640500", 200 * YUAN)])
    released = await commands.release_deposit(HOSPITAL, YEAR, RESIDENTS, Decimal("0.5"), "640500")
    # 640500's 200 yuan at 0.5: 100 yuan paid out, 100 forfeited
    assert (released.answer["released"], released.answer["forfeited"]) == (100 * YUAN, 100 * YUAN)
