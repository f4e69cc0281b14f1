-- Follower read models for clearing (结算清算): what each institution and each fund is owed,
-- per calendar month (China time) of the event. A reversal counts in the month it is recorded,
-- as a negative amount, the way a clearing period takes a 冲销. All amounts in fen.
-- Written only by the follower "clearing" (ledger/projections.py), in the same transaction as
-- its checkpoint; `ledger verify` recomputes them from the log.

CREATE TABLE clearing_settlements (
    setl_id          text PRIMARY KEY,
    fixmedins_code   text   NOT NULL,
    policy_id        text   NOT NULL,
    period           text   NOT NULL CHECK (period ~ '^\d{4}-\d{2}$'),
    medfee_sumamt    bigint NOT NULL,
    fund_pay_sumamt  bigint NOT NULL,
    acct_pay         bigint NOT NULL,
    psn_cash_pay     bigint NOT NULL,
    funds            jsonb  NOT NULL,  -- fund_pay_type → fund_payamt
    reversed_in      text   NULL       -- the period of its reversal, if any
);

CREATE TABLE institution_period_totals (
    fixmedins_code   text   NOT NULL,
    period           text   NOT NULL,
    settlements      bigint NOT NULL,
    reversals        bigint NOT NULL,
    medfee_sumamt    bigint NOT NULL,
    fund_pay_sumamt  bigint NOT NULL,
    acct_pay         bigint NOT NULL,
    psn_cash_pay     bigint NOT NULL,
    PRIMARY KEY (fixmedins_code, period)
);

CREATE TABLE fund_period_totals (
    fund_pay_type    text   NOT NULL,
    policy_id        text   NOT NULL,
    period           text   NOT NULL,
    fund_payamt      bigint NOT NULL,
    PRIMARY KEY (fund_pay_type, policy_id, period)
);

GRANT SELECT, INSERT, UPDATE ON clearing_settlements, institution_period_totals, fund_period_totals TO ledger_app;
