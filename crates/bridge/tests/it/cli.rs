//! The binary as an operator meets it: bad configuration halts before anything connects, `.env`
//! is read, `migrate` and `config` work against a real database.

use std::io::ErrorKind;
use std::net::TcpListener;

use sqlx::PgPool;

use crate::helpers::{
    Bridge, advisory_locks, database_url_of, eventually, exited, first_api_log, sim_config,
    start_sim, stop, window_around_now, within,
};

#[test]
fn invalid_api_mode_halts_before_connecting_to_anything() {
    // Both the database and the gateway point at a listener we own: nobody may knock.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();

    let run = Bridge::new()
        .env("IB_API_MODE", "TWS")
        .env("DATABASE_URL", &format!("postgres://u@127.0.0.1:{port}/db"))
        .env("IB_SOCKET_ADDR", &format!("127.0.0.1:{port}"))
        .run(&["migrate"]);

    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    let err = run.stderr();
    assert!(err.contains("ERROR"), "{err}");
    assert!(
        err.contains("IB_API_MODE=\"TWS\" is not valid: expected SOCKET (the default) or PORTAL"),
        "{err}"
    );
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the bridge connected"
    );
}

/// A local port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[test]
fn each_invalid_configuration_halts_with_its_message() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("IB_API_MODE", "rest")],
            "IB_API_MODE=\"rest\" is not valid",
        ),
        (
            &[("IBKR_CP_BASE_URL", "https://gw.example.com:5000/v1/api")],
            "IBKR_CP_VERIFY_TLS=false accepts any certificate",
        ),
        (
            &[("IBKR_GATEWAY_URL", "https://10.1.2.3:5000")],
            "points at 10.1.2.3",
        ),
        (
            &[("BRIDGE_HTTP_ADDR", "0.0.0.0:8080")],
            "BRIDGE_API_TOKEN must be set",
        ),
        (
            &[("GREEKS_INTERVAL_SECONDS", "0")],
            "GREEKS_INTERVAL_SECONDS=\"0\" is not valid",
        ),
        (
            &[("WATCHDOG_INTERVAL_SECONDS", "-30")],
            "WATCHDOG_INTERVAL_SECONDS=\"-30\" is not valid",
        ),
        (
            &[("BUFFER_FLUSH_INTERVAL_SECONDS", "soon")],
            "BUFFER_FLUSH_INTERVAL_SECONDS=\"soon\" is not valid",
        ),
        (
            &[("IB_CLIENT_ID", "one")],
            "IB_CLIENT_ID=\"one\" is not valid",
        ),
        (
            &[("IBKR_CP_BASE_URL", "localhost 5000")],
            "IBKR_CP_BASE_URL=\"localhost 5000\" is not valid",
        ),
        (
            &[("DATABASE_URL", "postgres//nope")],
            "DATABASE_URL=(value hidden) is not valid",
        ),
        (
            &[
                ("IBKR_CP_BASE_URL", "https://localhost:5000/v1/api"),
                ("IBKR_GATEWAY_URL", "https://localhost:5001"),
            ],
            "are both set and disagree",
        ),
    ];
    for (vars, message) in cases {
        let bridge = vars.iter().fold(Bridge::new(), |b, (k, v)| b.env(k, v));
        let run = bridge.run(&["config"]);
        assert_eq!(run.code(), Some(2), "{vars:?}: {}", run.stderr());
        assert!(
            run.stderr().contains(message),
            "{vars:?}: expected {message:?} in {}",
            run.stderr()
        );
        assert!(
            run.stdout().is_empty(),
            "{vars:?} printed a configuration anyway"
        );
    }
}

#[test]
fn migrate_without_database_url_says_how_to_get_one() {
    let run = Bridge::new().run(&["migrate"]);
    assert_eq!(run.code(), Some(2));
    assert!(
        run.stderr().contains("DATABASE_URL is not set"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("scripts/ensure-postgres"),
        "{}",
        run.stderr()
    );
}

#[test]
fn run_reports_every_problem_at_once_a_missing_database_url_included() {
    let run = Bridge::new()
        .env("IB_RESET_WINDOW", "23:40")
        .env("GREEKS_INTERVAL_SECONDS", "0")
        .run(&["run"]);
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    let err = run.stderr();
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("invalid configuration:"))
        .collect();
    assert_eq!(problems.len(), 3, "{err}");
    for (line, what) in problems.iter().zip([
        "IB_RESET_WINDOW=\"23:40\" is not valid",
        "DATABASE_URL is not set",
        "GREEKS_INTERVAL_SECONDS=\"0\" is not valid",
    ]) {
        assert!(line.contains(what), "{what:?} in {err}");
    }
}

#[tokio::test]
async fn run_refuses_a_buffer_path_that_cannot_hold_the_spool_and_creates_a_missing_directory() {
    let closed = closed_port();
    let database = format!("postgres://u@127.0.0.1:{closed}/db");
    let bridge = Bridge::new().env("DATABASE_URL", &database);
    let file = bridge.dir.path().join("a-file");
    std::fs::write(&file, b"").expect("a file");
    let dir = bridge.dir.path().join("a-directory");
    std::fs::create_dir(&dir).expect("a directory");
    for (path, why) in [
        (file.join("spool.jsonl"), "cannot be created"),
        (dir.clone(), "it is a directory"),
    ] {
        let shown = path.to_str().expect("utf-8");
        let run = Bridge::new()
            .env("DATABASE_URL", &database)
            .env("BRIDGE_BUFFER_PATH", shown)
            .run(&["run"]);
        assert_eq!(run.code(), Some(2), "{shown}: {}", run.stderr());
        let err = run.stderr();
        assert!(
            err.contains(&format!(
                "invalid configuration: BRIDGE_BUFFER_PATH={shown} cannot hold the spool"
            )),
            "{err}"
        );
        assert!(err.contains(why), "{why:?} in {err}");
    }

    let missing = bridge.dir.path().join("new/sub/spool.jsonl");
    let running = Bridge::new()
        .env("DATABASE_URL", &database)
        .env("BRIDGE_BUFFER_PATH", missing.to_str().expect("utf-8"))
        .spawn(&["run"]);
    running.wait_for_stderr("portfolio-bridge running").await;
    assert!(missing.parent().expect("dir").is_dir());
    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test]
async fn run_without_postgresql_says_why_once_and_stops_on_sigterm() {
    let port = closed_port();
    let running = Bridge::new()
        .env("DATABASE_URL", &format!("postgres://u@127.0.0.1:{port}/db"))
        .spawn(&["run"]);
    let why = format!(
        "cannot connect to PostgreSQL at postgres://u@127.0.0.1:{port}/db: Connection refused"
    );
    running.wait_for_stderr(&why).await;
    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
    let retries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("trying again every"))
        .collect();
    assert_eq!(retries.len(), 1, "{stderr}");
    assert!(retries[0].contains(&why), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn sigterm_stops_run_while_its_migration_waits_for_a_lock(pool: PgPool) {
    // Another process holds the migration lock (a migration in progress, or a stuck one).
    let mut holder = pool.acquire().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock(hashtext('portfolio-bridge migrate'))")
        .execute(&mut *holder)
        .await
        .expect("lock");
    let url = database_url_of(&pool).await;
    let running = Bridge::new().env("DATABASE_URL", &url).spawn(&["run"]);
    eventually("the bridge waits for the lock", || async {
        advisory_locks(&pool, false).await > 0
    })
    .await;
    let (status, stderr) = stop(running, "TERM").await;
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stopped: "), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn run_on_a_combo_positions_without_account_id_stops_saying_what_is_wrong(pool: PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE combo_positions (id SERIAL PRIMARY KEY, combo_key TEXT NOT NULL, raw JSONB NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("an older combo_positions");
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new().env("DATABASE_URL", &url);
    let running = bridge.spawn(&["run"]);
    let (status, stderr) = exited(running, "a schema that cannot serve it").await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("column combo_positions.account_id is missing"),
        "{stderr}"
    );
    assert!(!stderr.contains("trying again"), "{stderr}");
    assert!(
        !stderr.contains("has not answered"),
        "PostgreSQL answered; the schema is what is wrong: {stderr}"
    );
    // Nothing is left locked for the next command.
    let migrate = bridge.run_off_runtime(&["migrate"]).await;
    assert_eq!(migrate.code(), Some(1), "{}", migrate.stderr());
    assert!(
        migrate
            .stderr()
            .contains("column combo_positions.account_id is missing"),
        "{}",
        migrate.stderr()
    );
}

#[test]
fn migrate_against_a_closed_port_fails_clearly() {
    let port = closed_port();
    let run = Bridge::new()
        .env(
            "DATABASE_URL",
            &format!("postgres://u:hunter2@127.0.0.1:{port}/db"),
        )
        .run(&["migrate"]);
    assert_eq!(run.code(), Some(1));
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "cannot connect to PostgreSQL at postgres://u:REDACTED@127.0.0.1:{port}/db"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[sqlx::test(migrations = false)]
async fn migrate_then_config_work_against_a_database(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new().env("DATABASE_URL", &url);

    let first = bridge.run(&["migrate"]);
    assert_eq!(first.code(), Some(0), "{}", first.stderr());
    assert!(
        first.stdout().contains("schema at version 9"),
        "{}",
        first.stdout()
    );
    assert!(
        first.stdout().contains("9 migration(s) applied now")
            && first
                .stdout()
                .contains("portfolio_greeks was empty and is now partitioned by day"),
        "{}",
        first.stdout()
    );
    assert!(
        first
            .stderr()
            .contains("applied migration 2: combo positions"),
        "{}",
        first.stderr()
    );

    let second = bridge.run(&["migrate"]);
    assert_eq!(second.code(), Some(0), "{}", second.stderr());
    assert!(
        second.stdout().contains("0 migration(s) applied now"),
        "{}",
        second.stdout()
    );

    let config = bridge.run(&["config"]);
    assert_eq!(config.code(), Some(0), "{}", config.stderr());
    assert!(
        config.stdout().contains(&format!("DATABASE_URL={url}\n")),
        "{}",
        config.stdout()
    );

    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
           AND table_name IN ('portfolio_greeks', 'api_logs', 'combo_positions', 'combo_position_legs',
                              'accounts', 'positions', 'jobs', 'worker_heartbeats')",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(tables, 8);
}

#[test]
fn config_redacts_secrets() {
    let run = Bridge::new()
        .env("DATABASE_URL", "postgres://trader:hunter2@db.lan/risk")
        .env("BRIDGE_API_TOKEN", "a-token-of-32-characters-000000000")
        .run(&["config"]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("DATABASE_URL=postgres://trader:REDACTED@db.lan/risk\n"),
        "{out}"
    );
    assert!(out.contains("BRIDGE_API_TOKEN=REDACTED\n"), "{out}");
    assert!(
        !out.contains("hunter2") && !out.contains("a-token-of"),
        "{out}"
    );
}

#[test]
fn dotenv_is_read_and_the_environment_wins_over_it() {
    let bridge = Bridge::new().env("GREEKS_INTERVAL_SECONDS", "9");
    std::fs::write(
        bridge.dir.path().join(".env"),
        "# trader's settings\nIB_API_MODE=PORTAL\nGREEKS_INTERVAL_SECONDS=7\nIBKR_GATEWAY_URL=https://localhost:5001\n",
    )
    .expect("write .env");
    let run = bridge.run(&["config"]);
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains("IB_API_MODE=PORTAL\n"), "{out}");
    assert!(out.contains("GREEKS_INTERVAL_SECONDS=9\n"), "{out}");
    assert!(
        out.lines().any(
            |l| l.starts_with("IBKR_CP_BASE_URL=https://localhost:5001/v1/api ")
                && l.ends_with("# from IBKR_GATEWAY_URL")
        ),
        "{out}"
    );
}

#[test]
fn a_malformed_dotenv_halts_and_names_the_file() {
    let bridge = Bridge::new();
    std::fs::write(
        bridge.dir.path().join(".env"),
        "IB_API_MODE=PORTAL\nthis line is not a setting\n",
    )
    .expect("write .env");
    let run = bridge.run(&["config"]);
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr().contains("cannot read .env"),
        "{}",
        run.stderr()
    );
}

#[test]
fn help_names_every_variable_and_its_default() {
    let run = Bridge::new().run(&["--help"]);
    assert_eq!(run.code(), Some(0));
    let out = run.stdout();
    for (var, default) in [
        ("IB_API_MODE", "[default: SOCKET]"),
        ("IB_SOCKET_ADDR", "[default: 127.0.0.1:4001]"),
        (
            "IBKR_CP_BASE_URL",
            "[default: https://localhost:5000/v1/api]",
        ),
        ("IBKR_CP_TIMEOUT_SECONDS", "[default: 15]"),
        ("IBKR_CP_TICKLE_INTERVAL_SECONDS", "[default: 60]"),
        ("GREEKS_INTERVAL_SECONDS", "[default: 5]"),
        ("BUFFER_FLUSH_INTERVAL_SECONDS", "[default: 60]"),
        ("WATCHDOG_INTERVAL_SECONDS", "[default: 30]"),
        ("POSITIONS_SYNC_INTERVAL_SECONDS", "[default: 60]"),
        ("BRIDGE_HTTP_ADDR", "[default: 127.0.0.1:8080]"),
    ] {
        let end = out
            .find(&format!("[env: {var}"))
            .unwrap_or_else(|| panic!("{var} missing from --help"));
        let start = out[..end].rfind("\n\n").unwrap_or(0);
        assert!(
            out[start..end].contains(default),
            "{var}: {default} missing from --help"
        );
    }
    for var in [
        "IB_CLIENT_ID",
        "IBKR_GATEWAY_URL",
        "IBKR_CP_VERIFY_TLS",
        "IBKR_CP_ENABLED",
        "DATABASE_URL",
        "BRIDGE_BUFFER_PATH",
        "BRIDGE_API_TOKEN",
    ] {
        assert!(
            out.contains(&format!("[env: {var}")),
            "{var} missing from --help"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn run_in_portal_mode_keeps_the_session_and_stops_cleanly_on_sigint(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_API_MODE", "PORTAL")
        .env("IBKR_CP_BASE_URL", &sim.cp_url())
        .env("IBKR_CP_TICKLE_INTERVAL_SECONDS", "0.5")
        .env("GREEKS_INTERVAL_SECONDS", "0.5");
    let child = bridge.spawn(&["run"]);

    // The session keeper's first state change lands in api_logs.
    let message = first_api_log(&pool, "PORTAL", "ok").await;
    assert!(message.contains("authenticated"), "{message}");
    // The PORTAL source polls the positions.
    within("the source polls", async {
        while !sim
            .control()
            .cp()
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/positions/0"))
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;

    let (status, stderr) = stop(child, "INT").await;
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn run_in_socket_mode_connects_through_the_watchdog_and_stops_cleanly(pool: PgPool) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("IB_CLIENT_ID", "77");
    let child = bridge.spawn(&["run"]);

    let message = first_api_log(&pool, "SOCKET", "ok").await;
    assert!(
        message.contains("connected to TWS API") && message.contains("client 77"),
        "{message}"
    );
    // Market data on its own client, IB_CLIENT_ID + 1 by default.
    assert_eq!(sim.control().tws().status().client_ids, [77, 78]);

    let (status, stderr) = stop(child, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
}

#[sqlx::test(migrations = false)]
async fn started_inside_the_reset_window_it_connects_at_once_and_a_lost_connection_waits(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let window = window_around_now();
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("IB_CLIENT_ID", "78")
        .env("IB_RESET_WINDOW", &window)
        .env("IB_RESET_TIMEZONE", "UTC");
    let child = bridge.spawn(&["run"]);

    child.wait_for_stderr("connected to TWS API").await;
    assert!(
        !child.stderr().contains("waiting until"),
        "a first connect never waits for the window: {}",
        child.stderr()
    );
    // Inside the window, a lost connection waits for its end instead of retrying.
    sim.control().tws().drop_connections();
    child
        .wait_for_stderr(&format!(
            "disconnected during IBKR's daily reset (IB_RESET_WINDOW={window} UTC): waiting until"
        ))
        .await;
    let connects = child.stderr().matches("connected to TWS API at").count();
    assert_eq!(
        connects,
        1,
        "no reconnect inside the window: {}",
        child.stderr()
    );

    let (status, stderr) = stop(child, "TERM").await;
    assert!(status.success(), "{status:?}: {stderr}");
}

/// A spool line as the writer wrote it before the risk view's fields (dollar, per-account,
/// by-expiry) existed: the drain still reads it, as an all-accounts row.
fn spool_line(i: i64) -> String {
    format!(
        r#"{{"kind":"greeks","key":"{}:PORTFOLIO","at_ms":{},"contract":"PORTFOLIO","delta":{i}.0,"gamma":0.0,"vega":0.0,"theta":0.0,"underlying_price":null}}"#,
        1_790_000_000_000 + i * 5000,
        1_790_000_000_000 + i * 5000
    )
}

#[test]
fn spool_status_describes_a_missing_and_a_damaged_spool() {
    let bridge = Bridge::new();
    let path = bridge.dir.path().join("spool.jsonl");
    let bridge = bridge.env("BRIDGE_BUFFER_PATH", path.to_str().expect("utf-8"));
    let none = bridge.run(&["spool", "status"]);
    assert_eq!(none.code(), Some(0));
    assert!(none.stdout().contains("no spool at"), "{}", none.stdout());

    let text = format!(
        "{}\ngarbage in the middle\n{}\n{{\"kind\":\"gre",
        spool_line(1),
        spool_line(2)
    );
    std::fs::write(&path, text).expect("write");
    let out = bridge.run(&["spool", "status"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr());
    let s = out.stdout();
    assert!(s.contains("records waiting: 2"), "{s}");
    assert!(s.contains("unreadable lines waiting: 1"), "{s}");
    assert!(s.contains("torn last line: yes"), "{s}");
}

#[sqlx::test]
async fn spool_drain_stores_everything_once_and_refuses_a_spool_in_use(pool: PgPool) {
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new();
    let path = bridge.dir.path().join("spool.jsonl");
    let bridge = bridge
        .env("DATABASE_URL", &url)
        .env("BRIDGE_BUFFER_PATH", path.to_str().expect("utf-8"));
    let lines: String = (1..=3).map(|i| spool_line(i) + "\n").collect();
    std::fs::write(&path, &lines).expect("write");
    // Row 2 was stored before (a drain that committed but crashed before trimming).
    sqlx::query(r#"INSERT INTO portfolio_greeks ("timestamp", contract, delta, row_key) VALUES (now(), 'PORTFOLIO', 2, $1)"#)
        .bind(format!("{}:PORTFOLIO", 1_790_000_010_000_i64))
        .execute(&pool)
        .await
        .expect("insert");

    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{}.lock", path.display()))
        .expect("lock file");
    held.lock().expect("lock");
    let busy = bridge.run(&["spool", "drain"]);
    assert_eq!(busy.code(), Some(1));
    assert!(
        busy.stderr()
            .contains("in use by another portfolio-bridge process"),
        "{}",
        busy.stderr()
    );
    drop(held);

    let out = bridge.run(&["spool", "drain"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr());
    assert!(
        out.stdout().contains("drained 3 records"),
        "{}",
        out.stdout()
    );
    let deltas: Vec<f64> = sqlx::query_scalar("SELECT delta FROM portfolio_greeks ORDER BY delta")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(deltas, [1.0, 2.0, 3.0], "each once");
    assert_eq!(std::fs::metadata(&path).expect("spool").len(), 0);
    let logged: Vec<String> =
        sqlx::query_scalar("SELECT message FROM api_logs WHERE api_mode = 'BRIDGE'")
            .fetch_all(&pool)
            .await
            .expect("api_logs");
    assert!(
        logged
            .iter()
            .any(|m| m.contains("3 records drained by `portfolio-bridge spool drain`")),
        "{logged:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn status_reports_the_running_bridge_and_fails_when_a_human_is_needed(pool: PgPool) {
    const TOKEN: &str = "status-test-token-0123456789";
    let sim = start_sim(sim_config()).await;
    let url = database_url_of(&pool).await;
    let running = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_SOCKET_ADDR", &sim.tws_addr().to_string())
        .env("IBKR_CP_ENABLED", "true")
        .env("IBKR_CP_BASE_URL", &sim.cp_url())
        .env("IBKR_CP_TICKLE_INTERVAL_SECONDS", "0.2")
        .env("BRIDGE_API_TOKEN", TOKEN);
    let bridge = running.spawn(&["run"]);
    let addr = bridge.served_at().await;

    let asking = Bridge::new().env("BRIDGE_HTTP_ADDR", &addr);
    let no_token = asking.run_off_runtime(&["status"]).await;
    assert_eq!(no_token.code(), Some(1));
    assert!(
        no_token
            .stderr()
            .contains("refused the token: set BRIDGE_API_TOKEN"),
        "{}",
        no_token.stderr()
    );

    let asking = asking.env("BRIDGE_API_TOKEN", TOKEN);
    // Each state is published before it is logged: once logged, `status` reports it.
    bridge
        .wait_for_stderr("Client Portal session authenticated")
        .await;
    bridge.wait_for_stderr("connected to TWS API").await;
    bridge.wait_for_stderr("schema ready").await;
    let ok = asking.run_off_runtime(&["status"]).await;
    assert_eq!(ok.code(), Some(0), "{}", ok.stdout());
    assert!(
        ok.stdout().starts_with("portfolio-bridge: OK\n"),
        "{}",
        ok.stdout()
    );
    assert!(
        ok.stdout()
            .contains("Transport            SOCKET — connected")
    );

    sim.control().cp().logout();
    bridge
        .wait_for_stderr("Client Portal session needs a login")
        .await;
    let attention = asking.run_off_runtime(&["status"]).await;
    assert_eq!(attention.code(), Some(1), "{}", attention.stdout());
    let out = attention.stdout();
    assert!(
        out.starts_with("portfolio-bridge: NEEDS ATTENTION"),
        "{out}"
    );
    assert!(
        out.contains(
            "! [reauth] Re-auth required: log in to the Client Portal Gateway at https://"
        ),
        "{out}"
    );
    let json = asking.run_off_runtime(&["status", "--json"]).await;
    assert_eq!(json.code(), Some(1));
    let view: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON");
    assert_eq!(view["attention"][0]["kind"], "reauth");

    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{stderr}");
    let gone = asking.run_off_runtime(&["status"]).await;
    assert_eq!(gone.code(), Some(1));
    assert!(
        gone.stderr().contains("cannot reach the bridge at http://"),
        "{}",
        gone.stderr()
    );
}

/// Everything the operator reads of a running bridge: `/api/v1/status`, the Status page, and
/// `portfolio-bridge status` (its exit code and output).
struct Seen {
    json: serde_json::Value,
    api: String,
    page: String,
    code: Option<i32>,
    cli: String,
}

async fn seen(http: &reqwest::Client, addr: &str, asking: &Bridge) -> Seen {
    let get = |path: &str| {
        let url = format!("http://{addr}{path}");
        async move {
            http.get(&url)
                .send()
                .await
                .expect("the bridge answers")
                .text()
                .await
                .expect("body")
        }
    };
    let api = get("/api/v1/status").await;
    let page = get("/status").await;
    let run = asking.run_off_runtime(&["status"]).await;
    Seen {
        json: serde_json::from_str(&api).expect("JSON"),
        api,
        page,
        code: run.code(),
        cli: run.stdout(),
    }
}

impl Seen {
    fn attention(&self) -> Vec<(String, String)> {
        self.json["attention"]
            .as_array()
            .expect("attention")
            .iter()
            .map(|a| {
                let text = |k: &str| a[k].as_str().expect("text").to_owned();
                (text("kind"), text("message"))
            })
            .collect()
    }

    /// Neither the API, nor the page, nor `status` names an account of the simulator by its
    /// code, nor promises that the bridge recovers alone.
    fn assert_private_and_honest(&self) {
        for code in ["DU1234567", "DU7654321"] {
            assert!(!self.api.contains(code), "{code} in the API: {}", self.api);
            assert!(
                !self.page.contains(code),
                "{code} on the page: {}",
                self.page
            );
            assert!(!self.cli.contains(code), "{code} in `status`: {}", self.cli);
        }
        for text in [&self.api, &self.page, &self.cli] {
            assert!(!text.contains("by itself"), "{text}");
        }
    }
}

#[sqlx::test(migrations = false)]
async fn in_portal_mode_the_status_names_no_account_asks_for_the_login_and_recovers_from_it(
    pool: PgPool,
) {
    let sim = start_sim(sim_config()).await;
    // Every read of one account's positions answers rows without conids: a failure whose
    // path and payload both carry the account's code.
    sim.control().cp().add_fault(ibkr_sim::cp::Fault {
        path: "/portfolio/DU1234567/positions/0".into(),
        kind: ibkr_sim::cp::FaultKind::DropField {
            field: "conid".into(),
        },
        count: None,
    });
    let url = database_url_of(&pool).await;
    let bridge = Bridge::new()
        .env("DATABASE_URL", &url)
        .env("IB_API_MODE", "PORTAL")
        .env("IBKR_CP_BASE_URL", &sim.cp_url())
        .env("IBKR_CP_TICKLE_INTERVAL_SECONDS", "0.5")
        .env("GREEKS_INTERVAL_SECONDS", "0.5")
        .spawn(&["run"]);
    let addr = bridge.served_at().await;
    let asking = Bridge::new().env("BRIDGE_HTTP_ADDR", &addr);
    // reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    // Each state is published before it is logged: once logged, the status reports it.
    bridge
        .wait_for_stderr("Client Portal data unavailable")
        .await;
    let failing = seen(&http, &addr, &asking).await;
    assert!(
        failing.attention().iter().any(|(kind, _)| kind == "feed"),
        "{}",
        failing.cli
    );
    failing.assert_private_and_honest();
    assert_eq!(failing.code, Some(1), "{}", failing.cli);
    assert!(
        failing
            .api
            .contains("/portfolio/DU…567/positions/0 (HTTP 200): position row 1 has no conid"),
        "the failure is named, its account masked: {}",
        failing.api
    );
    assert!(
        failing
            .cli
            .contains("! [feed] the Client Portal feed is down ("),
        "{}",
        failing.cli
    );

    let mark = bridge.stderr_mark();
    sim.control().cp().expire();
    bridge
        .wait_for_stderr_since(mark, "Client Portal session needs a login")
        .await;
    let reauth = seen(&http, &addr, &asking).await;
    reauth.assert_private_and_honest();
    assert_eq!(reauth.code, Some(1));
    let (_, message) = reauth
        .attention()
        .into_iter()
        .find(|(kind, _)| kind == "reauth")
        .expect("reauth");
    assert!(
        message.starts_with("Re-auth required: log in to the Client Portal Gateway at https://")
            && message.contains("in a browser on the gateway's machine and approve the 2FA")
            && message.contains("no positions, prices or greeks arrive"),
        "{message}"
    );
    assert!(
        reauth
            .cli
            .contains("! [reauth] Re-auth required: log in to the Client Portal Gateway"),
        "{}",
        reauth.cli
    );
    assert!(reauth.page.contains("Re-auth required"), "{}", reauth.page);

    // The human logs in; nothing else is done, and data flows again.
    let mark = bridge.stderr_mark();
    sim.control().cp().clear_faults();
    sim.control().cp().login();
    bridge
        .wait_for_stderr_since(mark, "Client Portal session authenticated")
        .await;
    bridge
        .wait_for_stderr_since(mark, "Client Portal data flows again")
        .await;
    let ok = seen(&http, &addr, &asking).await;
    assert_eq!(ok.json["transport"]["connected"], true, "{}", ok.cli);
    assert!(ok.attention().is_empty(), "{}", ok.cli);
    ok.assert_private_and_honest();
    assert_eq!(ok.code, Some(0), "{}", ok.cli);

    let (status, stderr) = stop(bridge, "TERM").await;
    assert!(status.success(), "{stderr}");
    assert!(
        !stderr.contains("until it is back ()"),
        "a feed down names its reason: {stderr}"
    );
}
