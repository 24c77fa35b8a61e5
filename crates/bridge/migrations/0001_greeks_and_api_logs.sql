-- The second spec's tables (US-7.2): the 5-second net-greeks series and the bridge's event log.
-- A database may already hold them with the spec's columns (an earlier bridge wrote them); such
-- tables are kept as they are, so every statement here only creates what is absent.

CREATE TABLE IF NOT EXISTS portfolio_greeks (
    id               BIGSERIAL PRIMARY KEY,
    "timestamp"      TIMESTAMPTZ NOT NULL,
    contract         TEXT NOT NULL,
    delta            DOUBLE PRECISION,
    gamma            DOUBLE PRECISION,
    vega             DOUBLE PRECISION,
    theta            DOUBLE PRECISION,
    underlying_price DOUBLE PRECISION
);

-- Every row the bridge writes carries a key derived from its tick and contract, so a row
-- replayed from the spool after a crash is stored once. Rows written before the column existed
-- keep NULL, which a unique index allows any number of times.
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS row_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS uq_portfolio_greeks_row_key ON portfolio_greeks (row_key);
-- The read API and the page ask for one contract's series over a time range.
CREATE INDEX IF NOT EXISTS ix_portfolio_greeks_contract_timestamp
    ON portfolio_greeks (contract, "timestamp" DESC);

CREATE TABLE IF NOT EXISTS api_logs (
    id          BIGSERIAL PRIMARY KEY,
    "timestamp" TIMESTAMPTZ NOT NULL,
    api_mode    TEXT NOT NULL,
    message     TEXT NOT NULL,
    status      TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_api_logs_timestamp ON api_logs ("timestamp" DESC);
