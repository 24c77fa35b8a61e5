//! Client Portal side: the gateway's REST API under `/v1/api` (and IBeam's `/v1/portal`
//! alias), over HTTPS with a self-signed certificate made at start, or plain HTTP for tests.
//!
//! Every request passes one gate, in IBKR's order: a POST without `Content-Length` gets 411,
//! injected faults apply, the pacing limits answer 429; then each handler checks the session
//! tier it needs (401 without a login, 400 "no bridge" without a brokerage session). A
//! browser login page at `/` plays the human who logs in. Reads the world; never changes it.

mod faults;
mod limits;
mod payloads;
mod session;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tracing::{debug, info, warn};

use crate::Shutdown;
use crate::scenario::SecType;
use crate::world::World;
pub use faults::{Fault, FaultKind};
use limits::RateLimiter;
use session::{CpSession, Refusal, Tier};
pub use session::{GREEKS_FIRST_POLLS, greeks_poll};

/// How an unauthenticated request is answered; sources disagree, so both are available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unauthenticated {
    /// 401 with `{"error":"no session"}`.
    #[default]
    Status401,
    /// 302 to the SSO login page.
    Redirect,
}

/// Settings of the Client Portal side.
#[derive(Debug, Clone)]
pub struct CpOptions {
    /// Serve HTTPS with a self-signed certificate (as the real gateway), else plain HTTP.
    pub tls: bool,
    /// Start logged in, or wait for a login on the page at `/` (or the control API).
    pub logged_in: bool,
    /// The brokerage session drops after this long without a request (IBKR: about 5–6 min).
    pub idle_timeout: Duration,
    pub unauthenticated: Unauthenticated,
    /// How long a pacing violation keeps every request refused; zero for none.
    pub penalty: Duration,
    /// How long combo positions are served from the cache unless asked with `nocache=true`
    /// (IBKR documents the cache, not its lifetime).
    pub combo_cache: Duration,
}

impl Default for CpOptions {
    fn default() -> Self {
        CpOptions {
            tls: true,
            logged_in: true,
            idle_timeout: Duration::from_secs(360),
            unauthenticated: Unauthenticated::Status401,
            penalty: Duration::ZERO,
            combo_cache: Duration::from_secs(60),
        }
    }
}

/// One request the gateway answered, for tests that check what a client did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub status: u16,
}

const REQUEST_LOG: usize = 10_000;

pub(crate) struct Cp {
    world: Arc<World>,
    options: CpOptions,
    session: Mutex<CpSession>,
    limiter: Mutex<RateLimiter>,
    faults: Mutex<Vec<Fault>>,
    positions_cache: Mutex<std::collections::HashMap<String, Vec<Value>>>,
    /// Per account: when the combo answer was made, and the answer.
    combo_cache: Mutex<std::collections::HashMap<String, (Instant, bytes::Bytes)>>,
    log: Mutex<VecDeque<RequestRecord>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Client Portal side of a running simulator.
#[derive(Clone)]
pub struct CpGateway {
    cp: Arc<Cp>,
    addr: SocketAddr,
    tls: bool,
}

/// The session as the control API reports it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CpStatus {
    pub url: String,
    pub logged_in: bool,
    pub authenticated: bool,
    pub competing: bool,
    pub connected: bool,
    pub faults: Vec<Fault>,
    pub requests: usize,
}

impl CpGateway {
    /// Binds `addr` and serves until `shutdown`.
    pub async fn start(
        world: Arc<World>,
        addr: SocketAddr,
        options: CpOptions,
        shutdown: Shutdown,
    ) -> std::io::Result<CpGateway> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let now = Instant::now();
        let cp = Arc::new(Cp {
            session: Mutex::new(CpSession::new(options.logged_in, options.idle_timeout, now)),
            limiter: Mutex::new(RateLimiter::new(options.penalty)),
            faults: Mutex::new(Vec::new()),
            positions_cache: Mutex::new(Default::default()),
            combo_cache: Mutex::new(Default::default()),
            log: Mutex::new(VecDeque::new()),
            world,
            options: options.clone(),
        });
        let router = router(cp.clone());
        let tls = if options.tls {
            Some(tls_acceptor()?)
        } else {
            None
        };
        tokio::spawn(serve(listener, router, tls, shutdown));
        let gw = CpGateway {
            cp,
            addr,
            tls: options.tls,
        };
        info!(url = %gw.base_url(), "Client Portal API listening");
        Ok(gw)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>/v1/api` (or `http://` without TLS).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/v1/api", self.addr)
    }

    /// What a human logging in through the browser does.
    pub fn login(&self) {
        info!("Client Portal: logged in");
        lock(&self.cp.session).login(Instant::now());
        lock(&self.cp.positions_cache).clear();
        lock(&self.cp.combo_cache).clear();
    }

    /// As `POST /logout`: the brokerage session ends; only a new login connects again.
    pub fn logout(&self) {
        info!("Client Portal: logged out");
        lock(&self.cp.session).logout();
    }

    /// The SSO session expires: every call answers "not authenticated" until a login.
    pub fn expire(&self) {
        info!("Client Portal: session expired");
        lock(&self.cp.session).expire();
    }

    /// The brokerage session drops as after an idle timeout; `ssodh/init` brings it back.
    pub fn idle_out(&self) {
        info!("Client Portal: brokerage session timed out");
        lock(&self.cp.session).idle_out();
    }

    /// A login elsewhere competes for the brokerage session.
    pub fn compete(&self) {
        info!("Client Portal: competing session");
        lock(&self.cp.session).compete();
    }

    pub fn set_idle_timeout(&self, idle_timeout: Duration) {
        lock(&self.cp.session).set_idle_timeout(idle_timeout);
    }

    pub fn add_fault(&self, fault: Fault) {
        info!(?fault, "Client Portal: fault added");
        lock(&self.cp.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.cp.faults).clear();
    }

    /// The requests answered so far (the last 10,000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.cp.log).iter().cloned().collect()
    }

    pub fn status(&self) -> CpStatus {
        let mut session = lock(&self.cp.session);
        let s = session.status(Instant::now());
        CpStatus {
            url: self.base_url(),
            logged_in: session.logged_in(),
            authenticated: s.authenticated,
            competing: s.competing,
            connected: s.connected,
            faults: lock(&self.cp.faults).clone(),
            requests: lock(&self.cp.log).len(),
        }
    }
}

/// A self-signed `CA:TRUE` certificate for localhost, like the gateway's own: a client can
/// only accept it by not verifying, which is what makes loopback-only trust necessary.
fn tls_acceptor() -> std::io::Result<TlsAcceptor> {
    let io = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| io(&e))?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| io(&e))?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.self_signed(&key).map_err(|e| io(&e))?;
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| io(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], der)
    .map_err(|e| io(&e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut shutdown: Shutdown,
) {
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!("Client Portal accept failed: {e}");
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => serve_connection(stream, router).await,
                    Err(e) => debug!("TLS handshake failed: {e}"),
                },
                None => serve_connection(tcp, router).await,
            }
        });
    }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: S,
    router: Router,
) {
    let service = TowerToHyperService::new(router);
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await
    {
        debug!("Client Portal connection ended: {e}");
    }
}

fn router(cp: Arc<Cp>) -> Router {
    let api = Router::new()
        .route("/tickle", get(tickle).post(tickle))
        .route("/iserver/auth/status", get(auth_status).post(auth_status))
        .route("/iserver/auth/ssodh/init", post(ssodh_init))
        .route("/iserver/reauthenticate", post(reauthenticate))
        .route("/logout", post(logout))
        .route("/sso/validate", get(sso_validate))
        .route("/portfolio/accounts", get(portfolio_accounts))
        .route("/portfolio/subaccounts", get(portfolio_accounts))
        .route(
            "/portfolio/{account}/positions/invalidate",
            post(invalidate),
        )
        .route("/portfolio/{account}/positions/{page}", get(positions))
        .route("/portfolio/{account}/summary", get(summary))
        .route("/portfolio2/{account}/positions", get(positions2))
        .route("/portfolio/{account}/combo/positions", get(combo_positions))
        .route("/iserver/accounts", get(iserver_accounts))
        .route("/iserver/account/pnl/partitioned", get(pnl_partitioned))
        .route("/iserver/marketdata/snapshot", get(snapshot))
        .route("/iserver/secdef/info", get(secdef_info))
        .route(
            "/iserver/secdef/search",
            get(secdef_search_query).post(secdef_search_body),
        )
        .route("/iserver/contract/{conid}/info", get(contract_info))
        .route("/trsrv/secdef", get(trsrv_secdef))
        .route("/trsrv/futures", get(trsrv_futures))
        .layer(middleware::from_fn_with_state(cp.clone(), gate));
    Router::new()
        .nest("/v1/api", api.clone())
        .nest("/v1/portal", api)
        .route("/", get(login_page))
        .route("/sso/Login", get(login_page).post(login_submit))
        .with_state(cp)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": message, "statusCode": status.as_u16()}),
    )
}

/// The path below `/v1/api` or `/v1/portal`.
fn api_path(uri_path: &str) -> &str {
    uri_path
        .strip_prefix("/v1/api")
        .or_else(|| uri_path.strip_prefix("/v1/portal"))
        .unwrap_or(uri_path)
}

/// Content-Length, faults and pacing, in that order; then the handler; then the log.
async fn gate(State(cp): State<Arc<Cp>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = api_path(req.uri().path()).to_owned();
    let response = gated(&cp, req, next, &path).await;
    let mut log = lock(&cp.log);
    if log.len() == REQUEST_LOG {
        log.pop_front();
    }
    log.push_back(RequestRecord {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
    });
    response
}

async fn gated(cp: &Cp, req: Request, next: Next, path: &str) -> Response {
    if req.method() == Method::POST && !req.headers().contains_key(header::CONTENT_LENGTH) {
        return (StatusCode::LENGTH_REQUIRED, "Length Required").into_response();
    }
    let fault = faults::take(&mut lock(&cp.faults), path);
    if let Some(kind @ FaultKind::Status { .. }) = &fault {
        tokio::time::sleep(kind.delay()).await;
    }
    match fault {
        Some(FaultKind::Status { status, .. }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return match status.as_u16() {
                429 => too_many(Duration::from_secs(1)),
                503 => status.into_response(),
                _ => error(status, "Internal Server Error"),
            };
        }
        Some(FaultKind::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        _ => {}
    }
    if let Err(retry_after) = lock(&cp.limiter).check(path, Instant::now()) {
        return too_many(retry_after);
    }
    let response = next.run(req).await;
    match fault {
        Some(FaultKind::Malformed) => {
            let body = to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let cut = body.slice(..body.len() / 2);
            ([(header::CONTENT_TYPE, "application/json")], cut).into_response()
        }
        Some(FaultKind::WrongShape) => json_response(
            StatusCode::OK,
            json!({"unexpected": "shape", "data": [1, "two", null]}),
        ),
        Some(FaultKind::DropField { field }) if response.status() == StatusCode::OK => {
            let body = to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            match serde_json::from_slice::<Value>(&body) {
                Ok(mut v) => {
                    drop_field(&mut v, &field);
                    json_response(StatusCode::OK, v)
                }
                Err(_) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            }
        }
        _ => response,
    }
}

/// Takes `field` out of every object in `v`.
fn drop_field(v: &mut Value, field: &str) {
    match v {
        Value::Object(map) => {
            map.remove(field);
            map.values_mut().for_each(|x| drop_field(x, field));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| drop_field(x, field)),
        _ => {}
    }
}

fn too_many(retry_after: Duration) -> Response {
    let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Why an endpoint refuses, answered as IBKR answers it.
#[derive(Debug)]
enum ApiError {
    /// No login: 401, or a redirect to the login page.
    NoSession(Unauthenticated),
    /// No brokerage session for `/iserver/*`.
    NoBridge,
    BadRequest(&'static str),
    /// What IBKR answers for an unknown account id.
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NoSession(Unauthenticated::Status401) => {
                json_response(StatusCode::UNAUTHORIZED, json!({"error": "no session"}))
            }
            ApiError::NoSession(Unauthenticated::Redirect) => {
                let mut resp = StatusCode::FOUND.into_response();
                resp.headers_mut().insert(
                    header::LOCATION,
                    HeaderValue::from_static("/sso/Login?forwardTo=22&RL=1&ip2loc=on"),
                );
                resp
            }
            ApiError::NoBridge => error(StatusCode::BAD_REQUEST, "Bad Request: no bridge"),
            ApiError::BadRequest(msg) => error(StatusCode::BAD_REQUEST, msg),
            ApiError::Internal => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

impl Cp {
    /// Counts a request against the session and refuses it if `tier` is not met.
    fn admit(&self, tier: Tier) -> Result<(), ApiError> {
        let refusal = lock(&self.session).request(tier, Instant::now());
        refusal.map_err(|r| match r {
            Refusal::NoSession => ApiError::NoSession(self.options.unauthenticated),
            Refusal::NoBridge => ApiError::NoBridge,
        })
    }

    fn account(&self, id: &str) -> Result<crate::scenario::Account, ApiError> {
        let known = self
            .world
            .scenario()
            .accounts
            .iter()
            .find(|a| a.id == id)
            .cloned();
        known.ok_or(ApiError::Internal)
    }

    /// `/portfolio/*` needs `/portfolio/accounts` first in the session.
    fn portfolio_ready(&self) -> Result<(), ApiError> {
        match lock(&self.session).portfolio_accounts_seen {
            true => Ok(()),
            false => Err(ApiError::BadRequest(
                "Please query /portfolio/accounts first",
            )),
        }
    }
}

type Answer = Result<Response, ApiError>;

async fn tickle(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Sso)?;
    let now = Instant::now();
    let mut s = lock(&cp.session);
    let status = s.status(now);
    Ok(json_response(
        StatusCode::OK,
        payloads::tickle(&s.session_id(), s.sso_expires_ms(now), status),
    ))
}

async fn auth_status(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Status)?;
    let status = lock(&cp.session).status(Instant::now());
    Ok(json_response(StatusCode::OK, payloads::auth_status(status)))
}

#[derive(Deserialize, Default)]
struct InitBody {
    #[serde(default)]
    compete: bool,
}

async fn ssodh_init(State(cp): State<Arc<Cp>>, body: axum::body::Bytes) -> Answer {
    cp.admit(Tier::Sso)?;
    let init: InitBody = serde_json::from_slice(&body).unwrap_or_default();
    let status = lock(&cp.session).init_brokerage(init.compete, Instant::now());
    Ok(json_response(StatusCode::OK, payloads::auth_status(status)))
}

async fn reauthenticate(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Sso)?;
    lock(&cp.session).reauthenticate(Instant::now());
    Ok(json_response(
        StatusCode::OK,
        json!({"message": "triggered"}),
    ))
}

async fn logout(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Sso)?;
    lock(&cp.session).logout();
    Ok(json_response(StatusCode::OK, json!({"status": true})))
}

async fn sso_validate(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Sso)?;
    let expires = lock(&cp.session).sso_expires_ms(Instant::now());
    Ok(json_response(
        StatusCode::OK,
        payloads::sso_validate(Timestamp::now(), expires),
    ))
}

async fn portfolio_accounts(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Sso)?;
    lock(&cp.session).portfolio_accounts_seen = true;
    let accounts: Vec<Value> = cp
        .world
        .scenario()
        .accounts
        .iter()
        .map(payloads::portfolio_account)
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(accounts)))
}

async fn positions(
    State(cp): State<Arc<Cp>>,
    Path((account, page)): Path<(String, String)>,
) -> Answer {
    cp.admit(Tier::Sso)?;
    cp.portfolio_ready()?;
    cp.account(&account)?;
    let page: usize = page
        .parse()
        .map_err(|_| ApiError::BadRequest("Bad Request: invalid pageId"))?;
    // IBKR serves positions from a cache that only `/positions/invalidate` refreshes.
    let rows = lock(&cp.positions_cache)
        .entry(account.clone())
        .or_insert_with(|| {
            let mut legs = cp.world.legs(&account, Timestamp::now());
            legs.sort_by_key(|l| l.instrument.contract_desc());
            legs.iter().map(payloads::position_row).collect()
        })
        .clone();
    let rows: Vec<Value> = rows.into_iter().skip(page * 100).take(100).collect();
    Ok(json_response(StatusCode::OK, Value::Array(rows)))
}

#[derive(Deserialize)]
struct Positions2Query {
    /// The column to sort by, a row's key (`position`, `marketValue`, …); `description` by
    /// default.
    sort: Option<String>,
    /// `a` (the default) or `d`: ascending or descending.
    direction: Option<String>,
}

/// The positions as they are now: IBKR documents this endpoint as the one without the cache.
async fn positions2(
    State(cp): State<Arc<Cp>>,
    Path(account): Path<String>,
    Query(q): Query<Positions2Query>,
) -> Answer {
    cp.admit(Tier::Sso)?;
    cp.portfolio_ready()?;
    cp.account(&account)?;
    let now = Timestamp::now();
    let descending = match q.direction.as_deref() {
        None | Some("a") => false,
        Some("d") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "Bad Request: direction must be a or d",
            ));
        }
    };
    let mut rows: Vec<Value> = cp
        .world
        .legs(&account, now)
        .iter()
        .map(|l| payloads::position2_row(l, now))
        .collect();
    let column = q.sort.as_deref().unwrap_or("description");
    rows.sort_by(|a, b| payloads::column_order(&a[column], &b[column]));
    if descending {
        rows.reverse();
    }
    Ok(json_response(StatusCode::OK, Value::Array(rows)))
}

async fn invalidate(State(cp): State<Arc<Cp>>, Path(account): Path<String>) -> Answer {
    cp.admit(Tier::Sso)?;
    cp.account(&account)?;
    lock(&cp.positions_cache).remove(&account);
    Ok(json_response(StatusCode::OK, json!({"message": "success"})))
}

async fn summary(State(cp): State<Arc<Cp>>, Path(account): Path<String>) -> Answer {
    cp.admit(Tier::Sso)?;
    cp.portfolio_ready()?;
    let account = cp.account(&account)?;
    Ok(json_response(
        StatusCode::OK,
        payloads::summary(&cp.world, &account, Timestamp::now()),
    ))
}

/// A boolean query parameter as IBKR's gateway (Java) reads one: `true` in any case is true,
/// anything else false — IBind sends Python's `True`.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrText {
        Bool(bool),
        Text(String),
    }
    Ok(Option::<BoolOrText>::deserialize(d)?.map(|b| match b {
        BoolOrText::Bool(b) => b,
        BoolOrText::Text(t) => t.eq_ignore_ascii_case("true"),
    }))
}

#[derive(Deserialize)]
struct ComboQuery {
    #[serde(default, deserialize_with = "lenient_bool")]
    nocache: Option<bool>,
}

/// Served from a per-account cache, as IBKR does, unless asked with `nocache=true` (which
/// refreshes the cache) or the cache is older than `combo_cache`.
async fn combo_positions(
    State(cp): State<Arc<Cp>>,
    Path(account): Path<String>,
    Query(q): Query<ComboQuery>,
) -> Answer {
    cp.admit(Tier::Sso)?;
    cp.portfolio_ready()?;
    cp.account(&account)?;
    let now = Instant::now();
    let cached = lock(&cp.combo_cache).get(&account).cloned();
    let body = match cached {
        Some((at, body))
            if !q.nocache.unwrap_or(false) && now.duration_since(at) < cp.options.combo_cache =>
        {
            body
        }
        _ => {
            let views = cp.world.combos(&account, Timestamp::now());
            let combos: Vec<payloads::Combo> = views.iter().map(payloads::combo).collect();
            let body =
                bytes::Bytes::from(serde_json::to_vec(&combos).map_err(|_| ApiError::Internal)?);
            lock(&cp.combo_cache).insert(account, (now, body.clone()));
            body
        }
    };
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

async fn iserver_accounts(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Brokerage)?;
    lock(&cp.session).iserver_accounts_seen = true;
    Ok(json_response(
        StatusCode::OK,
        payloads::iserver_accounts(&cp.world.scenario().accounts),
    ))
}

/// Each account's PnL, net liquidation, excess liquidity and market value, keyed
/// `{account}.Core`; the first call of a brokerage session only starts the subscription.
async fn pnl_partitioned(State(cp): State<Arc<Cp>>) -> Answer {
    cp.admit(Tier::Brokerage)?;
    let started = std::mem::replace(&mut lock(&cp.session).pnl_started, true);
    let upnl = if started {
        payloads::pnl_partitioned(&cp.world, Timestamp::now())
    } else {
        serde_json::Map::new()
    };
    Ok(json_response(StatusCode::OK, json!({"upnl": upnl})))
}

#[derive(Deserialize)]
struct SnapshotQuery {
    conids: Option<String>,
    fields: Option<String>,
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn snapshot(State(cp): State<Arc<Cp>>, Query(q): Query<SnapshotQuery>) -> Answer {
    cp.admit(Tier::Brokerage)?;
    let conids: Vec<i64> = split_list(q.conids.as_deref().unwrap_or_default())
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::BadRequest("Bad Request: conids must be numbers"))?;
    let fields = q.fields.as_deref().map(split_list);
    if conids.is_empty() || conids.len() > 100 {
        return Err(ApiError::BadRequest("Bad Request: 1 to 100 conids"));
    }
    if fields.as_ref().is_some_and(|f| f.len() > 50) {
        return Err(ApiError::BadRequest("Bad Request: at most 50 fields"));
    }
    let mut session = lock(&cp.session);
    if !session.iserver_accounts_seen {
        return Err(ApiError::BadRequest("Please query /iserver/accounts first"));
    }
    let now = Timestamp::now();
    let mut out = Vec::new();
    for conid in conids {
        let mut entry = serde_json::Map::new();
        entry.insert("conid".into(), json!(conid));
        entry.insert("conidEx".into(), json!(conid.to_string()));
        let derivative = i32::try_from(conid)
            .ok()
            .and_then(|c| cp.world.instrument(c))
            .is_some_and(|i| i.sec_type != SecType::Stock);
        if derivative && !session.searched.contains(&conid) {
            // IBKR: "for derivative contracts /iserver/secdef/search must be called first";
            // until then no stream starts, and every poll is answered as a pre-flight.
            out.push(Value::Object(entry));
            continue;
        }
        let polls = {
            let p = session.snapshot_polls.entry(conid).or_insert(0);
            *p += 1;
            *p
        };
        if let Some(f) = &fields {
            session.snapshot_fields.insert(conid, f.clone());
        }
        let greeks_at = session::greeks_poll(cp.world.scenario().market.seed, conid);
        if polls > 1 {
            let wanted = session
                .snapshot_fields
                .get(&conid)
                .cloned()
                .unwrap_or_default();
            let values =
                payloads::snapshot_fields(&cp.world, conid, &wanted, polls >= greeks_at, now);
            if !values.is_empty() {
                entry.insert("_updated".into(), json!(now.as_millisecond()));
                entry.insert("server_id".into(), json!("q0"));
                entry.insert("6119".into(), json!("q0"));
                entry.extend(values);
            }
        }
        out.push(Value::Object(entry));
    }
    Ok(json_response(StatusCode::OK, Value::Array(out)))
}

#[derive(Deserialize)]
struct SecdefInfoQuery {
    conid: Option<String>,
    sectype: Option<String>,
    month: Option<String>,
    strike: Option<f64>,
    right: Option<String>,
}

async fn secdef_info(State(cp): State<Arc<Cp>>, Query(q): Query<SecdefInfoQuery>) -> Answer {
    cp.admit(Tier::Brokerage)?;
    let conid: i32 = q
        .conid
        .as_deref()
        .and_then(|c| c.parse().ok())
        .ok_or(ApiError::BadRequest("Bad Request: conid is required"))?;
    let month = q.month.map(|m| m.to_uppercase());
    let found: Vec<Value> = cp
        .world
        .scenario()
        .instruments
        .values()
        .filter(|i| i.conid == conid || i.underlying_conid == Some(conid))
        .filter(|i| {
            q.sectype
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(i.sec_type.as_str()))
        })
        .filter(|i| {
            // Months are written MMMYY, e.g. JAN27.
            month.as_deref().is_none_or(|m| {
                i.contract_month.is_some_and(|cm| {
                    let mmm_yyyy = cm.mmm_yyyy();
                    m == format!("{}{}", &mmm_yyyy[..3], &mmm_yyyy[5..])
                })
            })
        })
        .filter(|i| q.strike.is_none_or(|k| i.strike == Some(k)))
        .filter(|i| {
            q.right.as_deref().is_none_or(|r| {
                i.right.map(crate::scenario::right_code) == Some(r.to_uppercase().as_str())
                    || i.sec_type == SecType::Future
            })
        })
        .map(payloads::secdef_info)
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(found)))
}

async fn contract_info(State(cp): State<Arc<Cp>>, Path(conid): Path<String>) -> Answer {
    cp.admit(Tier::Brokerage)?;
    let inst = conid.parse().ok().and_then(|c| cp.world.instrument(c));
    let inst = inst.ok_or(ApiError::BadRequest("Bad Request: unknown conid"))?;
    Ok(json_response(StatusCode::OK, payloads::contract_info(inst)))
}

#[derive(Deserialize)]
struct ConidsQuery {
    conids: Option<String>,
}

async fn trsrv_secdef(State(cp): State<Arc<Cp>>, Query(q): Query<ConidsQuery>) -> Answer {
    cp.admit(Tier::Sso)?;
    let conids = split_list(q.conids.as_deref().unwrap_or_default());
    if conids.is_empty() || conids.len() > 200 {
        return Err(ApiError::BadRequest("Bad Request: 1 to 200 conids"));
    }
    let items: Vec<Value> = conids
        .iter()
        .filter_map(|c| c.parse().ok().and_then(|c| cp.world.instrument(c)))
        .map(payloads::secdef)
        .collect();
    Ok(json_response(StatusCode::OK, json!({"secdef": items})))
}

#[derive(Deserialize)]
struct SymbolsQuery {
    symbols: Option<String>,
}

async fn trsrv_futures(State(cp): State<Arc<Cp>>, Query(q): Query<SymbolsQuery>) -> Answer {
    cp.admit(Tier::Sso)?;
    let mut out = serde_json::Map::new();
    for symbol in split_list(q.symbols.as_deref().unwrap_or_default()) {
        let index = cp
            .world
            .scenario()
            .underlyings
            .get(&symbol)
            .and_then(|u| u.index_conid);
        let mut futures: Vec<&crate::scenario::Instrument> = cp
            .world
            .scenario()
            .instruments
            .values()
            .filter(|i| i.sec_type == SecType::Future && i.symbol == symbol)
            .collect();
        futures.sort_by_key(|i| i.last_trade_date);
        out.insert(
            symbol,
            Value::Array(
                futures
                    .into_iter()
                    .map(|f| payloads::future(f, index))
                    .collect(),
            ),
        );
    }
    Ok(json_response(StatusCode::OK, Value::Object(out)))
}

/// A symbol search, as a query (GET) or a JSON body (POST).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    symbol: Option<String>,
    /// The symbol is (part of) a company name.
    #[serde(default, deserialize_with = "lenient_bool")]
    name: Option<bool>,
    /// `STK` (IBKR's default), `IND` or `BOND`.
    sec_type: Option<String>,
}

async fn secdef_search_query(State(cp): State<Arc<Cp>>, Query(q): Query<SearchRequest>) -> Answer {
    secdef_search(&cp, q)
}

async fn secdef_search_body(State(cp): State<Arc<Cp>>, body: axum::body::Bytes) -> Answer {
    let q: SearchRequest = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("Bad Request: a JSON body with symbol"))?;
    secdef_search(&cp, q)
}

/// The stocks and futures roots matching a symbol (or, by name, a part of their long name).
fn secdef_search(cp: &Cp, q: SearchRequest) -> Answer {
    cp.admit(Tier::Brokerage)?;
    let symbol = q
        .symbol
        .filter(|s| !s.trim().is_empty())
        .ok_or(ApiError::BadRequest("Bad Request: symbol required"))?;
    let by_name = q.name.unwrap_or(false);
    if let Some(t) = q.sec_type.as_deref()
        && !matches!(t, "STK" | "IND" | "BOND")
    {
        return Err(ApiError::BadRequest(
            "Bad Request: secType must be STK, IND or BOND",
        ));
    }
    let scenario = cp.world.scenario();
    let wanted = symbol.trim().to_uppercase();
    let matches = |i: &crate::scenario::Instrument| {
        if by_name {
            i.long_name.to_uppercase().contains(&wanted)
        } else {
            i.symbol.eq_ignore_ascii_case(&wanted)
        }
    };
    let mut rows = Vec::new();
    // The derivatives a symbol search relays open to market data (a search by name relays none).
    let mut relayed: Vec<i32> = Vec::new();
    // Stocks: their own conid; every future and option on them.
    for stock in scenario
        .instruments
        .values()
        .filter(|i| i.sec_type == SecType::Stock && matches(i))
    {
        let derivatives: Vec<&crate::scenario::Instrument> = scenario
            .instruments
            .values()
            .filter(|i| i.underlying_conid == Some(stock.conid))
            .collect();
        relayed.extend(derivatives.iter().map(|i| i.conid));
        rows.push(payloads::search_row(
            stock.conid,
            stock,
            &derivatives,
            by_name,
        ));
    }
    // Futures roots: the index they are listed under, with their futures and the options
    // on those.
    for u in scenario.underlyings.values() {
        let Some(index) = u.index_conid else { continue };
        let futures: Vec<&crate::scenario::Instrument> = scenario
            .instruments
            .values()
            .filter(|i| i.sec_type == SecType::Future && i.symbol == u.symbol && matches(i))
            .collect();
        let Some(front) = futures.iter().min_by_key(|i| i.last_trade_date) else {
            continue;
        };
        let mut derivatives = futures.clone();
        derivatives.extend(scenario.instruments.values().filter(|i| {
            i.sec_type.is_option()
                && i.underlying_conid
                    .is_some_and(|c| futures.iter().any(|f| f.conid == c))
        }));
        relayed.extend(derivatives.iter().map(|i| i.conid));
        rows.push(payloads::search_row(index, front, &derivatives, by_name));
    }
    if !by_name {
        lock(&cp.session)
            .searched
            .extend(relayed.into_iter().map(i64::from));
    }
    Ok(json_response(StatusCode::OK, Value::Array(rows)))
}

async fn login_page(State(cp): State<Arc<Cp>>) -> Html<String> {
    let logged_in = lock(&cp.session).logged_in();
    let state = if logged_in {
        "A session is active."
    } else {
        "Not logged in."
    };
    Html(format!(
        "<!doctype html><html><head><title>ibkr-sim - Client Portal login</title></head><body>\
         <h1>ibkr-sim Client Portal Gateway</h1><p>{state}</p>\
         <p>This simulated gateway stands in for the IBKR login (user, password, 2FA).</p>\
         <form method=\"post\" action=\"/sso/Login\"><button type=\"submit\">Log in</button></form>\
         </body></html>"
    ))
}

async fn login_submit(State(cp): State<Arc<Cp>>) -> Html<&'static str> {
    lock(&cp.session).login(Instant::now());
    lock(&cp.positions_cache).clear();
    info!("Client Portal: logged in from the login page");
    Html("<!doctype html><html><body><p>Client login succeeds</p></body></html>")
}
