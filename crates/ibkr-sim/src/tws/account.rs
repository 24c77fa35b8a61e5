//! The account values a gateway reports over the socket API, from the world's figures for
//! an account: every row of account updates (plain or by request) — the account's figures,
//! the same by segment (`-C` commodities, `-S` securities) and the cash ledger by currency
//! (`BASE` and the account's own) — and the rows of an account summary for the tags a
//! client names, `$LEDGER` groups included.
//!
//! Pure: it takes an [`AccountSummary`] and `now`; it never reads the world or writes a
//! socket. Which figure stands behind a money key is [`AccountSummary::figure`]'s, shared with
//! the Client Portal summary so both APIs report the same account.

use jiff::Timestamp;

use crate::margin::{Funds, SegmentKind};
use crate::world::AccountSummary;

/// One account value: a key, its value as text and its currency (empty for non-money).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountValue {
    pub key: String,
    pub value: String,
    pub currency: String,
}

/// Money keys reported for the account and for each segment.
const SEGMENTED: &[&str] = &[
    "AccruedCash",
    "AvailableFunds",
    "Billable",
    "EquityWithLoanValue",
    "ExcessLiquidity",
    "FullAvailableFunds",
    "FullExcessLiquidity",
    "FullInitMarginReq",
    "FullMaintMarginReq",
    "Guarantee",
    "IndianStockHaircut",
    "InitMarginReq",
    "LookAheadAvailableFunds",
    "LookAheadExcessLiquidity",
    "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq",
    "MaintMarginReq",
    "NetLiquidation",
    "PASharesValue",
    "PhysicalCertificateValue",
    "PostExpirationExcess",
    "PostExpirationMargin",
    "TotalCashValue",
];

/// Money keys reported for the account and its securities segment only (Reg T's).
const SECURITIES: &[&str] = &[
    "GrossPositionValue",
    "PreviousDayEquityWithLoanValue",
    "RegTEquity",
    "RegTMargin",
    "SMA",
];

/// What the account holds of instruments the simulator never lists: always zero.
const LEDGER_NONE: &[&str] = &[
    "CorporateBondValue",
    "Cryptocurrency",
    "FundValue",
    "FxCashBalance",
    "IssuerOptionValue",
    "MoneyMarketFundValue",
    "MutualFundValue",
    "NetDividend",
    "TBillValue",
    "TBondValue",
    "WarrantValue",
];

/// Every row of account updates for `account`, whose currency is `currency`.
pub fn update_values(
    account: &str,
    currency: &str,
    s: &AccountSummary,
    now: Timestamp,
) -> Vec<AccountValue> {
    let mut rows = vec![
        row("AccountCode", account, ""),
        row("AccountOrGroup", account, "BASE"),
        row("AccountOrGroup", account, currency),
        row("AccountReady", "true", ""),
        row("AccountType", "INDIVIDUAL", ""),
    ];
    rows.extend(account_rows(currency, s, now));
    rows.extend(ledger("BASE", currency, s));
    rows.extend(ledger(currency, currency, s));
    rows
}

/// The account summary's rows for `tags`, as `reqAccountSummary` names them: the account's
/// figures by name, and `$LEDGER` (base currency), `$LEDGER:ALL` or `$LEDGER:<currency>` for
/// the cash ledger. A tag the simulator does not know gets no row, as a gateway sends none.
pub fn summary_rows(
    currency: &str,
    s: &AccountSummary,
    now: Timestamp,
    tags: &[String],
) -> Vec<AccountValue> {
    let mut rows: Vec<AccountValue> = std::iter::once(row("AccountType", "INDIVIDUAL", ""))
        .chain(account_rows(currency, s, now))
        .chain(std::iter::once(row(
            "Leverage",
            &format!("{:.2}", s.leverage()),
            "",
        )))
        // The summary is of the account as a whole: no segment's rows.
        .filter(|r| !r.key.ends_with("-C") && !r.key.ends_with("-S"))
        .filter(|r| tags.contains(&r.key))
        .collect();
    for tag in tags {
        match tag.strip_prefix("$LEDGER") {
            Some("") => rows.extend(ledger("BASE", currency, s)),
            Some(":ALL") => {
                rows.extend(ledger("BASE", currency, s));
                rows.extend(ledger(currency, currency, s));
            }
            Some(other) if other.strip_prefix(':') == Some(currency) => {
                rows.extend(ledger(currency, currency, s));
            }
            _ => {}
        }
    }
    rows
}

/// The account's figures: money keys for the account and its segments, then the rest.
fn account_rows(currency: &str, s: &AccountSummary, now: Timestamp) -> Vec<AccountValue> {
    let all = [
        ("", None),
        ("-C", Some(SegmentKind::Commodities)),
        ("-S", Some(SegmentKind::Securities)),
    ];
    let securities_only = [all[0], all[2]];
    let keys = SEGMENTED
        .iter()
        .map(|k| (k, &all[..]))
        .chain(SECURITIES.iter().map(|k| (k, &securities_only[..])));
    let mut rows = Vec::new();
    for (key, parts) in keys {
        for (suffix, segment) in parts {
            let amount = s.figure(&key.to_ascii_lowercase(), *segment);
            rows.push(money(&format!("{key}{suffix}"), amount, currency));
        }
    }
    let f: Funds = s.funds;
    rows.push(money("BuyingPower", f.buying_power, currency));
    rows.push(money("SettledCash", s.cash, currency));
    rows.push(money("NetLiquidationUncertainty", 0.0, currency));
    // The look-ahead figures are the current ones until the next whole hour.
    let next_change = (now.as_second() / 3600 + 1) * 3600;
    for (key, value) in [
        ("Cushion", format!("{:.6}", f.cushion)),
        // A margin account worth more than $25,000: no day-trade limit, which IBKR says as -1.
        ("DayTradesRemaining", "-1".into()),
        ("DayTradesRemainingT+1", "-1".into()),
        ("DayTradesRemainingT+2", "-1".into()),
        ("DayTradesRemainingT+3", "-1".into()),
        ("DayTradesRemainingT+4", "-1".into()),
        ("HighestSeverity", "0".into()),
        ("Leverage-S", format!("{:.2}", s.leverage())),
        ("LookAheadNextChange", next_change.to_string()),
        ("SegmentTitle-C", "US Commodities".into()),
        ("SegmentTitle-S", "US Securities".into()),
        ("TradingType-S", "STKNOPT".into()),
        ("WhatIfPMEnabled", "true".into()),
    ] {
        rows.push(row(key, &value, ""));
    }
    rows
}

/// The cash ledger in `ledger_currency`: `BASE` (the account's base currency, which sums
/// every currency) or a currency; the simulator's accounts hold only their own.
fn ledger(ledger_currency: &str, currency: &str, s: &AccountSummary) -> Vec<AccountValue> {
    let mut rows = vec![
        row("Currency", currency, ledger_currency),
        row("RealCurrency", currency, ledger_currency),
        row("ExchangeRate", "1.00", ledger_currency),
    ];
    for (key, amount) in [
        ("CashBalance", s.cash),
        ("TotalCashBalance", s.cash),
        ("NetLiquidationByCurrency", s.net_liquidation),
        ("StockMarketValue", s.stock_value),
        ("OptionMarketValue", s.option_value),
        ("FutureOptionValue", s.future_option_value),
        ("FuturesPNL", s.futures_pnl),
        ("UnrealizedPnL", s.unrealized_pnl),
        ("RealizedPnL", s.realized_pnl),
    ]
    .into_iter()
    .chain(LEDGER_NONE.iter().map(|k| (*k, 0.0)))
    {
        rows.push(money(key, amount, ledger_currency));
    }
    rows
}

fn money(key: &str, amount: f64, currency: &str) -> AccountValue {
    row(key, &format!("{amount:.2}"), currency)
}

fn row(key: &str, value: &str, currency: &str) -> AccountValue {
    AccountValue {
        key: key.to_owned(),
        value: value.to_owned(),
        currency: currency.to_owned(),
    }
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
