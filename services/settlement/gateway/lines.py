"""Fee lines (feedetail rows of 2204 / 2301 / 2102) read as hospital systems send them.

Kept from each row: the national code (``med_list_codg``), the hospital's own code, count and
unit price exactly as sent (4 and 6 places; a refund line has a negative count and names the
line it refunds in ``init_feedetl_sn``), the amount, and what the hospital *declared* of the
item's class, first self-pay ratio, price cap and negotiated-drug flag — recorded and compared,
never used for money (the payer's catalogue prices the line). Every other key is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from contracts.money import format_yuan
from engine.visit_events import DeclaredTerms, FeeLine, LinePricing
from engine.visit_stream import VisitState
from settlement.gateway.fields import NationalRefusal, Obj, fen, flag, identifier, moment, number, text

MAX_LINES = 1000  # per message (the codebases send batches of 100)


@dataclass(frozen=True)
class SentLine:
    """A line as sent, before the catalogue prices it."""

    feedetl_sn: str
    init_feedetl_sn: str | None
    chrg_bchno: str
    med_list_codg: str
    medins_list_codg: str
    fee_ocur_time: datetime
    pric: Decimal
    cnt: Decimal
    det_item_fee_sumamt: int
    hosp_appr_flag: str
    declared: DeclaredTerms

    def priced(self, pricing: LinePricing) -> FeeLine:
        return FeeLine(
            self.feedetl_sn,
            self.init_feedetl_sn,
            self.chrg_bchno,
            self.med_list_codg,
            self.medins_list_codg,
            self.fee_ocur_time,
            self.pric,
            self.cnt,
            self.det_item_fee_sumamt,
            self.hosp_appr_flag,
            self.declared,
            pricing,
        )


def _declared(row: Obj) -> DeclaredTerms:
    nego = row.get("hi_nego_drug_flag")
    return DeclaredTerms(
        text(row, "chrgitm_lv", required=False) or None,
        number(row, "selfpay_prop", places=4, required=False),
        number(row, "pric_uplmt_amt", places=6, required=False),
        None if nego in (None, "") else flag(row, "hi_nego_drug_flag"),
    )


def _amount_checked(sn: str, pric: Decimal, cnt: Decimal, amount: int) -> None:
    """det_item_fee_sumamt must be pric × cnt rounded half up to the fen (the engine's rule,
    docs/domain.md#items), checked here so a line is refused when it is sent, not at settlement."""
    expected = (pric * cnt * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if expected != amount:
        raise NationalRefusal(
            f"line {sn}: det_item_fee_sumamt {format_yuan(amount)} is not pric × cnt ({pric} × {cnt})"
        )


def read_line(row: Obj, mdtrt_id: str, default_batch: str) -> SentLine:
    sn = text(row, "feedetl_sn")
    where = f"line {sn}"
    if text(row, "mdtrt_id", required=False) not in ("", mdtrt_id):
        raise NationalRefusal(f"{where} names visit {text(row, 'mdtrt_id')}, not {mdtrt_id}")
    cnt = number(row, "cnt", places=4)
    pric = number(row, "pric", places=6)
    amount = fen(row, "det_item_fee_sumamt")
    occurred = moment(row, "fee_ocur_time")
    assert cnt is not None and pric is not None and amount is not None and occurred is not None
    refunds = text(row, "init_feedetl_sn", required=False) or None
    if cnt == 0 or pric < 0 or (cnt < 0 and refunds is None):
        raise NationalRefusal(
            f"{where}: cnt must not be 0, pric not negative, and a negative cnt names init_feedetl_sn"
        )
    _amount_checked(sn, pric, cnt, amount)
    return SentLine(
        feedetl_sn=sn,
        init_feedetl_sn=refunds,
        chrg_bchno=text(row, "chrg_bchno", required=False) or default_batch,
        med_list_codg=identifier(row, "med_list_codg"),
        medins_list_codg=text(row, "medins_list_codg", required=False),
        fee_ocur_time=occurred,
        pric=pric,
        cnt=cnt,
        det_item_fee_sumamt=amount,
        hosp_appr_flag=text(row, "hosp_appr_flag", required=False),
        declared=_declared(row),
    )


def check_refunds(state: VisitState, lines: Sequence[SentLine]) -> None:
    """A refund line refunds an uploaded line of the same item, at most what is left of it."""
    left = {sn: line.cnt for sn, line in state.lines.items()}
    codes = {sn: line.med_list_codg for sn, line in state.lines.items()}
    for line in lines:
        if line.feedetl_sn in left or line.feedetl_sn in state.settled_lines:
            raise NationalRefusal(f"line {line.feedetl_sn} was already uploaded to visit {state.mdtrt_id}")
        if line.init_feedetl_sn is not None and line.cnt < 0:
            original = line.init_feedetl_sn
            if original not in left or codes[original] != line.med_list_codg:
                raise NationalRefusal(f"refund line {line.feedetl_sn} names {original}, no open line of that item")
            left[original] += line.cnt
            if left[original] < 0:
                raise NationalRefusal(f"refund line {line.feedetl_sn} refunds more than line {original} holds")
        left[line.feedetl_sn] = max(line.cnt, Decimal(0))
        codes[line.feedetl_sn] = line.med_list_codg
