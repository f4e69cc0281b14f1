"""The national transactions this gateway serves, by ``infno``."""

from __future__ import annotations

from collections.abc import Mapping

from settlement.gateway.context import Transaction
from settlement.gateway.transactions.fees import upload_inpatient_fees, upload_outpatient_fees, withdraw_fees
from settlement.gateway.transactions.person import person_info
from settlement.gateway.transactions.pharmacy import pre_settle_purchase, settle_purchase
from settlement.gateway.transactions.reconcile import reconcile_detail, reconcile_totals
from settlement.gateway.transactions.register import (
    admit,
    cancel_registration,
    discharge,
    record_visit_info,
    register_outpatient,
)
from settlement.gateway.transactions.reverse import reverse_settlement_message
from settlement.gateway.transactions.settle import pre_settle, settle
from settlement.gateway.transactions.signin import sign_in, sign_out
from settlement.gateway.transactions.undo import undo

TRANSACTIONS: Mapping[str, Transaction] = {
    t.name: t
    for t in (
        Transaction("9001", sign_in, records=False),
        Transaction("9002", sign_out, records=False),
        Transaction("1101", person_info, records=False),
        Transaction("2201", register_outpatient, records=True),
        Transaction("2202", cancel_registration, records=True),
        Transaction("2203", record_visit_info, records=True),
        Transaction("2204", upload_outpatient_fees, records=True),
        Transaction("2205", withdraw_fees, records=True),
        Transaction("2301", upload_inpatient_fees, records=True),
        Transaction("2302", withdraw_fees, records=True),
        Transaction("2206", pre_settle, records=False),
        Transaction("2207", settle, records=True),
        Transaction("2208", reverse_settlement_message, records=True),
        Transaction("2303", pre_settle, records=False),
        Transaction("2304", settle, records=True),
        Transaction("2101", pre_settle_purchase, records=False),
        Transaction("2102", settle_purchase, records=True),
        Transaction("2305", reverse_settlement_message, records=True),
        Transaction("2103", reverse_settlement_message, records=True),
        Transaction("2601", undo, records=True),
        Transaction("2401", admit, records=True),
        Transaction("3201", reconcile_totals, records=False),
        Transaction("3202", reconcile_detail, records=False),
        Transaction("2402", discharge, records=True),
    )
}


def supported() -> str:
    return ", ".join(sorted(TRANSACTIONS))
