//! Control: faults and scenario changes on demand — log the Client Portal session out or
//! expire it, inject HTTP faults, restart or stall the TWS gateway, open and close positions
//! and combos, move prices — as a Rust handle for in-process tests and as a small JSON API on
//! loopback for everyone else. Both call the same methods.
//!
//! It changes the world and the gateways' modes; it never speaks either IBKR protocol.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracing::info;

use crate::Shutdown;
use crate::cp::{CpGateway, CpStatus, Fault, RequestRecord};
use crate::scenario::ComboSpec;
use crate::tws::{Restore, TwsGateway, TwsStatus};
use crate::world::{World, WorldError};

/// The whole simulator's state, for `GET /status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub cp: CpStatus,
    pub tws: TwsStatus,
    pub frozen: bool,
    pub prices: std::collections::BTreeMap<String, f64>,
}

/// Drives a running simulator.
#[derive(Clone)]
pub struct Control {
    world: Arc<World>,
    cp: CpGateway,
    tws: TwsGateway,
}

impl Control {
    pub(crate) fn new(world: Arc<World>, cp: CpGateway, tws: TwsGateway) -> Control {
        Control { world, cp, tws }
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    pub fn cp(&self) -> &CpGateway {
        &self.cp
    }

    pub fn tws(&self) -> &TwsGateway {
        &self.tws
    }

    pub fn status(&self) -> Status {
        Status {
            cp: self.cp.status(),
            tws: self.tws.status(),
            frozen: self.world.is_frozen(),
            prices: self.world.spots(),
        }
    }

    /// Sends 1100 now and, after `after`, 1101 or 1102.
    pub fn connectivity_blip(&self, after: Duration, restore: Restore) {
        self.tws.lose_connectivity();
        let tws = self.tws.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            tws.restore_connectivity(restore);
        });
    }

    /// Stalls the TWS gateway for `window`.
    pub fn stall_for(&self, window: Duration) {
        self.tws.stall();
        let tws = self.tws.clone();
        tokio::spawn(async move {
            tokio::time::sleep(window).await;
            tws.resume();
        });
    }

    /// What a daily restart does: the TWS gateway restarts for `window` and the Client
    /// Portal brokerage session drops (a `ssodh/init` brings it back).
    pub fn daily_restart(&self, window: Duration) {
        info!(?window, "daily restart");
        self.tws.restart(window);
        self.cp.idle_out();
    }
}

/// Serves the control API on `addr` (which must be loopback) until `shutdown`.
pub async fn serve(
    control: Control,
    addr: SocketAddr,
    mut shutdown: Shutdown,
) -> std::io::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the control API binds loopback only, not {addr}"),
        ));
    }
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router(control);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
    });
    info!(%addr, "control API listening");
    Ok(addr)
}

fn router(control: Control) -> Router {
    Router::new()
        .route("/status", get(|State(c): State<Control>| async move { Json(c.status()) }))
        .route("/scenario", get(|State(c): State<Control>| async move { Json(c.world.scenario().clone()) }))
        .route("/cp/login", post(|State(c): State<Control>| async move { c.cp.login(); ok() }))
        .route("/cp/logout", post(|State(c): State<Control>| async move { c.cp.logout(); ok() }))
        .route("/cp/expire", post(|State(c): State<Control>| async move { c.cp.expire(); ok() }))
        .route("/cp/idle", post(|State(c): State<Control>| async move { c.cp.idle_out(); ok() }))
        .route("/cp/compete", post(|State(c): State<Control>| async move { c.cp.compete(); ok() }))
        .route("/cp/idle-timeout", post(idle_timeout))
        .route("/cp/faults", post(add_fault).delete(|State(c): State<Control>| async move {
            c.cp.clear_faults();
            ok()
        }))
        .route("/cp/requests", get(|State(c): State<Control>| async move {
            Json::<Vec<RequestRecord>>(c.cp.requests())
        }))
        .route("/tws/restart", post(tws_restart))
        .route("/tws/drop", post(|State(c): State<Control>| async move { c.tws.drop_connections(); ok() }))
        .route("/tws/accept-close", post(tws_accept_close))
        .route("/tws/stall", post(tws_stall))
        .route("/tws/resume", post(|State(c): State<Control>| async move { c.tws.resume(); ok() }))
        .route("/tws/connectivity", post(tws_connectivity))
        .route("/tws/firehose", post(tws_firehose))
        .route("/daily-restart", post(daily_restart))
        .route("/positions", post(set_position))
        .route("/combos", post(open_combo))
        .route("/combos/{account}/{name}", delete(close_combo))
        .route("/prices", post(set_price))
        .route("/market/freeze", post(freeze))
        .route("/market/step", post(step))
        .with_state(control)
}

fn ok() -> Json<Value> {
    Json(json!({"ok": true}))
}

/// A change the simulator cannot make: 422 with the reason.
struct Refused(String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": self.0})),
        )
            .into_response()
    }
}

impl From<WorldError> for Refused {
    fn from(e: WorldError) -> Refused {
        Refused(e.to_string())
    }
}

#[derive(Deserialize)]
struct Seconds {
    seconds: f64,
}

fn seconds(s: &Seconds) -> Result<Duration, Refused> {
    Duration::try_from_secs_f64(s.seconds).map_err(|_| Refused("seconds must be >= 0".into()))
}

async fn idle_timeout(
    State(c): State<Control>,
    Json(s): Json<Seconds>,
) -> Result<Json<Value>, Refused> {
    c.cp.set_idle_timeout(seconds(&s)?);
    Ok(ok())
}

async fn add_fault(State(c): State<Control>, Json(fault): Json<Fault>) -> Json<Value> {
    c.cp.add_fault(fault);
    ok()
}

async fn tws_restart(
    State(c): State<Control>,
    Json(s): Json<Seconds>,
) -> Result<Json<Value>, Refused> {
    c.tws.restart(seconds(&s)?);
    Ok(ok())
}

async fn tws_accept_close(
    State(c): State<Control>,
    Json(s): Json<Seconds>,
) -> Result<Json<Value>, Refused> {
    c.tws.accept_then_close(seconds(&s)?);
    Ok(ok())
}

async fn tws_stall(
    State(c): State<Control>,
    Json(s): Json<Seconds>,
) -> Result<Json<Value>, Refused> {
    c.stall_for(seconds(&s)?);
    Ok(ok())
}

#[derive(Deserialize)]
struct Connectivity {
    seconds: f64,
    restore: Restore,
}

async fn tws_connectivity(
    State(c): State<Control>,
    Json(b): Json<Connectivity>,
) -> Result<Json<Value>, Refused> {
    c.connectivity_blip(seconds(&Seconds { seconds: b.seconds })?, b.restore);
    Ok(ok())
}

#[derive(Deserialize)]
struct Firehose {
    ticks_per_second: u32,
}

async fn tws_firehose(State(c): State<Control>, Json(f): Json<Firehose>) -> Json<Value> {
    c.tws.set_firehose(f.ticks_per_second);
    ok()
}

async fn daily_restart(
    State(c): State<Control>,
    Json(s): Json<Seconds>,
) -> Result<Json<Value>, Refused> {
    c.daily_restart(seconds(&s)?);
    Ok(ok())
}

#[derive(Deserialize)]
struct SetPosition {
    account: String,
    conid: i32,
    quantity: f64,
    #[serde(default)]
    avg_price: f64,
}

async fn set_position(
    State(c): State<Control>,
    Json(p): Json<SetPosition>,
) -> Result<Json<Value>, Refused> {
    c.world
        .set_position(&p.account, p.conid, p.quantity, p.avg_price)?;
    Ok(ok())
}

async fn open_combo(
    State(c): State<Control>,
    Json(spec): Json<ComboSpec>,
) -> Result<Json<Value>, Refused> {
    let name = c.world.open_combo(spec)?;
    Ok(Json(json!({"ok": true, "name": name})))
}

async fn close_combo(
    State(c): State<Control>,
    Path((account, name)): Path<(String, String)>,
) -> Result<Json<Value>, Refused> {
    c.world.close_combo(&account, &name)?;
    Ok(ok())
}

#[derive(Deserialize)]
struct SetPrice {
    symbol: String,
    price: f64,
}

async fn set_price(
    State(c): State<Control>,
    Json(p): Json<SetPrice>,
) -> Result<Json<Value>, Refused> {
    c.world.set_price(&p.symbol, p.price)?;
    Ok(ok())
}

#[derive(Deserialize)]
struct Freeze {
    frozen: bool,
}

async fn freeze(State(c): State<Control>, Json(f): Json<Freeze>) -> Json<Value> {
    c.world.freeze(f.frozen);
    ok()
}

#[derive(Deserialize)]
struct Step {
    #[serde(default = "one")]
    steps: u32,
}

fn one() -> u32 {
    1
}

async fn step(State(c): State<Control>, Json(s): Json<Step>) -> Json<Value> {
    c.world.advance(s.steps);
    ok()
}
