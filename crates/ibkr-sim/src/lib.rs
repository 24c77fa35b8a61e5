//! ibkr-sim: an IBKR gateway simulator that speaks Client Portal REST and the TWS socket
//! protocol from one scenario, so that the demo and every test of the bridge run without an
//! IBKR account.
//!
//! - [`scenario`]: the scenario file and its resolution into concrete contracts.
//! - [`calendar`], [`pricing`], [`margin`]: futures months, option models and the margin
//!   model (pure).
//! - [`world`]: the live book and market both protocols serve.
//! - [`tws`]: the TWS API socket server and its faults.
//! - [`cp`]: the Client Portal REST server, its session model, pacing and faults.
//! - [`control`]: faults and scenario changes on demand, in process and over a loopback API.
//! - [`schedule`]: the daily restart time (pure).
//!
//! [`Simulator::start`] runs it all; [`SimConfig::for_tests`] puts it on ephemeral ports.

// serde_json's json! macro needs more room for IBKR's wide position rows.
#![recursion_limit = "256"]

pub mod calendar;
pub mod control;
pub mod cp;
pub mod margin;
pub mod pricing;
pub mod scenario;
pub mod schedule;
pub mod tws;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// A signal that the simulator is stopping; every server task holds one.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal and the sender that fires it.
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// Resolves once shutdown is requested (or its sender is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Everything a simulator needs to start.
#[derive(Clone)]
pub struct SimConfig {
    pub scenario: scenario::Scenario,
    pub cp_addr: SocketAddr,
    pub tws_addr: SocketAddr,
    /// The control API's address (loopback only); `None` serves no control API (the
    /// in-process [`Control`] handle works either way).
    pub control_addr: Option<SocketAddr>,
    pub cp: cp::CpOptions,
    /// Option-computation ticks per second per TWS connection; 0 for none.
    pub firehose_tps: u32,
    /// Move prices by themselves every `step_ms`; tests that want fixed prices turn it off.
    pub walk: bool,
    /// A daily restart at this New York time, with the TWS gateway down for the window.
    pub daily_restart: Option<(jiff::civil::Time, Duration)>,
}

impl SimConfig {
    /// The bundled scenario for today on IBKR's default ports, HTTPS, prices moving.
    pub fn new(scenario: scenario::Scenario) -> SimConfig {
        SimConfig {
            scenario,
            cp_addr: SocketAddr::from(([127, 0, 0, 1], 5000)),
            tws_addr: SocketAddr::from(([127, 0, 0, 1], 4001)),
            control_addr: Some(SocketAddr::from(([127, 0, 0, 1], 5099))),
            cp: cp::CpOptions::default(),
            firehose_tps: 0,
            walk: true,
            daily_restart: None,
        }
    }

    /// For tests: ephemeral loopback ports, plain HTTP, no control server, prices still until
    /// a test moves them.
    pub fn for_tests(scenario: scenario::Scenario) -> SimConfig {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        SimConfig {
            cp_addr: any,
            tws_addr: any,
            control_addr: None,
            cp: cp::CpOptions {
                tls: false,
                ..cp::CpOptions::default()
            },
            walk: false,
            ..SimConfig::new(scenario)
        }
    }
}

/// A running simulator; dropping it stops every server.
pub struct Simulator {
    control: control::Control,
    control_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
}

impl Simulator {
    /// Starts the Client Portal and TWS servers (and the control API, the price walk and the
    /// daily restart when configured).
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let (stop, shutdown) = Shutdown::new();
        let world = world::World::new(config.scenario);
        let cp = cp::CpGateway::start(world.clone(), config.cp_addr, config.cp, shutdown.clone())
            .await?;
        let tws = tws::TwsGateway::start(
            world.clone(),
            config.tws_addr,
            config.firehose_tps,
            shutdown.clone(),
        )
        .await?;
        let control = control::Control::new(world.clone(), cp, tws);
        let control_addr = match config.control_addr {
            Some(addr) => Some(control::serve(control.clone(), addr, shutdown.clone()).await?),
            None => None,
        };
        world.freeze(!config.walk);
        tokio::spawn(walk(world.clone(), shutdown.clone()));
        if let Some((at, window)) = config.daily_restart {
            tokio::spawn(daily_restarts(control.clone(), at, window, shutdown));
        }
        Ok(Simulator {
            control,
            control_addr,
            stop,
        })
    }

    pub fn control(&self) -> &control::Control {
        &self.control
    }

    /// The Client Portal API base URL, e.g. `https://127.0.0.1:5000/v1/api`.
    pub fn cp_url(&self) -> String {
        self.control.cp().base_url()
    }

    pub fn tws_addr(&self) -> SocketAddr {
        self.control.tws().addr()
    }

    pub fn control_url(&self) -> Option<String> {
        self.control_addr.map(|a| format!("http://{a}"))
    }

    /// Stops every server.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Moves the prices every `step_ms` (a frozen world ignores it).
async fn walk(world: Arc<world::World>, mut shutdown: Shutdown) {
    let period = Duration::from_millis(world.scenario().market.step_ms);
    let mut timer = tokio::time::interval(period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    timer.tick().await;
    loop {
        tokio::select! {
            _ = timer.tick() => world.step(),
            _ = shutdown.wait() => return,
        }
    }
}

async fn daily_restarts(
    control: control::Control,
    at: jiff::civil::Time,
    window: Duration,
    mut shutdown: Shutdown,
) {
    loop {
        let now = jiff::Timestamp::now();
        let next = schedule::next_daily(now, at);
        let wait = Duration::from_secs_f64(
            (next.as_millisecond() - now.as_millisecond()).max(0) as f64 / 1000.0,
        );
        tracing::info!(%next, "next daily restart");
        tokio::select! {
            _ = tokio::time::sleep(wait) => control.daily_restart(window),
            _ = shutdown.wait() => return,
        }
    }
}
