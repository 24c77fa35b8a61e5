//! The policy: from the conditions that hold at each evaluation to the notices a human gets —
//! one when a condition starts, a reminder at most every `ALERT_REPEAT_MINUTES` (daily for an
//! expiring contract), one when it clears with how long it lasted. Never a storm: a condition
//! that flaps is told at most [`PER_KEY`] times per [`WINDOW`] (then its state is told with the
//! flap count once the window allows), and all conditions together at most [`OVERALL`] times
//! per window, critical ones first; what is held back is told later, never lost.
//!
//! Pure: `now` is passed in, and it never sends anything itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::notice::{AlertKind, Notice, Phase, Severity};
use super::rules::{Condition, human};

/// The window the rate limits count in.
pub const WINDOW: Duration = Duration::from_secs(600);
/// Notices about one condition per window.
pub const PER_KEY: usize = 4;
/// Notices about all conditions together per window.
pub const OVERALL: usize = 20;
/// How often an expiring contract is told while it is held.
pub const DAILY: Duration = Duration::from_secs(86_400);
/// Alerts kept for the status page after they cleared.
pub const RECENT: usize = 20;

/// An alert as the status page and `status --json` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertView {
    pub kind: AlertKind,
    pub key: String,
    pub severity: Severity,
    pub title: String,
    pub text: String,
    pub action: String,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// Whether a notice about it was handed to the targets (a held-back one is told later).
    pub told: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    Nothing,
    Active,
    Resolved,
}

#[derive(Debug, Clone)]
struct Tracked {
    latest: Condition,
    started_at: Timestamp,
    active: bool,
    resolved_at: Option<Timestamp>,
    told: Told,
    told_at: Option<Timestamp>,
    /// When notices about it were handed over, within the last window.
    sends: VecDeque<Timestamp>,
    /// Times it cleared and came back since the human last heard of it.
    flaps: u32,
}

/// A notice due for a condition, with the order to tell it in: most severe, then oldest.
type Want = (
    (AlertKind, String),
    Phase,
    (std::cmp::Reverse<Severity>, Timestamp),
);

#[derive(Debug, Clone)]
pub struct Policy {
    repeat: Duration,
    host: String,
    tracked: BTreeMap<(AlertKind, String), Tracked>,
    recent: VecDeque<AlertView>,
    sent: VecDeque<Timestamp>,
    held_back: usize,
}

impl Policy {
    /// `repeat` is `ALERT_REPEAT_MINUTES`; `host` names this machine in every notice.
    pub fn new(repeat: Duration, host: impl Into<String>) -> Policy {
        Policy {
            repeat,
            host: host.into(),
            tracked: BTreeMap::new(),
            recent: VecDeque::new(),
            sent: VecDeque::new(),
            held_back: 0,
        }
    }

    /// Takes the conditions that hold at `now` and returns the notices to send now.
    pub fn step(&mut self, conditions: Vec<Condition>, now: Timestamp) -> Vec<Notice> {
        let mut seen = BTreeSet::new();
        for c in conditions {
            let key = (c.kind, c.key.clone());
            seen.insert(key.clone());
            match self.tracked.get_mut(&key) {
                Some(t) if t.active => t.latest = c,
                // Cleared and told so: a new episode (a flap all the same, counted until a
                // notice tells it).
                Some(t) if t.told == Told::Resolved => {
                    t.started_at = c.since;
                    t.latest = c;
                    t.active = true;
                    t.resolved_at = None;
                    t.flaps += 1;
                }
                // Cleared but not told yet: the same episode goes on.
                Some(t) => {
                    t.latest = c;
                    t.active = true;
                    t.resolved_at = None;
                    t.flaps += 1;
                }
                None => {
                    self.tracked.insert(
                        key,
                        Tracked {
                            started_at: c.since,
                            latest: c,
                            active: true,
                            resolved_at: None,
                            told: Told::Nothing,
                            told_at: None,
                            sends: VecDeque::new(),
                            flaps: 0,
                        },
                    );
                }
            }
        }
        for (key, t) in &mut self.tracked {
            if t.active && !seen.contains(key) {
                t.active = false;
                t.resolved_at = Some(now);
            }
            while t
                .sends
                .front()
                .is_some_and(|at| elapsed(*at, now) >= WINDOW)
            {
                t.sends.pop_front();
            }
        }
        while self
            .sent
            .front()
            .is_some_and(|at| elapsed(*at, now) >= WINDOW)
        {
            self.sent.pop_front();
        }

        // What each condition's human should hear now, most severe first.
        let mut wants: Vec<Want> = Vec::new();
        let mut forget = Vec::new();
        for (key, t) in &self.tracked {
            let repeat = match key.0 {
                AlertKind::FrontMonthExpiring => DAILY,
                _ => self.repeat,
            };
            let want = match (t.active, t.told) {
                (true, Told::Active) => t
                    .told_at
                    .is_some_and(|at| elapsed(at, now) >= repeat)
                    .then_some(Phase::Reminder),
                (true, _) => Some(Phase::Firing),
                (false, Told::Active) => Some(Phase::Resolved),
                // Never told (it came and went while held back), or told resolved and its
                // sends have left the window: nothing more to say.
                (false, Told::Nothing) => {
                    forget.push(key.clone());
                    None
                }
                // Returns it made unseen are kept for the next notice while they are recent.
                (false, Told::Resolved) => {
                    let flaps_recent = t.flaps > 0
                        && t.resolved_at
                            .is_some_and(|at| elapsed(at, now) < self.repeat);
                    if t.sends.is_empty() && !flaps_recent {
                        forget.push(key.clone());
                    }
                    None
                }
            };
            if let Some(phase) = want {
                let order = (std::cmp::Reverse(t.latest.severity), t.started_at);
                wants.push((key.clone(), phase, order));
            }
        }
        for key in forget {
            if let Some(t) = self.tracked.remove(&key)
                && t.told == Told::Nothing
            {
                self.remember(view(&t, false));
            }
        }
        wants.sort_by_key(|(_, _, order)| *order);

        let mut out = Vec::new();
        self.held_back = 0;
        for (key, phase, _) in wants {
            // Wants come from tracked keys, and forgetting only touches keys with none.
            let Some(t) = self.tracked.get_mut(&key) else {
                continue;
            };
            // A reminder is due at most once per repeat interval: it never floods.
            let key_ok = phase == Phase::Reminder || t.sends.len() < PER_KEY;
            if !key_ok || self.sent.len() >= OVERALL {
                self.held_back += 1;
                continue;
            }
            out.push(notice(t, phase, now, &self.host));
            t.told = match phase {
                Phase::Resolved => Told::Resolved,
                _ => Told::Active,
            };
            t.told_at = Some(now);
            t.flaps = 0;
            t.sends.push_back(now);
            self.sent.push_back(now);
            if phase == Phase::Resolved {
                let v = view(t, true);
                self.remember(v);
            }
        }
        out
    }

    fn remember(&mut self, v: AlertView) {
        self.recent.push_front(v);
        self.recent.truncate(RECENT);
    }

    /// The alerts that hold now, most severe first.
    pub fn active(&self) -> Vec<AlertView> {
        let mut out: Vec<AlertView> = self
            .tracked
            .values()
            .filter(|t| t.active)
            .map(|t| view(t, t.told == Told::Active))
            .collect();
        out.sort_by_key(|v| (std::cmp::Reverse(v.severity), v.started_at));
        out
    }

    /// The alerts that cleared, newest first.
    pub fn recent(&self) -> Vec<AlertView> {
        self.recent.iter().cloned().collect()
    }

    /// Notices the rate limits held back at the last step (told once they allow).
    pub fn held_back(&self) -> usize {
        self.held_back
    }
}

fn elapsed(from: Timestamp, to: Timestamp) -> Duration {
    to.duration_since(from).unsigned_abs()
}

fn view(t: &Tracked, told: bool) -> AlertView {
    AlertView {
        kind: t.latest.kind,
        key: t.latest.key.clone(),
        severity: t.latest.severity,
        title: t.latest.title.clone(),
        text: t.latest.text.clone(),
        action: t.latest.action.clone(),
        started_at: t.started_at,
        resolved_at: t.resolved_at,
        told,
    }
}

fn notice(t: &Tracked, phase: Phase, now: Timestamp, host: &str) -> Notice {
    let c = &t.latest;
    // A firing notice tells the latest return itself: only the returns before it are flaps.
    let unseen = match phase {
        Phase::Firing => t.flaps.saturating_sub(1),
        _ => t.flaps,
    };
    let flapped = match unseen {
        0 => String::new(),
        1 => " It cleared and came back once more since it was last told.".to_owned(),
        n => format!(" It cleared and came back {n} times since it was last told."),
    };
    let (title, text, lasted) = match phase {
        Phase::Resolved => {
            let lasted = elapsed(t.started_at, now);
            (
                format!("Resolved: {}", c.title),
                format!(
                    "Cleared at {now} after {} (since {}).{flapped}",
                    human(lasted),
                    t.started_at
                ),
                Some(lasted.as_secs()),
            )
        }
        Phase::Reminder => (
            format!("Still: {}", c.title),
            format!("{}{flapped}", c.text),
            None,
        ),
        Phase::Firing | Phase::Test => (c.title.clone(), format!("{}{flapped}", c.text), None),
    };
    Notice {
        kind: c.kind,
        key: c.key.clone(),
        // Resolved keeps the severity, so that receivers route it where the alert went.
        severity: c.severity,
        status: phase,
        title,
        text,
        action: match phase {
            Phase::Resolved => "Nothing to do.".into(),
            _ => c.action.clone(),
        },
        started_at: t.started_at,
        resolved_at: (phase == Phase::Resolved).then_some(now),
        lasted_seconds: lasted,
        host: host.to_owned(),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
