"""The national-interface gateway: the national platform's own transactions (9001, 1101, 2201…
2208, 2301…2305, 2401/2402, 2101…2103, 2601, 3201/3202), over HTTP and over Kafka, settled
through the same service layer and ledger as claims.v1 (docs/integrating.md, "Point your
existing national-platform client here"; the evidence is docs/national-interface.md)."""
