//! `BRIDGE_API_TOKEN`: with it set, every API call and page needs it — the API as a bearer
//! header (`Authorization: Bearer <token>`, the scheme in any case), the pages through a
//! sign-in form that sets a session cookie (HttpOnly, SameSite=Strict, `Max-Age` of
//! [`SESSION_LIFETIME`], `Secure` when the page came over TLS). `/healthz` and the sign-in page
//! stay open. Without a token (a loopback-only bridge, which the configuration insists on)
//! everything is open.
//!
//! Sessions live in memory and end after [`SESSION_LIFETIME`] whatever the browser keeps; a
//! restart signs everyone out. Failed sign-ins are limited per client ([`Throttle`]). The token
//! is compared in constant time and never logged. The policies take `now` as an argument.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use url::Url;

use super::AppState;
use super::error::ApiError;
use crate::config::Secret;

/// The session cookie's name.
pub const COOKIE: &str = "pb_session";
/// How long a sign-in lasts: a trading day and the evening after.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; the oldest go first.
const MAX_SESSIONS: usize = 1000;
/// Failed sign-ins a client may make within [`FAILURE_WINDOW`]; the next is refused until the
/// oldest of them is that old.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Clients whose failures are remembered at most.
const MAX_CLIENTS: usize = 4096;

/// `a == b` in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(char::is_whitespace)?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Failed sign-ins per client, and whether a client must wait. Pure: callers pass `now`.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Throttle {
    /// When `client` may try again, if it may not at `now`.
    pub fn wait_until(&self, client: IpAddr, now: Instant) -> Option<Instant> {
        let recent = self.failures.get(&client)?;
        if recent.len() < MAX_FAILURES {
            return None;
        }
        let until = *recent.front()? + FAILURE_WINDOW;
        (until > now).then_some(until)
    }

    pub fn failed(&mut self, client: IpAddr, now: Instant) {
        self.failures
            .retain(|_, times| times.back().is_some_and(|t| *t + FAILURE_WINDOW > now));
        if self.failures.len() >= MAX_CLIENTS && !self.failures.contains_key(&client) {
            let quietest = self
                .failures
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(ip, _)| *ip);
            if let Some(ip) = quietest {
                self.failures.remove(&ip);
            }
        }
        let times = self.failures.entry(client).or_default();
        times.push_back(now);
        if times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    pub fn succeeded(&mut self, client: IpAddr) {
        self.failures.remove(&client);
    }
}

pub struct Auth {
    token: Option<Secret>,
    /// Session id → when it ends.
    sessions: Mutex<HashMap<String, Instant>>,
    throttle: Mutex<Throttle>,
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The session's cookie value.
    Opened(String),
    Refused,
    /// Too many failures: try again after this long.
    Throttled(Duration),
}

impl Auth {
    pub fn new(token: Option<Secret>) -> Auth {
        Auth {
            token,
            sessions: Mutex::new(HashMap::new()),
            throttle: Mutex::new(Throttle::default()),
        }
    }

    /// Whether a token is needed at all.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `given` is the token.
    pub fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| same(t.expose().as_bytes(), given.as_bytes()))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request carries the token or a session alive at `now`.
    pub fn allows(&self, headers: &HeaderMap, now: Instant) -> bool {
        if !self.required() {
            return true;
        }
        bearer(headers).is_some_and(|t| self.token_matches(t))
            || cookie(headers, COOKIE)
                .is_some_and(|id| self.sessions().get(id).is_some_and(|end| *end > now))
    }

    /// Checks `token` from `client`'s sign-in form; a new session when it is the token.
    pub fn sign_in(&self, token: &str, client: IpAddr, now: Instant) -> std::io::Result<SignIn> {
        let mut throttle = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = throttle.wait_until(client, now) {
            return Ok(SignIn::Throttled(until - now));
        }
        if !self.token_matches(token) {
            throttle.failed(client, now);
            return Ok(SignIn::Refused);
        }
        throttle.succeeded(client);
        drop(throttle);
        self.open_session(now).map(SignIn::Opened)
    }

    /// A new session lasting [`SESSION_LIFETIME`] from `now`: its cookie value.
    pub fn open_session(&self, now: Instant) -> std::io::Result<String> {
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions();
        sessions.retain(|_, end| *end > now);
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, end)| **end)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(id.clone(), now + SESSION_LIFETIME);
        Ok(id)
    }

    pub fn close_session(&self, id: &str) {
        self.sessions().remove(id);
    }
}

/// Whether the browser reached the bridge over TLS: through a proxy on this machine that
/// says so with `X-Forwarded-Proto: https` (the bridge itself serves plain HTTP; a header
/// from anyone else is not believed).
pub fn over_tls(headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| p.ip().is_loopback())
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value of session `id`.
pub fn session_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn expired_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// Where a signed-in user goes back to: a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/".to_owned();
    };
    // Browsers drop tabs and line breaks from a URL and read `\` as `/`: `/\t/evil.com` is
    // `//evil.com`, another site. Such a path is never ours.
    let odd = |c: char| c.is_control() || c.is_whitespace() || c == '\\';
    if !next.starts_with('/') || next.starts_with("//") || next.chars().any(odd) {
        return "/".to_owned();
    }
    let base = Url::parse("http://bridge.invalid/").expect("a valid base");
    match base.join(next) {
        Ok(url) if url.origin() == base.origin() => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        _ => "/".to_owned(),
    }
}

/// Lets a request through if it may pass; otherwise a 401 (API, metrics) or the sign-in page.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/login") || state.auth.allows(req.headers(), Instant::now()) {
        return next.run(req).await;
    }
    if super::is_api(path) {
        return ApiError::Unauthorized.into_response();
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &target)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
