//! The Risk page: one screen of what the book is exposed to now — the portfolio's dollar
//! greeks and their change since the exchange's day began, each underlying, each account, vega
//! and theta by time to expiry, and the spreads nearest their last trade date.
//!
//! Dollar figures only where raw ones add unlike units: the `PORTFOLIO` row's delta and gamma
//! add barrels to shares and mean nothing. The view is built by pure functions from the
//! stored rows; accounts appear by alias, never by code.

use super::format::{Pnl, When, greek, instrument_price, money, price_unit, when};
use crate::http::api::Spread;
use crate::store::greeks::GreeksPoint;

/// Spreads shown in "nearest expiry".
pub const NEAREST: usize = 5;

/// A figure now and its change since the day began.
pub struct Figure {
    pub now: String,
    pub change: Pnl,
}

/// A signed change: `+1,234.00`, `−56.00`, `–` when either side is unknown.
fn change(now: Option<f64>, then: Option<f64>) -> Pnl {
    match now.zip(then).map(|(n, t)| n - t) {
        Some(d) => Pnl {
            text: format!("{}{}", if d > 0.0 { "+" } else { "" }, money(Some(d))),
            negative: d < 0.0,
        },
        None => Pnl {
            text: "–".into(),
            negative: false,
        },
    }
}

fn figure(
    now: Option<&GreeksPoint>,
    then: Option<&GreeksPoint>,
    pick: fn(&GreeksPoint) -> Option<f64>,
) -> Figure {
    let n = now.and_then(pick);
    Figure {
        now: money(n),
        change: change(n, then.and_then(pick)),
    }
}

/// The portfolio's four meaningful figures.
pub struct PortfolioView {
    pub delta_dollars: Figure,
    pub gamma_dollars: Figure,
    pub vega: Figure,
    pub theta: Figure,
}

/// One underlying's row.
pub struct UnderlyingRow {
    pub name: String,
    pub price: String,
    /// `2,000 bbl`: delta in the underlying's own unit.
    pub delta: String,
    pub delta_dollars: Figure,
    pub gamma_dollars: String,
    pub vega: String,
    pub theta: String,
}

/// One account's row.
pub struct AccountRow {
    pub alias: String,
    pub delta_dollars: String,
    pub gamma_dollars: String,
    pub vega: String,
    pub theta: String,
}

/// Vega or theta in the three expiry buckets.
pub struct BucketRow {
    pub name: &'static str,
    pub lt30: String,
    pub mid: String,
    pub gt90: String,
    pub total: String,
}

/// A spread near its front leg's last trade date.
pub struct ExpiringRow {
    pub label: String,
    pub account: String,
    pub date: String,
    pub left: i32,
    pub soon: bool,
    pub price: String,
    pub pnl: Pnl,
}

pub struct RiskView {
    pub as_of: Option<When>,
    pub since: Option<When>,
    pub portfolio: Option<PortfolioView>,
    pub underlyings: Vec<UnderlyingRow>,
    pub buckets: Vec<BucketRow>,
    pub accounts: Vec<AccountRow>,
    pub expiring: Vec<ExpiringRow>,
}

/// The page from the newest tick's rows, the day's first tick's, each account's newest
/// `PORTFOLIO` row and the spreads. Pure.
pub fn view(
    now: &[(String, GreeksPoint)],
    then: &[(String, GreeksPoint)],
    accounts: &[(String, GreeksPoint)],
    spreads: &[Spread],
) -> RiskView {
    let find = |rows: &'_ [(String, GreeksPoint)], c: &str| {
        rows.iter().find(|(k, _)| k == c).map(|(_, p)| p.clone())
    };
    let portfolio_now = find(now, "PORTFOLIO");
    let portfolio_then = find(then, "PORTFOLIO");
    let portfolio = portfolio_now.as_ref().map(|p| PortfolioView {
        delta_dollars: figure(Some(p), portfolio_then.as_ref(), |g| g.delta_dollars),
        gamma_dollars: figure(Some(p), portfolio_then.as_ref(), |g| g.gamma_dollars),
        vega: figure(Some(p), portfolio_then.as_ref(), |g| g.vega),
        theta: figure(Some(p), portfolio_then.as_ref(), |g| g.theta),
    });
    let underlyings = now
        .iter()
        .filter(|(c, _)| c != "PORTFOLIO")
        .map(|(c, p)| {
            let then = find(then, c);
            let unit = price_unit(c, "FUT").unwrap_or("units");
            UnderlyingRow {
                name: c.clone(),
                price: instrument_price(p.underlying_price, Some(c), Some("FUT")),
                delta: p
                    .delta
                    .map_or_else(|| "–".into(), |d| format!("{} {unit}", greek(d))),
                delta_dollars: figure(Some(p), then.as_ref(), |g| g.delta_dollars),
                gamma_dollars: money(p.gamma_dollars),
                vega: money(p.vega),
                theta: money(p.theta),
            }
        })
        .collect();
    let buckets = portfolio_now
        .as_ref()
        .map(|p| {
            vec![
                BucketRow {
                    name: "Vega ($ per vol point)",
                    lt30: money(p.vega_lt30),
                    mid: money(p.vega_30_90),
                    gt90: money(p.vega_gt90),
                    total: money(p.vega),
                },
                BucketRow {
                    name: "Theta ($ per day)",
                    lt30: money(p.theta_lt30),
                    mid: money(p.theta_30_90),
                    gt90: money(p.theta_gt90),
                    total: money(p.theta),
                },
            ]
        })
        .unwrap_or_default();
    let accounts = accounts
        .iter()
        .map(|(alias, p)| AccountRow {
            alias: alias.clone(),
            delta_dollars: money(p.delta_dollars),
            gamma_dollars: money(p.gamma_dollars),
            vega: money(p.vega),
            theta: money(p.theta),
        })
        .collect();
    let mut nearest: Vec<&Spread> = spreads
        .iter()
        .filter(|s| s.business_days_left.is_some())
        .collect();
    nearest.sort_by_key(|s| (s.business_days_left, s.combo.id));
    let expiring = nearest
        .into_iter()
        .take(NEAREST)
        .map(|s| {
            let sec_type = s.combo.legs.first().and_then(|l| l.sec_type.as_deref());
            ExpiringRow {
                label: s.label.clone(),
                account: s.combo.account.clone(),
                date: s.front_last_trade_date.clone().unwrap_or_default(),
                left: s.business_days_left.unwrap_or_default(),
                soon: s.expiring_soon,
                price: instrument_price(s.price, s.symbol.as_deref(), sec_type),
                pnl: super::format::pnl(s.combo.unrealized_pnl),
            }
        })
        .collect();
    RiskView {
        as_of: portfolio_now.as_ref().map(|p| when(p.timestamp)),
        since: portfolio_then.as_ref().map(|p| when(p.timestamp)),
        portfolio,
        underlyings,
        buckets,
        accounts,
        expiring,
    }
}

#[cfg(test)]
#[path = "risk_tests.rs"]
mod tests;
