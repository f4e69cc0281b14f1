"""Payer data for the clearing's worked examples, in the payer data's own types
(engine.payer_registry, engine.payer_casemix): a registry of five hospitals of region 640000 in
two counties, paid by DRG, DIP and item by item, and a few DIP and DRG groups with round scores
and weights so the arithmetic can be checked by hand. Test data, not a region's catalogue.

``install()`` puts them into the test payer data of tests/unit/engine_builders.py, whose
claims are priced with it (the items come from there too).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.payer_casemix import DipGroup, DrgGroup
from engine.payer_files import OPEN_END
from engine.payer_registry import Institution, InstitutionType, PaymentMethod

BEGIN = date(2024, 1, 1)
REGION = "640000"
COUNTY_A, COUNTY_B = "640104", "640121"


def hospital(code: str, level: int, county: str, paymtd: str) -> Institution:
    return Institution(
        code, code, InstitutionType.MEDICAL, level, False, county, False, False, PaymentMethod(paymtd), BEGIN,
        OPEN_END,
    )  # fmt: skip


INSTITUTIONS = (
    hospital("H64010100001", 3, COUNTY_A, "drg"),
    hospital("H64010100002", 2, COUNTY_A, "dip"),
    hospital("H64010100003", 1, COUNTY_B, "item"),
    hospital("H64010100004", 3, COUNTY_B, "dip"),
    hospital("H64010100005", 2, COUNTY_B, "drg"),
)
LEVEL = {i.fixmedins_code: str(i.hosp_lv) for i in INSTITUTIONS}


def dip_row(code: str, diag: str, oprn: str, kind: str, score: str) -> DipGroup:
    return DipGroup(code, diag, oprn, kind, Decimal(score), BEGIN, OPEN_END)  # type: ignore[arg-type]


DIP = (
    dip_row("K35.8-47.01", "K35.8", "47.01", "core", "800"),  # appendicitis, appendectomy
    dip_row("K35-47", "K35", "47", "core", "700"),  # appendicitis, any appendix operation
    dip_row("K35.8-C", "K35.8", "", "core", "300"),  # appendicitis, conservative (核心保守)
    dip_row("K35-Z", "K35", "*", "comprehensive", "600"),  # appendicitis, another operation
    dip_row("I63.9-C", "I63.9", "", "core", "1000"),  # cerebral infarction, conservative
    dip_row("J18.9-C", "J18.9", "", "core", "400"),  # pneumonia, conservative
)
DRG = (
    DrgGroup("GB19", "GB19", Decimal("1.5"), BEGIN, OPEN_END),
    DrgGroup("ES39", "ES39", Decimal("0.8"), BEGIN, OPEN_END),
    DrgGroup("BR29", "BR29", Decimal("2.2"), BEGIN, OPEN_END),
)


def install() -> None:
    """The sample's groups into the tests' case-mix catalogue (engine_builders)."""
    import engine_builders

    engine_builders.DIP.update({r.dip_code: r for r in DIP})
    engine_builders.DRG.update({r.drg_code: r for r in DRG})


def place(code: str, mdtrt_id: str) -> None:
    """The sample registry's record of the institution, for this claim (engine_builders keeps one
    per claim: a claim names no payment method)."""
    import engine_builders

    row = next(i for i in INSTITUTIONS if i.fixmedins_code == code)
    engine_builders.PLACES[(code, mdtrt_id)] = engine_builders.LATEST_PLACE[code] = row
