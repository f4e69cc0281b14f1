"""``setlinfo`` and ``setldetail`` of 2206/2207, 2303/2304, 2101/2102 and their reversals,
rendered from the ledger's facts in fen (docs/national-interface.md §6, §10).

Every amount is a JSON number and present (hsa-his calls ``.toString()`` on 18 of them);
ids, codes and flags are strings; ``setldetail`` is an array whose ``fund_pay_type`` is digits
and whose ``setl_proc_info`` is a code or "" (hsa-his compares it with codes such as 640101:
none of the funds paid here has a sub-fund, so it is ""). The clearing fields are the ones
hospitals reconcile on: ``clr_optins`` the clearing region (the insured's pooling region),
``clr_type`` 11 outpatient / 21 inpatient / 41 pharmacy, ``clr_way`` "1".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.settlement_facts import FundPayment, SettlementAmounts
from settlement.gateway.answers import Number, china_time, ratio, yuan
from settlement.gateway.people import PersonRecord
from settlement.service_layer.render import FUND_NAMES

CLEARING_TYPE = {"outpatient": "11", "inpatient": "21", "pharmacy": "41"}
CLEARING_WAY = "1"
_AMOUNTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
)
_FUNDS = ("cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt")
_PERSON = ("psn_part_amt", "acct_pay", "psn_cash_pay")


@dataclass(frozen=True)
class Echo:
    """The visit and person facts a setlinfo repeats (strings; ``None`` where not known)."""

    mdtrt_id: str
    psn_no: str
    insutype: str
    med_type: str
    mdtrt_cert_type: str
    setting: str  # outpatient / inpatient / pharmacy
    clr_optins: str  # the insured's pooling region
    person: PersonRecord | None


def _person(echo: Echo, on: date) -> dict[str, Any]:
    person = echo.person
    cover = next((c for c in person.insurances if c.insutype == echo.insutype), None) if person else None
    return {
        "psn_name": person.psn_name if person else "",
        "psn_cert_type": person.psn_cert_type if person else "",
        "certno": person.certno if person else "",
        "gend": person.gend if person else "",
        "naty": person.naty if person else "",
        "brdy": person.brdy.isoformat() if person and person.brdy else None,
        "age": ratio_age(person, on),
        "psn_type": cover.psn_type if cover else "",
        "cvlserv_flag": cover.cvlserv_flag if cover else "0",
    }


def ratio_age(person: PersonRecord | None, on: date) -> Number:
    """Age in years with one decimal, a JSON number (hsa-his's inpatient reader requires it)."""
    text = person.age_on(on) if person else ""
    return Number(text or "0.0")


def setlinfo(
    echo: Echo, amounts: SettlementAmounts, *, setl_id: str, msgid: str, at: datetime, hosp_part_amt: int = 0
) -> dict[str, Any]:
    money = {name: yuan(getattr(amounts, name)) for name in (*_AMOUNTS, *_FUNDS, *_PERSON)}
    return {
        "mdtrt_id": echo.mdtrt_id,
        "setl_id": setl_id,
        "psn_no": echo.psn_no,
        **_person(echo, at.date()),
        "insutype": echo.insutype,
        "setl_time": china_time(at),
        "mdtrt_cert_type": echo.mdtrt_cert_type,
        "med_type": echo.med_type,
        **{name: money[name] for name in _AMOUNTS},
        "pool_prop_selfpay": ratio(amounts.pool_prop_selfpay),
        **{name: money[name] for name in _FUNDS},
        **{name: money[name] for name in _PERSON},
        "hosp_part_amt": yuan(hosp_part_amt),
        "balc": yuan(amounts.balc),
        "acct_mulaid_pay": yuan(amounts.acct_mulaid_pay),
        "medins_setl_id": msgid,
        "clr_optins": echo.clr_optins,
        "clr_way": CLEARING_WAY,
        "clr_type": CLEARING_TYPE[echo.setting],
    }


def setldetail(rows: tuple[FundPayment, ...]) -> list[dict[str, Any]]:
    return [
        {
            "fund_pay_type": row.fund_pay_type.value,
            "inscp_scp_amt": yuan(row.inscp_scp_amt),
            "crt_payb_lmt_amt": yuan(row.crt_payb_lmt_amt),
            "fund_payamt": yuan(row.fund_payamt),
            "fund_pay_type_name": FUND_NAMES[row.fund_pay_type],
            "setl_proc_info": "",
        }
        for row in rows
    ]
