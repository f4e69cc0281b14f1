-- The outbox relay wakes on commit instead of polling (docs/ledger.md, "Outbox").
--
-- A statement-level trigger on outbox sends NOTIFY ledger_outbox. PostgreSQL delivers a
-- notification only when (and if) the inserting transaction commits, and folds identical
-- notifications of one transaction into one: a batch commit of 200 answers wakes the relay
-- once, a rolled-back one never. Every writer of outbox rows wakes it, the store or not.
-- The relay LISTENs on a connection of its own and still polls slowly in case a
-- notification is lost (its connection dropped between the commit and the LISTEN).

CREATE FUNCTION ledger_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ledger_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_outbox_notify();
