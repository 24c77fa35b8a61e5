//! The Client Portal HTTP client: one `reqwest` client with the gateway's TLS policy, shared
//! pacing, retries with backoff for idempotent reads only, and every answer turned into a
//! typed reply or a [`PortalError`] that tells the operator what to do.
//!
//! It never follows a redirect (IBKR redirects an unauthenticated call to its login page,
//! which would otherwise read as a 200 page of HTML), always sends `Content-Length` on a POST
//! (the gateway answers 411 without it), and never retries a POST. It never puts an account's
//! code in an error: errors name an [`Endpoint`] by its shown form.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::debug;
use url::{Host, Url};

use super::error::PortalError;
use super::pacer::Pacer;
use super::wire::{self, Malformed};
use crate::config::PortalConfig;
use crate::domain::contract::Contract;
use crate::domain::ids::{AccountCode, ConId};

/// Attempts of an idempotent read, the first included.
const READ_ATTEMPTS: u32 = 4;
/// First retry delay; it doubles each time.
const BACKOFF: Duration = Duration::from_millis(250);
/// A `Retry-After` longer than this is not waited out inside one call: the call fails as rate
/// limited and the pacer holds every caller back instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// IBKR pages positions by 100.
const PAGE_SIZE: usize = 100;
/// Snapshots take at most 100 conids per call.
const SNAPSHOT_BATCH: usize = 100;
/// `/trsrv/secdef` takes at most 200 conids per call.
const SECDEF_BATCH: usize = 200;

/// A gateway path, and the form errors show it in. An account's code never reaches a message
/// (they end up in the status API and the page), so a path about one account shows the code
/// masked (`/portfolio/DU…567/positions/0`), and so does the gateway's answer about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    path: String,
    account: Option<AccountCode>,
}

impl Endpoint {
    /// A path that names no account.
    pub fn fixed(path: &str) -> Endpoint {
        Endpoint {
            path: path.to_owned(),
            account: None,
        }
    }

    /// `/portfolio/{account}{rest}`.
    pub fn portfolio(account: &AccountCode, rest: &str) -> Endpoint {
        Endpoint {
            path: format!("/portfolio/{account}{rest}"),
            account: Some(account.clone()),
        }
    }

    /// The path requested.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path as messages show it.
    pub fn shown(&self) -> String {
        self.redact(&self.path)
    }

    /// `text` with this endpoint's account code masked.
    pub fn redact(&self, text: &str) -> String {
        match &self.account {
            Some(a) => text.replace(a.as_str(), &a.masked()),
            None => text.to_owned(),
        }
    }
}

/// The gateway's 400 when a session's first call is missing: which call it wants, if `message`
/// is one ("Please query /portfolio/accounts first").
fn first_call_wanted(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    if !lower.contains("first") {
        return None;
    }
    ["/portfolio/accounts", "/iserver/accounts"]
        .into_iter()
        .find(|call| lower.contains(call))
}

/// A Client Portal client; cheap to clone, all clones share one connection pool and pacing.
#[derive(Clone)]
pub struct PortalClient {
    http: reqwest::Client,
    base: Url,
    login_url: String,
    timeout: Duration,
    pacer: Arc<Pacer>,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// What went wrong sending a request, before any answer.
fn transport_error(
    e: &reqwest::Error,
    base: &Url,
    endpoint: &Endpoint,
    timeout: Duration,
) -> PortalError {
    if e.is_timeout() {
        return PortalError::TimedOut {
            path: endpoint.shown(),
            timeout,
        };
    }
    // The innermost cause says it best ("Connection refused", "invalid peer certificate").
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    PortalError::Unreachable {
        url: base.to_string(),
        reason: endpoint.redact(&reason),
    }
}

fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

impl PortalClient {
    /// A client for the configured gateway. Accepting any certificate is only allowed for a
    /// loopback gateway, whatever the configuration says.
    pub fn new(config: &PortalConfig) -> Result<PortalClient, PortalError> {
        // reqwest is built without a default crypto provider; ring is the bridge's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = config.base_url.clone();
        if !config.verify_tls && !is_loopback(&base) {
            return Err(PortalError::Setup(format!(
                "refusing to accept any certificate from {base}: only a gateway on this machine \
                 may skip verification (set IBKR_CP_VERIFY_TLS=true)"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(!config.verify_tls)
            .user_agent(concat!("portfolio-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PortalError::Setup(format!("cannot build the HTTP client: {e}")))?;
        let mut login = base.clone();
        login.set_path("/");
        Ok(PortalClient {
            http,
            base,
            login_url: login.to_string(),
            timeout: config.timeout,
            pacer: Arc::new(Pacer::default()),
        })
    }

    /// Where a human logs in (the gateway's root).
    pub fn login_url(&self) -> &str {
        &self.login_url
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path().trim_end_matches('/')));
        url
    }

    /// One request, paced, with its answer classified.
    async fn send(
        &self,
        method: Method,
        endpoint: &Endpoint,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<String, PortalError> {
        let path = endpoint.path();
        self.pacer.acquire(path).await;
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method.clone(), url);
        if method == Method::POST {
            let bytes = body.map(|b| b.to_string()).unwrap_or_default();
            request = request
                .header(header::CONTENT_LENGTH, bytes.len())
                .header(header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, &self.base, endpoint, self.timeout))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| transport_error(&e, &self.base, endpoint, self.timeout))?;
        debug!(%method, path = endpoint.shown(), status = status.as_u16(), "Client Portal");
        match status {
            s if s.is_success() => Ok(body),
            s if s.is_redirection() || s == StatusCode::UNAUTHORIZED => {
                Err(PortalError::NotAuthenticated {
                    login_url: self.login_url.clone(),
                })
            }
            StatusCode::TOO_MANY_REQUESTS => {
                self.pacer.hold_for(wait.unwrap_or(Duration::from_secs(1)));
                Err(PortalError::RateLimited { retry_after: wait })
            }
            s => {
                let message = endpoint.redact(
                    &wire::error_message(&body).unwrap_or_else(|| body.chars().take(200).collect()),
                );
                let lower = message.to_ascii_lowercase();
                if s == StatusCode::BAD_REQUEST
                    && (lower.contains("no bridge") || lower.contains("init session"))
                {
                    Err(PortalError::NoBrokerageSession { message })
                } else if let Some(first) = first_call_wanted(&message)
                    && s == StatusCode::BAD_REQUEST
                {
                    Err(PortalError::FirstCallNeeded {
                        path: endpoint.shown(),
                        first: first.to_owned(),
                        message,
                    })
                } else {
                    Err(PortalError::Refused {
                        path: endpoint.shown(),
                        status: s.as_u16(),
                        message,
                    })
                }
            }
        }
    }

    /// An idempotent read, retried with backoff on 429, 5xx and timeouts.
    async fn get(
        &self,
        endpoint: &Endpoint,
        query: &[(&str, String)],
    ) -> Result<Value, PortalError> {
        let body = self.get_text(endpoint, query).await?;
        parse(endpoint, &body)
    }

    /// [`Self::get`]'s answer unparsed, for a reader that wants no tree of a large answer.
    async fn get_text(
        &self,
        endpoint: &Endpoint,
        query: &[(&str, String)],
    ) -> Result<String, PortalError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.send(Method::GET, endpoint, query, None).await {
                Ok(body) => return Ok(body),
                Err(e) => e,
            };
            let Some(wait) = next_attempt(&error, attempt, started.elapsed(), self.timeout) else {
                return Err(error);
            };
            tokio::time::sleep(wait).await;
            debug!(path = endpoint.shown(), attempt, "retrying after: {error}");
        }
    }

    /// A POST, sent once.
    async fn post(&self, endpoint: &Endpoint, body: Option<&Value>) -> Result<Value, PortalError> {
        let text = self.send(Method::POST, endpoint, &[], body).await?;
        parse(endpoint, &text)
    }

    /// `POST /tickle`: keeps the session alive and says whether it is authenticated.
    pub async fn tickle(&self) -> Result<wire::AuthStatus, PortalError> {
        let e = Endpoint::fixed("/tickle");
        let v = self.post(&e, None).await?;
        read(&e, &v, wire::tickle)
    }

    pub async fn auth_status(&self) -> Result<wire::AuthStatus, PortalError> {
        let e = Endpoint::fixed("/iserver/auth/status");
        let v = self.post(&e, None).await?;
        read(&e, &v, wire::auth_status)
    }

    /// Opens a brokerage session; never takes one over from a competing login.
    pub async fn init_brokerage_session(&self) -> Result<wire::AuthStatus, PortalError> {
        let body = json!({"publish": true, "compete": false});
        let e = Endpoint::fixed("/iserver/auth/ssodh/init");
        let v = self.post(&e, Some(&body)).await?;
        read(&e, &v, wire::auth_status)
    }

    /// `/portfolio/accounts`, which IBKR wants first in a session, before any other
    /// `/portfolio/*` call.
    pub async fn accounts(&self) -> Result<Vec<wire::Account>, PortalError> {
        let e = Endpoint::fixed("/portfolio/accounts");
        let v = self.get(&e, &[]).await?;
        read(&e, &v, wire::accounts)
    }

    /// Every position of `account`, all pages; `fresh` drops the gateway's cache first.
    pub async fn positions(
        &self,
        account: &AccountCode,
        fresh: bool,
    ) -> Result<Vec<wire::Position>, PortalError> {
        if fresh {
            let e = Endpoint::portfolio(account, "/positions/invalidate");
            self.post(&e, None).await?;
        }
        let mut all = Vec::new();
        for page in 0.. {
            let e = Endpoint::portfolio(account, &format!("/positions/{page}"));
            let v = self.get(&e, &[]).await?;
            let rows = read(&e, &v, wire::positions)?;
            let full = rows.len() >= PAGE_SIZE;
            all.extend(rows);
            if !full {
                break;
            }
        }
        Ok(all)
    }

    pub async fn summary(&self, account: &AccountCode) -> Result<wire::Summary, PortalError> {
        let e = Endpoint::portfolio(account, "/summary");
        let v = self.get(&e, &[]).await?;
        read(&e, &v, wire::summary)
    }

    /// The account's native combo positions, bypassing the gateway's cache.
    pub async fn combo_positions(
        &self,
        account: &AccountCode,
    ) -> Result<Vec<wire::Combo>, PortalError> {
        let e = Endpoint::portfolio(account, "/combo/positions");
        let body = self.get_text(&e, &[("nocache", "true".to_owned())]).await?;
        let read = wire::combos(&body);
        read.map_err(|reason| unexpected(&e, &reason, body))
    }

    /// `/iserver/accounts`, which IBKR wants first in a brokerage session, before any
    /// market-data snapshot.
    pub async fn iserver_accounts(&self) -> Result<Vec<AccountCode>, PortalError> {
        let e = Endpoint::fixed("/iserver/accounts");
        let v = self.get(&e, &[]).await?;
        read(&e, &v, wire::iserver_accounts)
    }

    /// `/iserver/secdef/search` for `symbol`, which IBKR wants before any market data of a
    /// derivative on it in a brokerage session. Returns how many instruments matched.
    pub async fn search(&self, symbol: &str) -> Result<usize, PortalError> {
        let e = Endpoint::fixed("/iserver/secdef/search");
        let v = self.get(&e, &[("symbol", symbol.to_owned())]).await?;
        read(&e, &v, wire::secdef_search)
    }

    /// Snapshots of `conids` (batches of 100). The gateway answers a conid's first request with
    /// no fields, only starting to stream it; such conids are asked once more at once.
    pub async fn snapshots(&self, conids: &[ConId]) -> Result<Vec<wire::Snapshot>, PortalError> {
        let mut out = Vec::new();
        for batch in conids.chunks(SNAPSHOT_BATCH) {
            let mut rows = self.snapshot_batch(batch).await?;
            let empty: Vec<ConId> = rows
                .iter()
                .filter(|r| !r.has_data())
                .map(|r| r.conid)
                .collect();
            if !empty.is_empty() {
                let again = self.snapshot_batch(&empty).await?;
                rows.retain(|r| r.has_data());
                rows.extend(again);
            }
            out.extend(rows);
        }
        Ok(out)
    }

    async fn snapshot_batch(&self, conids: &[ConId]) -> Result<Vec<wire::Snapshot>, PortalError> {
        let list = conids
            .iter()
            .map(ConId::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let e = Endpoint::fixed("/iserver/marketdata/snapshot");
        let v = self
            .get(
                &e,
                &[("conids", list), ("fields", wire::fields::ALL.to_owned())],
            )
            .await?;
        read(&e, &v, wire::snapshots)
    }

    /// Contract facts (multiplier, underlying, expiry) of `conids`, from the read-only tier.
    pub async fn secdefs(&self, conids: &[ConId]) -> Result<Vec<Contract>, PortalError> {
        let e = Endpoint::fixed("/trsrv/secdef");
        let mut out = Vec::new();
        for batch in conids.chunks(SECDEF_BATCH) {
            let list = batch
                .iter()
                .map(ConId::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let v = self.get(&e, &[("conids", list)]).await?;
            out.extend(read(&e, &v, wire::secdefs)?.into_iter().map(|(c, _)| c));
        }
        Ok(out)
    }

    /// A contract's local symbol and trading class (brokerage session).
    pub async fn contract_info(&self, conid: ConId) -> Result<Contract, PortalError> {
        let e = Endpoint::fixed(&format!("/iserver/contract/{conid}/info"));
        let v = self.get(&e, &[]).await?;
        read(&e, &v, wire::contract_info)
    }
}

/// How long to wait before another attempt of a read whose attempt number `attempt` failed
/// with `error`, `elapsed` after the read began; `None` to give up. 429s, 5xx and timeouts are
/// retried with a doubling backoff (a 429's wait is the pacer's hold, so none here), up to
/// [`READ_ATTEMPTS`] — and only while the read has taken less than `budget` (one request
/// timeout) in all: IBKR's gateway answers 503 after giving up for 10 s itself, and three more
/// tries of that would hold a poll for 40 s.
fn next_attempt(
    error: &PortalError,
    attempt: u32,
    elapsed: Duration,
    budget: Duration,
) -> Option<Duration> {
    let retryable = match error {
        PortalError::RateLimited { retry_after } => retry_after.is_none_or(|w| w <= MAX_RETRY_WAIT),
        PortalError::TimedOut { .. } => true,
        PortalError::Refused { status, .. } => *status >= 500,
        _ => false,
    };
    if !retryable || attempt >= READ_ATTEMPTS || elapsed >= budget {
        return None;
    }
    Some(match error {
        PortalError::RateLimited { .. } => Duration::ZERO,
        _ => BACKOFF * 2u32.pow(attempt - 1),
    })
}

/// A 200 whose payload cannot be read: kept raw, with the reason (account codes redacted).
fn unexpected(endpoint: &Endpoint, reason: &str, raw: String) -> PortalError {
    PortalError::UnexpectedPayload {
        path: endpoint.shown(),
        status: 200,
        reason: endpoint.redact(reason),
        raw,
    }
}

fn parse(endpoint: &Endpoint, body: &str) -> Result<Value, PortalError> {
    serde_json::from_str(body)
        .map_err(|e| unexpected(endpoint, &format!("not JSON ({e})"), body.to_owned()))
}

fn read<T>(
    endpoint: &Endpoint,
    v: &Value,
    f: impl FnOnce(&Value) -> Result<T, Malformed>,
) -> Result<T, PortalError> {
    f(v).map_err(|reason| unexpected(endpoint, &reason, v.to_string()))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
