"""The wire: every message in and out of the settlement and ledger services (claims.v2,
enrolments.v2, settlements.v1, rejections.v1). Both services import this package; it imports
neither of them."""

from contracts.claims import Claim, FeeLine, Reversal
from contracts.enrolments import AccountCredit, Enrolment
from contracts.inbound import InvalidMessage, parse_inbound
from contracts.results import EnrolmentAccepted, Rejection, ReversalResult, SettlementResult

__all__ = [
    "AccountCredit",
    "Claim",
    "Enrolment",
    "EnrolmentAccepted",
    "FeeLine",
    "InvalidMessage",
    "Rejection",
    "Reversal",
    "ReversalResult",
    "SettlementResult",
    "parse_inbound",
]
