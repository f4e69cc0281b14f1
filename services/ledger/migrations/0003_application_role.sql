-- The role the services run as: it may read and append the log, never change it.
-- NOLOGIN: a deployment grants it to its login user (`ledger migrate --grant-to USER`).
-- Roles are cluster-wide and the migration lock is per database, so two databases being
-- migrated at once may race to create it: the loser's error is swallowed.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_app') THEN
        CREATE ROLE ledger_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ledger_app', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ledger_app', current_schema());
END
$$;

GRANT SELECT, INSERT ON events, idempotency TO ledger_app;
GRANT SELECT, INSERT, UPDATE ON person_year_totals, projection_checkpoints TO ledger_app;
GRANT SELECT, INSERT ON outbox TO ledger_app;
GRANT UPDATE (published_at) ON outbox TO ledger_app;
