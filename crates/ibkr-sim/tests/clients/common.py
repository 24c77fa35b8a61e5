"""What every conformance script shares: reporting a check and driving the control API."""

import json
import os
import urllib.request


def check(name, ok, why=""):
    """Prints `ok <name>`, or `FAIL <name>: why` and ends the run at once (the client's own
    threads or tasks would keep a normal exit waiting)."""
    if ok:
        print(f"ok {name}", flush=True)
    else:
        print(f"FAIL {name}: {why}", flush=True)
        os._exit(1)


def control(addr, path, body=None):
    """POSTs `body` to the simulator's control API at `addr`."""
    req = urllib.request.Request(
        f"http://{addr}{path}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.read()
