-- The inline projection kept as the JSON text its writer sent, not as jsonb (docs/ledger.md,
-- "The inline projection"; measured in docs/benchmarks.md, "The projection as text").
--
-- Nothing reads inside a projection in SQL: every reader selects it whole as text and decodes
-- it in Python, and `ledger verify` compares it with a replay of the stream. Kept as jsonb, the
-- server parsed every projection into a jsonb tree on each write (a settled claim rewrites its
-- person-year's, several kB) and printed it back to text on each read: on this project's
-- machine 55 of 70 µs of a read and about a third of a write. As text it is stored and read as
-- sent. What jsonb guaranteed is kept by a check that the text is one JSON object
-- (`IS JSON OBJECT`, PostgreSQL 16 or later: a syntax check, without building the tree), so a
-- raw UPDATE still cannot store something that is not JSON. An auditor's ad-hoc SQL reads it
-- with `totals::jsonb`.
--
-- The type change rewrites the table (each row's jsonb printed as text) under an exclusive
-- lock: writers wait for it; docs/operations.md gives the time it took per million rows.

ALTER TABLE person_year_totals DROP CONSTRAINT person_year_totals_totals_check;
ALTER TABLE person_year_totals ALTER COLUMN totals TYPE text USING totals::text;
ALTER TABLE person_year_totals ADD CONSTRAINT person_year_totals_totals_check CHECK (totals IS JSON OBJECT);
