"""A person's annual totals (年度累计), and the fold that rebuilds them from events.

Every event that changes the totals carries its change as a ``Totals`` delta; the fold adds
the deltas. A reversal carries the negated delta of what it reverses, so reversing restores
the totals exactly. The same fold serves the engine (current totals) and audit replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Totals:
    """All in fen, except the two counters."""

    settlements: int = 0  # settlements in force (a reversal takes one away)
    admissions: int = 0  # inpatient stays (the n-th stay's deductible depends on it)
    medfee_sumamt: int = 0
    fulamt_ownpay_amt: int = 0
    overlmt_selfpay: int = 0
    preselfpay_amt: int = 0
    inscp_scp_amt: int = 0
    # 起付线 used, per benefit (yearly deductibles are per benefit; inpatient per stay)
    dedc_inpatient: int = 0
    dedc_general_outpatient: int = 0
    dedc_chronic_outpatient: int = 0
    dedc_two_diseases: int = 0
    dedc_dual_channel_outpatient: int = 0
    # basic pooled fund paid, per benefit (their sum spends the shared annual cap)
    hifp_inpatient: int = 0
    hifp_general_outpatient: int = 0
    hifp_chronic_outpatient: int = 0
    hifp_two_diseases: int = 0
    hifp_dual_channel_outpatient: int = 0
    hifp_in_annual_cap: int = 0  # what counts against 年度最高支付限额
    mi_base: int = 0  # qualifying policy-range self-pay accumulated for major illness
    mi_paid: int = 0  # hifmi_pay (residents) or hifob_pay (staff)
    aid_base: int = 0  # compliant cost left after basic and major illness (medical aid)
    aid_paid: int = 0
    fund_pay_sumamt: int = 0
    acct_credited: int = 0  # monthly credits this year
    acct_paid_own: int = 0  # own account spent on own care
    acct_paid_for_family: int = 0  # own account spent on relatives' care (家庭共济)
    acct_mulaid_received: int = 0  # relatives' accounts spent on this person's care
    psn_cash_pay: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __neg__(self) -> Totals:
        return Totals(**{f.name: -getattr(self, f.name) for f in fields(self)})

    def nonzero(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Totals:
        names = {f.name for f in fields(Totals)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown totals fields {sorted(unknown)}")
        return Totals(**{k: int(v) for k, v in data.items()})

    @property
    def deductibles_total(self) -> int:
        return (
            self.dedc_inpatient
            + self.dedc_general_outpatient
            + self.dedc_chronic_outpatient
            + self.dedc_two_diseases
            + self.dedc_dual_channel_outpatient
        )

    @property
    def hifp_total(self) -> int:
        return (
            self.hifp_inpatient
            + self.hifp_general_outpatient
            + self.hifp_chronic_outpatient
            + self.hifp_two_diseases
            + self.hifp_dual_channel_outpatient
        )


ZERO = Totals()
