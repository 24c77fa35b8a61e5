//! Episodes: a trouble that begins, may come and go many times, and ends — a spool on a full
//! disk, say — reported so that a human reads one line when it begins, one when it ends, and, if
//! it flaps, a summary at most every `period` instead of a line per change.
//!
//! The rule: a change of state (failing, or fine again) is reported at once unless a report was
//! made less than `period` ago; the changes held back are summarized once `period` is up (at the
//! next observation, or when [`Episode::due`] is asked). A trouble that simply ends — one span
//! of failing since its last notice — is told at once, so a single outage reads as two lines,
//! its beginning and its end.
//!
//! Pure: it never reads a clock — callers pass `now` — and never logs; callers word the notices.

use std::time::Duration;

use jiff::Timestamp;

/// What to tell the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The trouble began.
    Began { error: String },
    /// It changed state more often than it may be reported: how often it failed and recovered
    /// since the last notice, and that it is failing now.
    Flapping {
        failures: u32,
        recoveries: u32,
        error: String,
    },
    /// It is over: when it began, and how often it failed and recovered since the last notice.
    Ended {
        since: Timestamp,
        failures: u32,
        recoveries: u32,
    },
}

#[derive(Debug, Clone)]
struct Trouble {
    since: Timestamp,
    failing: bool,
    /// Changes since the last notice.
    failures: u32,
    recoveries: u32,
    error: String,
}

/// One kind of trouble, and when it was last reported.
#[derive(Debug, Clone)]
pub struct Episode {
    period: Duration,
    trouble: Option<Trouble>,
    last_notice: Option<Timestamp>,
}

impl Episode {
    pub fn new(period: Duration) -> Episode {
        Episode {
            period,
            trouble: None,
            last_notice: None,
        }
    }

    /// Whether the trouble is on now.
    pub fn is_failing(&self) -> bool {
        self.trouble.as_ref().is_some_and(|t| t.failing)
    }

    fn may_report(&self, now: Timestamp) -> bool {
        self.last_notice.is_none_or(|t| {
            now.duration_since(t)
                .try_into()
                .is_ok_and(|d: Duration| d >= self.period)
        })
    }

    fn noticed(&mut self, now: Timestamp, notice: Notice) -> Option<Notice> {
        self.last_notice = Some(now);
        Some(notice)
    }

    /// The attempt at `now` failed with `error`.
    pub fn failed(&mut self, now: Timestamp, error: &str) -> Option<Notice> {
        match self.trouble.as_mut() {
            None => {
                self.trouble = Some(Trouble {
                    since: now,
                    failing: true,
                    failures: 1,
                    recoveries: 0,
                    error: error.to_owned(),
                });
                if !self.may_report(now) {
                    return None;
                }
                if let Some(t) = self.trouble.as_mut() {
                    t.failures = 0;
                }
                self.noticed(
                    now,
                    Notice::Began {
                        error: error.to_owned(),
                    },
                )
            }
            Some(t) => {
                if !t.failing {
                    t.failing = true;
                    t.failures += 1;
                }
                error.clone_into(&mut t.error);
                self.due(now)
            }
        }
    }

    /// The attempt at `now` worked.
    pub fn succeeded(&mut self, now: Timestamp) -> Option<Notice> {
        let t = self.trouble.as_mut()?;
        if t.failing {
            t.failing = false;
            t.recoveries += 1;
            if t.failures == 0 && t.recoveries == 1 {
                let notice = Notice::Ended {
                    since: t.since,
                    failures: 0,
                    recoveries: 1,
                };
                self.trouble = None;
                return self.noticed(now, notice);
            }
        }
        self.due(now)
    }

    /// A notice for the changes held back, once `period` is up since the last one.
    pub fn due(&mut self, now: Timestamp) -> Option<Notice> {
        let t = self.trouble.as_ref()?;
        if t.failures + t.recoveries == 0 || !self.may_report(now) {
            return None;
        }
        let notice = if t.failing {
            let notice = Notice::Flapping {
                failures: t.failures,
                recoveries: t.recoveries,
                error: t.error.clone(),
            };
            if let Some(t) = self.trouble.as_mut() {
                t.failures = 0;
                t.recoveries = 0;
            }
            notice
        } else {
            let notice = Notice::Ended {
                since: t.since,
                failures: t.failures,
                recoveries: t.recoveries,
            };
            self.trouble = None;
            notice
        };
        self.noticed(now, notice)
    }
}

#[cfg(test)]
#[path = "episode_tests.rs"]
mod tests;
