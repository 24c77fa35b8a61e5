"""IBind (the Client Portal client from PyPI) against ibkr-sim's Client Portal side.

Run by tests/sim/clients.rs with the simulator's Client Portal base URL and control address:

    python ibind_check.py --url http://127.0.0.1:5000/v1/api/ --control 127.0.0.1:5099 \
        --delayed-conid 265598

Prints one line per check ("ok <name>" or "FAIL <name>: why") and exits non-zero on the first
failure.
"""

import argparse
import time

from ibind import ExternalBrokerError, IbkrClient

from common import check, control

ACCOUNTS = ["DU1234567", "DU7654321"]

# IBKR paces the partitioned PnL at one call in five seconds.
PNL_EVERY = 5.0


class Pacer:
    """IBKR's pacing as a client must keep it: at most 10 requests a second to the gateway
    (a burst beyond answers 429), which IBind leaves to its caller. A policy of this client,
    not a wait for anything: each request goes out no sooner than 1/10 s after the last."""

    # A little over 1/10 s: the gateway counts arrivals, which jitter.
    INTERVAL = 0.12

    def __init__(self):
        self.last = 0.0

    def __call__(self, call, *args, **kwargs):
        wait = self.last + self.INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last = time.monotonic()
        return call(*args, **kwargs)


def main(args):
    paced = Pacer()
    client = IbkrClient(
        url=args.url,
        cacert=False,
        use_session=True,
        auto_register_shutdown=False,
        max_retries=1,
    )
    # IBind's health check is a /tickle (which IBKR paces at one a second).
    check("health", paced(client.check_health))
    status = paced(client.authentication_status).data
    check("auth status", status["authenticated"] and status["connected"], status)

    accounts = [a["id"] for a in paced(client.portfolio_accounts).data]
    check("portfolio accounts", accounts == ACCOUNTS, accounts)
    brokerage = paced(client.receive_brokerage_accounts).data
    check("brokerage accounts", brokerage["accounts"] == ACCOUNTS, brokerage)
    pnl = paced(client.account_profit_and_loss).data
    pnl_asked = time.monotonic()
    check("pnl subscribed: the first answer is empty", pnl == {"upnl": {}}, pnl)

    positions = paced(client.positions, ACCOUNTS[0]).data
    check("positions", len(positions) > 0 and all("conid" in p for p in positions), positions)
    live = paced(client.positions2, ACCOUNTS[0], sort="position", direction="d").data
    sizes = [p["position"] for p in live]
    check(
        "uncached positions, sorted",
        len(live) == len(positions) and sizes == sorted(sizes, reverse=True),
        live,
    )
    summary = paced(client.portfolio_summary, ACCOUNTS[0]).data
    check(
        "summary with segments",
        "netliquidation-c" in summary and summary["netliquidation"]["amount"] > 0,
        sorted(summary)[:5],
    )
    combos = paced(client.combination_positions, ACCOUNTS[0], no_cache=True).data
    check("combo positions", len(combos) > 0 and combos[0]["legs"], combos)

    search = paced(client.search_contract_by_symbol, "AAPL").data
    check("symbol search", search[0]["conid"] == "265598", search)
    info = paced(client.contract_information_by_conid, "265598").data
    check("contract info", info["con_id"] == 265598, info)
    secdef = paced(client.security_definition_by_conid, ["810000001"]).data
    check("secdef", secdef["secdef"][0]["conid"] == 810000001, secdef)
    futures = paced(client.security_future_by_symbol, "CL").data
    check("futures", len(futures["CL"]) > 0, futures)

    option = next(p for p in positions if p["assetClass"] == "FOP")
    # IBKR streams a derivative's data only after a search for its underlying.
    roots = paced(client.search_contract_by_symbol, option["ticker"]).data
    check("futures root search", any(s["secType"] == "FOP" for s in roots[0]["sections"]), roots)
    option = option["conid"]
    fields = ["31", "84", "86", "7308", "7309", "7310", "7311"]
    snapshot = paced(client.live_marketdata_snapshot, [str(option)], fields).data
    check("snapshot pre-flight", "31" not in snapshot[0], snapshot)
    for poll in range(2, 7):
        snapshot = paced(client.live_marketdata_snapshot, [str(option)], fields).data
        if "7308" in snapshot[0]:
            break
    check("greeks by the sixth poll", "7308" in snapshot[0], snapshot)

    # A stock the account has no live permission for: delayed, and marked so.
    delayed = str(args.delayed_conid)
    for _ in range(2):
        snapshot = paced(client.live_marketdata_snapshot, [delayed], ["31", "6509"]).data
    check("delayed data is marked so", snapshot[0].get("6509", "").startswith("D"), snapshot)

    faults(client, args.control, paced)

    # The PnL again once IBKR's pacing of it allows (a policy of this client, not a wait for
    # an event: a call sooner is answered 429).
    time.sleep(max(0.0, pnl_asked + PNL_EVERY - time.monotonic()))
    pnl = paced(client.account_profit_and_loss).data["upnl"]
    check("pnl per account", sorted(pnl) == [f"{a}.Core" for a in ACCOUNTS], pnl)
    row = pnl[f"{ACCOUNTS[0]}.Core"]
    check("pnl row", row["rowType"] == 1 and row["nl"] > 0 and row["el"] <= row["nl"], row)

    # The brokerage session lapses (as after minutes without a request); ssodh/init opens it.
    control(args.control, "/cp/idle")
    lapsed = False
    try:
        paced(client.receive_brokerage_accounts)
    except ExternalBrokerError as e:
        lapsed = "no bridge" in str(e)
    check("a lapsed brokerage session answers no bridge", lapsed)
    status = paced(client.initialize_brokerage_session).data
    check("ssodh/init opens it again", status["authenticated"], status)
    check("brokerage accounts again", paced(client.receive_brokerage_accounts).data["accounts"] == ACCOUNTS)

    # A login elsewhere competes for the brokerage session; ssodh/init with compete takes it.
    control(args.control, "/cp/compete")
    status = paced(client.authentication_status).data
    check("a competing login is reported", status["competing"] and not status["authenticated"], status)
    status = paced(client.initialize_brokerage_session, compete=True).data
    check("ssodh/init with compete takes it back", status["authenticated"], status)

    paced(client.logout)
    check("after logout every call needs a login", refused_with(paced, client, 401))
    control(args.control, "/cp/login")
    check("again after a login", paced(client.authentication_status).data["authenticated"])

    # The SSO session expires (IBKR: after a day): every call needs a login.
    control(args.control, "/cp/expire")
    check("an expired session answers 401", refused_with(paced, client, 401))
    control(args.control, "/cp/login")
    check("again after a new login", paced(client.authentication_status).data["authenticated"])
    check("every check", True)


def refused_with(paced, client, why):
    """Whether the summary is refused with an error that says `why`."""
    try:
        paced(client.portfolio_summary, ACCOUNTS[0])
    except ExternalBrokerError as e:
        return str(why) in str(e)
    return False


def faults(client, control_addr, paced):
    """The control API's Client Portal faults, as IBind meets them."""
    summary = f"/portfolio/{ACCOUNTS[0]}/summary"

    control(control_addr, "/cp/faults", {"path": summary, "kind": "status", "status": 503, "millis": 0, "count": 1})
    check("503 reaches IBind as an error", refused_with(paced, client, 503))
    control(control_addr, "/cp/faults", {"path": summary, "kind": "status", "status": 429, "count": 1})
    check("429 reaches IBind as an error", refused_with(paced, client, 429))
    control(control_addr, "/cp/faults", {"path": summary, "kind": "malformed", "count": 1})
    check("a malformed body reaches IBind as an error", refused_with(paced, client, "invalid JSON"))
    check("then the summary again", "netliquidation" in paced(client.portfolio_summary, ACCOUNTS[0]).data)
    control(control_addr, "/cp/faults", {"path": summary, "kind": "delay", "millis": 300, "count": 1})
    check("a slow answer arrives", "netliquidation" in paced(client.portfolio_summary, ACCOUNTS[0]).data)
    control(control_addr, "/cp/faults", {"path": summary, "kind": "wrong_shape", "count": 1})
    odd = paced(client.portfolio_summary, ACCOUNTS[0]).data
    check("a wrong shape reaches IBind as sent", odd.get("unexpected") == "shape", odd)
    positions = f"/portfolio/{ACCOUNTS[0]}/positions"
    control(control_addr, "/cp/faults", {"path": positions, "kind": "drop_field", "field": "conid", "count": 1})
    rows = paced(client.positions, ACCOUNTS[0]).data
    check("a dropped field reaches IBind as sent", rows and not any("conid" in r for r in rows), rows)

    # IBKR's gateway answers 503 only after 10 s; a client that gives up sooner sees a
    # timeout. (Shortened here: 1.5 s against a client that waits 0.5 s.)
    impatient = IbkrClient(
        url=client.base_url, cacert=False, use_session=False, auto_register_shutdown=False,
        timeout=0.5, max_retries=0,
    )
    control(control_addr, "/cp/faults", {"path": summary, "kind": "status", "status": 503, "millis": 1500, "count": 1})
    timed_out = False
    try:
        paced(impatient.portfolio_summary, ACCOUNTS[0])
    except TimeoutError:
        timed_out = True
    check("a late 503 reaches a client as its own timeout", timed_out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--delayed-conid", type=int, required=True)
    main(parser.parse_args())
