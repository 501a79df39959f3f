"""The Executor on every backend (``store`` fixture): steps on chosen peers, undo in reverse
order, deadlines, dead peers, crashed agents and a SIGKILLed coordinator."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gluster_mgmt.errors import LockTimeoutError, UnavailableError, ValueTooLargeError
from gluster_mgmt.executor import (
    COMMITTED,
    FAILED,
    ROLLED_BACK,
    Step,
    TransactionFailed,
    TransactionRecord,
    UnknownTransaction,
)
from gluster_mgmt.store import ABSENT, Put
from gluster_mgmt.store.types import Entry, Listing
from gluster_mgmt.store.lock import release_stale_locks
from tests.executor.conftest import PREFIX, agent_process, stop_worker, worker
from tests.executor.workers import WORK
from tests.helpers import wait_for

CONFIG = f"{PREFIX}volumes/v1"


def work(tag: str, *peers: str, **args) -> Step:
    return Step(WORK, peers, {"tag": tag, **args})


def run_in_thread(executor, *args, **kwargs) -> dict:
    """Start ``executor.run`` in a thread; the dict gets "record" or "error" when it ends."""
    box: dict = {}

    def target() -> None:
        try:
            box["record"] = executor.run(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 (handed to the test)
            box["error"] = exc

    box["thread"] = threading.Thread(target=target, daemon=True)
    box["thread"].start()
    return box


def inbox(store, node: str) -> list[str]:
    return [e.key for e in store.list(f"{PREFIX}inbox/{node}/")]


def lock_is_free(store, name: str) -> bool:
    lock = store.lock(name, ttl=store.capabilities.min_lease_ttl)
    try:
        lock.acquire(timeout=1.0)
    except LockTimeoutError:
        return False
    lock.release()
    return True


def final_debug(nodes) -> str:
    """What a failed wait saw (for the assertion message)."""
    lines = [json.dumps(t.to_dict()) for t in nodes.executors[0].list_transactions()]
    lines += [repr(e) for e in nodes.store.list(f"{PREFIX}inbox/")]
    lines += [repr(e) for e in nodes.log]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- success
def test_steps_run_on_their_peers_and_commit_atomically(nodes, store):
    a, b, c = (nodes.agent(n) for n in ("node-a", "node-b", "node-c"))
    record = a.run("volume create v1", [work("s1", "node-a", "node-b"), work("s2", "node-c")],
                   locks=["volume-v1"], commit=[Put(CONFIG, b"v1", ABSENT)], deadline=30)
    assert record.state == COMMITTED and record.error is None
    assert sorted(nodes.entries()) == [("do", "node-a", "s1"), ("do", "node-b", "s1"),
                                       ("do", "node-c", "s2")]
    # Each delivery names the transaction and the step index.
    assert {(e["txn"], e["index"], e["attempt"]) for e in nodes.log if e["tag"] == "s2"} == {
        (record.id, 1, 1)}
    assert store.get(CONFIG).value == b"v1"
    assert [s.status for s in record.steps] == ["done", "done"]
    assert record.steps[0].outcomes["node-b"].result == {"node": "node-b", "tag": "s1"}
    assert record.locks == ("volume-v1",) and record.coordinator == "node-a"
    # Observable from any node, and what is stored is what run() returned.
    shown = c.get_transaction(record.id)
    assert shown == record and shown.to_dict() == record.to_dict()
    assert TransactionRecord.from_dict(json.loads(json.dumps(shown.to_dict()))) == shown
    assert [t.id for t in b.list_transactions()] == [record.id]
    # Nothing left behind: no message, no coordinator key, no lock.
    assert all(inbox(store, n) == [] for n in ("node-a", "node-b", "node-c"))
    assert store.list(f"{PREFIX}coordinators/").entries == ()
    assert lock_is_free(store, "volume-v1")
    with pytest.raises(UnknownTransaction):
        a.get_transaction("nope")


def test_agent_in_another_process(nodes, store, store_url, tmp_path):
    logfile = tmp_path / "agent.log"
    nodes.alive("node-p")
    with agent_process(store_url, "node-p", str(logfile)):
        a = nodes.agent("node-a")
        record = a.run("two processes", [work("s1", "node-a", "node-p")], deadline=60)
        assert record.state == COMMITTED
        remote = [json.loads(line) for line in logfile.read_text().splitlines()]
        assert [(e["action"], e["tag"], e["txn"]) for e in remote] == [("do", "s1", record.id)]
        assert record.steps[0].outcomes["node-p"].result == {"node": "node-p", "tag": "s1"}


def test_old_records_are_pruned(nodes, store):
    a = nodes.agent("node-a", keep_transactions=2, prune_every=1)
    ids = [a.run(f"op {i}", [work(f"s{i}", "node-a")]).id for i in range(4)]
    assert [t.id for t in a.list_transactions()] == ids[-2:]
    assert [e.key for e in store.list(f"{PREFIX}results/")
            if e.key.split("/")[3] in ids[:2]] == []


# ----------------------------------------------------------------------------- failures
def test_failed_step_undoes_completed_steps_in_reverse_order(nodes, store):
    a = nodes.agent("node-a")
    nodes.agent("node-b")
    nodes.agent("node-c")
    with pytest.raises(TransactionFailed) as caught:
        a.run("volume create v1",
              [work("s1", "node-a", "node-b"), work("s2", "node-b"),
               work("s3", "node-c", "node-a", fail=["node-c"]), work("s4", "node-a")],
              locks=["volume-v1"], commit=[Put(CONFIG, b"v1", ABSENT)], deadline=30)
    exc = caught.value
    assert (exc.step, exc.peer) == (WORK, "node-c")
    assert "s3 refused on node-c" in exc.error and "node-c" in str(exc) and WORK in str(exc)
    assert exc.errno == 5  # the handler's errno (EIO) reaches the caller
    record = exc.record
    assert record.state == ROLLED_BACK
    assert store.get(CONFIG) is None
    undone = nodes.entries("undo")
    # s3 first (node-a may have completed it; node-c failed, so no undo there), then s2, then s1.
    tags = [tag for _, _, tag in undone]
    assert "s4" not in [t for _, _, t in nodes.entries("do")]
    assert tags == sorted(tags, reverse=True)
    assert ("undo", "node-c", "s3") not in undone
    assert {("undo", "node-b", "s2"), ("undo", "node-a", "s1"), ("undo", "node-b", "s1")} <= set(undone)
    assert [s.status for s in record.steps] == ["undone", "undone", "undone", "pending"]
    # The undo got what the do returned on that node.
    undo_s1_b = next(e for e in nodes.log if e["action"] == "undo" and e["tag"] == "s1"
                     and e["node"] == "node-b")
    assert undo_s1_b["result"] == {"node": "node-b", "tag": "s1"}
    assert a.get_transaction(record.id).state == ROLLED_BACK
    assert lock_is_free(store, "volume-v1")


def test_commit_conflict_rolls_back(nodes, store):
    a = nodes.agent("node-a")
    store.put(CONFIG, b"someone else")
    with pytest.raises(TransactionFailed) as caught:
        a.run("volume create v1", [work("s1", "node-a")], commit=[Put(CONFIG, b"v1", ABSENT)])
    assert caught.value.conflict and caught.value.step is None
    assert caught.value.record.state == ROLLED_BACK
    assert nodes.entries() == [("do", "node-a", "s1"), ("undo", "node-a", "s1")]
    assert store.get(CONFIG).value == b"someone else"


def test_too_many_config_writes_are_refused_up_front(nodes):
    a = nodes.agent("node-a")
    with pytest.raises(ValueTooLargeError):
        a.run("big", [work("s1", "node-a")], commit=[Put(f"{PREFIX}k{i}", b"") for i in range(40)])
    assert nodes.log == [] and a.list_transactions() == []


def test_deadline_exceeded(nodes, store):
    a = nodes.agent("node-a")
    nodes.agent("node-b")
    started = time.monotonic()
    with pytest.raises(TransactionFailed) as caught:
        a.run("slow", [work("s1", "node-a"), work("s2", "node-b", sleep=5.0)],
              commit=[Put(CONFIG, b"v1", ABSENT)], deadline=2.5)
    assert time.monotonic() - started < 12.0
    exc = caught.value
    assert exc.peer == "node-b" and "deadline" in exc.error
    assert store.get(CONFIG) is None
    # node-b finished its do late; its agent then ran the undo queued behind it (the
    # coordinator waits for undos up to its undo_timeout), then node-a undid s1.
    assert nodes.entries("undo") == [("undo", "node-b", "s2"), ("undo", "node-a", "s1")]
    assert exc.record.state == ROLLED_BACK
    assert exc.record.steps[1].outcomes["node-b"].status == "lost"


def test_deadline_with_an_unresponsive_peer_leaves_a_failed_record(nodes, store):
    a = nodes.agent("node-a", undo_timeout=1.0)
    nodes.alive("node-z")  # alive key, but its agent never answers
    with pytest.raises(TransactionFailed) as caught:
        a.run("stuck", [work("s1", "node-a"), work("s2", "node-z")], deadline=2.5)
    record = caught.value.record
    assert record.state == FAILED and "rollback incomplete" in str(caught.value)
    assert record.steps[1].status == "undo-failed" and record.steps[0].status == "undone"
    assert nodes.entries("undo") == [("undo", "node-a", "s1")]


def test_store_trouble_mid_run_hands_the_transaction_to_recovery(nodes, store, monkeypatch):
    a = nodes.agent("node-a")
    collect = a.coordinator._collect

    def broken(*args, **kwargs):
        collect(*args, **kwargs)  # the step ran; then the store vanished for the coordinator
        raise UnavailableError("store went away")

    monkeypatch.setattr(a.coordinator, "_collect", broken)
    with pytest.raises(UnavailableError):
        a.run("interrupted", [work("s1", "node-a")], commit=[Put(CONFIG, b"v1", ABSENT)])
    monkeypatch.undo()
    (txn,) = a.list_transactions()
    assert wait_for(lambda: a.get_transaction(txn.id).state == ROLLED_BACK, 20)
    assert a.get_transaction(txn.id).recovered_by == "node-a"
    assert nodes.entries() == [("do", "node-a", "s1"), ("undo", "node-a", "s1")]
    assert store.get(CONFIG) is None


def test_dead_target_fails_the_step_at_once(nodes, store):
    a = nodes.agent("node-a")
    d_lease = nodes.own_lease()
    nodes.alive("node-d", d_lease)  # announced, but its agent is not running
    box = run_in_thread(a, "needs d", [work("s1", "node-a"), work("s2", "node-d")],
                        commit=[Put(CONFIG, b"v1", ABSENT)], deadline=120)
    assert wait_for(lambda: inbox(store, "node-d") != [], 20)
    d_lease.revoke()  # node-d dies (its lease is gone) while its step is pending
    box["thread"].join(20)
    assert not box["thread"].is_alive(), "a dead peer must fail the step well before the deadline"
    exc = box["error"]
    assert isinstance(exc, TransactionFailed) and exc.peer == "node-d" and "not alive" in exc.error
    assert exc.record.state == ROLLED_BACK
    assert exc.record.steps[1].undo["node-d"].status == "queued"
    assert store.get(CONFIG) is None
    assert nodes.entries("undo") == [("undo", "node-a", "s1")]

    # node-d comes back after the transaction ended: its late do is dropped, nothing undone.
    nodes.agent("node-d")
    assert wait_for(lambda: inbox(store, "node-d") == [], 20)
    assert nodes.entries(node="node-d") == []

    # A target that is not alive at all fails before anything is handed to it.
    with pytest.raises(TransactionFailed) as caught:
        a.run("needs e", [work("s1", "node-e")])
    assert caught.value.peer == "node-e" and inbox(store, "node-e") == []


# ----------------------------------------------------------------------------- crashes
def test_delivery_survives_an_agent_restart(nodes, store):
    a = nodes.agent("node-a")
    nodes.alive("node-b")  # the daemon is up, its agent is restarting
    box = run_in_thread(a, "restart", [work("s1", "node-b")], deadline=60)
    assert wait_for(lambda: inbox(store, "node-b") != [], 20)
    time.sleep(0.5)
    nodes.executor("node-b").start()
    box["thread"].join(30)
    assert box.get("record") is not None, box.get("error")
    assert box["record"].state == COMMITTED
    assert nodes.entries() == [("do", "node-b", "s1")]


def test_agent_killed_mid_step_gets_the_step_again(nodes, store, store_url, tmp_path):
    """A SIGKILLed agent (its daemon's lease kept) is redelivered the same step, attempt 2."""
    logfile = tmp_path / "agent.log"
    nodes.alive("node-p")
    with agent_process(store_url, "node-p", str(logfile)) as proc:
        a = nodes.agent("node-a")
        box = run_in_thread(a, "redelivery", [work("s1", "node-p", sleep_first=60)], deadline=60)
        assert wait_for(lambda: logfile.exists() and logfile.read_text(), 20)
        proc.kill()
        proc.wait()
        nodes.executor("node-p").start()  # the restarted agent
        box["thread"].join(30)
        assert box.get("record") is not None, box.get("error")
        first = json.loads(logfile.read_text().splitlines()[0])
        second = next(e for e in nodes.log if e["node"] == "node-p")
        assert (first["txn"], first["index"], first["attempt"]) == (box["record"].id, 0, 1)
        assert (second["txn"], second["index"], second["attempt"]) == (box["record"].id, 0, 2)
        assert box["record"].steps[0].outcomes["node-p"].attempt == 2


def test_sigkilled_coordinator_is_rolled_back(nodes, store, store_url):
    nodes.agent("node-a")
    nodes.agent("node-b")
    spec = {"name": "volume create v1", "locks": ["volume-v1"],
            "steps": [[WORK, ["node-a"], {"tag": "s1"}],
                      [WORK, ["node-b"], {"tag": "s2", "gate": "g"}]],
            "commit": [[CONFIG, "v1"]]}
    proc = worker("coordinate", store_url, PREFIX, "node-x", json.dumps(spec))
    try:
        assert proc.stdout.readline().strip() == "STARTED", proc.stderr.read()
        assert nodes.started["g"].wait(30), "step s2 never reached node-b"
        proc.kill()  # SIGKILL mid-transaction: no rollback, no release, no goodbye
        proc.wait()
        nodes.gates["g"].set()  # node-b's do completes after its coordinator died
        ttl = store.capabilities.min_lease_ttl
        # Lease expiry, then one recovery scan and two undos (each bounded by undo_timeout).
        expiry = ttl + store.capabilities.lease_expiry_slack + 30.0

        def record():
            records = nodes.executors[0].list_transactions()
            return records[0] if records else None

        assert wait_for(lambda: record() is not None and record().finished, expiry), final_debug(nodes)
        final = record()
        assert final.state == ROLLED_BACK and final.coordinator == "node-x"
        assert final.recovered_by in ("node-a", "node-b")
        assert store.get(CONFIG) is None
        assert nodes.entries("undo") == [("undo", "node-b", "s2"), ("undo", "node-a", "s1")]
        assert lock_is_free(store, "volume-v1")
        assert store.list(f"{PREFIX}coordinators/").entries == ()
    finally:
        stop_worker(proc)


def test_restarted_coordinator_releases_its_earlier_life_at_once(nodes, store, store_url):
    """A coordinator SIGKILLed mid-transaction and restarted (same node id) does not leave its
    volume locked and its transaction pending until its dead lease (60 s here) expires."""
    nodes.agent("node-a")
    nodes.agent("node-b")
    spec = {"name": "volume set v2", "locks": ["volume-v2"], "lease_ttl": 60.0,
            "steps": [[WORK, ["node-a"], {"tag": "s1"}],
                      [WORK, ["node-b"], {"tag": "s2", "gate": "g2"}]],
            "commit": [[CONFIG, "v2"]]}
    proc = worker("coordinate", store_url, PREFIX, "node-x", json.dumps(spec))
    try:
        assert proc.stdout.readline().strip() == "STARTED", proc.stderr.read()
        assert nodes.started["g2"].wait(30), "step s2 never reached node-b"
        proc.kill()
        proc.wait()
        nodes.gates["g2"].set()
        assert not lock_is_free(store, "volume-v2")  # held under the dead process's lease
        restarted = nodes.executor("node-x")
        started = time.monotonic()
        assert release_stale_locks(store, "node-x", frozenset()) == ["volume-v2"]
        assert len(restarted.release_earlier_life(None)) == 1
        restarted.start()

        def record():
            records = restarted.list_transactions()
            return records[0] if records else None

        assert wait_for(lambda: record() is not None and record().finished, 30), final_debug(nodes)
        assert time.monotonic() - started < 30  # not the 60 s of the dead lease
        assert record().state == ROLLED_BACK and store.get(CONFIG) is None
        assert lock_is_free(store, "volume-v2")
        assert nodes.entries("undo") == [("undo", "node-b", "s2"), ("undo", "node-a", "s1")]
    finally:
        stop_worker(proc)


def test_a_scan_that_raced_a_commit_writes_nothing(nodes, store, monkeypatch):
    """A recovery scan lists ``active/`` just before a commit and ``coordinators/`` just
    after: the transaction looks orphaned, but its record is final and the commit deleted its
    index entry. The scan must not write (it once deleted the entry again: per `volume create`,
    one more store write per racing agent, benchmarks/scale.py at N = 100)."""
    a = nodes.agent("node-a")
    committed = a.run("done", [work("s1", "node-a")], commit=[Put(CONFIG, b"v1", ABSENT)])
    assert committed.state == COMMITTED
    keys = a.coordinator.keys
    assert store.get(keys.active_txn(committed.id)) is None
    scanner = nodes.executor("node-b")  # not started: only the scan below runs through it
    listed = store.list

    def before_the_commit(prefix: str = ""):
        listing = listed(prefix)
        if prefix != keys.active_txns:
            return listing
        stale = Entry(keys.active_txn(committed.id), b"", committed.revision, committed.revision)
        return Listing((*listing.entries, stale), listing.revision)

    writes = []
    monkeypatch.setattr(store, "list", before_the_commit)
    for name in ("put", "delete", "transaction"):
        original = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *args, _o=original, _n=name, **kw: (
            writes.append((_n, args)), _o(*args, **kw))[1])
    assert scanner.recoverer.recover() == []
    assert writes == []
    assert a.get_transaction(committed.id).state == COMMITTED


def test_a_late_coordinator_cannot_commit_after_recovery(nodes, store):
    """Fencing: once recovered, the record's revision moved and the stale commit conflicts."""
    a = nodes.agent("node-a")
    box = run_in_thread(a, "fenced", [work("s1", "node-a", gate="f")],
                        commit=[Put(CONFIG, b"v1", ABSENT)], deadline=60)
    assert nodes.started["f"].wait(20)
    (txn,) = a.list_transactions()
    # Simulate the coordinator's lease expiring: its coordinator key disappears.
    store.delete(f"{PREFIX}coordinators/{txn.id}")
    assert wait_for(lambda: a.get_transaction(txn.id).state != "running", 20)
    nodes.gates["f"].set()
    box["thread"].join(30)
    assert isinstance(box.get("error"), TransactionFailed), box
    assert store.get(CONFIG) is None
    assert wait_for(lambda: a.get_transaction(txn.id).state == ROLLED_BACK, 20)
    assert a.get_transaction(txn.id).recovered_by == "node-a"
    assert "lost transaction" in str(box["error"])
