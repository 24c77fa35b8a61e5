-- accounts, positions and jobs, compatible with the application the first spec extends
-- (reference/ngtrader-schema.md): when its tables are already here they keep their rows and
-- definitions and only gain the bridge's columns, which are all nullable or defaulted.

CREATE TABLE IF NOT EXISTS accounts (
    id      SERIAL PRIMARY KEY,
    account VARCHAR NOT NULL UNIQUE,
    alias   VARCHAR
);

CREATE TABLE IF NOT EXISTS positions (
    id               SERIAL PRIMARY KEY,
    account_id       INTEGER NOT NULL,
    con_id           INTEGER NOT NULL,
    symbol           VARCHAR,
    sec_type         VARCHAR,
    exchange         VARCHAR,
    primary_exchange VARCHAR,
    currency         VARCHAR,
    local_symbol     VARCHAR,
    trading_class    VARCHAR,
    last_trade_date  VARCHAR,
    strike           DOUBLE PRECISION,
    "right"          VARCHAR,
    multiplier       VARCHAR,
    position         DOUBLE PRECISION NOT NULL,
    avg_cost         DOUBLE PRECISION NOT NULL,
    fetched_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT uq_account_id_con_id UNIQUE (account_id, con_id)
);

-- What the spread view and the greeks need beyond the existing application's leg snapshot.
ALTER TABLE positions
    ADD COLUMN IF NOT EXISTS market_price   DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS market_value   DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS unrealized_pnl DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS realized_pnl   DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS underlying_con_id INTEGER,
    ADD COLUMN IF NOT EXISTS source         TEXT,
    ADD COLUMN IF NOT EXISTS raw            JSONB,
    ADD COLUMN IF NOT EXISTS updated_at     TIMESTAMPTZ;

CREATE TABLE IF NOT EXISTS jobs (
    id           SERIAL PRIMARY KEY,
    job_type     VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    payload      JSON NOT NULL DEFAULT '{}',
    result       JSON,
    source       VARCHAR NOT NULL,
    request_text TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at   TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    archived_at  TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The bridge's queue: a dedup key (at most one queued or running job per key) and a lease that
-- a reaper hands back when the worker holding it dies. Jobs enqueued by the existing
-- application have no dedup key and are never blocked by the index.
ALTER TABLE jobs
    ADD COLUMN IF NOT EXISTS dedup_key    TEXT,
    ADD COLUMN IF NOT EXISTS locked_by    TEXT,
    ADD COLUMN IF NOT EXISTS locked_until TIMESTAMPTZ;

CREATE UNIQUE INDEX IF NOT EXISTS uq_jobs_active_dedup_key
    ON jobs (job_type, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS ix_jobs_queued_available
    ON jobs (available_at, id)
    WHERE status = 'queued';
