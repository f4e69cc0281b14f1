-- Follower read model "funds" (ledger/funds.py): the separate books of each fund (基金分别建账、
-- 分别核算, [002] 二(四)) — income and spending per insured region, fund, year and item, in fen.
-- fund_book_people remembers each person-year stream's region, scheme and person type from its
-- enrolment, because the events that spend a fund (settlements, account credits, relatives'
-- account debits) do not repeat them. Written only by the follower "funds", in the same
-- transaction as its checkpoint; `ledger verify` recomputes them from the log.

CREATE TABLE fund_book_people (
    stream_id   text PRIMARY KEY,
    admdvs      text NOT NULL,   -- insuplc_admdvs of the latest enrolment of the stream
    insutype    text NOT NULL,
    psn_type    text NOT NULL
);

CREATE TABLE fund_book_entries (
    admdvs          text   NOT NULL,
    fund_pay_type   text   NOT NULL,
    year            int    NOT NULL,
    kind            text   NOT NULL CHECK (kind IN ('income', 'spending')),
    item            text   NOT NULL,   -- claims, employer, individual, retiree_account_credits, …
    amount          bigint NOT NULL,
    PRIMARY KEY (admdvs, fund_pay_type, year, kind, item)
);

GRANT SELECT, INSERT, UPDATE ON fund_book_people, fund_book_entries TO ledger_app;
