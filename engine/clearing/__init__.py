"""The institution side of settlement (结算清算): what the basic fund owes each hospital for its
inpatient cases under DRG (按病组) or DIP (按病种分值) payment, month by month and at year end,
and the daily reconciliation (对账) of a hospital's own totals with the ledger's (docs/clearing.md).

Pure, like the rest of the engine: no I/O, no clock. The payer's data (institution registry,
DIP and DRG catalogues) comes in through the small protocols of ``engine.clearing.terms``.
"""
