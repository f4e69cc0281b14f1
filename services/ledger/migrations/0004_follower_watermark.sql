-- Followers read the log up to a watermark below which no event can still appear.
--
-- 0001 bounded reads by pg_snapshot_xmin: the oldest transaction still running anywhere in the
-- cluster. A long transaction in another database (which can never write here) then held every
-- follower back. The watermark now counts only transactions that may write to this database:
-- every transaction id still running at the read's start whose backend is not known to be
-- connected to another database (unknown, e.g. prepared, counts: the safe side).
--
-- Order matters and is why this is a function: the snapshot that bounds the candidates is taken
-- first, the lock table is read after it, and the events are read by a later statement with a
-- fresh snapshot. A transaction that ends between the first two is then visible to the third.
-- That needs READ COMMITTED (a new snapshot per statement), which is checked.

CREATE FUNCTION ledger_watermark() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    lowest bigint;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'ledger: reading the log needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    PERFORM pg_stat_clear_snapshot();  -- pg_stat_activity is otherwise cached per transaction
    WITH snap AS (
        SELECT pg_current_snapshot() AS s
    ), elsewhere AS (
        SELECT a.pid FROM pg_stat_activity a
         WHERE a.datid IS NOT NULL
           AND a.datid <> (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
    ), here AS (
        SELECT l.transactionid::text::bigint AS xid32 FROM pg_locks l
         WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
           AND (l.pid IS NULL OR l.pid NOT IN (SELECT e.pid FROM elsewhere e))
    )
    SELECT coalesce(
               (SELECT min(x::text::bigint) FROM pg_snapshot_xip(snap.s) AS x
                 WHERE (x::text::bigint & 4294967295) IN (SELECT h.xid32 FROM here h)),
               pg_snapshot_xmax(snap.s)::text::bigint)
      INTO lowest
      FROM snap;
    RETURN lowest << 16;
END
$$;

-- One page of the global log, never past the watermark (a fresh snapshot after computing it).
CREATE FUNCTION ledger_read_all(after bigint, page integer) RETURNS SETOF events
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    watermark bigint := ledger_watermark();
BEGIN
    RETURN QUERY SELECT * FROM events e
                  WHERE e.position > after AND e.position < watermark
                  ORDER BY e.position LIMIT page;
END
$$;
