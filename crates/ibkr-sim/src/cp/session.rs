//! The Client Portal session as IBKR models it: a browser-login (SSO) session, the brokerage
//! session `/iserver/*` needs on top of it, competing sessions, and the idle timeout that
//! drops the brokerage session when nothing is asked for a while.
//!
//! Pure state: every method takes `now`; nothing here reads a clock or answers HTTP.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// The longest an SSO session lives before a new browser login is needed.
const SSO_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// `/iserver/reauthenticate` only triggers a re-login; it completes shortly after.
const REAUTH_DELAY: Duration = Duration::from_millis(300);

/// The snapshot polls on which a conid's greeks can first appear: IBKR computes them a
/// moment after the first prices, so clients report needing a few more polls (the poll that
/// starts streaming is the first).
pub const GREEKS_FIRST_POLLS: std::ops::RangeInclusive<u32> = 3..=6;

/// The poll on which `conid`'s greeks first appear: spread over [`GREEKS_FIRST_POLLS`] by the
/// scenario's `seed`, the same every run.
pub fn greeks_poll(seed: u64, conid: i64) -> u32 {
    // SplitMix64's finaliser over the seed and the conid.
    let mut z = seed ^ (conid as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let span = u64::from(GREEKS_FIRST_POLLS.end() - GREEKS_FIRST_POLLS.start() + 1);
    GREEKS_FIRST_POLLS.start() + (z % span) as u32
}

/// What a request needs from the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The read-only ("outer") session: `/portfolio/*`, `/trsrv/*`, `/tickle`, `/sso/*`.
    Sso,
    /// A brokerage session: every `/iserver/*` endpoint.
    Brokerage,
    /// `/iserver/auth/status`: what a logged-in session serves, and also a session that
    /// logged out, which reports itself unauthenticated.
    Status,
}

/// Why a request cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No SSO session: nobody has logged in through the browser (or it expired).
    NoSession,
    /// SSO is fine but there is no brokerage session ("no bridge").
    NoBridge,
}

/// The session's observable flags, as `/iserver/auth/status` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStatus {
    pub authenticated: bool,
    pub competing: bool,
    pub connected: bool,
}

#[derive(Debug, Clone)]
pub struct CpSession {
    sso_since: Option<Instant>,
    /// Ended by `POST /logout`: nothing is served until a login but the auth status.
    logged_out: bool,
    brokerage: bool,
    connected: bool,
    competing: bool,
    reauth_at: Option<Instant>,
    last_request: Instant,
    idle_timeout: Duration,
    session_id: u128,
    /// IBKR requires `/portfolio/accounts` before other `/portfolio/*` calls and
    /// `/iserver/accounts` before market-data snapshots.
    pub portfolio_accounts_seen: bool,
    pub iserver_accounts_seen: bool,
    /// Derivatives whose underlying was searched (`/iserver/secdef/search`) in this brokerage
    /// session: IBKR streams a derivative's market data only after that search.
    pub searched: HashSet<i64>,
    /// `/iserver/account/pnl/partitioned` was asked in this brokerage session: its first
    /// answer is empty, as IBKR documents.
    pub pnl_started: bool,
    /// Snapshot polls per conid (the first only starts streaming) and the fields last asked.
    pub snapshot_polls: HashMap<i64, u32>,
    pub snapshot_fields: HashMap<i64, Vec<String>>,
}

impl CpSession {
    /// A session that is logged in (`logged_in`) or waiting for a browser login.
    pub fn new(logged_in: bool, idle_timeout: Duration, now: Instant) -> CpSession {
        let mut s = CpSession {
            sso_since: None,
            logged_out: false,
            brokerage: false,
            connected: false,
            competing: false,
            reauth_at: None,
            last_request: now,
            idle_timeout,
            session_id: 0,
            portfolio_accounts_seen: false,
            iserver_accounts_seen: false,
            searched: HashSet::new(),
            pnl_started: false,
            snapshot_polls: HashMap::new(),
            snapshot_fields: HashMap::new(),
        };
        if logged_in {
            s.login(now);
        }
        s
    }

    /// The browser login: SSO and brokerage sessions both start.
    pub fn login(&mut self, now: Instant) {
        self.brokerage_ended();
        self.sso_since = Some(now);
        self.logged_out = false;
        self.brokerage = true;
        self.connected = true;
        self.competing = false;
        self.reauth_at = None;
        self.last_request = now;
        // A new session id per login, as a new cookie would be; derived, not random, so runs
        // repeat.
        self.session_id = self
            .session_id
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        self.portfolio_accounts_seen = false;
    }

    /// Applies what time did since the last request: a finished re-authentication, the idle
    /// timeout (brokerage session dropped, still connected), the SSO lifetime (logged out).
    fn settle(&mut self, now: Instant) {
        if let Some(at) = self.reauth_at
            && now >= at
        {
            self.reauth_at = None;
            if self.connected && !self.competing {
                self.brokerage = true;
            }
        }
        if self
            .sso_since
            .is_some_and(|t| now.duration_since(t) >= SSO_LIFETIME)
        {
            self.expire();
        }
        if self.brokerage && now.duration_since(self.last_request) >= self.idle_timeout {
            self.brokerage_ended();
        }
    }

    /// Records a request at `now` and says whether `tier` may be served.
    pub fn request(&mut self, tier: Tier, now: Instant) -> Result<(), Refusal> {
        self.settle(now);
        if self.sso_since.is_none() {
            return match tier {
                Tier::Status if self.logged_out => Ok(()),
                _ => Err(Refusal::NoSession),
            };
        }
        self.last_request = now;
        match tier {
            Tier::Brokerage if !self.brokerage => Err(Refusal::NoBridge),
            _ => Ok(()),
        }
    }

    pub fn status(&mut self, now: Instant) -> AuthStatus {
        self.settle(now);
        AuthStatus {
            authenticated: self.brokerage,
            competing: self.competing,
            connected: self.connected,
        }
    }

    /// `POST /iserver/auth/ssodh/init`: opens a brokerage session if the gateway is still
    /// connected; `compete` takes it over from a competing session.
    pub fn init_brokerage(&mut self, compete: bool, now: Instant) -> AuthStatus {
        self.settle(now);
        if self.connected && (!self.competing || compete) {
            self.competing = false;
            self.brokerage = true;
        }
        self.status(now)
    }

    /// `POST /iserver/reauthenticate` (deprecated): completes shortly after.
    pub fn reauthenticate(&mut self, now: Instant) {
        self.settle(now);
        if self.connected && !self.competing {
            self.reauth_at = Some(now + REAUTH_DELAY);
        }
    }

    /// `POST /logout`: the whole session ends, as IBKR documents ("any further activity
    /// requires re-authentication"); only the auth status still answers, unauthenticated.
    pub fn logout(&mut self) {
        self.end();
        self.logged_out = true;
    }

    /// The SSO session is gone: every call answers "not authenticated" until a browser login.
    pub fn expire(&mut self) {
        self.end();
        self.logged_out = false;
    }

    fn end(&mut self) {
        self.sso_since = None;
        self.brokerage_ended();
        self.connected = false;
        self.reauth_at = None;
        self.portfolio_accounts_seen = false;
    }

    /// What a brokerage session's first calls set up goes with it.
    fn brokerage_ended(&mut self) {
        self.brokerage = false;
        self.iserver_accounts_seen = false;
        self.searched.clear();
        self.pnl_started = false;
        // Market data streams live in the brokerage session: the next snapshot is a
        // pre-flight again.
        self.snapshot_polls.clear();
        self.snapshot_fields.clear();
    }

    /// Another login elsewhere took the brokerage session.
    pub fn compete(&mut self) {
        self.competing = true;
        self.brokerage_ended();
    }

    /// Drops the brokerage session as an idle timeout would, at once.
    pub fn idle_out(&mut self) {
        self.brokerage_ended();
    }

    /// The session id `/tickle` reports (32 hex digits).
    pub fn session_id(&self) -> String {
        format!("{:032x}", self.session_id)
    }

    /// Milliseconds until the SSO session expires.
    pub fn sso_expires_ms(&self, now: Instant) -> u64 {
        let left = self
            .sso_since
            .map(|t| SSO_LIFETIME.saturating_sub(now.duration_since(t)));
        left.unwrap_or_default().as_millis() as u64
    }

    pub fn logged_in(&self) -> bool {
        self.sso_since.is_some()
    }

    pub fn set_idle_timeout(&mut self, idle_timeout: Duration) {
        self.idle_timeout = idle_timeout;
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
