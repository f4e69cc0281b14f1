"""The wire: every message in and out of the settlement and ledger services (claims.v1,
enrolments.v1, settlements.v1, rejections.v1). Both services import this package; it imports
neither of them."""

from contracts.claims import Claim, ClaimItem, Reversal
from contracts.enrolments import AccountCredit, Enrolment
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.results import EnrolmentAccepted, Rejection, ReversalResult, SettlementResult

__all__ = [
    "AccountCredit",
    "Claim",
    "ClaimItem",
    "Enrolment",
    "EnrolmentAccepted",
    "InvalidMessage",
    "Rejection",
    "Reversal",
    "ReversalResult",
    "SettlementResult",
    "parse_inbound",
]
