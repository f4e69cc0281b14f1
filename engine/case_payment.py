"""Stage 8 of settle_claim: the inpatient case as the fund values it for the hospital
(docs/clearing.md#case-valuation; the arithmetic is engine.clearing.valuation).

The institution's payment method, level and county come from the payer's registry, the group
and its score or weight from the payer's case-mix catalogue; the hospital's own DRG/DIP code
(and a weight or score it sends) are recorded and compared, never used for money. An
outpatient visit, or a stay no fund covers, has no case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.codes import FundPayType
from engine.clearing.grouping import ClinicalCase
from engine.clearing.rules import CasePaymentRules
from engine.clearing.terms import CaseMixCatalogue, InstitutionTerms, PaymentMethod
from engine.clearing.valuation import CaseFacts, CaseValuation, value_case
from engine.trail import TrailLine, policy_key
from engine.visit import Visit


def _declared(extra: Mapping[str, Any], name: str) -> Decimal | None:
    """A weight or score the institution sent among its other national fields (recorded only)."""
    value = extra.get(name)
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def clinical_case(visit: Visit, method: PaymentMethod) -> ClinicalCase:
    """The grouping facts of the 结算清单: the flagged main diagnosis; the main procedure
    (oprn_oprt_type 1), or the first listed when none is flagged, as HIS systems send it."""
    main_diag = next((d.diag_code for d in visit.diagnoses if d.maindiag_flag), None)
    flagged = next((p.oprn_oprt_code for p in visit.procedures if p.main), None)
    main_oprn = flagged or (visit.procedures[0].oprn_oprt_code if visit.procedures else None)
    declared = _declared(visit.extra, "dip_score" if method == "dip" else "drg_weight")
    return ClinicalCase(main_diag, main_oprn, visit.dip_code, visit.drg_code, declared)


@dataclass(frozen=True)
class CaseInput:
    visit: Visit
    covered: bool
    inpatient: bool  # the region maps the visit's med_type to a stay
    terms: InstitutionTerms  # the registry's record of the institution on the day
    catalogue: CaseMixCatalogue
    region: str  # the pooling region of the policy
    basic_fund: FundPayType
    rules: CasePaymentRules
    medfee: int
    hifp: int  # the basic fund's item-level payment
    policy_file: str


def case_payment_stage(given: CaseInput) -> tuple[CaseFacts | None, tuple[TrailLine, ...]]:
    if not (given.inpatient and given.covered):
        return None, ()
    facts, why = value_case(
        CaseValuation(
            clinical=clinical_case(given.visit, given.terms.paymtd),
            terms=given.terms,
            region=given.region,
            fund_pay_type=given.basic_fund,
            rules=given.rules,
            catalogue=given.catalogue,
            on=given.visit.enddate,
            medfee=given.medfee,
            item_fund=given.hifp,
        )
    )
    return facts, (TrailLine("case_payment", policy_key(given.policy_file, "case_payment"), why),)
