"""1101 人员信息获取: who a certificate belongs to, and their cover this year. Records nothing.

The certificate is looked up in the payer's person register (settlement.gateway.people); the
cover's state and the account balance come from the ledger (the person-year's enrolment and
account). ``age`` and ``balc`` are sent as numeric *strings* here, the one place the codebases
disagree on a type (docs/national-interface.md §5.10): binzhe declares them C# ``string`` (a
JSON number fails its binding), hsa-his and openhis copy either form.
"""

from __future__ import annotations

from typing import Any

from contracts.money import format_yuan
from settlement.gateway.context import Context, Done
from settlement.gateway.fields import NationalRefusal, identifier, moment, text
from settlement.gateway.people import Insurance, PersonRecord
from settlement.gateway.visits import china_naive
from settlement.service_layer.people import load

# 就诊凭证类型: 01 电子凭证 (a token this gateway cannot check), 02 身份证, 03 社保卡.
_BY_CERTIFICATE = {"02": "mdtrt_cert_no", "03": "certno"}


def _person(context: Context) -> PersonRecord:
    data = context.envelope.data()
    kind = text(data, "mdtrt_cert_type")
    if kind not in _BY_CERTIFICATE:
        raise NationalRefusal(
            f"mdtrt_cert_type {kind!r} is not served here: send 02 (ID number in mdtrt_cert_no) "
            "or 03 (social security card, with the holder's certno)"
        )
    number = identifier(data, _BY_CERTIFICATE[kind])
    person = context.deps.directory.by_certificate(number)
    if person is None:
        raise NationalRefusal("no insured person holds this certificate")
    name = text(data, "psn_name", required=False)
    if name and name != person.psn_name:
        raise NationalRefusal("the name given does not match the register for this certificate")
    return person


async def _insurance(context: Context, person: PersonRecord, cover: Insurance, year: int) -> dict[str, Any]:
    state = (await load(context.deps.store, person.psn_no, year)).state
    enrolled = state.enrolment is not None and state.enrolment.insutype.value == cover.insutype
    balance = state.account_balance if enrolled and state.has_account else 0
    return {
        "balc": format_yuan(balance),
        "insutype": cover.insutype,
        "psn_type": cover.psn_type,
        "psn_insu_stas": "1" if enrolled else "0",  # 1 正常参保; 0: no enrolment for this year
        "psn_insu_date": cover.psn_insu_date.isoformat() if cover.psn_insu_date else None,
        "paus_insu_date": None,
        "cvlserv_flag": cover.cvlserv_flag,
        "insuplc_admdvs": cover.insuplc_admdvs,
        "emp_name": cover.emp_name,
    }


async def person_info(context: Context) -> Done:
    person = _person(context)
    # The cover asked about: of the visit's day when the counter gives one (begntime), else today's.
    asked = moment(context.envelope.data(), "begntime", required=False)
    today = (asked or china_naive(context.at)).date()
    base = {
        "psn_no": person.psn_no,
        "psn_cert_type": person.psn_cert_type,
        "certno": person.certno,
        "psn_name": person.psn_name,
        "gend": person.gend,
        "naty": person.naty,
        "brdy": person.brdy.isoformat() if person.brdy else None,
        "age": person.age_on(today),
    }
    insurances = [await _insurance(context, person, cover, today.year) for cover in person.insurances]
    return Done({"baseinfo": base, "insuinfo": insurances, "idetinfo": []})
