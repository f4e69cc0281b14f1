-- Retention (`ledger prune`, docs/ledger.md "Retention"): published outbox rows and old
-- idempotency rows are deleted by two functions, and by nothing else.
--
-- The application role still cannot delete anything: it has no DELETE privilege and may not
-- execute these functions. They run as their owner (SECURITY DEFINER: the role that migrated
-- the schema) and are executable only by members of ledger_pruner, a NOLOGIN role granted to
-- the login the prune job uses (`ledger migrate --grant-prune-to ROLE`). Each call deletes one
-- batch, so no transaction holds many row locks; `ledger prune` calls until nothing is left.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledger_pruner') THEN
        CREATE ROLE ledger_pruner NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database's migration created it just now
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ledger_pruner', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ledger_pruner', current_schema());
END
$$;

-- The idempotency rows to prune are found by age (one index probe per batch, not a scan).
CREATE INDEX idempotency_recorded_at ON idempotency (recorded_at);

-- idempotency stays append-only for everyone — the owner included — except for a DELETE made
-- inside ledger_prune_idempotency, which says so in a transaction-local setting. Setting it
-- grants nothing: a role without DELETE on idempotency (ledger_app) is still refused by the
-- privilege check, and a role with it could as well have disabled the trigger.
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'idempotency'
       AND current_setting('ledger.pruning', true) = 'idempotency' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger: % on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING HINT = 'Mistakes are corrected by appending a correcting event, never by editing.';
END
$$;

-- Published outbox rows older than older_than, oldest first (by position: no extra index).
CREATE FUNCTION ledger_prune_outbox(older_than interval, batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    deleted integer;
BEGIN
    IF older_than < interval '0' OR batch NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'ledger: prune outbox: older_than must be >= 0 and batch 1..100000';
    END IF;
    DELETE FROM outbox WHERE message_id IN (
        SELECT o.message_id FROM outbox o
         WHERE o.published_at IS NOT NULL AND o.published_at < now() - older_than
         ORDER BY o.position LIMIT batch);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;

-- Idempotency rows recorded more than older_than ago (at least 366 days: a retry may come
-- from anywhere in a coverage year), except one whose answer is still in the outbox — it
-- stays until its message is pruned, so verify never finds a queued answer with no request.
CREATE FUNCTION ledger_prune_idempotency(older_than interval, batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    deleted integer;
BEGIN
    IF older_than < interval '366 days' OR batch NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'ledger: prune idempotency: older_than must be at least 366 days and batch 1..100000'
            USING HINT = 'A hospital may retry a request for as long as the horizon: docs/ledger.md, "Retention".';
    END IF;
    PERFORM set_config('ledger.pruning', 'idempotency', true);
    DELETE FROM idempotency WHERE key IN (
        SELECT r.key FROM idempotency r
         WHERE r.recorded_at < now() - older_than
           AND NOT EXISTS (
               SELECT FROM outbox o
                WHERE o.message_id = CASE WHEN r.result->>'event_id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                          THEN (r.result->>'event_id')::uuid END)
         ORDER BY r.recorded_at LIMIT batch);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('ledger.pruning', '', true);
    RETURN deleted;
END
$$;

-- A SECURITY DEFINER function must not resolve names through a schema its caller controls.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION ledger_prune_outbox(interval, integer) SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION ledger_prune_idempotency(interval, integer) SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

REVOKE ALL ON FUNCTION ledger_prune_outbox(interval, integer), ledger_prune_idempotency(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_prune_outbox(interval, integer), ledger_prune_idempotency(interval, integer)
    TO ledger_pruner;
