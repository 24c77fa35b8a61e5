//! Migrations against real databases: fresh, already migrated, and holding the tables of the
//! existing application or of strangers. Expectations are written out from the specs and read
//! back from the catalog, not derived from the code under test.

use portfolio_bridge::store::{self, StoreError, schema};
use sqlx::PgPool;

use crate::helpers::{advisory_locks, eventually, within};

/// Columns of `table` as `name type nullability`, in table order.
async fn columns(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = $1
          ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("columns")
}

/// Index definitions of `table`, with the schema prefix dropped.
async fn indexes(pool: &PgPool, table: &str) -> Vec<String> {
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = $1 ORDER BY indexname",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("indexes");
    defs.into_iter().map(|d| d.replace("public.", "")).collect()
}

/// Everything the catalog says about the public schema: columns with defaults, indexes and
/// constraints. Equal snapshots mean an unchanged schema.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                || ' ' || coalesce(column_default, '-')
           FROM information_schema.columns WHERE table_schema = 'public'
         UNION ALL
         SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
         UNION ALL
         SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("snapshot")
}

/// The rows `query` returns, each as JSON text.
async fn rows(pool: &PgPool, query: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT row_to_json(q)::text FROM ({query}) q"
    )))
    .fetch_all(pool)
    .await
    .expect("rows")
}

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::raw_sql(sql).execute(pool).await.expect("setup SQL");
}

#[sqlx::test(migrations = false)]
async fn every_spec_column_type_constraint_and_index_exists(pool: PgPool) {
    let report = store::migrate(&pool).await.expect("migrate");
    assert_eq!(report.current, 9);
    assert_eq!(report.applied.len(), 9);

    assert_eq!(
        columns(&pool, "portfolio_greeks").await,
        [
            "id bigint not null",
            "timestamp timestamp with time zone not null",
            "contract text not null",
            "delta double precision",
            "gamma double precision",
            "vega double precision",
            "theta double precision",
            "underlying_price double precision",
            "row_key text",
            "account text",
            "delta_dollars double precision",
            "gamma_dollars double precision",
            "vega_lt30 double precision",
            "vega_30_90 double precision",
            "vega_gt90 double precision",
            "theta_lt30 double precision",
            "theta_30_90 double precision",
            "theta_gt90 double precision",
            "bridge text",
        ]
    );
    assert_eq!(
        indexes(&pool, "portfolio_greeks").await,
        [
            "CREATE INDEX ix_portfolio_greeks_account_contract_timestamp ON ONLY portfolio_greeks USING btree (account, contract, \"timestamp\" DESC)",
            "CREATE INDEX ix_portfolio_greeks_contract_timestamp ON ONLY portfolio_greeks USING btree (contract, \"timestamp\" DESC)",
            "CREATE INDEX ix_portfolio_greeks_timestamp_brin ON ONLY portfolio_greeks USING brin (\"timestamp\")",
            "CREATE UNIQUE INDEX portfolio_greeks_pkey ON ONLY portfolio_greeks USING btree (id, \"timestamp\")",
            "CREATE UNIQUE INDEX uq_portfolio_greeks_row_key ON ONLY portfolio_greeks USING btree (row_key, \"timestamp\")",
        ]
    );
    assert_eq!(
        columns(&pool, "api_logs").await,
        [
            "id bigint not null",
            "timestamp timestamp with time zone not null",
            "api_mode text not null",
            "message text not null",
            "status text not null",
            "row_key text",
            "bridge text",
        ]
    );
    let serial: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
          WHERE table_name IN ('portfolio_greeks', 'api_logs') AND column_name = 'id'
            AND column_default LIKE 'nextval(%' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("serial ids");
    assert_eq!(
        serial,
        ["api_logs", "portfolio_greeks"],
        "ids are BIGSERIAL"
    );

    assert_eq!(
        columns(&pool, "combo_positions").await,
        [
            "id integer not null",
            "account_id integer not null",
            "source text not null",
            "combo_key text not null",
            "name text",
            "description text",
            "position double precision",
            "avg_price double precision",
            "market_value double precision",
            "unrealized_pnl double precision",
            "realized_pnl double precision",
            "raw jsonb not null",
            "fetched_at timestamp with time zone not null",
            "created_at timestamp with time zone not null",
            "updated_at timestamp with time zone not null",
            "stale_at timestamp with time zone",
            "content_hash bytea",
        ]
    );
    assert_eq!(
        indexes(&pool, "combo_positions").await,
        [
            "CREATE UNIQUE INDEX combo_positions_pkey ON combo_positions USING btree (id)",
            "CREATE INDEX ix_combo_positions_account_fetched ON combo_positions USING btree (account_id, fetched_at DESC)",
            "CREATE INDEX ix_combo_positions_account_id ON combo_positions USING btree (account_id, id)",
            "CREATE UNIQUE INDEX uq_combo_positions_account_source_key ON combo_positions USING btree (account_id, source, combo_key)",
        ]
    );
    let source_default: String = sqlx::query_scalar(
        "SELECT column_default FROM information_schema.columns
          WHERE table_name = 'combo_positions' AND column_name = 'source'",
    )
    .fetch_one(&pool)
    .await
    .expect("default");
    assert_eq!(source_default, "'cpapi'::text");

    assert_eq!(
        columns(&pool, "combo_position_legs").await,
        [
            "id integer not null",
            "combo_position_id integer not null",
            "con_id integer not null",
            "ratio double precision",
            "position double precision",
            "avg_price double precision",
            "market_value double precision",
            "unrealized_pnl double precision",
            "realized_pnl double precision",
            "raw jsonb not null",
            "created_at timestamp with time zone not null",
            "updated_at timestamp with time zone not null",
        ]
    );
    assert_eq!(
        indexes(&pool, "combo_position_legs").await,
        [
            "CREATE UNIQUE INDEX combo_position_legs_pkey ON combo_position_legs USING btree (id)",
            "CREATE INDEX ix_combo_position_legs_con_id ON combo_position_legs USING btree (con_id)",
            "CREATE UNIQUE INDEX uq_combo_position_legs_combo_con ON combo_position_legs USING btree (combo_position_id, con_id)",
        ]
    );

    assert_eq!(
        columns(&pool, "accounts").await,
        [
            "id integer not null",
            "account character varying not null",
            "alias character varying"
        ]
    );
    let positions = columns(&pool, "positions").await;
    assert_eq!(
        positions[..17],
        [
            "id integer not null",
            "account_id integer not null",
            "con_id integer not null",
            "symbol character varying",
            "sec_type character varying",
            "exchange character varying",
            "primary_exchange character varying",
            "currency character varying",
            "local_symbol character varying",
            "trading_class character varying",
            "last_trade_date character varying",
            "strike double precision",
            "right character varying",
            "multiplier character varying",
            "position double precision not null",
            "avg_cost double precision not null",
            "fetched_at timestamp with time zone not null",
        ]
    );
    assert!(indexes(&pool, "positions").await.contains(
        &"CREATE UNIQUE INDEX uq_account_id_con_id ON positions USING btree (account_id, con_id)".to_owned()
    ));
    let jobs = columns(&pool, "jobs").await;
    assert_eq!(
        jobs[..16],
        [
            "id integer not null",
            "job_type character varying not null",
            "status character varying not null",
            "payload json not null",
            "result json",
            "source character varying not null",
            "request_text text",
            "attempts integer not null",
            "max_attempts integer not null",
            "available_at timestamp with time zone not null",
            "started_at timestamp with time zone",
            "completed_at timestamp with time zone",
            "archived_at timestamp with time zone",
            "last_error text",
            "created_at timestamp with time zone not null",
            "updated_at timestamp with time zone not null",
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn migrating_twice_changes_nothing(pool: PgPool) {
    // A greeks table made by someone else is not partitioned (a partitioned one is the
    // bridge's own, and needs the bookkeeping: no unique index on `row_key` alone can be made
    // on it, which migration 1 asks for). A row keeps it as it is.
    store::MIGRATOR
        .run(&pool)
        .await
        .expect("the migrations alone");
    exec(
        &pool,
        "INSERT INTO portfolio_greeks (\"timestamp\", contract) VALUES (now(), 'PORTFOLIO')",
    )
    .await;
    store::migrate(&pool).await.expect("first");
    let after_first = snapshot(&pool).await;

    let again = store::migrate(&pool).await.expect("second");
    assert!(again.applied.is_empty());
    assert_eq!(snapshot(&pool).await, after_first);

    // The SQL itself is idempotent too: with the bookkeeping gone, as on a database whose tables
    // were made by someone else, every migration runs again and changes nothing.
    exec(&pool, "DELETE FROM _portfolio_bridge_migrations").await;
    let rerun = store::migrate(&pool).await.expect("rerun");
    assert_eq!(rerun.applied.len(), 9);
    assert_eq!(snapshot(&pool).await, after_first);
}

#[sqlx::test(migrations = false)]
async fn migrations_from_several_processes_at_once_all_succeed(pool: PgPool) {
    let (a, b) = tokio::join!(store::migrate(&pool), store::migrate(&pool));
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(
        a.applied.len() + b.applied.len(),
        9,
        "each migration applied once: {a:?} {b:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn tables_of_other_applications_are_left_untouched(pool: PgPool) {
    exec(
        &pool,
        "CREATE TABLE greek_snapshots (id SERIAL PRIMARY KEY, taken_at TIMESTAMP, symbol VARCHAR(12), vega REAL);
         CREATE INDEX greek_snapshots_symbol ON greek_snapshots (symbol);
         INSERT INTO greek_snapshots (taken_at, symbol, vega) VALUES ('2026-01-02 03:04:05', 'CL', 1.5), (NULL, 'ES', -2);
         CREATE TABLE trades (trade_id BIGINT PRIMARY KEY, side CHAR(1) NOT NULL, qty NUMERIC(12, 2));
         INSERT INTO trades VALUES (7, 'B', 3.25);
         CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
         INSERT INTO alembic_version VALUES ('a1b2c3');",
    )
    .await;
    let before = snapshot(&pool).await;
    let data = |p: PgPool| async move {
        (
            rows(&p, "SELECT * FROM greek_snapshots ORDER BY id").await,
            rows(&p, "SELECT * FROM trades").await,
            rows(&p, "SELECT * FROM alembic_version").await,
        )
    };
    let rows_before = data(pool.clone()).await;

    store::migrate(&pool).await.expect("migrate");

    let foreign = |s: &Vec<String>| -> Vec<String> {
        s.iter()
            .filter(|l| {
                ["greek_snapshots", "trades", "alembic_version"]
                    .iter()
                    .any(|t| l.contains(t))
            })
            .cloned()
            .collect()
    };
    assert_eq!(foreign(&snapshot(&pool).await), foreign(&before));
    assert_eq!(data(pool.clone()).await, rows_before);
}

/// The existing application's tables, as its Alembic migrations create them.
const EXISTING_APP_SCHEMA: &str = r#"
CREATE TABLE accounts (id SERIAL NOT NULL, account VARCHAR NOT NULL, alias VARCHAR,
                       PRIMARY KEY (id), UNIQUE (account));
CREATE TABLE positions (
    id SERIAL NOT NULL, account_id INTEGER NOT NULL, con_id INTEGER NOT NULL,
    symbol VARCHAR, sec_type VARCHAR, exchange VARCHAR, primary_exchange VARCHAR, currency VARCHAR,
    local_symbol VARCHAR, trading_class VARCHAR, last_trade_date VARCHAR, strike FLOAT,
    "right" VARCHAR, multiplier VARCHAR, position FLOAT NOT NULL, avg_cost FLOAT NOT NULL,
    fetched_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id), CONSTRAINT uq_account_id_con_id UNIQUE (account_id, con_id));
CREATE TABLE jobs (
    id SERIAL NOT NULL, job_type VARCHAR NOT NULL, status VARCHAR NOT NULL,
    payload JSON DEFAULT '{}' NOT NULL, result JSON, source VARCHAR NOT NULL, request_text TEXT,
    attempts INTEGER DEFAULT 0 NOT NULL, max_attempts INTEGER DEFAULT 3 NOT NULL,
    available_at TIMESTAMP WITH TIME ZONE NOT NULL, started_at TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE, archived_at TIMESTAMP WITH TIME ZONE, last_error TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id));
CREATE INDEX ix_jobs_status ON jobs (status);
CREATE TABLE worker_heartbeats (id SERIAL PRIMARY KEY, worker_type VARCHAR NOT NULL UNIQUE,
    status VARCHAR NOT NULL DEFAULT 'running', details TEXT, heartbeat_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);

INSERT INTO accounts (account, alias) VALUES ('U1234567', 'Main'), ('DU7654321', NULL);
INSERT INTO positions (account_id, con_id, symbol, sec_type, local_symbol, "right", multiplier,
                       strike, position, avg_cost, fetched_at)
VALUES (1, 650000001, 'CL', 'FUT', 'CLF7', NULL, '1000', NULL, -2, 71234.5, '2026-11-20 21:00:00+00'),
       (2, 650000123, 'CL', 'FOP', 'LOF7 C7500', 'C', '1000', 75, 1, 1520, '2026-11-20 21:00:00+00');
INSERT INTO jobs (job_type, status, payload, source, available_at, created_at, updated_at)
VALUES ('positions.sync', 'completed', '{"a": 1}', 'api', now(), now(), now()),
       ('positions.sync', 'queued', '{}', 'cron', now(), now(), now()),
       ('positions.sync', 'queued', '{}', 'cron', now(), now(), now());
INSERT INTO worker_heartbeats (worker_type, heartbeat_at, updated_at) VALUES ('jobs', now(), now());
"#;

#[sqlx::test(migrations = false)]
async fn existing_application_tables_keep_their_rows_and_gain_our_columns(pool: PgPool) {
    exec(&pool, EXISTING_APP_SCHEMA).await;
    let queries = [
        "SELECT id, account, alias FROM accounts ORDER BY id",
        "SELECT id, account_id, con_id, symbol, sec_type, exchange, primary_exchange, currency, local_symbol,
                trading_class, last_trade_date, strike, \"right\", multiplier, position, avg_cost, fetched_at
           FROM positions ORDER BY id",
        "SELECT id, job_type, status, payload::text, result::text, source, request_text, attempts, max_attempts,
                available_at, started_at, completed_at, archived_at, last_error, created_at, updated_at
           FROM jobs ORDER BY id",
        "SELECT * FROM worker_heartbeats ORDER BY id",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(rows(&pool, q).await);
    }
    let schema_before = snapshot(&pool).await;

    store::migrate(&pool)
        .await
        .expect("migrate onto the existing application's tables");

    for (q, expected) in queries.iter().zip(&before) {
        assert_eq!(&rows(&pool, q).await, expected, "{q}");
    }
    // Their own definitions are unchanged; ours are only added.
    let schema_after = snapshot(&pool).await;
    let lost: Vec<&String> = schema_before
        .iter()
        .filter(|l| !schema_after.contains(l))
        .collect();
    assert!(lost.is_empty(), "changed or dropped: {lost:?}");
    let positions = columns(&pool, "positions").await;
    for added in [
        "market_price double precision",
        "market_value double precision",
        "unrealized_pnl double precision",
        "realized_pnl double precision",
        "raw jsonb",
    ] {
        assert!(
            positions.contains(&added.to_owned()),
            "positions lacks {added}: {positions:?}"
        );
    }
    let jobs = columns(&pool, "jobs").await;
    for added in [
        "dedup_key text",
        "locked_by text",
        "locked_until timestamp with time zone",
    ] {
        assert!(
            jobs.contains(&added.to_owned()),
            "jobs lacks {added}: {jobs:?}"
        );
    }
    schema::check(&pool, schema::ALL_TABLES)
        .await
        .expect("the bridge can use them");
}

#[sqlx::test(migrations = false)]
async fn spec_tables_made_by_an_earlier_bridge_are_accepted_as_is(pool: PgPool) {
    exec(
        &pool,
        "CREATE TABLE portfolio_greeks (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ, contract TEXT,
             delta DOUBLE PRECISION, gamma DOUBLE PRECISION, vega DOUBLE PRECISION, theta DOUBLE PRECISION,
             underlying_price DOUBLE PRECISION);
         CREATE TABLE api_logs (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ, api_mode TEXT, message TEXT,
             status TEXT);
         INSERT INTO portfolio_greeks (timestamp, contract, delta, gamma, vega, theta, underlying_price)
         VALUES ('2026-02-21 15:00:05+00', 'PORTFOLIO', 12.5, 0.3, -1540.2, 88.1, 71.2),
                ('2026-02-21 15:00:10+00', 'PORTFOLIO', NULL, NULL, NULL, NULL, NULL);
         INSERT INTO api_logs (timestamp, api_mode, message, status)
         VALUES ('2026-02-21 15:00:00+00', 'SOCKET', 'connected', 'ok');",
    )
    .await;
    let greeks = "SELECT id, timestamp, contract, delta, gamma, vega, theta, underlying_price FROM portfolio_greeks ORDER BY id";
    let logs = "SELECT id, timestamp, api_mode, message, status FROM api_logs ORDER BY id";
    let (greeks_before, logs_before) = (rows(&pool, greeks).await, rows(&pool, logs).await);

    store::migrate(&pool).await.expect("accepted");

    assert_eq!(rows(&pool, greeks).await, greeks_before);
    assert_eq!(rows(&pool, logs).await, logs_before);
    // Their rows gained the risk view's columns as NULL: all-accounts rows whose dollar and
    // by-expiry figures are unknown, not zero.
    let unknown: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM portfolio_greeks
          WHERE num_nulls(account, delta_dollars, gamma_dollars, vega_lt30, vega_30_90, vega_gt90,
                          theta_lt30, theta_30_90, theta_gt90) = 9",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(unknown, 2);
    // Still the spec's nullable columns: nothing was retyped or tightened.
    assert_eq!(
        columns(&pool, "api_logs").await[1],
        "timestamp timestamp with time zone"
    );
}

#[sqlx::test(migrations = false)]
async fn a_table_the_bridge_cannot_use_is_refused_with_what_is_wrong(pool: PgPool) {
    // A positions table without the unique key the leg upsert needs.
    exec(
        &pool,
        "CREATE TABLE positions (id SERIAL PRIMARY KEY, account_id INTEGER NOT NULL, con_id INTEGER NOT NULL,
             position FLOAT NOT NULL, avg_cost FLOAT NOT NULL, fetched_at TIMESTAMPTZ NOT NULL)",
    )
    .await;
    let err = store::migrate(&pool)
        .await
        .expect_err("positions cannot serve the bridge");
    let StoreError::Schema(e) = &err else {
        panic!("expected a schema error, got {err:?}")
    };
    assert!(
        e.problems
            .contains(&"column positions.symbol is missing".to_owned()),
        "{err}"
    );
    assert!(
        e.problems.contains(
            &"table positions has no unique constraint on (account_id, con_id)".to_owned()
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("portfolio-bridge migrate"),
        "{err}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_migration_failing_on_a_foreign_table_says_what_is_wrong_and_leaves_no_lock(
    pool: PgPool,
) {
    // Someone else's api_logs, without the columns the spec's table has: migration 1's index
    // on "timestamp" cannot be built.
    exec(
        &pool,
        "CREATE TABLE api_logs (id SERIAL PRIMARY KEY, endpoint TEXT)",
    )
    .await;
    let err = store::migrate(&pool)
        .await
        .expect_err("api_logs cannot serve the bridge");
    let StoreError::Blocked { problems, cause } = &err else {
        panic!("the schema check's message, not the raw SQL error: {err}")
    };
    assert!(
        problems
            .problems
            .contains(&"column api_logs.timestamp is missing".to_owned()),
        "{err}"
    );
    assert!(cause.contains("\"timestamp\" does not exist"), "{err}");
    let greeks: Option<String> = sqlx::query_scalar("SELECT to_regclass('portfolio_greeks')::text")
        .fetch_one(&pool)
        .await
        .expect("regclass");
    assert_eq!(greeks, None, "migration 1 was half applied");

    // Nothing stays locked: no session holds an advisory lock, and another process (a pool of
    // its own) is told the same at once.
    eventually("the failed migration's connection to close", || async {
        advisory_locks(&pool, true).await == 0
    })
    .await;
    let other = PgPool::connect(&crate::helpers::database_url_of(&pool).await)
        .await
        .expect("a second pool");
    let again = within("a second migrate", store::migrate(&other)).await;
    assert!(
        matches!(again, Err(StoreError::Blocked { .. })),
        "{again:?}"
    );
    other.close().await;
}

#[sqlx::test(migrations = false)]
async fn a_combo_positions_without_account_id_gets_the_guards_message(pool: PgPool) {
    // An older or foreign combo_positions: migration 2's index on account_id cannot be built.
    exec(
        &pool,
        "CREATE TABLE combo_positions (id SERIAL PRIMARY KEY, combo_key TEXT NOT NULL, raw JSONB NOT NULL)",
    )
    .await;
    let err = store::migrate(&pool)
        .await
        .expect_err("combo_positions cannot serve the bridge");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Blocked { .. }), "{text}");
    assert!(
        text.contains("column combo_positions.account_id is missing"),
        "{text}"
    );
    assert!(
        text.starts_with("a schema migration cannot be applied"),
        "the raw SQL error: {text}"
    );
    assert!(
        !text.contains("api_logs"),
        "a table the migrations just created is not to blame: {text}"
    );
}

#[sqlx::test(migrations = false)]
async fn combo_work_refuses_to_start_until_the_combo_tables_are_ready(pool: PgPool) {
    let err = schema::check_combo_tables_ready(&pool)
        .await
        .expect_err("no tables yet");
    let text = err.to_string();
    assert!(text.contains("table combo_positions is missing"), "{text}");
    assert!(
        text.contains("table combo_position_legs is missing"),
        "{text}"
    );
    assert!(text.contains("portfolio-bridge migrate"), "{text}");

    store::migrate(&pool).await.expect("migrate");
    schema::check_combo_tables_ready(&pool)
        .await
        .expect("ready");

    exec(&pool, "ALTER TABLE combo_positions DROP COLUMN stale_at").await;
    let text = schema::check_combo_tables_ready(&pool)
        .await
        .expect_err("stale_at gone")
        .to_string();
    assert!(
        text.contains("column combo_positions.stale_at is missing"),
        "{text}"
    );
}
