"""The payer's data of engine.payer_* read through the clearing's protocols: an institution of
the registry as ``InstitutionTerms``, and the case-mix catalogue as a ``CaseMixTable`` (the DIP
rows indexed by diagnosis, so grouping can prefer the most specific row)."""

from __future__ import annotations

from engine.clearing.terms import CaseMixTable, DipGroup, DrgGroup, InstitutionTerms
from engine.payer_casemix import Casemix
from engine.payer_registry import Institution

_TABLES: dict[int, tuple[Casemix, CaseMixTable]] = {}  # one table per loaded catalogue


def terms_of(place: Institution) -> InstitutionTerms:
    return InstitutionTerms(place.fixmedins_code, place.level_key, place.admdvs, place.inpatient_paymtd.value)


def catalogue_of(casemix: Casemix) -> CaseMixTable:
    """The catalogue as the grouping reads it; built once per loaded catalogue (policies are
    loaded once, so this is a table per policy folder, not per claim)."""
    known = _TABLES.get(id(casemix))
    if known is not None and known[0] is casemix:
        return known[1]
    dip = tuple(
        DipGroup(r.dip_code, r.diag_code, r.oprn_code, r.group_kind, r.score, r.begndate, r.enddate, r.avg_cost)
        for versions in casemix.dip.rows.values()
        for r in versions
    )
    drg = tuple(
        DrgGroup(r.drg_code, r.weight, r.begndate, r.enddate)
        for versions in casemix.drg.rows.values()
        for r in versions
    )
    table = CaseMixTable(dip, drg)
    _TABLES[id(casemix)] = (casemix, table)
    return table
