"""Step handlers for the executor tests, and the processes the tests can SIGKILL.

python -m tests.executor.workers agent URL PREFIX NODE LOGFILE
    an agent for NODE whose handlers append JSON lines to LOGFILE; prints READY.
python -m tests.executor.workers coordinate URL PREFIX NODE SPEC_JSON
    runs one transaction (SPEC_JSON: name, steps [[name, peers, args]], locks, commit
    [[key, value]]) with a lease of the store's minimum TTL; prints STARTED <txn> then the outcome.
"""

from __future__ import annotations

import errno
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from gluster_mgmt.errors import OperationFailed
from gluster_mgmt.executor import StepRegistry, current_delivery

#: Every test step is registered under this name.
WORK = "test.work"


def registry(node: str, record: Callable[[dict[str, Any]], None],
             gates: dict[str, threading.Event] | None = None,
             started: dict[str, threading.Event] | None = None) -> StepRegistry:
    """Handlers driven by their args:

    ``tag`` names the step in the log; ``fail``: nodes whose do raises; ``sleep``: seconds the
    do takes; ``sleep_first``: seconds the first delivery takes (a redelivery is quick);
    ``gate``: the do announces ``started[gate]`` then waits for ``gates[gate]`` (in-process).
    """

    def do(args: dict[str, Any]) -> dict[str, Any]:
        delivery = current_delivery()
        record({"action": "do", "node": node, "tag": args.get("tag"), "txn": delivery.txn_id,
                "index": delivery.index, "attempt": delivery.attempt})
        if node in args.get("fail", ()):
            raise OperationFailed(f"{args.get('tag')} refused on {node}", errno.EIO)
        gate = args.get("gate")
        if gate and gates is not None:
            if started is not None:
                started[gate].set()
            gates[gate].wait(60)
        if delivery.attempt == 1 and args.get("sleep_first"):
            time.sleep(args["sleep_first"])
        if args.get("sleep"):
            time.sleep(args["sleep"])
        return {"node": node, "tag": args.get("tag")}

    def undo(args: dict[str, Any], result: Any) -> None:
        delivery = current_delivery()
        record({"action": "undo", "node": node, "tag": args.get("tag"), "txn": delivery.txn_id,
                "index": delivery.index, "result": result})

    steps = StepRegistry()
    steps.register(WORK, do, undo)
    return steps


def agent(url: str, prefix: str, node: str, logfile: str) -> None:
    from gluster_mgmt import open_store
    from gluster_mgmt.executor import StoreExecutor

    guard = threading.Lock()

    def record(entry: dict[str, Any]) -> None:
        with guard, open(logfile, "a") as f:
            f.write(json.dumps(entry) + "\n")

    store = open_store(url)
    executor = StoreExecutor(store, prefix, node, registry(node, record),
                             lease_ttl=store.capabilities.min_lease_ttl, recover_interval=0.5)
    executor.start()
    print("READY", flush=True)
    time.sleep(3600)


def coordinate(url: str, prefix: str, node: str, spec_json: str) -> None:
    from gluster_mgmt import open_store
    from gluster_mgmt.executor import Step, StoreExecutor, TransactionFailed
    from gluster_mgmt.store import ABSENT, Put

    spec = json.loads(spec_json)
    store = open_store(url)
    executor = StoreExecutor(store, prefix, node,
                             lease_ttl=spec.get("lease_ttl", store.capabilities.min_lease_ttl))
    steps = [Step(name, tuple(peers), args) for name, peers, args in spec["steps"]]
    commit = [Put(key, value.encode(), ABSENT) for key, value in spec.get("commit", ())]
    print("STARTED", flush=True)
    try:
        record = executor.run(spec["name"], steps, locks=spec.get("locks", ()), commit=commit,
                              deadline=spec.get("deadline", 120))
        print(f"DONE {record.state}", flush=True)
    except TransactionFailed as exc:
        print(f"FAILED {exc}", flush=True)


COMMANDS = {"agent": agent, "coordinate": coordinate}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
