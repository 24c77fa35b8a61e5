"""IBKR's official Python client (ibapi) against ibkr-sim, at a chosen highest client version.

Run by tests/sim/clients.rs once per version: below 201 everything is the text protocol,
201..212 mixes text and protobuf message by message, 213 up is protobuf.

    python ibapi_check.py --port 4001 --control 127.0.0.1:5099 --max-version 178

Prints one line per check ("ok <name>" or "FAIL <name>: why") and exits non-zero on the first
failure. Any error the client raises about what it read (its own codes 500-599, 10xxx bad
message) fails the run.
"""

import argparse
import queue
import threading
import time

import ibapi.client
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from common import check, control

PATIENCE = 15.0
ACCOUNTS = ["DU1234567", "DU7654321"]
# How long the simulated gateway restart refuses connections.
RESTART_SECONDS = 1


class App(EWrapper, EClient):
    """Every callback the checks use becomes an event on one queue."""

    def __init__(self):
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.events = queue.Queue()
        self.errors = []

    def put(self, *event):
        self.events.put(event)

    def error(self, reqId, errorTime, errorCode, errorString, advancedOrderRejectJson=""):
        self.errors.append((reqId, errorCode, errorString))
        self.put("error", reqId, errorCode, errorString)

    def connectionClosed(self):
        self.put("connectionClosed")

    def nextValidId(self, orderId):
        self.put("nextValidId", orderId)

    def managedAccounts(self, accountsList):
        self.put("managedAccounts", accountsList)

    def position(self, account, contract, position, avgCost):
        self.put("position", account, contract, position, avgCost)

    def positionEnd(self):
        self.put("positionEnd")

    def updateAccountValue(self, key, val, currency, accountName):
        self.put("accountValue", key, val, currency, accountName)

    def updatePortfolio(self, contract, position, marketPrice, marketValue, averageCost,
                        unrealizedPNL, realizedPNL, accountName):
        self.put("portfolio", contract, position, marketPrice, marketValue, accountName)

    def accountDownloadEnd(self, accountName):
        self.put("accountDownloadEnd", accountName)

    def pnlSingle(self, reqId, pos, dailyPnL, unrealizedPnL, realizedPnL, value):
        self.put("pnlSingle", reqId, pos, unrealizedPnL, value)

    def pnl(self, reqId, dailyPnL, unrealizedPnL, realizedPnL):
        self.put("pnl", reqId, dailyPnL, unrealizedPnL, realizedPnL)

    def contractDetails(self, reqId, contractDetails):
        self.put("contractDetails", reqId, contractDetails)

    def contractDetailsEnd(self, reqId):
        self.put("contractDetailsEnd", reqId)

    def tickPrice(self, reqId, tickType, price, attrib):
        self.put("tickPrice", reqId, tickType, price)

    def tickOptionComputation(self, reqId, tickType, tickAttrib, impliedVol, delta, optPrice,
                              pvDividend, gamma, vega, theta, undPrice):
        self.put("option", reqId, tickType, delta, gamma, vega, theta, undPrice)

    def openOrderEnd(self):
        self.put("openOrderEnd")

    def execDetailsEnd(self, reqId):
        self.put("execDetailsEnd", reqId)

    def completedOrdersEnd(self):
        self.put("completedOrdersEnd")

    def accountSummary(self, reqId, account, tag, value, currency):
        self.put("accountSummary", reqId, account, tag, value, currency)

    def accountSummaryEnd(self, reqId):
        self.put("accountSummaryEnd", reqId)

    def positionMulti(self, reqId, account, modelCode, contract, pos, avgCost):
        self.put("positionMulti", reqId, account, contract, pos)

    def positionMultiEnd(self, reqId):
        self.put("positionMultiEnd", reqId)

    def accountUpdateMulti(self, reqId, account, modelCode, key, value, currency):
        self.put("accountUpdateMulti", reqId, account, key, value)

    def accountUpdateMultiEnd(self, reqId):
        self.put("accountUpdateMultiEnd", reqId)

    def securityDefinitionOptionParameter(self, reqId, exchange, underlyingConId, tradingClass,
                                          multiplier, expirations, strikes):
        self.put("chain", reqId, exchange, tradingClass, multiplier, expirations, strikes)

    def securityDefinitionOptionParameterEnd(self, reqId):
        self.put("chainEnd", reqId)

    def currentTime(self, time):
        self.put("currentTime", time)

    def currentTimeInMillis(self, timeInMillis):
        self.put("currentTimeInMillis", timeInMillis)

    def collect(self, what, until):
        """Events up to and including the first for which `until(event)` holds."""
        seen = []
        while True:
            try:
                event = self.events.get(timeout=PATIENCE)
            except queue.Empty:
                check(what, False, f"timed out; saw {[e[0] for e in seen]}")
            if event[0] == "error" and (500 <= event[2] < 600 or event[2] >= 10000 and
                                        event[2] not in (10167,)):
                check(what, False, f"the client could not read a message: {event}")
            seen.append(event)
            if until(event):
                return seen


    def seen_within(self, name, seconds):
        """The first `name` event within `seconds`, or None."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if event[0] == name:
                return event
        return None


def kind(name, req_id=None):
    return lambda e: e[0] == name and (req_id is None or e[1] == req_id)


def connected(port):
    """A client connected, its reader running, or None if the gateway refused the connection."""
    app = App()
    app.connect("127.0.0.1", port, clientId=21)
    if not app.isConnected():
        return None
    threading.Thread(target=app.run, daemon=True).start()
    return app


def main(args):
    ibapi.client.MAX_CLIENT_VER = args.max_version
    app = connected(args.port)
    check("connect", app is not None)
    events = app.collect("start", lambda e: e[0] == "managedAccounts")
    check(
        "negotiated version",
        app.serverVersion() == min(args.max_version, 226),
        app.serverVersion(),
    )
    check("managed accounts", events[-1][1].split(",") == ACCOUNTS, events[-1])

    app.reqPositions()
    events = app.collect("positions", kind("positionEnd"))
    positions = [e for e in events if e[0] == "position"]
    check("positions", len(positions) > 0, events)
    fop = next(e[2] for e in positions if e[2].secType == "FOP")
    check("position contracts", fop.conId > 0 and fop.multiplier == "1000", fop)

    app.reqAccountUpdates(True, ACCOUNTS[0])
    events = app.collect("account updates", kind("accountDownloadEnd"))
    keys = {e[1] for e in events if e[0] == "accountValue"}
    wanted = {"NetLiquidation", "BuyingPower", "AvailableFunds", "ExcessLiquidity",
              "InitMarginReq", "MaintMarginReq", "EquityWithLoanValue", "CashBalance"}
    check("account values", wanted <= keys, sorted(keys))
    check("portfolio values", any(e[0] == "portfolio" for e in events), events)
    app.reqAccountUpdates(False, ACCOUNTS[0])

    if args.max_version >= 127:
        app.reqPnL(1, ACCOUNTS[0], "")
        events = app.collect("PnL", kind("pnl", 1))
        check("PnL", events[-1][3] < 1e300, events[-1])
        app.cancelPnL(1)
        held = next(e for e in positions if e[2].conId == fop.conId)
        app.reqPnLSingle(12, held[1], "", fop.conId)
        single = app.collect("PnL of one position", kind("pnlSingle", 12))[-1]
        check(
            "PnL of one position",
            float(single[2]) == float(held[3]) and single[3] < 1e300,
            (single, held),
        )
        app.cancelPnLSingle(12)

    c = Contract()
    c.conId = fop.conId
    app.reqContractDetails(2, c)
    events = app.collect("contract details", kind("contractDetailsEnd", 2))
    details = [e[2] for e in events if e[0] == "contractDetails"]
    check("contract details", len(details) == 1, events)
    d = details[0]
    check(
        "contract details content",
        d.contract.conId == fop.conId and d.underConId > 0 and d.contract.exchange == "NYMEX",
        d,
    )
    check("trading hours", ":1800-" in d.tradingHours and d.liquidHours, d.tradingHours)

    app.reqMktData(3, d.contract, "", False, False, [])
    app.collect("option prices", kind("option", 3))
    control(args.control, "/market/step", {"steps": 1})
    greeks = app.collect(
        "model greeks", lambda e: e[0] == "option" and e[1] == 3 and e[3] is not None
    )[-1]
    check("model greeks", 0 < abs(greeks[3]) <= 1 and greeks[7] > 0, greeks)
    # Bid, ask and last computations come with the next price step.
    control(args.control, "/market/step", {"steps": 1})
    app.collect("bid, ask and last computations", lambda e: e[0] == "option" and e[2] == 12)
    app.cancelMktData(3)

    # Delayed data where there is no live permission: 10167, then delayed ticks (66-68).
    app.reqMarketDataType(3)
    delayed = Contract()
    delayed.conId, delayed.exchange = args.delayed_conid, "SMART"
    app.reqMktData(9, delayed, "", False, False, [])
    events = app.collect(
        "delayed prices", lambda e: e[0] == "tickPrice" and e[1] == 9 and e[2] in (66, 67, 68)
    )
    check("delayed data is marked so", any(e[0] == "error" and e[2] == 10167 for e in events), events)
    app.cancelMktData(9)
    app.reqMarketDataType(1)

    app.reqOpenOrders()
    app.collect("open orders", kind("openOrderEnd"))
    app.reqAllOpenOrders()
    app.collect("all open orders", kind("openOrderEnd"))
    app.reqExecutions(4, ExecutionFilter())
    app.collect("executions", kind("execDetailsEnd", 4))
    if args.max_version >= 150:
        app.reqCompletedOrders(False)
        app.collect("completed orders", kind("completedOrdersEnd"))
    check("the ends of orders and executions", True)

    app.reqAccountSummary(5, "All", "NetLiquidation,TotalCashValue,$LEDGER:USD")
    events = app.collect("account summary", kind("accountSummaryEnd", 5))
    rows = {(e[2], e[3]) for e in events if e[0] == "accountSummary"}
    check(
        "account summary",
        {(a, t) for a in ACCOUNTS for t in ("NetLiquidation", "TotalCashValue")} <= rows,
        rows,
    )
    ledger = {(e[2], e[5]) for e in events if e[0] == "accountSummary" and e[3] == "CashBalance"}
    check("account summary's ledger", ledger == {(a, "USD") for a in ACCOUNTS}, ledger)
    app.cancelAccountSummary(5)

    if args.max_version >= 103:
        app.reqPositionsMulti(6, ACCOUNTS[0], "")
        events = app.collect("positions multi", kind("positionMultiEnd", 6))
        check("positions multi", any(e[0] == "positionMulti" for e in events), events)
        app.cancelPositionsMulti(6)

        app.reqAccountUpdatesMulti(7, ACCOUNTS[0], "", True)
        events = app.collect("account updates multi", kind("accountUpdateMultiEnd", 7))
        check(
            "account updates multi",
            any(e[0] == "accountUpdateMulti" and e[3] == "NetLiquidation" for e in events),
            events,
        )
        app.cancelAccountUpdatesMulti(7)

    if args.max_version >= 104:
        app.reqSecDefOptParams(8, "CL", "NYMEX", "FUT", d.underConId)
        events = app.collect("option chains", kind("chainEnd", 8))
        chains = [e for e in events if e[0] == "chain"]
        check("option chains", chains and chains[0][4] and chains[0][5], events)

    app.reqCurrentTime()
    app.collect("current time", kind("currentTime"))
    if args.max_version >= 197:
        app.reqCurrentTimeInMillis()
        ms = app.collect("current time in ms", kind("currentTimeInMillis"))[-1]
        check("current time in ms", ms[1] > 1_700_000_000_000, ms)

    if args.max_version >= 111:
        # Older clients refuse any order themselves (no cash quantity before v111).
        order = Order()
        order.action, order.orderType = "BUY", "LMT"
        order.totalQuantity, order.lmtPrice = 1, 0.01
        app.placeOrder(99, d.contract, order)
        refusal = app.collect(
            "read-only refusal", lambda e: e[0] == "error" and e[1] == 99
        )[-1]
        check(
            "orders refused read-only",
            refusal[2] == 321 and "Read-Only" in refusal[3],
            refusal,
        )

    # Exercise is an order too; a request the simulator does not serve (historical data) is
    # refused with its id, never left unanswered.
    app.exerciseOptions(97, d.contract, 1, 1, ACCOUNTS[0], 0, "", "", False)
    refusal = app.collect("exercise refused", lambda e: e[0] == "error" and e[1] == 97)[-1]
    check("exercise refused read-only", refusal[2] == 321 and "Read-Only" in refusal[3], refusal)
    app.reqHistoricalData(96, d.contract, "", "1 D", "1 hour", "TRADES", 1, 1, False, [])
    refusal = app.collect("not served", lambda e: e[0] == "error" and e[1] == 96)[-1]
    check("a request not served is refused", refusal[2] == 321 and "not served" in refusal[3], refusal)

    # Connectivity lost and restored, with the farms around it, as from IBKR.
    def notices(what, restore, sequence):
        control(args.control, "/tws/connectivity", {"seconds": 0.5, "restore": restore})
        events = app.collect(what, lambda e: e[0] == "error" and e[2] == 2106 and e[1] == -1)
        codes = [e[2] for e in events if e[0] == "error" and e[2] in sequence]
        check(what, codes[codes.index(1100):] == sequence, codes)

    notices("connectivity notices", "data_maintained", [1100, 2103, 2105, 1102, 2104, 2106])
    # With the data lost the client must subscribe again: the farm idles (2108) until then.
    app.reqMktData(10, d.contract, "", False, False, [])
    app.collect("prices before the loss", kind("tickPrice", 10))
    notices("data lost", "data_lost", [1100, 2103, 2105, 1101, 2108, 2106])
    app.cancelMktData(10)
    app.reqMktData(11, d.contract, "", False, False, [])
    app.collect("prices once asked again", kind("tickPrice", 11))
    app.cancelMktData(11)

    # A gateway restart: the connection closes, then the client connects again and reads as
    # before.
    control(args.control, "/tws/restart", {"seconds": RESTART_SECONDS})
    app.collect("restart closes the connection", kind("connectionClosed"))
    check("restart closes the connection", not app.isConnected())
    deadline = time.monotonic() + PATIENCE
    app = None
    while app is None:
        app = connected(args.port)
        if app is None:
            # A client's reconnection policy: nothing but a connect that succeeds tells a
            # client the gateway is back, so it tries again a little later.
            if time.monotonic() > deadline:
                check("reconnect after the restart", False, "still refused")
            time.sleep(0.2)
    app.collect("start again", lambda e: e[0] == "managedAccounts")
    app.reqPositions()
    events = app.collect("positions after the restart", kind("positionEnd"))
    check("reconnect after the restart", any(e[0] == "position" for e in events), events)

    # Every connection dropped: the client is told and connects again at once.
    control(args.control, "/tws/drop")
    app.collect("a drop closes the connection", kind("connectionClosed"))
    app = connected(args.port)
    check("reconnect after a drop", app is not None)
    app.collect("start after the drop", lambda e: e[0] == "managedAccounts")

    # A stall: the socket stays open and nothing is answered until it resumes. (An absence
    # has no event to wait for: a second without the answer stands for "nothing".)
    control(args.control, "/tws/stall", {"seconds": 60})
    app.reqCurrentTime()
    answered = app.seen_within("currentTime", 1.0)
    check("a stalled gateway answers nothing", answered is None, answered)
    control(args.control, "/tws/resume")
    app.collect("answers again after the stall", kind("currentTime"))
    check("answers again after the stall", True)
    app.disconnect()

    # Up but not logged in: a new connection is accepted and closed before the handshake.
    control(args.control, "/tws/accept-close", {"seconds": 60})
    check("a gateway not logged in closes new connections", connected(args.port) is None)
    check("every check", True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--max-version", type=int, required=True)
    parser.add_argument("--delayed-conid", type=int, required=True)
    main(parser.parse_args())
