//! Alerts: the bridge calls a human when one is needed, and says what to do — a login the
//! Client Portal or the gateway waits for, a feed that stays down outside IBKR's reset, a
//! database gone, records dropped, a sync failing, positions left out of the greeks, a future
//! near its last trade date. Each alert is told once, reminded, and told again when it clears.
//!
//! - [`notice`]: what an alert says, the generic JSON every target receives.
//! - [`rules`]: from the bridge's state in memory to the conditions that need a human (pure).
//! - [`policy`]: deduplication, reminders, resolved notices and rate limits (pure).
//! - [`target`]: where alerts go (webhooks in their native shapes, a command), redacted.
//! - [`deliver`]: sending with retries, never blocking the caller, and its counters.
//!
//! The loop here reads only memory — never PostgreSQL, so a database outage is alertable —
//! and hands notices to the outbox, so delivery never holds up the feed, the writer or the jobs.

pub mod deliver;
pub mod notice;
pub mod policy;
pub mod rules;
pub mod target;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::Shutdown;
use crate::clock::Clock;
use crate::config::ApiMode;
use crate::domain::expiry;
use crate::domain::ids::{AccountCode, ConId};
use crate::domain::portfolio::SharedPortfolio;
use crate::domain::reset_window::ResetWindow;
use crate::greeks::ticker::TickStatus;
use crate::greeks::writer::WriterStatus;
use crate::ibkr::portal::PortalSession;
use crate::jobs::worker::Streaks;
use crate::store::SchemaState;
use deliver::{DeliveryStatus, Outbox};
use notice::{Notice, Severity};
use policy::{AlertView, Policy};
use rules::{Observation, Rules, Thresholds};

/// The alerts as the status page and `status --json` show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertsView {
    /// When the rules last looked; `None` before the first look.
    pub checked_at: Option<Timestamp>,
    /// What holds now, most severe first.
    pub active: Vec<AlertView>,
    /// What cleared lately, newest first.
    pub recent: Vec<AlertView>,
    /// Notices the rate limits hold back for now (told once they allow).
    pub held_back: usize,
    pub delivery: DeliveryStatus,
}

/// What the loop reads: the running parts' state, all in memory.
#[derive(Clone)]
pub struct Inputs {
    pub portfolio: SharedPortfolio,
    pub portal: Option<watch::Receiver<PortalSession>>,
    pub ticks: watch::Receiver<TickStatus>,
    pub writer: watch::Receiver<WriterStatus>,
    pub schema: watch::Receiver<SchemaState>,
    pub jobs: watch::Receiver<Streaks>,
}

#[derive(Clone)]
pub struct AlertSettings {
    pub mode: ApiMode,
    pub reset: ResetWindow,
    pub gateway_addr: String,
    pub portal_login_url: String,
    pub thresholds: Thresholds,
    pub repeat: Duration,
    pub host: String,
    /// How often the rules look.
    pub every: Duration,
    pub clock: Arc<dyn Clock>,
}

/// Looks every `settings.every` until `shutdown`, hands the notices due to `outbox` and
/// publishes the alerts to `view`.
pub async fn run(
    inputs: Inputs,
    settings: AlertSettings,
    outbox: Outbox,
    view: watch::Sender<AlertsView>,
    mut shutdown: Shutdown,
) {
    let mut rules = Rules::new(settings.thresholds.clone());
    let mut policy = Policy::new(settings.repeat, settings.host.clone());
    let delivery = outbox.status();
    loop {
        let now = settings.clock.now();
        let observation = observe(&inputs, &settings, now);
        let conditions = rules.evaluate(&observation, now);
        for notice in policy.step(conditions, now) {
            tell(&notice);
            outbox.push(notice);
        }
        view.send_replace(AlertsView {
            checked_at: Some(now),
            active: policy.active(),
            recent: policy.recent(),
            held_back: policy.held_back(),
            delivery: delivery.borrow().clone(),
        });
        tokio::select! {
            _ = settings.clock.sleep(settings.every) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// Every notice is in the log too, whether or not a target is configured.
fn tell(n: &Notice) {
    let line = format!(
        "alert {} {}: {} — {}",
        n.kind,
        n.status.as_str(),
        n.title,
        n.action
    );
    match (n.status, n.severity) {
        (notice::Phase::Resolved, _) | (_, Severity::Info) => info!("{line}"),
        _ => warn!("{line}"),
    }
}

/// Gathers what the rules look at.
fn observe(inputs: &Inputs, settings: &AlertSettings, now: Timestamp) -> Observation {
    let today = expiry::exchange_date(now);
    let within = settings.thresholds.expiry_business_days;
    let (feed, accounts, expiring) = inputs.portfolio.read(|p| {
        let mut held: BTreeMap<(AccountCode, ConId), f64> = BTreeMap::new();
        for leg in p.legs() {
            *held.entry((leg.account.clone(), leg.conid)).or_default() += leg.quantity;
        }
        let mut expiring = Vec::new();
        for account in p.accounts() {
            let own = held
                .iter()
                .filter(|((a, _), _)| a == account)
                .filter_map(|((_, conid), qty)| Some((p.contract(*conid)?, *qty)));
            expiring.extend(
                expiry::expiring(own, today, within, &[])
                    .into_iter()
                    .map(|e| (account.masked(), e)),
            );
        }
        (p.health(), p.accounts().iter().cloned().collect(), expiring)
    });
    Observation {
        mode: settings.mode,
        reset: settings.reset.clone(),
        feed,
        gateway_addr: settings.gateway_addr.clone(),
        portal: inputs.portal.as_ref().map(|p| p.borrow().clone()),
        portal_login_url: settings.portal_login_url.clone(),
        writer: inputs.writer.borrow().clone(),
        schema: inputs.schema.borrow().clone(),
        jobs: inputs.jobs.borrow().clone(),
        left_out: inputs.ticks.borrow().left_out.clone(),
        expiring,
        accounts,
    }
}
