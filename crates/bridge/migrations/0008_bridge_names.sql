-- Several bridges (one per IBKR gateway login) may share one database. Each row says which
-- bridge wrote it; the bridge's name is also part of every row_key, so two bridges' rows of
-- one tick are two rows, never one kept as a "duplicate" of the other. NULL: written before
-- bridges had names (or by another program).
ALTER TABLE portfolio_greeks ADD COLUMN IF NOT EXISTS bridge TEXT;
ALTER TABLE api_logs ADD COLUMN IF NOT EXISTS bridge TEXT;
-- The bridge a job is for (its gateway, its accounts): only that bridge's workers claim it.
-- NULL: any worker that can run the type, as for jobs the existing application enqueues.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS bridge TEXT;

-- The existing application's heartbeat table, created here if it is not there yet (the same
-- definition). A running bridge keeps a row `portfolio-bridge:<name>` fresh in it; a second
-- bridge started with the same name finds that row and refuses to start.
CREATE TABLE IF NOT EXISTS worker_heartbeats (
    id SERIAL PRIMARY KEY,
    worker_type VARCHAR NOT NULL UNIQUE,
    status VARCHAR NOT NULL DEFAULT 'running',
    details TEXT,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
