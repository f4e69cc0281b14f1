-- The institution side (docs/clearing.md): the follower "casemix" keeps one row per settlement
-- and per reversal as clearing counts them (an "entry"), with the inpatient case's facts as the
-- fund valued them, and running figures per institution, coverage year, month and fund book.
-- Written only by the follower (ledger/clearing/casemix.py) in the transaction that moves its
-- checkpoint; `ledger verify` recomputes both tables from the log. Amounts in fen, signed.

CREATE TABLE casemix_entries (
    entry_id         text     PRIMARY KEY,   -- the event's own setl_id
    setl_id          text     NOT NULL,      -- the settlement (a reversal: the one it reverses)
    sign             smallint NOT NULL CHECK (sign IN (1, -1)),
    position         bigint   NOT NULL,      -- the event's global log position
    recorded_at      timestamptz NOT NULL,
    day              date     NOT NULL,      -- China date of the event
    year             smallint NOT NULL,      -- the coverage year (the institution-year stream)
    fixmedins_code   text     NOT NULL,
    region           text     NULL,          -- the case's pooling region; NULL: no inpatient case
    psn_no           text     NOT NULL,
    mdtrt_id         text     NOT NULL,
    insutype         text     NOT NULL,
    clr_type         text     NOT NULL,
    medfee_sumamt    bigint   NOT NULL,
    fund_pay_sumamt  bigint   NOT NULL,
    acct_pay         bigint   NOT NULL,
    funds            jsonb    NOT NULL,      -- fund_pay_type → fund_payamt
    case_facts       jsonb    NULL           -- ClaimSettled v3 "case" (engine.codec_settlement)
);
CREATE INDEX casemix_entries_region ON casemix_entries (region, year, position) WHERE region IS NOT NULL;
CREATE INDEX casemix_entries_institution_day ON casemix_entries (fixmedins_code, day);
CREATE INDEX casemix_entries_institution_year ON casemix_entries (fixmedins_code, year);
CREATE INDEX casemix_entries_settlement ON casemix_entries (setl_id);

CREATE TABLE casemix_months (
    fixmedins_code   text     NOT NULL,
    year             smallint NOT NULL,
    month            smallint NOT NULL CHECK (month BETWEEN 1 AND 12),
    fund_pay_type    text     NOT NULL,
    cases            bigint   NOT NULL,
    reversals        bigint   NOT NULL,
    medfee           bigint   NOT NULL,
    item_fund        bigint   NOT NULL,
    points           numeric  NOT NULL,
    pool_non_basic   bigint   NOT NULL,
    drg_standard     bigint   NOT NULL,
    drg_due          bigint   NOT NULL,
    item_cleared     bigint   NOT NULL,
    ungrouped        bigint   NOT NULL,
    outliers         bigint   NOT NULL,
    disagreements    bigint   NOT NULL,
    special_review   bigint   NOT NULL,
    PRIMARY KEY (fixmedins_code, year, month, fund_pay_type)
);

GRANT SELECT, INSERT, UPDATE ON casemix_entries, casemix_months TO ledger_app;
