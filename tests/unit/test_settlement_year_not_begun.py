"""A claim dated in a year that had not begun when it was received is refused, not settled against
that year's enrolment and caps (a mistyped discharge date: people are enrolled for the next year
before it begins)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from ledger.adapters.memory import MemoryLedger
from settlement.service_layer.handlers import SettlementService
from test_settlement_service import ROOT, claim, enrolment, raw

from contracts.results import Rejection, SettlementResult
from engine.policy_files import load_policy_book

DECEMBER_20 = datetime(2025, 12, 20, 2, 0, tzinfo=UTC)  # 10:00 in China
NEW_YEARS_EVE = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 in China


def with_2026(tmp_path: Path) -> SettlementService:
    """The shipped policies plus Ningxia's resident policy carried into 2026 (same rules)."""
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    text = (folder / "640000-390-2025.toml").read_text(encoding="utf-8")
    for old, new in (
        ('id = "ningxia-resident-2025"', 'id = "ningxia-resident-2026"'),
        ("year = 2025", "year = 2026"),
        ("effective_from = 2025-01-01", "effective_from = 2026-01-01"),
        ("effective_to = 2025-12-31", "effective_to = 2026-12-31"),
    ):
        text = text.replace(old, new)
    (folder / "640000-390-2026.toml").write_text(text, encoding="utf-8")
    return SettlementService(MemoryLedger(), load_policy_book(folder), clock=lambda: DECEMBER_20)


async def enrolled_both_years(service: SettlementService) -> None:
    for year, continuous in ((2025, 1), (2026, 2)):
        body = enrolment(year=year, request_id=f"E-P1-{year}", continuous_years=continuous)
        assert (await service.handle(raw(body), received_at=DECEMBER_20)).msg_type == "enrolment_accepted"


def stay(ending: str, **extra: object) -> bytes:
    return raw(claim(begntime=f"{ending} 08:00:00", endtime=f"{ending} 16:00:00", **extra))


async def test_a_discharge_in_a_year_not_begun_is_refused_naming_the_date_and_spends_nothing(tmp_path: Path) -> None:
    service = with_2026(tmp_path)
    await enrolled_both_years(service)
    reply = await service.handle(stay("2026-01-05"), received_at=DECEMBER_20)
    assert isinstance(reply, Rejection) and reply.code.value == "outside_policy_year"
    assert "2026-01-05" in reply.message and "2025-12-20" in reply.message and reply.field == "endtime"
    _, year_2026 = await service.store.read_projection("P1/2026")
    assert year_2026 is not None and year_2026["settlements"] == {}  # 2026's totals untouched


async def test_the_same_claim_received_once_its_year_has_begun_settles_in_that_year(tmp_path: Path) -> None:
    service = with_2026(tmp_path)
    await enrolled_both_years(service)
    reply = await service.handle(stay("2026-01-05"), received_at=datetime(2026, 1, 5, 9, tzinfo=UTC))
    assert isinstance(reply, SettlementResult) and reply.year == 2026 and reply.setl_mode == "settle"


async def test_a_hospital_clock_a_day_ahead_on_new_years_eve_still_settles(tmp_path: Path) -> None:
    service = with_2026(tmp_path)
    await enrolled_both_years(service)
    reply = await service.handle(stay("2026-01-01"), received_at=NEW_YEARS_EVE)
    assert isinstance(reply, SettlementResult)


async def test_a_pre_settlement_may_look_into_a_year_not_begun(tmp_path: Path) -> None:
    service = with_2026(tmp_path)
    await enrolled_both_years(service)
    reply = await service.handle(stay("2026-01-05", setl_mode="pre_settle"), received_at=DECEMBER_20)
    assert isinstance(reply, SettlementResult)
