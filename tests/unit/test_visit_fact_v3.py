"""ClaimSettled version 3 (docs/adr/0006-payer-data-and-national-codes.md): the visit as the
institution sent it in national codes, each split line with the catalogue terms that priced it.
A version-2 event (what the code before this change wrote) is upcast on read, never rewritten:
what it recorded of the institution's own word is kept in ``extra``."""

from __future__ import annotations

import copy
from decimal import Decimal

from ledger_v1 import fixture_events

from engine.events import ClaimSettled
from engine.records import CURRENT_VERSIONS, from_record, upcast
from engine.upcasters import claim_settled_v1_to_v2


def a_version_2_settlement() -> dict:
    """The v1 fixture's first settlement at version 2, as the code of version 2 read it."""
    v1 = copy.deepcopy(next(e["data"] for e in fixture_events() if e["event_type"] == "ClaimSettled"))
    return claim_settled_v1_to_v2(v1)


def test_claim_settled_is_written_at_version_5_the_place_of_care_after_the_case_facts_of_4() -> None:
    # v4: tests/unit/test_claim_settled_v4.py; v5 (issue 12 item 12): tests/unit/test_out_of_region_care.py
    assert CURRENT_VERSIONS["ClaimSettled"] == 5


def test_a_version_2_visit_keeps_the_institutions_word_in_extra_and_its_prices_exact() -> None:
    v2 = a_version_2_settlement()
    old_visit, old_item = v2["visit"], v2["visit"]["items"][0]
    facts = from_record("ClaimSettled", v2)
    assert isinstance(facts, ClaimSettled)
    visit, item = facts.visit, facts.visit.items[0]
    assert visit.extra["fixmedins_kind"] == old_visit["fixmedins_kind"]
    assert visit.extra["fixmedins_level"] == old_visit["fixmedins_level"]
    assert visit.med_type == old_visit["med_type"] and visit.insutype == old_visit["insutype"]
    assert item.pric * 100 == Decimal(old_item["pric"])  # fen then, exact yuan now
    assert item.declared.chrgitm_lv is not None and item.declared.chrgitm_lv.value == old_item["chrgitm_lv"]
    assert item.det_item_fee_sumamt == old_item["det_item_fee_sumamt"]


def test_a_version_2_split_says_its_catalogue_terms_were_not_recorded_separately() -> None:
    upcast_data = upcast("ClaimSettled", a_version_2_settlement())
    assert upcast_data["schema_version"] == 5  # through v3, v4 (case facts), then v5: local care, its own catalogue
    assert (upcast_data["visit"]["mdtrtarea_admvs"], upcast_data["payer_policy"]) == (None, None)
    for split in upcast_data["items"]:
        assert (split["chrgitm_lv"], split["reason"], split["disagreements"]) == (None, None, [])
