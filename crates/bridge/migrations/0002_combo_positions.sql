-- The first spec's combo (spread) tables: IBKR-native combo positions from the Client Portal and
-- their legs. `combo_key` is derived from the account and the sorted conid:ratio set of the legs.

CREATE TABLE IF NOT EXISTS combo_positions (
    id             SERIAL PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    source         TEXT NOT NULL DEFAULT 'cpapi',
    combo_key      TEXT NOT NULL,
    name           TEXT,
    description    TEXT,
    position       DOUBLE PRECISION,
    avg_price      DOUBLE PRECISION,
    market_value   DOUBLE PRECISION,
    unrealized_pnl DOUBLE PRECISION,
    realized_pnl   DOUBLE PRECISION,
    raw            JSONB NOT NULL,
    fetched_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_combo_positions_account_source_key UNIQUE (account_id, source, combo_key)
);

CREATE INDEX IF NOT EXISTS ix_combo_positions_account_fetched
    ON combo_positions (account_id, fetched_at DESC);

-- Replace semantics per account: a combo the gateway no longer reports is kept for audit with
-- the time it went missing, and hidden from the current view.
ALTER TABLE combo_positions ADD COLUMN IF NOT EXISTS stale_at TIMESTAMPTZ;

CREATE TABLE IF NOT EXISTS combo_position_legs (
    id                SERIAL PRIMARY KEY,
    combo_position_id INTEGER NOT NULL REFERENCES combo_positions (id) ON DELETE CASCADE,
    con_id            INTEGER NOT NULL,
    ratio             DOUBLE PRECISION,
    position          DOUBLE PRECISION,
    avg_price         DOUBLE PRECISION,
    market_value      DOUBLE PRECISION,
    unrealized_pnl    DOUBLE PRECISION,
    realized_pnl      DOUBLE PRECISION,
    raw               JSONB NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_combo_position_legs_combo_con UNIQUE (combo_position_id, con_id)
);

CREATE INDEX IF NOT EXISTS ix_combo_position_legs_con_id ON combo_position_legs (con_id);
