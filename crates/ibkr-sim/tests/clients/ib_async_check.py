"""ib_async against ibkr-sim: what a portfolio tool does with it, checked step by step.

Run by tests/sim/clients.rs with the simulator's TWS port and control address:

    python ib_async_check.py --port 4001 --control 127.0.0.1:5099 --delayed-conid N

Prints one line per check ("ok <name>" or "FAIL <name>: why") and exits non-zero on the first
failure, so the Rust test shows exactly which step a client could not take.
"""

import argparse
import asyncio
import logging
import math

from ib_async import IB, Contract, LimitOrder

from common import check, control

PATIENCE = 15.0


async def until(ib, what, predicate):
    """Waits for `predicate()` to hold, checking it after each batch of messages ib_async
    handles (its `updateEvent`); fails after PATIENCE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not predicate():
        left = deadline - loop.time()
        if left <= 0:
            check(what, False, "timed out")
        try:
            await asyncio.wait_for(ib.updateEvent, left)
        except asyncio.TimeoutError:
            check(what, False, "timed out")


class Unreadable(logging.Handler):
    """Keeps what ib_async's decoder could not read: it logs such a message and carries on,
    so without this a run could pass over a message no real gateway would send."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(self.format(record))


async def main(args):
    unreadable = Unreadable()
    logging.getLogger("ib_async.Decoder").addHandler(unreadable)
    ib = IB()
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))

    # The standard start-up synchronisation: positions, open and completed orders, account
    # updates per account, executions. Any of them timing out fails the connect.
    await ib.connectAsync(
        "127.0.0.1", args.port, clientId=11, timeout=PATIENCE, raiseSyncErrors=True
    )
    check("connect with start-up synchronisation", ib.isConnected())
    version = ib.client.serverVersion()
    check("text protocol version", version == 178, f"server version {version}")

    accounts = ib.managedAccounts()
    check("managed accounts", accounts == ["DU1234567", "DU7654321"], accounts)

    positions = ib.positions()
    check("positions", len(positions) > 0, positions)
    fop = [p for p in positions if p.contract.secType == "FOP"]
    check("positions carry contracts", fop and fop[0].contract.conId > 0, positions)

    values = ib.accountValues()
    nlv = {v.account for v in values if v.tag == "NetLiquidation"}
    check("account values for every account", nlv == set(accounts), values)
    margin_tags = {
        "BuyingPower", "AvailableFunds", "ExcessLiquidity", "InitMarginReq",
        "MaintMarginReq", "EquityWithLoanValue", "CashBalance",
    }
    tags = {
        v.tag: float(v.value)
        for v in values
        if v.account == accounts[0] and v.tag in margin_tags
    }
    check("margin and funds values", margin_tags <= tags.keys(), sorted(tags))
    segments = {
        v.tag: float(v.value)
        for v in values
        if v.account == accounts[0] and v.tag[-2:] in ("-C", "-S") and v.currency == "USD"
    }
    check(
        "values by segment add up",
        abs(segments["NetLiquidation-C"] + segments["NetLiquidation-S"] - float(
            next(v.value for v in values if v.account == accounts[0] and v.tag == "NetLiquidation")
        )) < 0.05,
        segments,
    )
    ledger = {(v.tag, v.currency) for v in values if v.account == accounts[0]}
    check(
        "the cash ledger in BASE and USD",
        {("CashBalance", "BASE"), ("CashBalance", "USD"), ("TotalCashBalance", "BASE"),
         ("NetLiquidationByCurrency", "USD")} <= ledger,
        sorted(ledger),
    )
    check(
        "funds consistent with margin",
        abs(tags["AvailableFunds"] - (tags["EquityWithLoanValue"] - tags["InitMarginReq"])) < 0.02
        and tags["MaintMarginReq"] > 0,
        tags,
    )

    await ib.reqAccountUpdatesAsync("DU1234567")
    portfolio = ib.portfolio("DU1234567")
    check("portfolio items", len(portfolio) > 0, portfolio)
    check(
        "portfolio values are numbers",
        all(math.isfinite(i.marketValue) for i in portfolio),
        portfolio,
    )

    pnl = ib.reqPnL("DU1234567")
    await until(ib, "PnL", lambda: not math.isnan(pnl.dailyPnL))
    check("PnL", math.isfinite(pnl.unrealizedPnL), pnl)
    single = ib.reqPnLSingle("DU1234567", "", fop[0].contract.conId)
    await until(ib, "PnL of one position", lambda: not math.isnan(single.value))
    check(
        "PnL of one position",
        single.position == fop[0].position and math.isfinite(single.unrealizedPnL),
        single,
    )
    ib.cancelPnLSingle("DU1234567", "", fop[0].contract.conId)

    option = Contract(conId=fop[0].contract.conId)
    details = await ib.reqContractDetailsAsync(option)
    check("contract details", len(details) == 1, details)
    check("contract details name the underlying", details[0].underConId > 0, details[0])
    check(
        "trading and liquid hours",
        ":1800-" in details[0].tradingHours and ":0930-" in details[0].liquidHours,
        (details[0].tradingHours, details[0].liquidHours),
    )
    [qualified] = await ib.qualifyContractsAsync(Contract(conId=fop[0].contract.conId))
    check("qualify", qualified is not None and qualified.exchange == "NYMEX", qualified)

    ticker = ib.reqMktData(qualified)
    await until(ib, "option prices", lambda: not math.isnan(ticker.last))
    # The first computation is IB's "not computed yet"; the next price step computes.
    control(args.control, "/market/step", {"steps": 1})
    await until(ib, 
        "model greeks",
        lambda: ticker.modelGreeks is not None and ticker.modelGreeks.delta is not None,
    )
    g = ticker.modelGreeks
    check("model greeks", 0 < abs(g.delta) <= 1 and g.undPrice > 0, g)
    await until(ib, 
        "bid, ask and last computations",
        lambda: None not in (ticker.bidGreeks, ticker.askGreeks, ticker.lastGreeks),
    )
    check(
        "bid, ask and last computations",
        ticker.bidGreeks.impliedVol <= g.impliedVol <= ticker.askGreeks.impliedVol,
        (ticker.bidGreeks, g, ticker.askGreeks),
    )
    # The firehose: option computations as fast as the control API asks; ib_async keeps
    # reading them.
    updates = 0

    def counted(_):
        nonlocal updates
        updates += 1

    ticker.updateEvent += counted
    control(args.control, "/tws/firehose", {"ticks_per_second": 2000})
    await until(ib, "a firehose of computations", lambda: updates >= 200)
    control(args.control, "/tws/firehose", {"ticks_per_second": 0})
    ticker.updateEvent -= counted
    check("a firehose of computations", True)
    ib.cancelMktData(qualified)

    ib.reqMarketDataType(3)
    [delayed] = await ib.qualifyContractsAsync(Contract(conId=args.delayed_conid))
    dticker = ib.reqMktData(delayed)
    await until(ib, "delayed prices", lambda: not math.isnan(dticker.last))
    check("delayed data is marked so", any(e[1] == 10167 for e in errors), errors)
    ib.cancelMktData(delayed)
    ib.reqMarketDataType(1)

    # The ends of requests with nothing (or little) to report.
    check("open orders", await ib.reqAllOpenOrdersAsync() == [], "orders")
    check("completed orders", await ib.reqCompletedOrdersAsync(False) == [], "orders")
    check("executions", await ib.reqExecutionsAsync() == [], "fills")
    # ib_async asks for every standard tag and the whole ledger ($LEDGER:ALL).
    summary = await ib.accountSummaryAsync()
    check(
        "account summary",
        {v.account for v in summary if v.tag == "NetLiquidation"} == set(accounts),
        summary,
    )
    check(
        "account summary's ledger",
        {(v.tag, v.currency) for v in summary if v.tag == "CashBalance"}
        == {("CashBalance", "BASE"), ("CashBalance", "USD")},
        summary,
    )
    chains = await ib.reqSecDefOptParamsAsync("CL", "NYMEX", "FUT", details[0].underConId)
    check(
        "option chains",
        len(chains) > 0 and chains[0].strikes and chains[0].expirations,
        chains,
    )
    now = await ib.reqCurrentTimeAsync()
    check("current time", now.year >= 2026, now)

    # Orders are refused as a read-only API refuses them.
    trade = ib.placeOrder(qualified, LimitOrder("BUY", 1, 0.01))
    await until(ib, 
        "read-only refusal",
        lambda: any(e[1] == 321 and e[0] == trade.order.orderId for e in errors),
    )
    check("orders refused read-only", "Read-Only" in errors[-1][2], errors[-1])

    # Faults: connectivity lost and restored with data kept, then a gateway restart.
    control(
        args.control, "/tws/connectivity", {"seconds": 0.5, "restore": "data_maintained"}
    )
    def since_1100(sequence):
        """The notices of `sequence` since the last 1100."""
        codes = [e[1] for e in errors if e[1] in sequence]
        last = len(codes) - 1 - codes[::-1].index(1100) if 1100 in codes else len(codes)
        return codes[last:]

    kept = [1100, 2103, 2105, 1102, 2104, 2106]
    await until(ib, "1100 then 1102 with the farms around them", lambda: since_1100(kept) == kept)
    check("connectivity notices", True)

    # Restored with the data lost: subscriptions are gone and the market data farm idles
    # (2108) until the client asks again, which it must.
    ticker = ib.reqMktData(qualified)
    await until(ib, "prices before the loss", lambda: not math.isnan(ticker.last))
    control(args.control, "/tws/connectivity", {"seconds": 0.5, "restore": "data_lost"})
    lost_data = [1100, 2103, 2105, 1101, 2108, 2106]
    await until(ib, "1100 then 1101 with the farms", lambda: since_1100(lost_data) == lost_data)
    check("connectivity restored with data lost", True)
    ib.cancelMktData(qualified)
    ticker = ib.reqMktData(qualified)
    await until(ib, "prices after subscribing again", lambda: not math.isnan(ticker.last))
    check("market data after 1101 once asked again", True)
    ib.cancelMktData(qualified)

    lost = asyncio.Event()
    ib.disconnectedEvent += lambda: lost.set()
    # A window that outlasts the attempt below however slow the machine; ended by hand.
    control(args.control, "/tws/restart", {"seconds": 3600})
    await asyncio.wait_for(lost.wait(), PATIENCE)
    check("restart drops the connection", not ib.isConnected())
    refused = False
    try:
        await ib.connectAsync("127.0.0.1", args.port, clientId=11, timeout=PATIENCE)
    except ConnectionRefusedError:
        refused = True
    check("connections refused during the restart", refused)
    control(args.control, "/tws/restart", {"seconds": 0})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not ib.isConnected():
        try:
            await ib.connectAsync(
                "127.0.0.1", args.port, clientId=11, timeout=PATIENCE, raiseSyncErrors=True
            )
        except ConnectionRefusedError:
            # A client's reconnection policy: nothing tells a client a gateway is back but a
            # connect that succeeds, so it tries again a little later, as IBC and ib_async's
            # Watchdog do.
            if loop.time() > deadline:
                check("reconnect after the restart", False, "still refused")
            await asyncio.sleep(0.2)
    check("reconnect after the restart", len(ib.positions()) > 0)

    # Every connection dropped: the client sees it and connects again at once.
    lost.clear()
    control(args.control, "/tws/drop")
    await asyncio.wait_for(lost.wait(), PATIENCE)
    await ib.connectAsync("127.0.0.1", args.port, clientId=11, timeout=PATIENCE)
    check("reconnect after a drop", ib.isConnected() and len(ib.positions()) > 0)

    # A stalled gateway: the socket stays open and nothing is answered until it resumes. (An
    # absence has no event to wait for: a second without the answer stands for "nothing".)
    control(args.control, "/tws/stall", {"seconds": 60})
    try:
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 1.0)
        stalled = False
    except asyncio.TimeoutError:
        stalled = True
    check("a stalled gateway answers nothing", stalled)
    control(args.control, "/tws/resume")
    answer = await asyncio.wait_for(ib.reqCurrentTimeAsync(), PATIENCE)
    check("answers again after the stall", answer is not None, answer)
    ib.disconnect()

    # Up but not logged in: a new connection is accepted and closed before the handshake,
    # which ib_async reports only as its connect timing out (as against IBKR: the symptom
    # users read as "API not enabled"), so a short timeout here.
    control(args.control, "/tws/accept-close", {"seconds": 60})
    refused = None
    try:
        await IB().connectAsync("127.0.0.1", args.port, clientId=12, timeout=2)
    except (ConnectionError, asyncio.TimeoutError) as e:
        refused = e
    check("a gateway not logged in closes new connections", refused is not None, refused)
    check("every message readable", not unreadable.records, unreadable.records)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--delayed-conid", type=int, required=True)
    asyncio.run(main(parser.parse_args()))
