"""Only the engine's own refusals are answers. A bug inside the engine (a KeyError, an
IndexError, a broken invariant) is never stored under the sender's idempotency key: it
propagates, nothing is recorded or published, and the same message sent again after the fix
is priced afresh. ledger reprice lets bugs through the same way."""

from __future__ import annotations

from typing import Any

import pytest
from engine_builders import resident_policy_dict
from ledger.adapters.memory import MemoryLedger
from ledger.reprice import reprice_year
from settlement.service_layer.handlers import SettlementService
from test_settlement_service import BOOK, H2, claim, enrolment, raw, service, totals

from contracts.codes import RejectionCode
from contracts.results import EnrolmentAccepted, Rejection, SettlementResult
from engine.errors import InvariantBroken
from engine.policy import Policy
from engine.policy_book import PolicyBook


def broken(error: Exception) -> Any:
    def stage(*_: object, **__: object) -> object:
        raise error

    return stage


@pytest.mark.parametrize("bug", [KeyError("feedetl_sn"), IndexError("tuple index out of range"), InvariantBroken("x")])
async def test_a_bug_in_the_engine_propagates_and_nothing_is_stored_under_the_claims_key(
    bug: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, store = service()
    assert isinstance(await svc.handle(raw(enrolment())), EnrolmentAccepted)
    published = len(store.outbox())
    with monkeypatch.context() as patch:
        patch.setattr("engine.settle.price_items", broken(bug))
        with pytest.raises(type(bug)):
            await svc.handle(raw(claim()))
    assert await store.find_request(f"{H2}:C1") is None
    assert len(store.outbox()) == published
    assert (await totals(store)).settlements == 0
    # after the fix, the same message is priced, not answered with a stored error
    assert isinstance(await svc.handle(raw(claim())), SettlementResult)


async def test_a_policy_without_the_institutions_level_is_answered_unknown_policy() -> None:
    data = resident_policy_dict()
    data["benefits"]["inpatient"]["ratio"] = {"default": {"3": "0.65"}}  # nothing for level 2, no default
    payer = next(p.payer for p in BOOK.policies if p.file == "640000-390-2025.toml")  # knows the level-2 hospital
    book = PolicyBook.of([Policy.model_validate(data)], payer=[payer], codes=BOOK.codes)
    svc = SettlementService(MemoryLedger(), book, clock=service()[0].clock)
    await svc.handle(raw(enrolment()))
    reply = await svc.handle(raw(claim()))  # a level-2 hospital
    assert isinstance(reply, Rejection) and reply.code is RejectionCode.UNKNOWN_POLICY
    assert "no inpatient ratio for institution level '2'" in reply.message


async def test_reprice_lets_a_bug_in_the_engine_through(monkeypatch: pytest.MonkeyPatch) -> None:
    svc, store = service()
    await svc.handle(raw(enrolment()))
    await svc.handle(raw(claim()))
    monkeypatch.setattr("ledger.reprice.settle_claim", broken(KeyError("hifp_pay")))
    with pytest.raises(KeyError):
        await reprice_year(store, BOOK, 2025)


def staff_enrolment(request_id: str, **facts: Any) -> dict[str, Any]:
    return enrolment(request_id=request_id, insutype="310", psn_type="1101", contribution_base="8000.00", **facts)


def pharmacy_purchase(request_id: str, amount: str) -> dict[str, Any]:
    """At the SAMPLE registry's retail pharmacy; the line's code is 甲类 in the SAMPLE catalogue."""
    c = claim(request_id, amount=amount, insutype="310", med_type="41")
    return {**c, "fixmedins_code": "P64010100002", "acct_used_flag": True}


async def test_an_enrolment_correction_that_would_overdraw_the_account_is_a_business_rejection() -> None:
    """Issue 10 item 7: the account paid 500.00 of its 1,200.00 opening balance; a correction to
    300.00 (or one that omits the balance, i.e. 0) would leave it at −200.00 (−500.00)."""
    svc, store = service()
    await svc.handle(raw(staff_enrolment("E-1", acct_opening_balance="1200.00")))
    paid = await svc.handle(raw(pharmacy_purchase("C1", "500.00")))
    assert isinstance(paid, SettlementResult) and paid.setlinfo.acct_pay == 50_000
    for lower in ({"acct_opening_balance": "300.00"}, {}):
        reply = await svc.handle(raw(staff_enrolment(f"E-{len(lower)}x", **lower)))
        assert isinstance(reply, Rejection), lower
        assert (reply.code, reply.field) == (RejectionCode.OPENING_BALANCE_ALREADY_SPENT, "acct_opening_balance")
        assert "already paid 500.00" in reply.message and "cannot be less than 500.00" in reply.message
    assert (await totals(store)).acct_paid_own == 50_000
    # a correction that leaves enough is recorded
    assert isinstance(await svc.handle(raw(staff_enrolment("E-3", acct_opening_balance="500.00"))), EnrolmentAccepted)
