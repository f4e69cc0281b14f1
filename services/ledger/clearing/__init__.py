"""The institution side in the ledger (docs/clearing.md): the casemix follower projection,
the clearing streams' commands (close-month, close-year, budgets, special review, deposits),
statements, reconciliation and their audit."""
