use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::*;

const HOME: &str = "/home/trader";
const HOST: &str = "trader-box";

fn raw(pairs: &[(&str, &str)]) -> RawConfig {
    let mut r = RawConfig::default();
    for (var, value) in pairs {
        let slot = match *var {
            "IB_API_MODE" => &mut r.ib_api_mode,
            "IB_SOCKET_ADDR" => &mut r.ib_socket_addr,
            "IB_CLIENT_ID" => &mut r.ib_client_id,
            "IB_MARKET_DATA_CLIENT_ID" => &mut r.ib_market_data_client_id,
            "IB_CONNECT_TIMEOUT_SECONDS" => &mut r.ib_connect_timeout_seconds,
            "IB_RESET_WINDOW" => &mut r.ib_reset_window,
            "IB_RESET_TIMEZONE" => &mut r.ib_reset_timezone,
            "IBKR_CP_BASE_URL" => &mut r.ibkr_cp_base_url,
            "IBKR_GATEWAY_URL" => &mut r.ibkr_gateway_url,
            "BRIDGE_NAME" => &mut r.bridge_name,
            "IBKR_CP_TIMEOUT_SECONDS" => &mut r.ibkr_cp_timeout_seconds,
            "IBKR_CP_TICKLE_INTERVAL_SECONDS" => &mut r.ibkr_cp_tickle_interval_seconds,
            "IBKR_CP_VERIFY_TLS" => &mut r.ibkr_cp_verify_tls,
            "IBKR_CP_ENABLED" => &mut r.ibkr_cp_enabled,
            "DATABASE_URL" => &mut r.database_url,
            "BRIDGE_BUFFER_PATH" => &mut r.bridge_buffer_path,
            "GREEKS_INTERVAL_SECONDS" => &mut r.greeks_interval_seconds,
            "GREEKS_MAX_AGE_SECONDS" => &mut r.greeks_max_age_seconds,
            "BUFFER_FLUSH_INTERVAL_SECONDS" => &mut r.buffer_flush_interval_seconds,
            "WATCHDOG_INTERVAL_SECONDS" => &mut r.watchdog_interval_seconds,
            "POSITIONS_SYNC_INTERVAL_SECONDS" => &mut r.positions_sync_interval_seconds,
            "GREEKS_RAW_RETENTION_DAYS" => &mut r.greeks_raw_retention_days,
            "BRIDGE_HTTP_ADDR" => &mut r.bridge_http_addr,
            "BRIDGE_API_TOKEN" => &mut r.bridge_api_token,
            "BRIDGE_ALLOWED_HOSTS" => &mut r.bridge_allowed_hosts,
            "ALERT_WEBHOOK_URL" => &mut r.alert_webhook_url,
            "ALERT_COMMAND" => &mut r.alert_command,
            "ALERT_REPEAT_MINUTES" => &mut r.alert_repeat_minutes,
            "ALERT_FEED_DOWN_AFTER_SECONDS" => &mut r.alert_feed_down_after_seconds,
            "ALERT_DATABASE_DOWN_AFTER_SECONDS" => &mut r.alert_database_down_after_seconds,
            "ALERT_SPOOL_ROWS" => &mut r.alert_spool_rows,
            "ALERT_SYNC_FAILURES" => &mut r.alert_sync_failures,
            "ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS" => &mut r.alert_greeks_incomplete_after_seconds,
            "ALERT_EXPIRY_BUSINESS_DAYS" => &mut r.alert_expiry_business_days,
            other => panic!("unknown variable {other}"),
        };
        *slot = Some((*value).to_owned());
    }
    r
}

fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    Config::from_raw(
        &raw(pairs),
        Some(Path::new(HOME)),
        HOST,
        DatabaseNeed::NotNeeded,
    )
}

fn ok(pairs: &[(&str, &str)]) -> Config {
    parse(pairs).unwrap_or_else(|e| panic!("{pairs:?} should be accepted, got: {e}"))
}

/// The single error `pairs` produce, as the operator reads it.
fn refused(pairs: &[(&str, &str)]) -> String {
    match parse(pairs) {
        Ok(_) => panic!("{pairs:?} should be refused"),
        Err(ConfigErrors(errors)) => {
            assert_eq!(
                errors.len(),
                1,
                "{pairs:?} should give one error, got {errors:?}"
            );
            errors[0].to_string()
        }
    }
}

#[test]
fn defaults_are_the_specs() {
    let c = ok(&[]);
    assert_eq!(c.api_mode, ApiMode::Socket);
    assert_eq!(c.socket.addr.to_string(), "127.0.0.1:4001");
    assert_eq!(c.socket.client_id, 100);
    assert_eq!(c.portal.base_url.as_str(), "https://localhost:5000/v1/api");
    assert_eq!(c.portal.timeout, Duration::from_secs(15));
    assert_eq!(c.portal.tickle_interval, Duration::from_secs(60));
    assert!(!c.portal.verify_tls);
    assert!(!c.portal.enabled);
    assert!(c.database_url.is_none());
    assert_eq!(
        c.buffer_path,
        Path::new("/home/trader/.portfolio_bridge_buffer.jsonl")
    );
    assert_eq!(c.greeks_interval, Duration::from_secs(5));
    assert_eq!(c.greeks_max_age, Duration::from_secs(60));
    assert_eq!(c.socket.connect_timeout, Duration::from_secs(15));
    assert_eq!(c.buffer_flush_interval, Duration::from_secs(60));
    assert_eq!(c.watchdog_interval, Duration::from_secs(30));
    assert_eq!(c.positions_sync_interval, Duration::from_secs(60));
    assert_eq!(c.http.addr.to_string(), "127.0.0.1:8080");
    assert!(c.http.api_token.is_none());
}

#[test]
fn api_mode_accepts_socket_and_portal_in_any_case() {
    assert_eq!(ok(&[("IB_API_MODE", "PORTAL")]).api_mode, ApiMode::Portal);
    assert_eq!(ok(&[("IB_API_MODE", "portal")]).api_mode, ApiMode::Portal);
    assert_eq!(ok(&[("IB_API_MODE", " Socket ")]).api_mode, ApiMode::Socket);
}

#[test]
fn api_mode_refuses_anything_else_naming_variable_and_allowed_values() {
    for bad in ["TWS", "REST", "SOCKETS", "1"] {
        let msg = refused(&[("IB_API_MODE", bad)]);
        assert!(msg.starts_with(&format!("IB_API_MODE=\"{bad}\"")), "{msg}");
        assert!(msg.contains("SOCKET") && msg.contains("PORTAL"), "{msg}");
    }
}

#[test]
fn empty_values_count_as_unset() {
    let c = ok(&[
        ("IB_API_MODE", ""),
        ("GREEKS_INTERVAL_SECONDS", "  "),
        ("BRIDGE_API_TOKEN", ""),
    ]);
    assert_eq!(c.api_mode, ApiMode::Socket);
    assert_eq!(c.greeks_interval, Duration::from_secs(5));
    assert_eq!(c.greeks_max_age, Duration::from_secs(60));
    assert_eq!(c.socket.connect_timeout, Duration::from_secs(15));
    assert!(c.http.api_token.is_none());
}

#[test]
fn intervals_must_be_positive_numbers_of_seconds() {
    let vars = [
        "IB_CONNECT_TIMEOUT_SECONDS",
        "GREEKS_MAX_AGE_SECONDS",
        "IBKR_CP_TIMEOUT_SECONDS",
        "IBKR_CP_TICKLE_INTERVAL_SECONDS",
        "GREEKS_INTERVAL_SECONDS",
        "BUFFER_FLUSH_INTERVAL_SECONDS",
        "WATCHDOG_INTERVAL_SECONDS",
        "POSITIONS_SYNC_INTERVAL_SECONDS",
    ];
    for var in vars {
        for bad in ["0", "-5", "0.0", "five", "5s", "NaN", "inf", "86401"] {
            let msg = refused(&[(var, bad)]);
            assert!(msg.starts_with(&format!("{var}=")), "{msg}");
            assert!(msg.contains("greater than 0"), "{msg}");
        }
    }
    assert_eq!(
        ok(&[("GREEKS_INTERVAL_SECONDS", "0.5")]).greeks_interval,
        Duration::from_millis(500)
    );
    assert_eq!(
        ok(&[("WATCHDOG_INTERVAL_SECONDS", "86400")]).watchdog_interval,
        Duration::from_secs(86_400)
    );
}

#[test]
fn client_id_is_a_non_negative_integer() {
    assert_eq!(ok(&[("IB_CLIENT_ID", "0")]).socket.client_id, 0);
    assert_eq!(
        ok(&[("IB_CLIENT_ID", "2147483647")]).socket.client_id,
        i32::MAX
    );
    for bad in ["-1", "1.5", "abc", "2147483648"] {
        assert!(refused(&[("IB_CLIENT_ID", bad)]).starts_with("IB_CLIENT_ID="));
    }
}

#[test]
fn market_data_has_its_own_client_id_which_may_not_clash() {
    let c = ok(&[("IB_CLIENT_ID", "7")]);
    assert_eq!(c.socket.market_data_client_id, 8);
    assert_eq!(
        ok(&[("IB_CLIENT_ID", "2147483647")])
            .socket
            .market_data_client_id,
        i32::MAX - 1
    );
    let c = ok(&[("IB_CLIENT_ID", "7"), ("IB_MARKET_DATA_CLIENT_ID", "3")]);
    assert_eq!(c.socket.market_data_client_id, 3);
    let clash = refused(&[("IB_CLIENT_ID", "7"), ("IB_MARKET_DATA_CLIENT_ID", "7")]);
    assert!(
        clash.starts_with("IB_MARKET_DATA_CLIENT_ID=7 is the same as IB_CLIENT_ID")
            && clash.contains("set IB_MARKET_DATA_CLIENT_ID to another id"),
        "{clash}"
    );
    assert!(
        refused(&[("IB_MARKET_DATA_CLIENT_ID", "-2")]).starts_with("IB_MARKET_DATA_CLIENT_ID=")
    );
}

#[test]
fn socket_addr_is_host_and_port() {
    let c = ok(&[("IB_SOCKET_ADDR", "ib-gateway.lan:4002")]);
    assert_eq!(
        (c.socket.addr.host(), c.socket.addr.port()),
        ("ib-gateway.lan", 4002)
    );
    assert_eq!(
        ok(&[("IB_SOCKET_ADDR", "[::1]:4001")])
            .socket
            .addr
            .to_string(),
        "[::1]:4001"
    );
    for bad in [
        "4001",
        "localhost",
        "localhost:",
        "localhost:0",
        "localhost:70000",
        "bad host:1",
        ":4001",
    ] {
        assert!(
            refused(&[("IB_SOCKET_ADDR", bad)]).starts_with("IB_SOCKET_ADDR="),
            "{bad}"
        );
    }
}

#[test]
fn booleans_take_the_usual_spellings() {
    for (s, b) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("on", true),
    ] {
        assert_eq!(ok(&[("IBKR_CP_ENABLED", s)]).portal.enabled, b);
    }
    for s in ["false", "0", "No", "off"] {
        assert!(!ok(&[("IBKR_CP_ENABLED", s)]).portal.enabled);
    }
    assert!(refused(&[("IBKR_CP_VERIFY_TLS", "maybe")]).starts_with("IBKR_CP_VERIFY_TLS="));
}

#[test]
fn cp_url_must_be_http_or_https_with_a_host() {
    for bad in [
        "not a url",
        "ftp://localhost/v1/api",
        "localhost:5000",
        "https://",
        "https://localhost:5000/v1/api?x=1",
    ] {
        let msg = refused(&[("IBKR_CP_BASE_URL", bad)]);
        assert!(msg.starts_with("IBKR_CP_BASE_URL="), "{msg}");
    }
    let c = ok(&[("IBKR_CP_BASE_URL", "http://127.0.0.1:5001/v1/api/")]);
    assert_eq!(c.portal.base_url.as_str(), "http://127.0.0.1:5001/v1/api");
}

#[test]
fn gateway_url_is_an_alias_and_a_bare_gateway_gets_the_api_path() {
    let c = ok(&[("IBKR_GATEWAY_URL", "https://localhost:5001")]);
    assert_eq!(c.portal.base_url.as_str(), "https://localhost:5001/v1/api");
    let c = ok(&[("IBKR_GATEWAY_URL", "https://localhost:5001/v1/api/")]);
    assert_eq!(c.portal.base_url.as_str(), "https://localhost:5001/v1/api");
    let c = ok(&[
        ("IBKR_CP_BASE_URL", "https://localhost:5001/v1/api"),
        ("IBKR_GATEWAY_URL", "https://localhost:5001"),
    ]);
    assert_eq!(c.portal.base_url.as_str(), "https://localhost:5001/v1/api");
    assert!(refused(&[("IBKR_GATEWAY_URL", "nope")]).starts_with("IBKR_GATEWAY_URL="));
}

#[test]
fn gateway_url_and_base_url_that_disagree_are_refused() {
    let msg = refused(&[
        ("IBKR_CP_BASE_URL", "https://localhost:5000/v1/api"),
        ("IBKR_GATEWAY_URL", "https://localhost:5001"),
    ]);
    assert!(
        msg.contains("IBKR_CP_BASE_URL") && msg.contains("IBKR_GATEWAY_URL"),
        "{msg}"
    );
    assert!(msg.contains("set only one"), "{msg}");
}

#[test]
fn unverified_tls_is_refused_for_a_remote_gateway() {
    for remote in [
        "https://gw.example.com:5000/v1/api",
        "https://10.0.0.5:5000/v1/api",
    ] {
        let msg = refused(&[("IBKR_CP_BASE_URL", remote)]);
        assert!(msg.starts_with("IBKR_CP_VERIFY_TLS=false"), "{msg}");
        let c = ok(&[("IBKR_CP_BASE_URL", remote), ("IBKR_CP_VERIFY_TLS", "true")]);
        assert!(c.portal.verify_tls);
    }
    for local in [
        "https://localhost:5000/v1/api",
        "https://127.0.0.2:5000/v1/api",
        "https://[::1]:5000/v1/api",
    ] {
        assert!(!ok(&[("IBKR_CP_BASE_URL", local)]).portal.verify_tls);
    }
}

#[test]
fn plain_http_is_refused_for_a_remote_gateway() {
    let msg = refused(&[
        ("IBKR_CP_BASE_URL", "http://gw.example.com:5000/v1/api"),
        ("IBKR_CP_VERIFY_TLS", "true"),
    ]);
    assert!(
        msg.contains("plain http") && msg.contains("gw.example.com"),
        "{msg}"
    );
}

#[test]
fn http_off_loopback_needs_a_token() {
    let msg = refused(&[("BRIDGE_HTTP_ADDR", "0.0.0.0:8080")]);
    assert!(msg.starts_with("BRIDGE_HTTP_ADDR=0.0.0.0:8080"), "{msg}");
    assert!(msg.contains("BRIDGE_API_TOKEN"), "{msg}");
    let c = ok(&[
        ("BRIDGE_HTTP_ADDR", "0.0.0.0:8080"),
        ("BRIDGE_API_TOKEN", "0123456789abcdef"),
    ]);
    assert_eq!(
        c.http.api_token.as_ref().map(Secret::expose),
        Some("0123456789abcdef")
    );
    assert_eq!(
        ok(&[("BRIDGE_HTTP_ADDR", "localhost:9000")])
            .http
            .addr
            .to_string(),
        "127.0.0.1:9000"
    );
    assert_eq!(
        ok(&[("BRIDGE_HTTP_ADDR", "[::1]:9000")])
            .http
            .addr
            .to_string(),
        "[::1]:9000"
    );
    assert!(refused(&[("BRIDGE_HTTP_ADDR", "everywhere")]).starts_with("BRIDGE_HTTP_ADDR="));
}

#[test]
fn allowed_hosts_are_names_or_addresses_without_ports() {
    assert!(ok(&[]).http.allowed_hosts.is_empty());
    let given = [(
        "BRIDGE_ALLOWED_HOSTS",
        " Trading-PC.local , bridge.example.com., 192.168.1.20,[fd00::1],",
    )];
    let c = ok(&given);
    let names: Vec<&str> = c.http.allowed_hosts.iter().map(HostName::as_str).collect();
    assert_eq!(
        names,
        [
            "trading-pc.local",
            "bridge.example.com",
            "192.168.1.20",
            "fd00::1"
        ]
    );
    assert!(c.render(&raw(&given)).contains(
        "BRIDGE_ALLOWED_HOSTS=trading-pc.local,bridge.example.com,192.168.1.20,fd00::1\n"
    ));
    for bad in [
        "bridge.example.com:8080",
        "http://bridge.example.com",
        "bad_name.lan",
        "-lead.lan",
        "*.example.com",
        "two words",
    ] {
        let msg = refused(&[("BRIDGE_ALLOWED_HOSTS", bad)]);
        assert!(msg.starts_with("BRIDGE_ALLOWED_HOSTS="), "{msg}");
        assert!(msg.contains("without scheme or port"), "{msg}");
    }
}

#[test]
fn a_weak_token_is_refused_without_showing_it() {
    for bad in ["short", "has a space in it!!", "0123456789abcde"] {
        let msg = refused(&[
            ("BRIDGE_HTTP_ADDR", "0.0.0.0:8080"),
            ("BRIDGE_API_TOKEN", bad),
        ]);
        assert!(msg.starts_with("BRIDGE_API_TOKEN=(value hidden)"), "{msg}");
        assert!(!msg.contains(bad), "{msg}");
    }
}

#[test]
fn database_url_is_checked_and_redacted() {
    let c = ok(&[(
        "DATABASE_URL",
        "postgres://trader:s3cret@db.lan:5433/risk?password=s3cret",
    )]);
    let url = c.database_url().expect("set");
    assert_eq!(
        url.to_string(),
        "postgres://trader:REDACTED@db.lan:5433/risk?password=REDACTED"
    );
    assert!(!format!("{url:?}").contains("s3cret"));
    assert_eq!(url.connect_options().get_port(), 5433);
    for bad in [
        "mysql://u:s3cret@h/db",
        "not a url s3cret",
        "postgres://u:s3cret@h:notaport/db",
    ] {
        let msg = refused(&[("DATABASE_URL", bad)]);
        assert!(msg.starts_with("DATABASE_URL=(value hidden)"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
    }
    let missing = ok(&[]).database_url().expect_err("unset").to_string();
    assert!(missing.starts_with("DATABASE_URL is not set"), "{missing}");
}

#[test]
fn buffer_path_expands_home() {
    assert_eq!(
        ok(&[("BRIDGE_BUFFER_PATH", "~/spool/g.jsonl")]).buffer_path,
        Path::new("/home/trader/spool/g.jsonl")
    );
    assert_eq!(
        ok(&[("BRIDGE_BUFFER_PATH", "/var/lib/pb/g.jsonl")]).buffer_path,
        Path::new("/var/lib/pb/g.jsonl")
    );
    assert!(refused(&[("BRIDGE_BUFFER_PATH", "~bob/g.jsonl")]).starts_with("BRIDGE_BUFFER_PATH="));

    let no_home = Config::from_raw(&raw(&[]), None, HOST, DatabaseNeed::NotNeeded)
        .expect_err("the default needs HOME");
    assert!(
        no_home
            .to_string()
            .starts_with("BRIDGE_BUFFER_PATH is not set"),
        "{no_home}"
    );
    let explicit = Config::from_raw(
        &raw(&[("BRIDGE_BUFFER_PATH", "/tmp/g.jsonl")]),
        None,
        HOST,
        DatabaseNeed::NotNeeded,
    );
    assert!(explicit.is_ok());
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = parse(&[
        ("IB_API_MODE", "X"),
        ("IB_CLIENT_ID", "x"),
        ("GREEKS_INTERVAL_SECONDS", "0"),
        ("BRIDGE_HTTP_ADDR", "0.0.0.0:80"),
    ])
    .expect_err("four problems");
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, var) in lines.iter().zip([
        "IB_API_MODE",
        "IB_CLIENT_ID",
        "GREEKS_INTERVAL_SECONDS",
        "BRIDGE_HTTP_ADDR",
    ]) {
        assert!(line.starts_with(var), "{line}");
    }
}

#[test]
fn a_missing_database_url_is_reported_with_the_rest_when_the_command_needs_it() {
    let r = raw(&[("IB_API_MODE", "X"), ("GREEKS_INTERVAL_SECONDS", "0")]);
    let home = Some(Path::new(HOME));
    let errors =
        Config::from_raw(&r, home, HOST, DatabaseNeed::Required).expect_err("three problems");
    let vars: Vec<String> = errors
        .to_string()
        .lines()
        .map(|l| l.split(['=', ' ']).next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        vars,
        ["IB_API_MODE", "DATABASE_URL", "GREEKS_INTERVAL_SECONDS"],
        "{errors}"
    );
    assert!(
        errors
            .to_string()
            .contains("DATABASE_URL is not set: set it to")
    );
    let not_needed = Config::from_raw(&r, home, HOST, DatabaseNeed::NotNeeded).expect_err("two");
    assert_eq!(not_needed.0.len(), 2, "{not_needed}");
}

#[test]
fn config_marks_an_unset_database_url_as_required() {
    let r = raw(&[]);
    let text = ok(&[]).render(&r);
    let line = text
        .lines()
        .find(|l| l.starts_with("DATABASE_URL="))
        .expect("listed");
    assert!(
        line.ends_with("# REQUIRED, not set: run, migrate, worker, jobs and spool drain need it"),
        "{line}"
    );
}

#[test]
fn the_reset_window_defaults_to_new_york_and_refuses_what_it_cannot_read() {
    let c = ok(&[]);
    assert_eq!(
        c.socket.reset_window.to_string(),
        "23:40-00:05 America/New_York"
    );
    let c = ok(&[
        ("IB_RESET_WINDOW", "04:45-06:05,20:15-21:15"),
        ("IB_RESET_TIMEZONE", "Asia/Hong_Kong"),
    ]);
    assert_eq!(
        c.socket.reset_window.to_string(),
        "04:45-06:05,20:15-21:15 Asia/Hong_Kong"
    );
    assert_eq!(
        ok(&[("IB_RESET_WINDOW", "none")])
            .socket
            .reset_window
            .windows()
            .to_string(),
        "none"
    );
    for bad in ["23:40", "25:00-00:05", "11:40pm-00:05", "23:40-23:40"] {
        let msg = refused(&[("IB_RESET_WINDOW", bad)]);
        assert!(
            msg.starts_with(&format!("IB_RESET_WINDOW=\"{bad}\"")),
            "{msg}"
        );
        assert!(msg.contains("HH:MM-HH:MM"), "{msg}");
    }
    let msg = refused(&[("IB_RESET_TIMEZONE", "New York")]);
    assert!(msg.starts_with("IB_RESET_TIMEZONE=\"New York\""), "{msg}");
    assert!(msg.contains("America/New_York"), "{msg}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let c = ok(&[
        ("DATABASE_URL", "postgres://u:pw-in-url@localhost/db"),
        ("BRIDGE_API_TOKEN", "token-0123456789abcdef"),
    ]);
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("pw-in-url") && !debug.contains("token-0123456789abcdef"),
        "{debug}"
    );
}

#[test]
fn render_lists_every_variable_once_marks_origins_and_redacts() {
    let r = raw(&[
        ("IB_API_MODE", "PORTAL"),
        ("IBKR_GATEWAY_URL", "https://localhost:5001"),
        ("DATABASE_URL", "postgres://u:pw-in-url@localhost/db"),
        ("BRIDGE_API_TOKEN", "token-0123456789abcdef"),
    ]);
    let text = Config::from_raw(&r, Some(Path::new(HOME)), HOST, DatabaseNeed::NotNeeded)
        .expect("valid")
        .render(&r);
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_once('=').expect("NAME=value").0)
        .collect();
    let expected: Vec<&str> = r.vars().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected);
    assert!(text.contains("IB_API_MODE=PORTAL\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("GREEKS_INTERVAL_SECONDS=5 ") && l.ends_with("# default"))
    );
    assert!(text.lines().any(
        |l| l.starts_with("IBKR_CP_BASE_URL=https://localhost:5001/v1/api ")
            && l.ends_with("# from IBKR_GATEWAY_URL")
    ));
    assert!(text.contains("BRIDGE_API_TOKEN=REDACTED\n"), "{text}");
    assert!(
        !text.contains("pw-in-url") && !text.contains("token-0123456789abcdef"),
        "{text}"
    );
}

#[test]
fn vars_match_the_environment_variables_clap_reads() {
    let command = RawConfig::augment_args(clap::Command::new("t"));
    let mut from_clap: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    let mut from_vars: Vec<String> = RawConfig::default()
        .vars()
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    from_clap.sort();
    from_vars.sort();
    assert_eq!(from_clap, from_vars);
}

#[test]
fn the_configuration_document_covers_every_variable() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ));
    for (var, _) in RawConfig::default().vars() {
        assert!(
            doc.contains(&format!("| `{var}` |")),
            "docs/configuration.md lacks a row for {var}"
        );
    }
}

/// `.env.example`'s settings: `(commented, variable, value)`; a commented one shows a default.
fn example_settings() -> Vec<(bool, &'static str, &'static str)> {
    let example = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example"));
    example
        .lines()
        .filter_map(|line| {
            let (commented, rest) = match line.strip_prefix("# ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (var, value) = rest.split_once('=')?;
            let is_var = !var.is_empty() && var.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            is_var.then_some((commented, var, value))
        })
        .collect()
}

#[test]
fn env_example_lists_every_variable_with_the_documented_default() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ));
    let settings = example_settings();
    let listed: Vec<&str> = settings.iter().map(|(_, var, _)| *var).collect();
    let known: Vec<&str> = RawConfig::default()
        .vars()
        .iter()
        .map(|(v, _)| *v)
        .collect();
    assert_eq!(
        listed, known,
        ".env.example lists every variable, in the documented order"
    );
    for (commented, var, value) in &settings {
        let row = match (*commented, value.is_empty()) {
            (true, false) => format!("| `{var}` | `{value}` |"),
            _ => format!("| `{var}` | – |"),
        };
        assert!(doc.contains(&row), "docs/configuration.md lacks {row}");
    }
}

#[test]
fn env_example_defaults_are_the_codes_defaults() {
    let settings = example_settings();
    let all: Vec<(&str, &str)> = settings
        .iter()
        .filter(|(_, _, value)| !value.is_empty())
        .map(|(_, var, value)| (*var, *value))
        .collect();
    let required: Vec<(&str, &str)> = settings
        .iter()
        .filter(|(commented, _, _)| !commented)
        .map(|(_, var, value)| (*var, *value))
        .collect();
    let values = |pairs: &[(&str, &str)]| -> Vec<String> {
        let config = parse(pairs).expect("the example is a valid configuration");
        config
            .render(&raw(pairs))
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    };
    assert_eq!(values(&all), values(&required));
}

#[test]
fn alert_settings_parse_with_their_defaults() {
    let config = parse(&[]).expect("defaults");
    assert!(config.alerts.targets.is_empty());
    assert_eq!(config.alerts.repeat, Duration::from_secs(3600));
    assert_eq!(
        config.alerts.thresholds,
        crate::alerts::rules::Thresholds::default()
    );

    let config = parse(&[
        (
            "ALERT_WEBHOOK_URL",
            "https://hooks.slack.com/services/T0/B0/XYZ, http://127.0.0.1:9000/hook",
        ),
        ("ALERT_COMMAND", "mail -s alert me@example.com"),
        ("ALERT_REPEAT_MINUTES", "15"),
        ("ALERT_FEED_DOWN_AFTER_SECONDS", "0.5"),
        ("ALERT_EXPIRY_BUSINESS_DAYS", "0"),
    ])
    .expect("valid");
    let shown: Vec<String> = config
        .alerts
        .targets
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].starts_with("slack https://hooks.slack.com/"),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .all(|t| !t.contains("XYZ") && !t.contains("me@example.com"))
    );
    assert_eq!(config.alerts.repeat, Duration::from_secs(900));
    assert_eq!(
        config.alerts.thresholds.feed_down_after,
        Duration::from_millis(500)
    );
    assert_eq!(config.alerts.thresholds.expiry_business_days, 0);
}

#[test]
fn bad_alert_settings_name_the_variable_and_never_show_the_url() {
    let errors = parse(&[
        (
            "ALERT_WEBHOOK_URL",
            "http://alerts.example.com/hook?token=XYZSECRET",
        ),
        ("ALERT_REPEAT_MINUTES", "0"),
        ("ALERT_SPOOL_ROWS", "many"),
    ])
    .expect_err("refused");
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 3, "{text}");
    assert!(
        text.contains("ALERT_WEBHOOK_URL=(value hidden) is not valid"),
        "{text}"
    );
    assert!(!text.contains("XYZSECRET"), "{text}");
    assert!(
        text.contains("ALERT_REPEAT_MINUTES=\"0\" is not valid"),
        "{text}"
    );
    assert!(text.contains("ALERT_SPOOL_ROWS=\"many\""), "{text}");
}

#[test]
fn the_bridge_is_named_after_the_host_unless_bridge_name_says_otherwise() {
    let default = parse(&[]).expect("valid");
    assert_eq!(default.bridge_name.as_str(), HOST);
    let named = parse(&[("BRIDGE_NAME", "family-gw")]).expect("valid");
    assert_eq!(named.bridge_name.as_str(), "family-gw");
    let shown = named.render(&raw(&[("BRIDGE_NAME", "family-gw")]));
    assert!(shown.contains("BRIDGE_NAME=family-gw"), "{shown}");
    let shown = default.render(&raw(&[]));
    assert!(shown.contains("BRIDGE_NAME=trader-box"), "{shown}");
    let bad = parse(&[("BRIDGE_NAME", "home:gw")]).expect_err("a colon");
    assert!(
        bad.to_string()
            .starts_with("BRIDGE_NAME=\"home:gw\" is not valid: expected 1 to 63 letters"),
        "{bad}"
    );
}

#[test]
fn raw_retention_is_days_with_0_for_good_and_anything_else_named() {
    let day = Duration::from_secs(86_400);
    assert_eq!(parse(&[]).unwrap().greeks_raw_retention, Some(30 * day));
    assert_eq!(
        parse(&[("GREEKS_RAW_RETENTION_DAYS", "7")])
            .unwrap()
            .greeks_raw_retention,
        Some(7 * day)
    );
    assert_eq!(
        parse(&[("GREEKS_RAW_RETENTION_DAYS", "0")])
            .unwrap()
            .greeks_raw_retention,
        None
    );
    for bad in ["-1", "1.5", "thirty", "36501"] {
        let e = parse(&[("GREEKS_RAW_RETENTION_DAYS", bad)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GREEKS_RAW_RETENTION_DAYS") && e.contains("GREEKS_RAW_RETENTION_DAYS=30"),
            "{e}"
        );
    }
}
