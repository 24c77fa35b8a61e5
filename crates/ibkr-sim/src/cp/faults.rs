//! Injected Client Portal faults: which requests they hit, how many times, and what they
//! do. Pure bookkeeping; the gate in [`super`] carries them out.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long IBKR's gateway takes to answer 503: it gives up on a request after 10 s
/// ("request takes more than 10s … aborted"), so a client sees a 503 only that late, or its
/// own timeout first.
pub const GATEWAY_503_AFTER: Duration = Duration::from_secs(10);

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FaultKind {
    /// Answer with this status (429 carries `Retry-After: 1`; 503 an empty body, as IBKR's),
    /// after `millis` (default: [`GATEWAY_503_AFTER`] for 503, at once for the rest).
    Status {
        status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        millis: Option<u64>,
    },
    /// Answer normally, after this many milliseconds.
    Delay { millis: u64 },
    /// Answer 200 with a body cut in half: not JSON.
    Malformed,
    /// Answer 200 with valid JSON of the wrong shape.
    WrongShape,
    /// Answer normally, with `field` taken out of every object of the body, at any depth: a
    /// payload that lacks something IBKR normally sends.
    DropField { field: String },
}

/// A fault on the requests whose path (below `/v1/api`) starts with `path`, or on every
/// request when `path` is empty, for the next `count` of them (or until cleared).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Fault {
    #[serde(default)]
    pub path: String,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default)]
    pub count: Option<u32>,
}

impl FaultKind {
    /// How long the answer waits: a status fault's delay, or a delay fault's.
    pub fn delay(&self) -> Duration {
        match self {
            FaultKind::Status {
                millis: Some(ms), ..
            }
            | FaultKind::Delay { millis: ms } => Duration::from_millis(*ms),
            FaultKind::Status {
                status: 503,
                millis: None,
            } => GATEWAY_503_AFTER,
            _ => Duration::ZERO,
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `[PATH=]KIND[*COUNT]`, KIND one of `429`, `500`, `503` (any status, `STATUS:MILLIS` to
    /// answer it after MILLIS), `delay:MILLIS`, `malformed`, `wrong-shape`, `drop-field:NAME`;
    /// e.g. `/portfolio=503*2`, `/iserver=503:0`, `delay:1500`.
    fn from_str(spec: &str) -> Result<Fault, String> {
        let (path, rest) = spec.split_once('=').unwrap_or(("", spec));
        let (kind, count) = match rest.split_once('*') {
            Some((k, n)) => (
                k,
                Some(n.parse().map_err(|_| format!("bad count in {spec:?}"))?),
            ),
            None => (rest, None),
        };
        let kind = match kind {
            "malformed" => FaultKind::Malformed,
            "wrong-shape" => FaultKind::WrongShape,
            k if k.starts_with("drop-field:") => FaultKind::DropField {
                field: k["drop-field:".len()..].to_owned(),
            },
            k => match k.strip_prefix("delay:") {
                Some(ms) => FaultKind::Delay {
                    millis: ms.parse().map_err(|_| format!("bad delay in {spec:?}"))?,
                },
                None => {
                    let (status, millis) = match k.split_once(':') {
                        Some((s, ms)) => (
                            s,
                            Some(ms.parse().map_err(|_| format!("bad delay in {spec:?}"))?),
                        ),
                        None => (k, None),
                    };
                    FaultKind::Status {
                        status: status
                            .parse()
                            .ok()
                            .filter(|s| (400..600).contains(s))
                            .ok_or_else(|| format!("{spec:?}: expected a 4xx/5xx status, delay:MS, malformed, wrong-shape or drop-field:NAME"))?,
                        millis,
                    }
                }
            },
        };
        Ok(Fault {
            path: path.to_owned(),
            kind,
            count,
        })
    }
}

/// The fault that applies to a request for `path`, if any, counting it against its budget.
pub(super) fn take(faults: &mut Vec<Fault>, path: &str) -> Option<FaultKind> {
    let i = faults.iter().position(|f| path.starts_with(&f.path))?;
    let kind = faults[i].kind.clone();
    if let Some(n) = faults[i].count.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(kind)
}

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
