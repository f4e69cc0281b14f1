"""Issue 12, item 3: the major-illness incentives come from the person's own history in the
ledger, cross-checked with what the enrolment message claims (000 四, Xinjiang's text of the
national 国办发〔2024〕38号, 2024-09-05):

「对连续参加居民医保满4年的参保人员,之后每连续参保1年,大病保险最高支付限额相继提高5000元。对当年基金零
报销的居民医保参保人员,次年可提高大病保险最高支付限额5000元…对断保人员再参保的,大病保险当年最高支付限额
降低5000元。居民发生大病报销并使用奖励额度后,前期积累的零报销激励额度清零。断保之后再次参保的,连续参保
年数重新计算。」

The service reads the person's earlier years (streams <psn_no>/<year>) from the ledger; the
policies are the Ningxia residents' file, copied to 2023 and 2024 so those years can be priced.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from engine_builders import CODES, list_in_catalogue, payer_data, register_place, resident_policy_dict
from ledger.adapters.memory import MemoryLedger
from settlement.service_layer.handlers import SettlementService

from contracts.codes import Insutype
from contracts.results import EnrolmentAccepted, Rejection, SettlementResult
from engine.incentives import PriorYear, derive
from engine.policy import Policy
from engine.policy_book import PolicyBook


def _policy(year: int) -> Policy:
    data = resident_policy_dict()
    data["policy"].update(
        id=f"ningxia-resident-{year}", year=year, effective_from=date(year, 1, 1), effective_to=date(year, 12, 31)
    )
    return Policy.model_validate(data)


# The test payer's data: H1 a level-3 hospital paid item by item, X1 a class-A (甲类) item.
list_in_catalogue("X1", "01", 0, None, False)
register_place("H1", "history", "hospital", "3", False, "item")
YEARS = (2021, 2022, 2023, 2024, 2025)
BOOK = PolicyBook.of([_policy(y) for y in YEARS], payer=[payer_data()] * len(YEARS), codes=CODES)


def _service() -> SettlementService:
    return SettlementService(MemoryLedger(), BOOK, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC))


def _send(service: SettlementService, message: dict[str, Any]) -> Any:
    return asyncio.run(service.handle(json.dumps(message, ensure_ascii=False).encode()))


def _enrol(year: int, psn: str = "P1", **facts: Any) -> dict[str, Any]:
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}-{year}",
        "sent_at": f"{year - 1}-10-01T09:00:00+08:00",
        "psn_no": psn,
        "insutype": "390",
        "psn_type": "1501",  # 普通居民(成年)
        "insuplc_admdvs": "640100",
        "year": year,
        "enrol_date": f"{year - 1}-10-01",
        **facts,
    }


def _stay(year: int, amount: str, psn: str = "P1") -> dict[str, Any]:
    return {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": f"C-{psn}-{year}-{amount}",
        "sent_at": f"{year}-06-20T09:00:00+08:00",
        "psn_no": psn,
        "insutype": "390",
        "mdtrt_id": f"MD-{psn}-{year}-{amount}",
        "fixmedins_code": "H1",
        "med_type": "21",
        "begntime": f"{year}-06-01",
        "endtime": f"{year}-06-20",
        "feedetail": [
            {"feedetl_sn": "1", "med_list_codg": "X1", "pric": amount, "cnt": "1", "det_item_fee_sumamt": amount}
        ],
    }


def _rejected(answer: Any, field: str) -> str:
    assert isinstance(answer, Rejection), answer
    assert answer.field == field
    return answer.message


# --------------------------------------------------------------------------- the message itself


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        # the audit's case: a rejoin flag without a break, and 10 continuous years
        ({"rejoined_after_break": True, "break_years": 0, "continuous_years": 10}, "rejoined_after_break"),
        # 断保之后再次参保的,连续参保年数重新计算: after a break this year is the first
        ({"break_years": 3, "continuous_years": 10}, "continuous_years"),
    ],
)
def test_an_enrolment_contradicting_itself_is_refused_with_a_sentence_000(facts: dict[str, Any], field: str) -> None:
    message = _rejected(_send(_service(), _enrol(2025, **facts)), field)
    assert "break" in message


def test_a_break_carries_the_rejoin_penalty_even_when_the_message_omits_the_flag_000() -> None:
    """「对断保人员再参保的,大病保险当年最高支付限额降低5000元」: a 3-year break, rejoined_after_break left out."""
    service = _service()
    assert isinstance(_send(service, _enrol(2025, break_years=3, enrol_date="2024-10-01")), EnrolmentAccepted)
    # a 3-year break waits 3 + 3 = 6 months from 1 January: a stay in July is covered. 700,000 at
    # level 3: basic (700,000 − 900) × 0.65 > 130,000 → 130,000; self-pay 570,000; bands
    # 0.60 × 85,000 + 0.70 × 470,000 = 380,000 > the cap 300,000 − 5,000 = 295,000
    stay = _stay(2025, "700000.00") | {"begntime": "2025-07-01", "endtime": "2025-07-20"}
    answer = _send(service, stay)
    assert isinstance(answer, SettlementResult)
    assert answer.setlinfo.hifmi_pay == 29_500_000


# --------------------------------------------------------------------------- against the ledger


def test_continuous_years_the_ledger_contradicts_are_refused_000() -> None:
    """The ledger holds 2021, a year without enrolment (2022), then 2023 and 2024: with 2025 the
    run is exactly 3 years, whatever the message says. (2021 and 2023 had no claims: at least 2
    zero-claim years; 2024 is not over when the 2025 enrolment is recorded.)"""
    service = _service()
    # 2021 had no claims: its zero-claim year outlives the break (only the continuous count restarts)
    for message in (_enrol(2021), _enrol(2023, break_years=1, zero_claim_years=1)):
        assert isinstance(_send(service, message), EnrolmentAccepted)
    assert isinstance(_send(service, _enrol(2024, continuous_years=2, zero_claim_years=1)), EnrolmentAccepted)
    message = _rejected(_send(service, _enrol(2025, continuous_years=10)), "continuous_years")
    assert "continuous_years is 10" in message and "exactly 3" in message and "2021–2024" in message
    assert isinstance(
        _send(service, _enrol(2025, continuous_years=3, zero_claim_years=2) | {"request_id": "E-P1-2025-b"}),
        EnrolmentAccepted,
    )


def test_a_break_the_message_hides_is_refused_000() -> None:
    """The ledger has 2023 and nothing for 2024: the 2025 enrolment follows a 1-year break."""
    service = _service()
    _send(service, _enrol(2023))
    message = _rejected(_send(service, _enrol(2025, zero_claim_years=1)), "break_years")
    assert "break_years is 0" in message and "makes it 1" in message


def test_history_before_the_ledgers_first_year_is_the_senders_word_but_never_less_than_the_ledger() -> None:
    """The ledger has 2024 only: 7 continuous years may include years before it; 1 may not."""
    service = _service()
    _send(service, _enrol(2024))
    assert isinstance(_send(service, _enrol(2025, continuous_years=7)), EnrolmentAccepted)
    other = _service()
    _send(other, _enrol(2024, psn="P2"))
    # 2024 and 2025 at least: 2 years; the default 1 contradicts it
    assert "at least 2" in _rejected(_send(other, _enrol(2025, psn="P2")), "continuous_years")


def test_zero_claim_years_are_cleared_after_major_illness_used_the_reward_000() -> None:
    """「居民发生大病报销并使用奖励额度后,前期积累的零报销激励额度清零」. 2022 is zero-claim; 2023 starts with a
    cap of 300,000 + 5,000 and a 700,000 stay uses it (major illness pays 305,000 > 300,000): the
    reward is used, so 2024 starts from nothing; 2024 is zero-claim, so 2025 counts exactly 1 —
    once 2024 is over (the 2025 enrolment is recorded in January; one recorded in the collection
    period, before 2024 ends, could not yet count 2024)."""
    service = _service()
    _send(service, _enrol(2022))
    _send(service, _enrol(2023, continuous_years=2, zero_claim_years=1))
    used = _send(service, _stay(2023, "700000.00"))
    # basic 130,000; self-pay 570,000 → bands 380,000 > cap 305,000: major illness pays 305,000
    assert isinstance(used, SettlementResult) and used.setlinfo.hifmi_pay == 30_500_000
    refused = _send(service, _enrol(2024, continuous_years=3, zero_claim_years=2))
    assert "清零" in _rejected(refused, "zero_claim_years")
    assert isinstance(_send(service, _enrol(2024, continuous_years=3) | {"request_id": "E2024b"}), EnrolmentAccepted)
    january = {"enrol_date": "2025-01-05", "sent_at": "2025-01-05T09:00:00+08:00"}
    assert "exactly 1" in _rejected(_send(service, _enrol(2025, continuous_years=4) | january), "zero_claim_years")
    accepted = _send(service, _enrol(2025, continuous_years=4, zero_claim_years=1) | january | {"request_id": "E2025b"})
    assert isinstance(accepted, EnrolmentAccepted)


def test_a_year_with_fund_payments_is_no_zero_claim_year_000() -> None:
    """「对当年基金零报销的居民医保参保人员,次年可提高…5000元」: the ledger has 2024 with a paid stay."""
    service = _service()
    _send(service, _enrol(2024))
    _send(service, _stay(2024, "5000.00"))
    # the ledger's first year is 2024 and it had payments: 0 zero-claim years it can prove, so
    # the message's 1 (a year before 2024) is the sender's word and is accepted
    assert isinstance(_send(service, _enrol(2025, continuous_years=2, zero_claim_years=1)), EnrolmentAccepted)


# --------------------------------------------------------------------------- the pure derivation


def test_derive_reads_runs_breaks_and_zero_claim_years_newest_first() -> None:
    r, s = Insutype.RESIDENT, Insutype.STAFF
    years = [
        PriorYear(2020, r, 0, False),
        PriorYear(2021, s, 500, False),
        PriorYear(2023, r, 0, False),
        PriorYear(2024, r, 100, False),
    ]
    d = derive(2025, years, date(2025, 1, 10))
    assert d is not None
    # 2024, 2023 residents, 2022 nothing: continuous 3 exactly; break 0 (2024 is held)
    assert (d.continuous, d.continuous_exact, d.break_years) == (3, True, 0)
    # zero-claim residents' years: 2023 and 2020 (2021 is staff, 2024 paid); no clearing seen → at least 2
    assert (d.zero_claim, d.zero_claim_exact) == (2, False)
    assert derive(2025, [], date(2025, 1, 10)) is None
    # enrolled on 2024-11-01, 2024 is not over: its zero-claim status proves nothing yet
    open_year = derive(2025, [PriorYear(2024, r, 0, False)], date(2024, 11, 1))
    assert open_year is not None and (open_year.zero_claim, open_year.zero_claim_exact) == (0, False)
