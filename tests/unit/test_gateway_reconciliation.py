"""The gateway's 3201 总额对账 / 3202 明细对账 are the clearing's reconciliation
(ledger.clearing.reconciliation.answer) in the national layout: a day missing one settlement is
"1" with the figures that differ, 3202 names the settlement, a day that adds up is "0" 平, and
input the clearing cannot take is "-1" with a sentence — never recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.adapters.memory import MemoryLedger
from national import envelope, parsed, pharmacy_purchase, sample_gateway
from settlement.gateway.context import Access
from settlement.gateway.service import NationalGateway

CODE, PERSON, DAY = "H43010200456", "43000000000000009900000002", "2025-03-14"  # the fixed clock's China day
ANYONE = Access.anyone()


async def _send(gateway: NationalGateway, infno: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
    return parsed(await gateway.handle(envelope(infno, msgid, payload, fixmedins_code=CODE), access=ANYONE))


async def _purchase(gateway: NationalGateway, msgid: str) -> dict[str, Any]:
    """2102: 24 units of amoxicillin at the catalogue's 0.85 = 20.40 yuan, at a pharmacy counter."""
    body = await _send(gateway, "2102", msgid, pharmacy_purchase(DAY, psn_no=PERSON))
    assert body["infcode"] == "0", body["err_msg"]
    info: dict[str, Any] = body["output"]["setlinfo"]
    assert info["medfee_sumamt"] == Decimal("20.40") and info["clr_type"] == "41"
    return info


def _totals(count: int, medfee: Decimal, fund: Decimal, acct: Decimal, **extra: str) -> dict[str, Any]:
    return {"insutype": "310", "clr_type": "41", "setl_optins": "430100", "stmt_begndate": DAY, "stmt_enddate": DAY,
            "medfee_sumamt": str(medfee), "fund_pay_sumamt": str(fund), "acct_pay": str(acct),
            "fixmedins_setl_cnt": count, **extra}  # fmt: skip


def _row(info: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"psn_no": PERSON, "mdtrt_id": info["mdtrt_id"], "setl_id": info["setl_id"], "refd_setl_flag": "0",
            **{n: str(info[n]) for n in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")}, **extra}  # fmt: skip


def _sums(info: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return info["medfee_sumamt"], info["fund_pay_sumamt"], info["acct_pay"]


async def test_a_day_missing_one_settlement_is_not_balanced_in_3201_and_3202_names_it() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    first, second = await _purchase(gateway, "M-2102-1"), await _purchase(gateway, "M-2102-2")
    # The hospital's books hold only the first purchase: 1 settlement of 20.40; the ledger 2,
    # 20.40 + 20.40 = 40.80.
    totals = await _send(gateway, "3201", "M-3201", {"data": _totals(1, *_sums(first))})
    assert totals["infcode"] == "0", totals["err_msg"]
    info = totals["output"]["stmtinfo"]
    assert info["stmt_rslt"] == "1" and totals["output"]["stmt_rslt"] == "1"
    assert "fixmedins_setl_cnt 医保 2 / 机构 1" in info["stmt_rslt_dscr"]
    assert "medfee_sumamt 医保 40.80 / 机构 20.40" in info["stmt_rslt_dscr"]

    detail = await _send(gateway, "3202", "M-3202", {"data": _totals(1, *_sums(first)), "fsUploadIn": [_row(first)]})
    assert detail["infcode"] == "0", detail["err_msg"]
    [named] = detail["output"]["result"]["detail"]
    assert (named["setl_id"], named["mdtrt_id"], named["memo"]) == (
        second["setl_id"],
        second["mdtrt_id"],
        "missing_at_institution",
    )
    assert named["medfee_sumamt"] == Decimal("20.40") and named["stmt_rslt"] == "1"
    assert "fixmedins_medfee_sumamt" not in named  # the hospital sent no row for it


async def test_a_day_that_adds_up_is_balanced_and_answers_the_platforms_word() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    first, second = await _purchase(gateway, "M-2102-1"), await _purchase(gateway, "M-2102-2")
    both = [a + b for a, b in zip(_sums(first), _sums(second), strict=True)]
    body = await _send(gateway, "3201", "M-3201", {"data": _totals(2, *both)})
    assert body["output"]["stmtinfo"] == {"setl_optins": "430100", "stmt_rslt": "0", "stmt_rslt_dscr": "平"}
    assert body["output"]["stmt_rslt"] == "0"


async def test_a_reversal_counts_as_a_row_of_its_own_unless_refd_setl_flag_is_0() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    bought = await _purchase(gateway, "M-2102-1")
    back = await _send(gateway, "2103", "M-2103", {"data": {"setl_id": bought["setl_id"], "psn_no": PERSON}})
    assert back["infcode"] == "0", back["err_msg"]
    # Reversals included (the default): 2 rows, 20.40 − 20.40 = 0.00 of every amount.
    with_reversal = await _send(gateway, "3201", "M-3201-1", {"data": _totals(2, *[Decimal("0.00")] * 3)})
    assert with_reversal["output"]["stmtinfo"]["stmt_rslt"] == "0"
    # hsa-his's upper-case REFD_SETL_FLAG "0": the forward settlement only, 1 row of 20.40.
    forward = _totals(1, *_sums(bought), REFD_SETL_FLAG="0")
    assert (await _send(gateway, "3201", "M-3201-2", {"data": forward}))["output"]["stmtinfo"]["stmt_rslt"] == "0"


async def test_3202_without_insutype_in_data_takes_the_one_its_rows_name() -> None:
    gateway, _ = await sample_gateway(MemoryLedger())
    bought = await _purchase(gateway, "M-2102-1")
    data = {k: v for k, v in _totals(1, *_sums(bought)).items() if k != "insutype"}
    body = await _send(gateway, "3202", "M-3202-1", {"data": data, "fsUploadIn": [_row(bought, insutype="310")]})
    assert body["output"]["stmtinfo"]["stmt_rslt"] == "0", body
    mixed = [_row(bought, insutype="310"), _row(bought, insutype="390", setl_id="OTHER")]
    refused = await _send(gateway, "3202", "M-3202-2", {"data": data, "fsUploadIn": mixed})
    assert refused["infcode"] == "-1"
    assert refused["err_msg"] == "insutype is required (in data, or the same on every fsUploadIn row)"


async def test_input_the_clearing_cannot_take_is_refused_with_a_sentence_and_nothing_is_recorded() -> None:
    store = MemoryLedger()
    gateway, _ = await sample_gateway(store)
    bought = await _purchase(gateway, "M-2102-1")
    before = len(await store.read_all(0, 10_000))
    cases = {
        "clr_type": (_totals(1, *_sums(bought), clr_type="12"), "clr_type: Input should be '11', '21', '41' or '99'"),
        "period": (_totals(1, *_sums(bought), stmt_enddate="2025-03-01"), "stmt_enddate is before stmt_begndate"),
        "flag": (_totals(1, *_sums(bought), refd_setl_flag="2"), 'refd_setl_flag must be "0" or "1"'),
    }
    for name, (data, why) in cases.items():
        body = await _send(gateway, "3201", f"M-3201-{name}", {"data": data})
        assert body["infcode"] == "-1" and why in body["err_msg"], (name, body["err_msg"])
    bad_row = {**_row(bought), "medfee_sumamt": "20.401"}
    body = await _send(gateway, "3202", "M-3202", {"data": _totals(1, *_sums(bought)), "fsUploadIn": [bad_row]})
    assert body["err_msg"].startswith("fsUploadIn[0]: medfee_sumamt has more than 2 decimal places")
    assert len(await store.read_all(0, 10_000)) == before
    assert await store.find_request(f"fsi:{CODE}:M-3201-clr_type") is None
