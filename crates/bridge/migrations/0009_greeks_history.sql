-- A greeks history that stays fast for years (docs/architecture.md, "History").
--
-- 1-minute rollups of `portfolio_greeks`: per minute and per bridge, account and contract, the
-- minute's last row's figures and each figure's lowest and highest value. Long windows are read
-- from here; the 5-second rows are kept for GREEKS_RAW_RETENTION_DAYS, rollups for good.
-- `bridge` and `account` are '' where the rows' are NULL (the all-accounts rows, rows from
-- before bridges had names), so that they can be part of the key.
CREATE TABLE IF NOT EXISTS portfolio_greeks_1m (
    contract TEXT NOT NULL,
    account  TEXT NOT NULL DEFAULT '',
    bridge   TEXT NOT NULL DEFAULT '',
    bucket   TIMESTAMPTZ NOT NULL,
    -- How many 5-second rows the minute had.
    n_rows   INTEGER NOT NULL,
    delta DOUBLE PRECISION,
    delta_min DOUBLE PRECISION,
    delta_max DOUBLE PRECISION,
    gamma DOUBLE PRECISION,
    gamma_min DOUBLE PRECISION,
    gamma_max DOUBLE PRECISION,
    vega DOUBLE PRECISION,
    vega_min DOUBLE PRECISION,
    vega_max DOUBLE PRECISION,
    theta DOUBLE PRECISION,
    theta_min DOUBLE PRECISION,
    theta_max DOUBLE PRECISION,
    underlying_price DOUBLE PRECISION,
    underlying_price_min DOUBLE PRECISION,
    underlying_price_max DOUBLE PRECISION,
    delta_dollars DOUBLE PRECISION,
    delta_dollars_min DOUBLE PRECISION,
    delta_dollars_max DOUBLE PRECISION,
    gamma_dollars DOUBLE PRECISION,
    gamma_dollars_min DOUBLE PRECISION,
    gamma_dollars_max DOUBLE PRECISION,
    vega_lt30 DOUBLE PRECISION,
    vega_lt30_min DOUBLE PRECISION,
    vega_lt30_max DOUBLE PRECISION,
    vega_30_90 DOUBLE PRECISION,
    vega_30_90_min DOUBLE PRECISION,
    vega_30_90_max DOUBLE PRECISION,
    vega_gt90 DOUBLE PRECISION,
    vega_gt90_min DOUBLE PRECISION,
    vega_gt90_max DOUBLE PRECISION,
    theta_lt30 DOUBLE PRECISION,
    theta_lt30_min DOUBLE PRECISION,
    theta_lt30_max DOUBLE PRECISION,
    theta_30_90 DOUBLE PRECISION,
    theta_30_90_min DOUBLE PRECISION,
    theta_30_90_max DOUBLE PRECISION,
    theta_gt90 DOUBLE PRECISION,
    theta_gt90_min DOUBLE PRECISION,
    theta_gt90_max DOUBLE PRECISION,
    PRIMARY KEY (contract, account, bridge, bucket)
);

-- The time ranges of `portfolio_greeks` rows not rolled up yet. The greeks writer adds one in
-- the transaction that stores the rows, so a range is visible exactly when its rows are (a late
-- spool drain included); the `greeks.history` job rolls each range up and removes it in one
-- transaction. Rows can only be dropped by retention once no range here covers them.
CREATE TABLE IF NOT EXISTS greeks_rollup_pending (
    id BIGSERIAL PRIMARY KEY,
    lo TIMESTAMPTZ NOT NULL,
    hi TIMESTAMPTZ NOT NULL
);
-- Rows stored before rollups existed are rolled up by the first job.
INSERT INTO greeks_rollup_pending (lo, hi)
SELECT min("timestamp"), max("timestamp") FROM portfolio_greeks HAVING count(*) > 0;

-- Rollups and retention find rows by time alone. Rows arrive in time order, so a BRIN index is a
-- few pages however long the table.
CREATE INDEX IF NOT EXISTS ix_portfolio_greeks_timestamp_brin
    ON portfolio_greeks USING brin ("timestamp");
