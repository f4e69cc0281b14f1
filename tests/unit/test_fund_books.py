"""Issue 12, item 14: contributions arrive as messages and every fund keeps its own book.

[001] 1 (Anhui, 2024 cover): 「筹资标准为1020元,其中:人均财政补助标准达到每人每年不低于640元,个人缴费标准
达到每人每年380元」; [001] 3: 「对特困人员给予全额资助,对低保对象给予80—90%定额资助,对返贫致贫人口给予70—80%
定额资助,对防止返贫监测对象给予50%定额资助」; [000] (五) back-payment 「缴费参照当年参保地的个人缴费标准」;
[003] 二 retirees' credits 「由统筹基金按定额划入」; [002] 二(四) 「分别建账、分账核算…不得相互挤占和调剂」.
The service runs over the in-memory ledger; the books are ledger.funds.FundBookFold over its log.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_builders import PSN_TYPE_CODES
from ledger.adapters.memory import MemoryLedger
from ledger.funds import FundBookFold, fund_report, prefix_pool
from settlement.service_layer.handlers import SettlementService

from contracts.codes import RejectionCode
from contracts.results import EnrolmentAccepted, Rejection, SettlementResult
from engine.policy_files import load_policy_book

BOOK = load_policy_book(Path(__file__).resolve().parents[2] / "policies")


class Run:
    def __init__(self) -> None:
        self.store = MemoryLedger()
        self.service = SettlementService(self.store, BOOK, clock=lambda: datetime(2025, 3, 1, tzinfo=UTC))

    def send(self, message: dict[str, Any]) -> Any:
        return asyncio.run(self.service.handle(json.dumps(message, ensure_ascii=False).encode()))

    def books(self) -> FundBookFold:
        fold = FundBookFold()
        for event in asyncio.run(self.store.read_all(0, 10_000)):
            fold.apply(event, {})
        return fold


def enrol(psn: str, year: int = 2025, region: str = "640100", psn_type: str = "adult", **facts: Any) -> dict[str, Any]:
    """An enrolments.v2 enrolment; ``psn_type`` the engine's word, sent as its national code."""
    return {
        "msg_type": "enrolment",
        "schema_version": "enrolments.v2",
        "request_id": f"E-{psn}-{year}",
        "sent_at": f"{year - 1}-11-01 09:00:00",
        "psn_no": psn,
        "insutype": "390",
        "psn_type": PSN_TYPE_CODES[psn_type],
        "insuplc_admdvs": region,
        "year": year,
        "enrol_date": f"{year - 1}-11-01",
        **facts,
    }


def pay(psn: str, request_id: str, year: int = 2025, insutype: str = "390", **amounts: Any) -> dict[str, Any]:
    """An enrolments.v2 contribution into the scheme of national ``insutype``."""
    return {
        "msg_type": "contribution",
        "schema_version": "enrolments.v2",
        "request_id": request_id,
        "sent_at": f"{year - 1}-11-01 09:00:00",
        "psn_no": psn,
        "insutype": insutype,
        "year": year,
        **amounts,
    }


def entry(fold: FundBookFold, admdvs: str, fund: str, year: int, kind: str, item: str) -> int:
    return fold.entries.get((admdvs, fund, year, kind, item), 0)


# --------------------------------------------------------------------------- residents' contributions


def test_an_anhui_min_living_resident_pays_57_and_the_aid_fund_323_of_the_380_standard_001() -> None:
    """[001] 3: 低保 80–90% of the 380 standard, i.e. 304.00–342.00 from the aid fund."""
    run = Run()
    run.send(enrol("A1", 2024, "341222", aid_category="min_living"))
    # 380 × 0.85 = 323.00 from the aid fund, 380 − 323 = 57.00 from the person
    assert isinstance(run.send(pay("A1", "C1", 2024, individual="57.00", aid_subsidy="323.00")), EnrolmentAccepted)
    fold = run.books()
    assert entry(fold, "341222", "390100", 2024, "income", "individual") == 5_700
    assert entry(fold, "341222", "390100", 2024, "income", "aid_subsidy") == 32_300
    assert entry(fold, "341222", "610100", 2024, "spending", "contribution_subsidies") == 32_300
    # [001] 1: the fiscal subsidy of at least 640 a person; 1,020 in all for the person-year
    assert entry(fold, "341222", "390100", 2024, "income", "fiscal_subsidy") == 64_000


@pytest.mark.parametrize(
    ("facts", "amounts", "field"),
    [
        ({"aid_category": "min_living"}, {"individual": "30.00", "aid_subsidy": "350.00"}, "aid_subsidy"),  # 92%
        ({}, {"individual": "300.00", "aid_subsidy": "80.00"}, "aid_subsidy"),  # no aid category, no subsidy
        ({}, {"individual": "400.00"}, "individual"),  # 400 is not Anhui's 2024 standard of 380
        ({"aid_category": "monitored"}, {"individual": "190.00", "aid_subsidy": "190.00"}, None),  # 50% exactly
    ],
)
def test_a_contribution_that_does_not_fit_the_standard_is_refused_with_a_sentence_001(
    facts: dict[str, Any], amounts: dict[str, Any], field: str | None
) -> None:
    run = Run()
    run.send(enrol("A1", 2024, "341222", **facts))
    answer = run.send(pay("A1", "C1", 2024, **amounts))
    if field is None:
        assert isinstance(answer, EnrolmentAccepted)
    else:
        assert isinstance(answer, Rejection) and answer.field == field and answer.message


def test_a_back_payment_is_the_years_repaired_at_this_years_standard_000() -> None:
    """[000] (五) 「每多缴纳1年可减少1个月变动待遇等待期…缴费参照当年参保地的个人缴费标准」: the Ningxia
    file's 2025 standard is 400 (ASSUMPTION); a person repairing 2 years of a 3-year break pays 800."""
    run = Run()
    run.send(enrol("R1", break_years=3, paid_back_years=2))
    wrong = run.send(pay("R1", "C1", individual="400.00", back_payment="400.00"))
    assert isinstance(wrong, Rejection) and wrong.field == "back_payment" and "800.00" in wrong.message
    assert isinstance(run.send(pay("R1", "C2", individual="400.00", back_payment="800.00")), EnrolmentAccepted)
    assert entry(run.books(), "640100", "390100", 2025, "income", "back_payment") == 80_000


def test_a_second_contribution_for_the_year_and_one_before_enrolment_are_refused() -> None:
    run = Run()
    early = run.send(pay("R1", "C0", individual="400.00"))
    assert isinstance(early, Rejection) and early.code is RejectionCode.UNKNOWN_PERSON
    run.send(enrol("R1"))
    assert isinstance(run.send(pay("R1", "C1", individual="400.00")), EnrolmentAccepted)
    again = run.send(pay("R1", "C2", individual="400.00"))
    assert isinstance(again, Rejection) and again.code is RejectionCode.CONTRIBUTION_ALREADY_RECORDED
    # the same request again is the same answer (idempotency), not a second contribution
    assert isinstance(run.send(pay("R1", "C1", individual="400.00")), EnrolmentAccepted)
    assert entry(run.books(), "640100", "390100", 2025, "income", "individual") == 40_000


def test_a_contribution_into_another_scheme_or_on_enrolments_v1_is_refused() -> None:
    """The contribution names its scheme by the national insutype, read through the region's
    [codes.insutype]: a staff (310) contribution for a resident is scheme_mismatch; enrolments.v1
    is refused with the migration (docs/integrating.md#migrating-from-v1)."""
    run = Run()
    run.send(enrol("R1"))
    other = run.send(pay("R1", "C1", insutype="310", month=1, employer="480.00"))
    assert isinstance(other, Rejection) and other.code is RejectionCode.SCHEME_MISMATCH and other.field == "insutype"
    old = run.send(pay("R1", "C2", individual="400.00") | {"schema_version": "enrolments.v1"})
    assert isinstance(old, Rejection) and old.code is RejectionCode.UNSUPPORTED_SCHEMA_VERSION
    assert entry(run.books(), "640100", "390100", 2025, "income", "individual") == 0


# --------------------------------------------------------------------------- staff, accounts, books


def staff(psn: str, psn_type: str = "in_service", **facts: Any) -> dict[str, Any]:
    extra = {"contribution_base": "8000.00"} if psn_type == "in_service" else {}
    return enrol(psn, insutype="310", psn_type=psn_type, **extra, **facts)


def test_employer_contributions_go_to_the_pooled_fund_and_the_employees_to_the_accounts_003() -> None:
    """[003] 二 「單位繳納的基本醫療保險費全部計入統籌基金」; the in-service account is credited 2% of the
    base from the person's own contribution. Siping staff: the 大额 yearly contribution [002]."""
    run = Run()
    run.send(staff("S1", region="220302"))
    ok = run.send(
        pay("S1", "C1", insutype="310", month=1, employer="480.00", individual="160.00", large_amount="120.00")
    )
    assert isinstance(ok, EnrolmentAccepted)
    again = run.send(pay("S1", "C2", insutype="310", month=1, employer="480.00", individual="160.00"))
    assert isinstance(again, Rejection) and again.code is RejectionCode.CONTRIBUTION_ALREADY_RECORDED
    fold = run.books()
    assert entry(fold, "220302", "310100", 2025, "income", "employer") == 48_000
    assert entry(fold, "220302", "310200", 2025, "income", "employee") == 16_000
    assert entry(fold, "220302", "330100", 2025, "income", "individual") == 12_000


def test_a_retirees_account_credit_is_charged_to_the_staff_pooled_fund_003() -> None:
    """[003] 「退休人員個人賬戶…由統籌基金按定額劃入」: Ningxia's 62.00 a month (ASSUMPTION base)."""
    run = Run()
    run.send(staff("S2", psn_type="retired"))
    credit = {
        "msg_type": "account_credit",
        "schema_version": "enrolments.v2",
        "request_id": "AC1",
        "sent_at": "2025-01-01 09:00:00",
        "psn_no": "S2",
        "year": 2025,
        "month": 1,
    }
    assert isinstance(run.send(credit), EnrolmentAccepted)
    fold = run.books()
    assert entry(fold, "640100", "310100", 2025, "spending", "retiree_account_credits") == 6_200
    assert entry(fold, "640100", "310200", 2025, "income", "from_pooled_fund") == 6_200


def test_a_relatives_staff_account_paying_a_residents_bill_is_booked_to_the_staff_accounts_003() -> None:
    """[003] 三 家庭共济: the parent's account pays the child's share; [002] 二(四) the funds never
    pay for each other — the resident fund's book shows only what it paid itself."""
    run = Run()
    run.send(staff("S1", family_members=[{"psn_no": "R9", "relation": "child"}], acct_opening_balance="1000.00"))
    run.send(enrol("R9", psn_type="student"))
    # a general-outpatient visit at the SAMPLE registry's level-2 hospital (policies/payer/640000),
    # one CT (class A, 甲类, in the SAMPLE catalogue) of 500.00
    bill = {
        "msg_type": "claim",
        "schema_version": "claims.v2",
        "request_id": "V1",
        "sent_at": "2025-03-01 09:00:00",
        "psn_no": "R9",
        "insutype": "390",
        "mdtrt_id": "MD-V1",
        "fixmedins_code": "H64010100002",
        "med_type": "11",
        "begntime": "2025-03-01",
        "endtime": "2025-03-01",
        "acct_used_flag": "1",
        "acct_payer_psn_no": "S1",
        "acct_payer_relation": "child",
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "002202000010000",
                "pric": "500",
                "cnt": "1",
                "det_item_fee_sumamt": "500.00",
            }
        ],
    }
    settled = run.send(bill)
    assert isinstance(settled, SettlementResult)
    # Ningxia residents, level 2: (500 − 100) × 0.50 = 200.00 from 390100; the child's 300.00 from S1's account
    assert (settled.setlinfo.hifp_pay, settled.setlinfo.acct_mulaid_pay) == (20_000, 30_000)
    fold = run.books()
    assert entry(fold, "640100", "390100", 2025, "spending", "claims") == 20_000
    assert entry(fold, "640100", "310200", 2025, "spending", "family_mutual_aid") == 30_000
    assert entry(fold, "640100", "310200", 2025, "spending", "claims") == 0  # S1's own care: none


def test_the_books_report_income_spending_balance_and_months_payable_000() -> None:
    """基金可支付月数 ([000] 「基金可支付月数在9个月以上的地区」): balance ÷ (the year's spending ÷ 12)."""
    rows = [
        ("640100", "390100", 2024, "income", "individual", 1_200_000),
        ("640100", "390100", 2025, "income", "individual", 1_000_000),
        ("640104", "390100", 2025, "spending", "claims", 600_000),
        ("640500", "390100", 2025, "spending", "claims", 999_999),  # Zhongwei: another pool with policies
        ("650100", "390100", 2025, "income", "individual", 7),  # Xinjiang: another province
    ]
    by_prefix = {line.fund: line for line in fund_report(rows, "640000", 2025, prefix_pool("640000"))}
    line = by_prefix["390100"]
    # income 10,000.00; spending 6,000.00 + 9,999.99 (by prefix 640500 is in 64xxxx) = 15,999.99
    assert (line.income, line.spending) == (1_000_000, 1_599_999)
    # balance over 2024 and 2025: 12,000 + 10,000 − 15,999.99 = 6,000.01; months 6,000.01 × 12 ÷ 15,999.99 = 4.5
    assert line.balance == 600_001 and line.months_payable == Decimal("4.5")
    assert by_prefix["610100"].months_payable is None  # nothing spent


def test_the_medical_aid_book_reports_its_spending_and_no_balance_since_its_income_is_not_recorded() -> None:
    """Its income is the treasury's and not in the ledger (docs/domain.md#fund-books): a balance
    would be its spending negated, and months payable a negative number of months."""
    rows = [
        ("640100", "610100", 2025, "spending", "claims", 1_382_249),
        ("640100", "610100", 2025, "spending", "contribution_subsidies", 50_000),
    ]
    (line,) = [x for x in fund_report(rows, "640000", 2025, prefix_pool("640000")) if x.fund == "610100"]
    assert line.spending == 1_432_249  # 13,822.49 + 500.00
    assert (line.income, line.balance, line.months_payable) == (None, None, None)


def test_a_contribution_fact_round_trips_through_its_record_at_version_1() -> None:
    """ADR 0004: a new event type starts at version 1, with its codec and a round trip."""
    from contracts.codes import FundPayType, Insutype
    from engine.contributions import BookEntry, ContributionFacts, ContributionRecorded
    from engine.records import from_record, to_record

    fact = ContributionRecorded(
        ContributionFacts("A1", 2024, None, 5_700, 32_300, 0, 0, 0),
        Insutype.RESIDENT,
        "341222",
        "anhui-resident-2024",
        (BookEntry(FundPayType.RESIDENT_POOLED, "income", "individual", 5_700),),
    )
    event_type, data = to_record(fact)
    assert (event_type, data["schema_version"]) == ("ContributionRecorded", 1)
    assert from_record(event_type, json.loads(json.dumps(data))) == fact
