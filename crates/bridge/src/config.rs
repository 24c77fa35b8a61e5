//! Configuration: every variable the bridge reads, parsed and validated once at startup.
//!
//! Two layers. [`RawConfig`] is what clap collects from flags, the environment and `.env`:
//! strings, `None` when unset. [`Config::from_raw`] is a pure function that applies the
//! defaults, parses each value into a type that can only hold a valid one, checks the rules
//! that span variables, and reports *every* problem at once, each naming its variable and the
//! fix. Nothing downstream re-checks a value.
//!
//! This module never reads the environment or the filesystem itself (the caller passes the
//! home directory), and never prints a secret: [`Secret`] and [`DatabaseUrl`] redact
//! themselves in `Debug` and `Display`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use url::{Host, Url};

use crate::alerts::rules::Thresholds;
use crate::alerts::target::Target;
use crate::domain::ids::BridgeName;
use crate::domain::reset_window::{self, ResetWindow, Windows};

/// Longest interval or timeout accepted, in seconds: anything longer is a typo.
const MAX_SECONDS: f64 = 86_400.0;
/// Shortest `BRIDGE_API_TOKEN` accepted.
const MIN_TOKEN_LEN: usize = 16;

pub const DEFAULT_SOCKET_ADDR: &str = "127.0.0.1:4001";
pub const DEFAULT_CLIENT_ID: i32 = 100;
pub const DEFAULT_CP_BASE_URL: &str = "https://localhost:5000/v1/api";
pub const DEFAULT_BUFFER_PATH: &str = "~/.portfolio_bridge_buffer.jsonl";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

/// What clap gathers, before any parsing. `None` means "not set" (an empty value counts as
/// not set, so `BRIDGE_API_TOKEN=` in `.env` behaves like no line at all).
///
/// Every field is also a command-line flag; flags win over the environment, which wins over
/// `.env`. Secrets should come from the environment or `.env`, never from flags, which other
/// users of the machine can read in the process list.
#[derive(Clone, Default, clap::Args)]
#[command(about = None, long_about = None)]
#[command(
    next_help_heading = "Configuration (each flag can be set by the environment variable shown, or in .env)"
)]
pub struct RawConfig {
    /// IBKR transport: SOCKET (TWS / IB Gateway socket API) or PORTAL (Client Portal REST)
    /// [default: SOCKET]
    #[arg(long, env = "IB_API_MODE", value_name = "MODE")]
    pub ib_api_mode: Option<String>,

    /// TWS / IB Gateway socket address, host:port [default: 127.0.0.1:4001]
    #[arg(long, env = "IB_SOCKET_ADDR", value_name = "HOST:PORT")]
    pub ib_socket_addr: Option<String>,

    /// API client id; must differ from every other API program on the same gateway
    /// [default: 100]
    #[arg(long, env = "IB_CLIENT_ID", value_name = "N")]
    pub ib_client_id: Option<String>,

    /// Client id of the second connection, which carries market data only (its small
    /// per-stream buffers keep memory flat with thousands of options); must differ from
    /// IB_CLIENT_ID and from every other API program on the gateway [default: IB_CLIENT_ID + 1]
    #[arg(long, env = "IB_MARKET_DATA_CLIENT_ID", value_name = "N")]
    pub ib_market_data_client_id: Option<String>,

    /// Seconds the first TWS connect and handshake may take [default: 15]
    #[arg(long, env = "IB_CONNECT_TIMEOUT_SECONDS", value_name = "SECONDS")]
    pub ib_connect_timeout_seconds: Option<String>,

    /// IBKR's daily reset: a connection lost inside it waits for its end before reconnecting
    /// (a first connect never waits). HH:MM-HH:MM, several comma-separated, or none
    /// [default: 23:40-00:05]
    #[arg(long, env = "IB_RESET_WINDOW", value_name = "HH:MM-HH:MM")]
    pub ib_reset_window: Option<String>,

    /// Time zone IB_RESET_WINDOW is read in, an IANA name [default: America/New_York]
    #[arg(long, env = "IB_RESET_TIMEZONE", value_name = "ZONE")]
    pub ib_reset_timezone: Option<String>,

    /// Client Portal Gateway API base URL [default: https://localhost:5000/v1/api]
    #[arg(long, env = "IBKR_CP_BASE_URL", value_name = "URL")]
    pub ibkr_cp_base_url: Option<String>,

    /// Alias of IBKR_CP_BASE_URL; a bare gateway URL such as https://localhost:5000 means
    /// https://localhost:5000/v1/api
    #[arg(long, env = "IBKR_GATEWAY_URL", value_name = "URL")]
    pub ibkr_gateway_url: Option<String>,

    /// Timeout of each Client Portal request, and a read's retry budget, in seconds [default: 15]
    #[arg(long, env = "IBKR_CP_TIMEOUT_SECONDS", value_name = "SECONDS")]
    pub ibkr_cp_timeout_seconds: Option<String>,

    /// Seconds between Client Portal keep-alive tickles [default: 60]
    #[arg(long, env = "IBKR_CP_TICKLE_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub ibkr_cp_tickle_interval_seconds: Option<String>,

    /// Verify the gateway's TLS certificate; false is allowed only for a loopback gateway
    /// [default: false]
    #[arg(long, env = "IBKR_CP_VERIFY_TLS", value_name = "BOOL")]
    pub ibkr_cp_verify_tls: Option<String>,

    /// Use the Client Portal for native combo positions, whatever IB_API_MODE is
    /// [default: false]
    #[arg(long, env = "IBKR_CP_ENABLED", value_name = "BOOL")]
    pub ibkr_cp_enabled: Option<String>,

    /// PostgreSQL URL, e.g. postgres://user:password@127.0.0.1:5432/portfolio_bridge
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// This bridge's name, unique among the bridges sharing the database (one per gateway
    /// login): it joins every greeks row and api_logs entry, and a second bridge of the same
    /// name is refused. 1-63 letters, digits, . - _ [default: the host name]
    #[arg(long, env = "BRIDGE_NAME", value_name = "NAME")]
    pub bridge_name: Option<String>,

    /// JSON Lines spool for greeks rows while PostgreSQL is unreachable
    /// [default: ~/.portfolio_bridge_buffer.jsonl]
    #[arg(long, env = "BRIDGE_BUFFER_PATH", value_name = "PATH")]
    pub bridge_buffer_path: Option<String>,

    /// Seconds between net-greeks rows [default: 5]
    #[arg(long, env = "GREEKS_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub greeks_interval_seconds: Option<String>,

    /// Greeks and prices older than this many seconds are stale, never written as fresh
    /// [default: 60]
    #[arg(long, env = "GREEKS_MAX_AGE_SECONDS", value_name = "SECONDS")]
    pub greeks_max_age_seconds: Option<String>,

    /// Seconds between attempts to drain the spool into PostgreSQL [default: 60]
    #[arg(long, env = "BUFFER_FLUSH_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub buffer_flush_interval_seconds: Option<String>,

    /// Seconds between socket connection health checks [default: 30]
    #[arg(long, env = "WATCHDOG_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub watchdog_interval_seconds: Option<String>,

    /// Seconds between scheduled position syncs [default: 60]
    #[arg(long, env = "POSITIONS_SYNC_INTERVAL_SECONDS", value_name = "SECONDS")]
    pub positions_sync_interval_seconds: Option<String>,

    /// Days the 5-second greeks rows are kept (whole days, once rolled up into 1-minute rows,
    /// which are kept for good); 0 keeps them for good too [default: 30]
    #[arg(long, env = "GREEKS_RAW_RETENTION_DAYS", value_name = "DAYS")]
    pub greeks_raw_retention_days: Option<String>,

    /// Address of the read API and web page; anything but loopback needs BRIDGE_API_TOKEN
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "BRIDGE_HTTP_ADDR", value_name = "IP:PORT")]
    pub bridge_http_addr: Option<String>,

    /// Bearer token for the read API (at least 16 characters); required off loopback
    #[arg(
        long,
        env = "BRIDGE_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub bridge_api_token: Option<String>,

    /// Comma-separated host names the read API and web page also answer to, besides its
    /// address and localhost (a name this machine is reached by)
    #[arg(long, env = "BRIDGE_ALLOWED_HOSTS", value_name = "NAMES")]
    pub bridge_allowed_hosts: Option<String>,

    /// Where alerts are POSTed, comma-separated: https URLs (plain http only to loopback).
    /// Slack, Discord and ntfy.sh URLs get their own format; prefix slack+, discord+, ntfy+ or
    /// generic+ for compatible self-hosted servers. Shown redacted
    #[arg(
        long,
        env = "ALERT_WEBHOOK_URL",
        value_name = "URLS",
        hide_env_values = true
    )]
    pub alert_webhook_url: Option<String>,

    /// A shell command run for each alert with its JSON on stdin (e-mail, anything else)
    #[arg(
        long,
        env = "ALERT_COMMAND",
        value_name = "COMMAND",
        hide_env_values = true
    )]
    pub alert_command: Option<String>,

    /// Minutes between reminders of an alert that still holds [default: 60]
    #[arg(long, env = "ALERT_REPEAT_MINUTES", value_name = "MINUTES")]
    pub alert_repeat_minutes: Option<String>,

    /// Seconds without IBKR data, outside the reset window, before feed_down [default: 180]
    #[arg(long, env = "ALERT_FEED_DOWN_AFTER_SECONDS", value_name = "SECONDS")]
    pub alert_feed_down_after_seconds: Option<String>,

    /// Seconds PostgreSQL may be unreachable before database_unreachable [default: 120]
    #[arg(
        long,
        env = "ALERT_DATABASE_DOWN_AFTER_SECONDS",
        value_name = "SECONDS"
    )]
    pub alert_database_down_after_seconds: Option<String>,

    /// Records waiting in the spool before spool_growing [default: 10000]
    #[arg(long, env = "ALERT_SPOOL_ROWS", value_name = "N")]
    pub alert_spool_rows: Option<String>,

    /// Failures in a row of one job type before sync_failing [default: 3]
    #[arg(long, env = "ALERT_SYNC_FAILURES", value_name = "N")]
    pub alert_sync_failures: Option<String>,

    /// Seconds positions may stay left out of the greeks before greeks_incomplete
    /// [default: 600]
    #[arg(
        long,
        env = "ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS",
        value_name = "SECONDS"
    )]
    pub alert_greeks_incomplete_after_seconds: Option<String>,

    /// Business days before a held future's last trade date that front_month_expiring starts
    /// [default: 5]
    #[arg(long, env = "ALERT_EXPIRY_BUSINESS_DAYS", value_name = "DAYS")]
    pub alert_expiry_business_days: Option<String>,
}

impl RawConfig {
    /// Every variable with its raw value, in the order the documentation lists them.
    pub fn vars(&self) -> [(&'static str, Option<&str>); 34] {
        fn v(s: &Option<String>) -> Option<&str> {
            s.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        [
            ("IB_API_MODE", v(&self.ib_api_mode)),
            ("IB_SOCKET_ADDR", v(&self.ib_socket_addr)),
            ("IB_CLIENT_ID", v(&self.ib_client_id)),
            (
                "IB_MARKET_DATA_CLIENT_ID",
                v(&self.ib_market_data_client_id),
            ),
            (
                "IB_CONNECT_TIMEOUT_SECONDS",
                v(&self.ib_connect_timeout_seconds),
            ),
            ("IB_RESET_WINDOW", v(&self.ib_reset_window)),
            ("IB_RESET_TIMEZONE", v(&self.ib_reset_timezone)),
            ("IBKR_CP_BASE_URL", v(&self.ibkr_cp_base_url)),
            ("IBKR_GATEWAY_URL", v(&self.ibkr_gateway_url)),
            ("IBKR_CP_TIMEOUT_SECONDS", v(&self.ibkr_cp_timeout_seconds)),
            (
                "IBKR_CP_TICKLE_INTERVAL_SECONDS",
                v(&self.ibkr_cp_tickle_interval_seconds),
            ),
            ("IBKR_CP_VERIFY_TLS", v(&self.ibkr_cp_verify_tls)),
            ("IBKR_CP_ENABLED", v(&self.ibkr_cp_enabled)),
            ("DATABASE_URL", v(&self.database_url)),
            ("BRIDGE_NAME", v(&self.bridge_name)),
            ("BRIDGE_BUFFER_PATH", v(&self.bridge_buffer_path)),
            ("GREEKS_INTERVAL_SECONDS", v(&self.greeks_interval_seconds)),
            ("GREEKS_MAX_AGE_SECONDS", v(&self.greeks_max_age_seconds)),
            (
                "BUFFER_FLUSH_INTERVAL_SECONDS",
                v(&self.buffer_flush_interval_seconds),
            ),
            (
                "WATCHDOG_INTERVAL_SECONDS",
                v(&self.watchdog_interval_seconds),
            ),
            (
                "POSITIONS_SYNC_INTERVAL_SECONDS",
                v(&self.positions_sync_interval_seconds),
            ),
            (
                "GREEKS_RAW_RETENTION_DAYS",
                v(&self.greeks_raw_retention_days),
            ),
            ("BRIDGE_HTTP_ADDR", v(&self.bridge_http_addr)),
            ("BRIDGE_API_TOKEN", v(&self.bridge_api_token)),
            ("BRIDGE_ALLOWED_HOSTS", v(&self.bridge_allowed_hosts)),
            ("ALERT_WEBHOOK_URL", v(&self.alert_webhook_url)),
            ("ALERT_COMMAND", v(&self.alert_command)),
            ("ALERT_REPEAT_MINUTES", v(&self.alert_repeat_minutes)),
            (
                "ALERT_FEED_DOWN_AFTER_SECONDS",
                v(&self.alert_feed_down_after_seconds),
            ),
            (
                "ALERT_DATABASE_DOWN_AFTER_SECONDS",
                v(&self.alert_database_down_after_seconds),
            ),
            ("ALERT_SPOOL_ROWS", v(&self.alert_spool_rows)),
            ("ALERT_SYNC_FAILURES", v(&self.alert_sync_failures)),
            (
                "ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS",
                v(&self.alert_greeks_incomplete_after_seconds),
            ),
            (
                "ALERT_EXPIRY_BUSINESS_DAYS",
                v(&self.alert_expiry_business_days),
            ),
        ]
    }

    fn get(&self, var: &str) -> Option<&str> {
        self.vars()
            .into_iter()
            .find(|(name, _)| *name == var)
            .and_then(|(_, value)| value)
    }
}

/// The transport to IBKR for legs and greeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMode {
    /// TWS / IB Gateway socket API through `ibapi`.
    Socket,
    /// Client Portal Gateway REST API.
    Portal,
}

impl fmt::Display for ApiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiMode::Socket => "SOCKET",
            ApiMode::Portal => "PORTAL",
        })
    }
}

/// A `host:port` pair with a non-empty host and a non-zero port. The host may be a name, so
/// nothing is resolved here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    host: String,
    port: u16,
}

impl HostPort {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for HostPort {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (host, port) = s.rsplit_once(':').ok_or(())?;
        let port: u16 = port.parse().map_err(|_| ())?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let valid_name = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if port == 0 || !(valid_name || host.parse::<IpAddr>().is_ok()) {
            return Err(());
        }
        Ok(HostPort {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A name the read API answers to (`BRIDGE_ALLOWED_HOSTS`): a DNS name or an IP address,
/// lower case, without a port or a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostName(String);

impl HostName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HostName {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        let bare = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(&name);
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(HostName(bare.to_owned()));
        }
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(());
        }
        Ok(HostName(name))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret string that never shows itself in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` so that it is never printed by accident.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A PostgreSQL URL that sqlx accepts. `Display` and `Debug` show it with the password hidden.
#[derive(Clone)]
pub struct DatabaseUrl {
    options: PgConnectOptions,
    redacted: String,
}

impl DatabaseUrl {
    pub fn connect_options(&self) -> &PgConnectOptions {
        &self.options
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut url = Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!("the scheme is {:?}, not postgres", url.scheme()));
        }
        let options = PgConnectOptions::from_str(s).map_err(|e| e.to_string())?;
        if url.password().is_some() {
            let _ = url.set_password(Some("REDACTED"));
        }
        let hidden: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "REDACTED".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        if !hidden.is_empty() {
            url.query_pairs_mut().clear().extend_pairs(hidden);
        }
        Ok(DatabaseUrl {
            options,
            redacted: url.to_string(),
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

/// The TWS / IB Gateway socket connection.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub addr: HostPort,
    pub client_id: i32,
    /// The second connection's id: market data only.
    pub market_data_client_id: i32,
    /// The first connect and handshake must finish within this.
    pub connect_timeout: Duration,
    /// When a lost connection waits for IBKR's daily reset to end.
    pub reset_window: ResetWindow,
}

/// The Client Portal Gateway connection.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Base URL of the API, without a trailing slash (`…/v1/api`).
    pub base_url: Url,
    pub timeout: Duration,
    pub tickle_interval: Duration,
    /// `false` accepts the gateway's self-signed certificate; only ever true for a loopback host.
    pub verify_tls: bool,
    pub enabled: bool,
}

/// The read API and web page.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    pub api_token: Option<Secret>,
    /// Names it answers to besides its address and localhost; any other `Host` is refused.
    pub allowed_hosts: Vec<HostName>,
}

/// Where alerts go and when a condition becomes one.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// Webhooks first, then the command; empty when alerts only show on the status page.
    pub targets: Vec<Target>,
    pub repeat: Duration,
    pub thresholds: Thresholds,
}

/// The validated configuration. Every value in it is usable as is.
#[derive(Debug, Clone)]
pub struct Config {
    pub api_mode: ApiMode,
    pub socket: SocketConfig,
    pub portal: PortalConfig,
    /// `None` when unset; commands that need the database ask [`Config::database_url`].
    pub database_url: Option<DatabaseUrl>,
    pub bridge_name: BridgeName,
    pub buffer_path: PathBuf,
    pub greeks_interval: Duration,
    /// Older greeks and prices are stale.
    pub greeks_max_age: Duration,
    pub buffer_flush_interval: Duration,
    pub watchdog_interval: Duration,
    pub positions_sync_interval: Duration,
    /// How long 5-second greeks rows are kept; `None`: for good.
    pub greeks_raw_retention: Option<Duration>,
    pub http: HttpConfig,
    pub alerts: AlertConfig,
}

/// Whether the command about to run needs `DATABASE_URL`: a missing one is then reported
/// with every other problem, not after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseNeed {
    Required,
    NotNeeded,
}

/// What a missing `DATABASE_URL` is told.
const DATABASE_URL_FIX: &str = "set it to a PostgreSQL URL such as \
     postgres://user:password@127.0.0.1:5432/portfolio_bridge (scripts/ensure-postgres prints \
     one for a local cluster)";

/// The commands that cannot run without `DATABASE_URL`, as `config` names them.
const NEEDS_DATABASE: &str = "run, migrate, worker, jobs and spool drain";

/// One configuration problem, worded for the operator: what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}={shown} is not valid: expected {expected}")]
    Invalid {
        var: &'static str,
        shown: String,
        expected: String,
    },
    #[error("{var} is not set: {fix}")]
    Missing {
        var: &'static str,
        fix: &'static str,
    },
    #[error(
        "IBKR_CP_BASE_URL={cp} and its alias IBKR_GATEWAY_URL={gateway} are both set and \
         disagree: set only one of them"
    )]
    AliasConflict { cp: String, gateway: String },
    #[error(
        "IBKR_CP_VERIFY_TLS=false accepts any certificate, which is allowed only for a gateway \
         on this machine, but the Client Portal URL points at {host}: use a loopback URL such \
         as {DEFAULT_CP_BASE_URL}, or set IBKR_CP_VERIFY_TLS=true with a certificate this \
         machine trusts"
    )]
    InsecureRemoteGateway { host: String },
    #[error(
        "the Client Portal URL uses plain http to {host}, which is not on this machine: use \
         https (plain http is only for a loopback gateway such as ibkr-sim)"
    )]
    PlainHttpRemoteGateway { host: String },
    #[error(
        "BRIDGE_HTTP_ADDR={addr} can be reached from other machines, so BRIDGE_API_TOKEN must \
         be set (at least {MIN_TOKEN_LEN} characters); or bind a loopback address such as \
         {DEFAULT_HTTP_ADDR}"
    )]
    TokenRequired { addr: SocketAddr },
    #[error(
        "IB_MARKET_DATA_CLIENT_ID={id} is the same as IB_CLIENT_ID: the bridge opens two \
         connections to the gateway (positions and accounts on one, market data on the other) \
         and each needs its own client id: set IB_MARKET_DATA_CLIENT_ID to another id no other \
         API program uses, or leave it unset for IB_CLIENT_ID + 1"
    )]
    ClientIdClash { id: i32 },
}

/// Every problem found in one configuration, in variable order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects problems while parsing, so that one run reports all of them.
struct Collector<'a> {
    raw: &'a RawConfig,
    errors: Vec<ConfigError>,
}

impl Collector<'_> {
    /// Parses `var` with `parse`, or returns `default` when it is unset. On a bad value, records
    /// the problem and returns `default` so parsing can go on.
    fn field<T>(
        &mut self,
        var: &'static str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        let Some(value) = self.raw.get(var) else {
            return default;
        };
        match parse(value) {
            Some(v) => v,
            None => {
                self.invalid(var, format!("{value:?}"), expected);
                default
            }
        }
    }

    fn invalid(&mut self, var: &'static str, shown: String, expected: &str) {
        self.errors.push(ConfigError::Invalid {
            var,
            shown,
            expected: expected.to_owned(),
        });
    }

    fn seconds(&mut self, var: &'static str, default_secs: u64) -> Duration {
        let expected = format!(
            "a number of seconds greater than 0 and at most {MAX_SECONDS}, e.g. \
             {var}={default_secs}"
        );
        self.field(
            var,
            Duration::from_secs(default_secs),
            &expected,
            parse_seconds,
        )
    }

    fn flag(&mut self, var: &'static str, default: bool) -> bool {
        self.field(var, default, "true or false", parse_bool)
    }

    fn cp_url(&mut self, var: &'static str, bare_gateway_means_api: bool) -> Option<Url> {
        let value = self.raw.get(var)?;
        let parsed = Url::parse(value).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none()
        });
        match parsed {
            Some(url) => Some(normalize_cp_url(url, bare_gateway_means_api)),
            None => {
                self.invalid(
                    var,
                    format!("{value:?}"),
                    &format!("an http(s) URL with a host, e.g. {var}={DEFAULT_CP_BASE_URL}"),
                );
                None
            }
        }
    }
}

impl Collector<'_> {
    fn count(&mut self, var: &'static str, default: u64, max: u64) -> u64 {
        let expected = format!("a whole number from 1 to {max}, e.g. {var}={default}");
        self.field(var, default, &expected, |s| {
            s.parse::<u64>().ok().filter(|n| (1..=max).contains(n))
        })
    }

    fn alerts(&mut self) -> AlertConfig {
        let mut targets = Vec::new();
        if let Some(urls) = self.raw.get("ALERT_WEBHOOK_URL") {
            for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                match Target::parse_webhook(url) {
                    Ok(t) => targets.push(t),
                    // The value is a secret: only what is wrong with it is shown.
                    Err(why) => self.invalid("ALERT_WEBHOOK_URL", "(value hidden)".into(), &why),
                }
            }
        }
        if let Some(command) = self.raw.get("ALERT_COMMAND") {
            match Target::command(command) {
                Ok(t) => targets.push(t),
                Err(why) => self.invalid("ALERT_COMMAND", "(value hidden)".into(), &why),
            }
        }
        let defaults = Thresholds::default();
        let repeat_minutes = self.count("ALERT_REPEAT_MINUTES", 60, 7 * 24 * 60);
        let feed_down_after = self.seconds("ALERT_FEED_DOWN_AFTER_SECONDS", 180);
        let database_down_after = self.seconds("ALERT_DATABASE_DOWN_AFTER_SECONDS", 120);
        let spool_rows = self.count("ALERT_SPOOL_ROWS", defaults.spool_rows as u64, 1 << 40);
        let sync_failures = self.count("ALERT_SYNC_FAILURES", 3, 1000);
        let greeks_incomplete_after = self.seconds("ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS", 600);
        let expiry_business_days = self.field(
            "ALERT_EXPIRY_BUSINESS_DAYS",
            defaults.expiry_business_days,
            "a whole number of business days from 0 to 60, e.g. ALERT_EXPIRY_BUSINESS_DAYS=5",
            |s| s.parse::<i32>().ok().filter(|n| (0..=60).contains(n)),
        );
        AlertConfig {
            targets,
            repeat: Duration::from_secs(repeat_minutes * 60),
            thresholds: Thresholds {
                feed_down_after,
                database_down_after,
                spool_rows: usize::try_from(spool_rows).unwrap_or(usize::MAX),
                sync_failures: u32::try_from(sync_failures).unwrap_or(u32::MAX),
                greeks_incomplete_after,
                expiry_business_days,
            },
        }
    }
}

/// The market-data connection's id when none is set: the next id (the one before, for the
/// largest id).
pub fn default_market_data_client_id(client_id: i32) -> i32 {
    client_id.checked_add(1).unwrap_or(client_id - 1)
}

const DAY_SECS: u64 = 86_400;
/// A hundred years: anything longer is a typo.
const MAX_RETENTION_DAYS: u64 = 36_500;

/// Days of retention: `0` is "for good".
fn parse_retention_days(s: &str) -> Option<Option<Duration>> {
    match s.trim().parse::<u64>().ok()? {
        0 => Some(None),
        d if d <= MAX_RETENTION_DAYS => Some(Some(Duration::from_secs(d * DAY_SECS))),
        _ => None,
    }
}

fn parse_seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= MAX_SECONDS).then(|| Duration::from_secs_f64(secs))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_http_addr(s: &str) -> Option<SocketAddr> {
    if let Ok(addr) = s.parse() {
        return Some(addr);
    }
    let port = s.strip_prefix("localhost:")?.parse().ok()?;
    Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

/// Drops a trailing slash; an alias URL naming only the gateway gets the API path added.
fn normalize_cp_url(mut url: Url, bare_gateway_means_api: bool) -> Url {
    let path = url.path().trim_end_matches('/').to_owned();
    if path.is_empty() && bare_gateway_means_api {
        url.set_path("/v1/api");
    } else {
        url.set_path(&path);
    }
    url
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn expand_home(path: &str, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        None => Some(PathBuf::from(path)),
        Some("") => home.map(Path::to_path_buf),
        Some(rest) => Some(home?.join(rest.strip_prefix('/')?)),
    }
}

impl Config {
    /// Applies defaults to `raw`, parses every value and checks the cross-variable rules.
    /// `home` expands a leading `~` in `BRIDGE_BUFFER_PATH`; `host` is the machine's name,
    /// `BRIDGE_NAME`'s default; `database` says whether an unset `DATABASE_URL` is a problem
    /// for the command about to run.
    pub fn from_raw(
        raw: &RawConfig,
        home: Option<&Path>,
        host: &str,
        database: DatabaseNeed,
    ) -> Result<Config, ConfigErrors> {
        let mut p = Collector {
            raw,
            errors: Vec::new(),
        };

        let bridge_name = p.field(
            "BRIDGE_NAME",
            BridgeName::from_host(host),
            "1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit, unique \
             among the bridges sharing the database (e.g. home-gateway)",
            BridgeName::parse,
        );

        let api_mode = p.field(
            "IB_API_MODE",
            ApiMode::Socket,
            "SOCKET (the default) or PORTAL",
            |s| match s.to_ascii_uppercase().as_str() {
                "SOCKET" => Some(ApiMode::Socket),
                "PORTAL" => Some(ApiMode::Portal),
                _ => None,
            },
        );
        let default_socket: HostPort = DEFAULT_SOCKET_ADDR
            .parse()
            .expect("the default socket address is valid");
        let addr = p.field(
            "IB_SOCKET_ADDR",
            default_socket,
            "host:port, e.g. IB_SOCKET_ADDR=127.0.0.1:4001 (IB Gateway live) or 127.0.0.1:4002 \
             (paper)",
            |s| s.parse().ok(),
        );
        let client_id = p.field(
            "IB_CLIENT_ID",
            DEFAULT_CLIENT_ID,
            "a whole number from 0 to 2147483647, unique among the API clients of the gateway",
            |s| s.parse::<i32>().ok().filter(|id| *id >= 0),
        );
        let market_data_client_id = p.field(
            "IB_MARKET_DATA_CLIENT_ID",
            default_market_data_client_id(client_id),
            "a whole number from 0 to 2147483647, different from IB_CLIENT_ID and unique among \
             the API clients of the gateway",
            |s| s.parse::<i32>().ok().filter(|id| *id >= 0),
        );
        if market_data_client_id == client_id {
            p.errors.push(ConfigError::ClientIdClash { id: client_id });
        }

        let connect_timeout = p.seconds("IB_CONNECT_TIMEOUT_SECONDS", 15);
        let windows = p.field(
            "IB_RESET_WINDOW",
            reset_window::DEFAULT_WINDOW
                .parse::<Windows>()
                .expect("the default window is valid"),
            "one or more HH:MM-HH:MM windows in 24-hour time, comma-separated, or none; e.g. \
             IB_RESET_WINDOW=23:40-00:05 (IB Gateway's default restart, New York time); see \
             docs/runbook.md for IBKR's resets by region",
            |s| s.parse().ok(),
        );
        let zone = p.field(
            "IB_RESET_TIMEZONE",
            jiff::tz::TimeZone::get(reset_window::DEFAULT_TIMEZONE)
                .expect("the bundled tzdb has New York"),
            "an IANA time zone name such as America/New_York, Europe/Zurich or Asia/Hong_Kong",
            |s| jiff::tz::TimeZone::get(s).ok(),
        );
        let cp_url = p.cp_url("IBKR_CP_BASE_URL", false);
        let gateway_url = p.cp_url("IBKR_GATEWAY_URL", true);
        let default_cp = Url::parse(DEFAULT_CP_BASE_URL).expect("the default CP URL is valid");
        let base_url = match (cp_url, gateway_url) {
            (Some(cp), Some(gateway)) if cp != gateway => {
                p.errors.push(ConfigError::AliasConflict {
                    cp: cp.to_string(),
                    gateway: gateway.to_string(),
                });
                cp
            }
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => default_cp,
        };
        let timeout = p.seconds("IBKR_CP_TIMEOUT_SECONDS", 15);
        let tickle_interval = p.seconds("IBKR_CP_TICKLE_INTERVAL_SECONDS", 60);
        let verify_tls = p.flag("IBKR_CP_VERIFY_TLS", false);
        let enabled = p.flag("IBKR_CP_ENABLED", false);
        if !is_loopback_host(&base_url) {
            let host = base_url.host_str().unwrap_or_default().to_owned();
            if base_url.scheme() == "http" {
                p.errors.push(ConfigError::PlainHttpRemoteGateway { host });
            } else if !verify_tls {
                p.errors.push(ConfigError::InsecureRemoteGateway { host });
            }
        }

        let database_url = match raw.get("DATABASE_URL") {
            None if database == DatabaseNeed::Required => {
                p.errors.push(ConfigError::Missing {
                    var: "DATABASE_URL",
                    fix: DATABASE_URL_FIX,
                });
                None
            }
            None => None,
            Some(s) => match s.parse::<DatabaseUrl>() {
                Ok(url) => Some(url),
                Err(why) => {
                    p.invalid(
                        "DATABASE_URL",
                        "(value hidden)".into(),
                        &format!(
                            "a PostgreSQL URL such as postgres://user:password@127.0.0.1:5432/\
                             portfolio_bridge; this one is rejected because {why}"
                        ),
                    );
                    None
                }
            },
        };

        let buffer_path = match raw.get("BRIDGE_BUFFER_PATH") {
            Some(path) => expand_home(path, home).unwrap_or_else(|| {
                p.invalid(
                    "BRIDGE_BUFFER_PATH",
                    format!("{path:?}"),
                    "a file path (a leading ~ means $HOME, which must be set; ~user is not \
                     supported)",
                );
                PathBuf::new()
            }),
            None => expand_home(DEFAULT_BUFFER_PATH, home).unwrap_or_else(|| {
                p.errors.push(ConfigError::Missing {
                    var: "BRIDGE_BUFFER_PATH",
                    fix: "HOME is not set, so the default ~/.portfolio_bridge_buffer.jsonl has \
                          no home directory; set BRIDGE_BUFFER_PATH to an absolute path",
                });
                PathBuf::new()
            }),
        };

        let greeks_interval = p.seconds("GREEKS_INTERVAL_SECONDS", 5);
        let greeks_max_age = p.seconds("GREEKS_MAX_AGE_SECONDS", 60);
        let buffer_flush_interval = p.seconds("BUFFER_FLUSH_INTERVAL_SECONDS", 60);
        let watchdog_interval = p.seconds("WATCHDOG_INTERVAL_SECONDS", 30);
        let positions_sync_interval = p.seconds("POSITIONS_SYNC_INTERVAL_SECONDS", 60);
        let greeks_raw_retention = p.field(
            "GREEKS_RAW_RETENTION_DAYS",
            Some(Duration::from_secs(30 * DAY_SECS)),
            &format!(
                "a whole number of days from 0 (keep for good) to {MAX_RETENTION_DAYS}, e.g. \
                 GREEKS_RAW_RETENTION_DAYS=30"
            ),
            parse_retention_days,
        );

        let default_http =
            parse_http_addr(DEFAULT_HTTP_ADDR).expect("the default address is valid");
        let http_addr = p.field(
            "BRIDGE_HTTP_ADDR",
            default_http,
            "ip:port, e.g. BRIDGE_HTTP_ADDR=127.0.0.1:8080",
            parse_http_addr,
        );
        let api_token = match raw.get("BRIDGE_API_TOKEN") {
            None => None,
            Some(t) if t.len() >= MIN_TOKEN_LEN && t.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(Secret(t.to_owned()))
            }
            Some(_) => {
                p.invalid(
                    "BRIDGE_API_TOKEN",
                    "(value hidden)".into(),
                    &format!(
                        "at least {MIN_TOKEN_LEN} printable characters without spaces, e.g. the \
                         output of `openssl rand -hex 32`"
                    ),
                );
                None
            }
        };
        let allowed_hosts = p.field(
            "BRIDGE_ALLOWED_HOSTS",
            Vec::new(),
            "host names separated by commas, without scheme or port, e.g. \
             BRIDGE_ALLOWED_HOSTS=trading-pc.local,bridge.example.com",
            |s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| n.parse().ok())
                    .collect()
            },
        );
        // A token that was set but refused is reported above; not twice.
        if !http_addr.ip().is_loopback() && raw.get("BRIDGE_API_TOKEN").is_none() {
            p.errors
                .push(ConfigError::TokenRequired { addr: http_addr });
        }

        let alerts = p.alerts();

        if !p.errors.is_empty() {
            return Err(ConfigErrors(p.errors));
        }
        Ok(Config {
            api_mode,
            socket: SocketConfig {
                addr,
                client_id,
                market_data_client_id,
                connect_timeout,
                reset_window: ResetWindow::new(windows, zone),
            },
            portal: PortalConfig {
                base_url,
                timeout,
                tickle_interval,
                verify_tls,
                enabled,
            },
            database_url,
            bridge_name,
            buffer_path,
            greeks_interval,
            greeks_max_age,
            buffer_flush_interval,
            watchdog_interval,
            positions_sync_interval,
            greeks_raw_retention,
            http: HttpConfig {
                addr: http_addr,
                api_token,
                allowed_hosts,
            },
            alerts,
        })
    }

    /// The database URL, for commands that cannot work without one.
    pub fn database_url(&self) -> Result<&DatabaseUrl, ConfigError> {
        self.database_url.as_ref().ok_or(ConfigError::Missing {
            var: "DATABASE_URL",
            fix: DATABASE_URL_FIX,
        })
    }

    /// The effective configuration as `.env` lines, secrets redacted, each marked with where
    /// its value came from when it was not set explicitly.
    pub fn render(&self, raw: &RawConfig) -> String {
        let secs = |d: Duration| d.as_secs_f64().to_string();
        let a = &self.alerts;
        let shown = |kind: fn(&Target) -> bool| {
            a.targets
                .iter()
                .filter(|t| kind(t))
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let values: [(&str, String); 34] = [
            ("IB_API_MODE", self.api_mode.to_string()),
            ("IB_SOCKET_ADDR", self.socket.addr.to_string()),
            ("IB_CLIENT_ID", self.socket.client_id.to_string()),
            (
                "IB_MARKET_DATA_CLIENT_ID",
                self.socket.market_data_client_id.to_string(),
            ),
            (
                "IB_CONNECT_TIMEOUT_SECONDS",
                secs(self.socket.connect_timeout),
            ),
            (
                "IB_RESET_WINDOW",
                self.socket.reset_window.windows().to_string(),
            ),
            (
                "IB_RESET_TIMEZONE",
                self.socket.reset_window.zone_name().to_owned(),
            ),
            ("IBKR_CP_BASE_URL", self.portal.base_url.to_string()),
            (
                "IBKR_GATEWAY_URL",
                raw.get("IBKR_GATEWAY_URL").unwrap_or_default().to_owned(),
            ),
            ("IBKR_CP_TIMEOUT_SECONDS", secs(self.portal.timeout)),
            (
                "IBKR_CP_TICKLE_INTERVAL_SECONDS",
                secs(self.portal.tickle_interval),
            ),
            ("IBKR_CP_VERIFY_TLS", self.portal.verify_tls.to_string()),
            ("IBKR_CP_ENABLED", self.portal.enabled.to_string()),
            (
                "DATABASE_URL",
                self.database_url
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            ("BRIDGE_NAME", self.bridge_name.to_string()),
            ("BRIDGE_BUFFER_PATH", self.buffer_path.display().to_string()),
            ("GREEKS_INTERVAL_SECONDS", secs(self.greeks_interval)),
            ("GREEKS_MAX_AGE_SECONDS", secs(self.greeks_max_age)),
            (
                "BUFFER_FLUSH_INTERVAL_SECONDS",
                secs(self.buffer_flush_interval),
            ),
            ("WATCHDOG_INTERVAL_SECONDS", secs(self.watchdog_interval)),
            (
                "POSITIONS_SYNC_INTERVAL_SECONDS",
                secs(self.positions_sync_interval),
            ),
            (
                "GREEKS_RAW_RETENTION_DAYS",
                self.greeks_raw_retention
                    .map_or_else(|| "0".into(), |d| (d.as_secs() / DAY_SECS).to_string()),
            ),
            ("BRIDGE_HTTP_ADDR", self.http.addr.to_string()),
            (
                "BRIDGE_API_TOKEN",
                self.http
                    .api_token
                    .as_ref()
                    .map(|_| "REDACTED".into())
                    .unwrap_or_default(),
            ),
            (
                "BRIDGE_ALLOWED_HOSTS",
                self.http
                    .allowed_hosts
                    .iter()
                    .map(HostName::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "ALERT_WEBHOOK_URL",
                shown(|t| matches!(t, Target::Webhook(_))),
            ),
            ("ALERT_COMMAND", shown(|t| matches!(t, Target::Command(_)))),
            (
                "ALERT_REPEAT_MINUTES",
                (a.repeat.as_secs() / 60).to_string(),
            ),
            (
                "ALERT_FEED_DOWN_AFTER_SECONDS",
                secs(a.thresholds.feed_down_after),
            ),
            (
                "ALERT_DATABASE_DOWN_AFTER_SECONDS",
                secs(a.thresholds.database_down_after),
            ),
            ("ALERT_SPOOL_ROWS", a.thresholds.spool_rows.to_string()),
            (
                "ALERT_SYNC_FAILURES",
                a.thresholds.sync_failures.to_string(),
            ),
            (
                "ALERT_GREEKS_INCOMPLETE_AFTER_SECONDS",
                secs(a.thresholds.greeks_incomplete_after),
            ),
            (
                "ALERT_EXPIRY_BUSINESS_DAYS",
                a.thresholds.expiry_business_days.to_string(),
            ),
        ];
        let mut out =
            String::from("# portfolio-bridge effective configuration (secrets redacted)\n");
        for (var, value) in values {
            let line = format!("{var}={value}");
            let origin = match raw.get(var) {
                Some(_) => None,
                None if var == "IBKR_CP_BASE_URL" && raw.get("IBKR_GATEWAY_URL").is_some() => {
                    Some("from IBKR_GATEWAY_URL".to_owned())
                }
                None if var == "DATABASE_URL" => {
                    Some(format!("REQUIRED, not set: {NEEDS_DATABASE} need it"))
                }
                None if value.is_empty() => Some("not set".to_owned()),
                None => Some("default".to_owned()),
            };
            match origin {
                Some(origin) => out.push_str(&format!("{line:<56} # {origin}\n")),
                None => out.push_str(&format!("{line}\n")),
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
