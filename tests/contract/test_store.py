"""The Store contract, run unchanged against every backend (tests/conftest.py: ``store``).

Every test talks to a real server (etcd, Consul, ZooKeeper) or the embedded SQLite file.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from gluster_mgmt import open_store
from gluster_mgmt.errors import (
    ConflictError,
    InvalidKeyError,
    LeaseExpiredError,
    LockTimeoutError,
    PluginError,
    RevisionCompactedError,
    StoreError,
    StoreTimeoutError,
    UnavailableError,
    ValueTooLargeError,
)
from gluster_mgmt.store import (
    ABSENT,
    MAX_TXN_OPS,
    MAX_VALUE_SIZE,
    Check,
    Delete,
    EventKind,
    Put,
)
from gluster_mgmt.store.follow import Follow
from gluster_mgmt.store.keys import lock_key
from tests.helpers import spawn, wait_for

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- helpers
def collect(watch, count: int, timeout: float = 20.0) -> list:
    """Events from ``watch`` until ``count`` arrived or ``timeout`` passed."""
    events: list = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events.extend(watch.get(timeout=min(0.5, max(deadline - time.monotonic(), 0.01))))
    return events


def collect_until(watch, done, timeout: float = 20.0) -> list:
    """Events from ``watch`` until ``done(events)`` holds or ``timeout`` passed."""
    events: list = []
    deadline = time.monotonic() + timeout
    while not done(events) and time.monotonic() < deadline:
        events.extend(watch.get(timeout=0.5))
    return events


def final_state(events) -> dict[str, bytes | None]:
    state: dict[str, bytes | None] = {}
    for e in events:
        state[e.key] = e.value if e.kind is EventKind.PUT else None
    return state


def worker(*args: str) -> subprocess.Popen:
    return spawn("tests.contract.workers", *args)


def expiry_wait(store, ttl: float) -> float:
    return ttl + store.capabilities.lease_expiry_slack + 10.0


# ----------------------------------------------------------------------------- basics
def test_put_get_delete_and_revisions(store):
    assert store.get("vol/a") is None
    r1 = store.put("vol/a", b"one")
    e1 = store.get("vol/a")
    assert (e1.key, e1.value, e1.revision, e1.created) == ("vol/a", b"one", r1, r1)
    r2 = store.put("vol/a", b"two")
    assert r2 > r1
    e2 = store.get("vol/a")
    assert (e2.value, e2.revision, e2.created) == (b"two", r2, r1)
    r3 = store.delete("vol/a")
    assert r3 is not None and r3 > r2
    assert store.get("vol/a") is None
    assert store.delete("vol/a") is None  # ANY tolerates absence


def test_values_are_bytes_verbatim(store):
    blob = bytes(range(256)) * 4
    store.put("bin", blob)
    assert store.get("bin").value == blob
    store.put("empty", b"")
    assert store.get("empty").value == b""


def test_list_is_a_sorted_prefix_snapshot(store):
    for key in ("v/b", "v/a", "v/a/x", "v/c/d/e", "vx/a", "w"):
        store.put(key, key.encode())
    listing = store.list("v/")
    assert [e.key for e in listing] == ["v/a", "v/a/x", "v/b", "v/c/d/e"]
    assert [e.value for e in listing] == [b"v/a", b"v/a/x", b"v/b", b"v/c/d/e"]
    assert listing.revision >= max(e.revision for e in listing)
    assert [e.key for e in store.list("")] == ["v/a", "v/a/x", "v/b", "v/c/d/e", "vx/a", "w"]
    assert len(store.list("nothing/")) == 0
    # A key that is also a directory keeps its children when deleted.
    store.delete("v/a")
    assert [e.key for e in store.list("v/")] == ["v/a/x", "v/b", "v/c/d/e"]


def test_read_gives_keys_and_prefixes_in_one_snapshot(store):
    for key in ("v/b", "v/a", "v/a/x", "vx/a", "w", "peers/p1", "peers/p2", "alive/p1"):
        store.put(key, key.encode())
    last = store.put("k", b"k")
    read = store.read(keys=["w", "k", "missing", "v/a"], prefixes=["peers/", "none/", "v/"])
    # each entry once (v/a is a key and under v/), sorted, with what get and list give
    assert [e.key for e in read] == ["k", "peers/p1", "peers/p2", "v/a", "v/a/x", "v/b", "w"]
    assert list(read) == sorted([store.get("k"), store.get("w"), *store.list("peers/"),
                                 *store.list("v/")], key=lambda e: e.key)
    # its revision is no earlier than what it saw, and a watch from it misses nothing later
    assert read.revision >= last
    with store.watch("peers/", start_revision=read.revision) as watch:
        store.put("peers/p3", b"3")
        seen = []
        deadline = time.monotonic() + 10
        while "peers/p3" not in seen and time.monotonic() < deadline:
            seen += [e.key for e in watch.get(timeout=1)]
    assert "peers/p3" in seen
    assert len(store.read(keys=["missing"])) == 0
    assert [e.key for e in store.read(prefixes=[""])] == [e.key for e in store.list("")]
    with pytest.raises(StoreError):
        store.read()
    with pytest.raises(InvalidKeyError):
        store.read(prefixes=["v"])


def test_stores_with_different_roots_are_isolated(store_server):
    with open_store(store_server.url("iso1")) as a, open_store(store_server.url("iso2")) as b:
        a.put("k", b"a")
        assert b.get("k") is None
        b.put("k", b"b")
        assert a.get("k").value == b"a"
        assert [e.key for e in a.list("")] == ["k"]
        a.delete("k")
        b.delete("k")


# ----------------------------------------------------------------------------- expectations
def test_create_only_if_absent(store):
    r = store.put("peer/1", b"x", ABSENT)
    with pytest.raises(ConflictError) as err:
        store.put("peer/1", b"y", ABSENT)
    assert err.value.keys == ("peer/1",)
    assert store.get("peer/1").revision == r


def test_compare_and_swap_on_revision(store):
    r1 = store.put("vol", b"1")
    r2 = store.put("vol", b"2", r1)
    with pytest.raises(ConflictError):
        store.put("vol", b"3", r1)  # stale
    assert store.get("vol").value == b"2"
    with pytest.raises(ConflictError):
        store.delete("vol", r1)
    assert store.delete("vol", r2) > r2
    with pytest.raises(ConflictError):
        store.put("vol", b"4", r2)  # gone: an exact revision cannot match
    with pytest.raises(ConflictError):
        store.delete("vol", r2)


def test_cas_race_threads_one_creator_wins_no_lost_increment(store):
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def create(me: int) -> None:
        barrier.wait()
        try:
            store.put("race/owner", str(me).encode(), ABSENT)
            winners.append(me)
        except ConflictError:
            pass

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get("race/owner").value == str(winners[0]).encode()

    store.put("race/counter", b"0")

    def increment(times: int) -> None:
        for _ in range(times):
            while True:
                entry = store.get("race/counter")
                try:
                    store.put("race/counter", str(int(entry.value) + 1).encode(), entry.revision)
                    break
                except ConflictError:
                    continue

    threads = [threading.Thread(target=increment, args=(15,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("race/counter").value == b"90"


def test_cas_race_processes(store, store_url):
    creators = [worker("create", store_url, "proc/owner", str(i)) for i in range(4)]
    outcomes = [p.communicate(timeout=120)[0].strip() for p in creators]
    assert sorted(outcomes) == ["LOST", "LOST", "LOST", "WON"], outcomes
    incrementers = [worker("increment", store_url, "proc/counter", "20") for _ in range(3)]
    for p in incrementers:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    assert store.get("proc/counter").value == b"60"


# ----------------------------------------------------------------------------- transactions
def test_transaction_applies_all_with_one_revision(store):
    base = store.put("t/a", b"a0")
    rev = store.transaction([
        Put("t/a", b"a1", expect=base), Put("t/b", b"b1", expect=ABSENT), Check("t/c", ABSENT),
    ])
    a, b = store.get("t/a"), store.get("t/b")
    assert (a.value, b.value, a.revision, b.revision) == (b"a1", b"b1", rev, rev)
    rev2 = store.transaction([Delete("t/a", expect=rev), Put("t/c", b"c")])
    assert rev2 > rev and store.get("t/a") is None and store.get("t/c").value == b"c"


def test_transaction_is_all_or_nothing(store):
    ra = store.put("t/a", b"a0")
    store.put("t/b", b"b0")
    with pytest.raises(ConflictError) as err:
        store.transaction([
            Put("t/a", b"a1", expect=ra), Put("t/b", b"b1", expect=ABSENT), Put("t/new", b"n"),
        ])
    assert "t/b" in err.value.keys
    assert store.get("t/a").value == b"a0"
    assert store.get("t/b").value == b"b0"
    assert store.get("t/new") is None
    with pytest.raises(ConflictError):
        store.transaction([Check("t/a", ra + 1000), Delete("t/b")])
    assert store.get("t/b").value == b"b0"


def test_concurrent_transfers_keep_the_sum(store):
    store.transaction([Put("bank/x", b"100"), Put("bank/y", b"100")])

    def transfer(times: int) -> None:
        for _ in range(times):
            while True:
                x, y = store.get("bank/x"), store.get("bank/y")
                try:
                    store.transaction([
                        Put("bank/x", str(int(x.value) - 1).encode(), expect=x.revision),
                        Put("bank/y", str(int(y.value) + 1).encode(), expect=y.revision),
                    ])
                    break
                except ConflictError:
                    continue

    threads = [threading.Thread(target=transfer, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (store.get("bank/x").value, store.get("bank/y").value) == (b"60", b"140")


# ----------------------------------------------------------------------------- watches
def test_watch_sees_puts_and_deletes_under_its_prefix(store):
    with store.watch("w/") as watch:
        store.put("w/a", b"1")
        store.put("other", b"x")
        store.put("w/b/c", b"2")
        store.delete("w/a")
        if store.capabilities.watch_every_revision:
            events = collect(watch, 3)
        else:  # how many events arrive depends on coalescing: wait for the final state
            events = collect_until(watch, lambda ev: final_state(ev) == {"w/a": None, "w/b/c": b"2"})
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert "other" not in {e.key for e in events}
    if store.capabilities.watch_every_revision:
        assert [(e.kind, e.key, e.value) for e in events] == [
            (EventKind.PUT, "w/a", b"1"), (EventKind.PUT, "w/b/c", b"2"), (EventKind.DELETE, "w/a", None),
        ]
    else:  # the put of w/a may coalesce with its deletion; the final state must arrive
        assert final_state(events) == {"w/a": None, "w/b/c": b"2"}


def test_watch_resumes_from_a_revision(store):
    start = store.put("r/seed", b"0")
    store.put("r/a", b"1")
    store.put("r/b", b"2")
    store.delete("r/seed")
    with store.watch("r/", start_revision=start) as watch:
        events = collect(watch, 3)
        assert final_state(events) == {"r/a": b"1", "r/b": b"2", "r/seed": None}
        assert all(e.revision > start for e in events)
        last = events[-1].revision
    store.put("r/c", b"3")
    with store.watch("r/", start_revision=last) as watch:
        assert final_state(collect(watch, 1)) == {"r/c": b"3"}


def test_watch_from_a_listing_misses_nothing(store):
    store.put("l/a", b"0")
    listing = store.list("l/")
    store.put("l/a", b"1")
    with store.watch("l/", start_revision=listing.revision) as watch:
        store.put("l/b", b"2")
        events = collect(watch, 2)
    assert final_state(events) == {"l/a": b"1", "l/b": b"2"}


def test_many_changes_reach_the_final_state(store):
    with store.watch("m/") as watch:
        for i in range(50):
            store.put(f"m/{i % 5}", str(i).encode())
        store.delete("m/0")
        deadline = time.monotonic() + 20
        events: list = []
        while time.monotonic() < deadline:
            events += watch.get(timeout=0.5)
            if final_state(events) == {"m/0": None, **{f"m/{k}": str(45 + k).encode() for k in range(1, 5)}}:
                break
    assert final_state(events) == {"m/0": None, **{f"m/{k}": str(45 + k).encode() for k in range(1, 5)}}
    if store.capabilities.watch_every_revision:
        assert len([e for e in events if e.kind is EventKind.PUT]) == 50


def read_until_failure(watch, timeout: float = 20.0) -> list:
    """Read ``watch`` until ``get`` raises or ``timeout`` passes (the events read)."""
    return collect_until(watch, lambda events: False, timeout)


def test_watch_from_a_compacted_revision_raises(store):
    start = store.put("c/a", b"1")
    store.put("c/b", b"2")
    store.delete("c/a")
    store.compact(store.put("c/b", b"3"))
    with pytest.raises(RevisionCompactedError):
        with store.watch("c/", start_revision=start) as watch:  # raises here, or from get()
            read_until_failure(watch)
    # From the compaction's own revision on, history is whole again.
    with store.watch("c/", start_revision=store.list("c/").revision) as watch:
        store.put("c/c", b"4")
        assert final_state(collect(watch, 1)) == {"c/c": b"4"}


def test_follow_lists_again_when_its_revision_was_compacted(store):
    store.put("f/a", b"1")
    store.put("f/gone", b"x")
    updates = []
    with Follow(store, "f/", on_change=updates.append) as follow:
        follow.poll(0)  # the first listing; the watch from its revision opens on the next poll
        listed = follow.revision
        store.put("f/a", b"2")
        store.put("f/b", b"3")
        store.delete("f/gone")
        store.compact(store.put("f/c", b"4"))
        assert follow.wait_for(lambda entries: {k: e.value for k, e in entries.items()}
                               == {"f/a": b"2", "f/b": b"3", "f/c": b"4"}, timeout=30)
    assert updates[0].relisted and updates[0].revision == listed
    relisted = [u for u in updates[1:] if u.relisted]
    assert relisted, "the follow did not list again after its revision was compacted"
    assert relisted[0].revision > listed and "f/gone" in relisted[0].removed


def test_follow_from_a_revision_known_empty_sees_every_later_entry(store):
    """The executor's results: written only after the revision it sent its messages at, so
    it follows them from there without a listing (which would miss nothing, but cost a
    round trip)."""
    sent = store.put("sent/marker", b"m")
    store.put("r/early", b"1")  # after the revision: must be seen although never listed
    with Follow(store, "r/") as follow:
        follow.assume_empty_at(sent)
        assert follow.ready and follow.revision == sent
        store.put("r/late", b"2")
        assert follow.wait_for(lambda entries: {k: e.value for k, e in entries.items()}
                               == {"r/early": b"1", "r/late": b"2"}, timeout=30)
        with pytest.raises(RuntimeError):
            follow.assume_empty_at(sent)


class CountingStore:
    """The store a Follow sees, counting the watch reads it makes."""

    def __init__(self, store) -> None:
        self.store, self.reads = store, 0

    def list(self, prefix: str = ""):
        return self.store.list(prefix)

    def watch(self, prefix: str = "", start_revision=None):
        watch = self.store.watch(prefix, start_revision)
        get = watch.get

        def counted(timeout=None):
            self.reads += 1
            return get(timeout)
        watch.get = counted
        return watch


def test_a_follow_whose_store_closes_backs_off(store_url):
    """A daemon switching clusters closes the store under its follows: they must back off,
    not spin on the closed watch (four spinning follows starved a ZooKeeper activation)."""
    store = open_store(store_url)
    counting = CountingStore(store)
    follow = Follow(counting, "s/", poll_interval=0.5).start()
    try:
        assert follow.wait_ready(30)
        assert wait_for(lambda: counting.reads > 0, 10, 0.05)
        store.close()
        time.sleep(0.5)
        before = counting.reads
        time.sleep(2)
        assert counting.reads - before <= 4, f"{counting.reads - before} watch reads in 2 s"
    finally:
        follow.stop()
        store.close()


# ----------------------------------------------------------------------------- leases
def test_revoking_a_lease_removes_its_keys(store):
    lease = store.lease(store.capabilities.min_lease_ttl)
    store.put("alive/n1", b"up", lease=lease)
    store.put("kept", b"k")
    entry = store.get("alive/n1")
    assert entry.lease == lease.id
    with store.watch("alive/") as watch:
        lease.revoke()
        events = collect(watch, 1)
    assert [(e.kind, e.key) for e in events] == [(EventKind.DELETE, "alive/n1")]
    assert store.get("alive/n1") is None
    assert store.get("kept").value == b"k"
    with pytest.raises(LeaseExpiredError):
        store.put("alive/n2", b"x", lease=lease)


def test_a_transaction_binds_only_the_puts_that_name_the_lease(store):
    lease = store.lease(store.capabilities.min_lease_ttl)
    store.transaction([Put("alive/leased", b"1", lease=lease), Put("config/kept", b"2")])
    assert store.get("alive/leased").lease == lease.id
    assert store.get("config/kept").lease is None
    lease.revoke()
    assert store.get("alive/leased") is None
    assert store.get("config/kept").value == b"2"


def test_a_put_with_another_lease_rebinds_the_key(store):
    """What a restarted node does with its alive key while the lease of its earlier life still
    holds it: the new lease takes the key over, the old one no longer removes it."""
    ttl = store.capabilities.min_lease_ttl
    old, new = store.lease(ttl), store.lease(ttl)
    store.put("alive/n1", b"old", lease=old)
    store.put("alive/n1", b"new", lease=new)
    assert store.get("alive/n1").lease == new.id
    rev = store.get("alive/n1").revision
    store.put("alive/n1", b"again", rev, lease=old)
    assert store.get("alive/n1").lease == old.id
    store.transaction([Put("alive/n1", b"new", lease=new), Put("config/n1", b"c")])
    assert store.get("alive/n1").lease == new.id
    old.revoke()
    assert store.get("alive/n1").value == b"new"
    new.revoke()
    assert store.get("alive/n1") is None


def test_lease_expires_without_keep_alive(store):
    ttl = store.capabilities.min_lease_ttl
    lease = store.lease(ttl)
    store.put("alive/n1", b"up", lease=lease)
    assert wait_for(lambda: store.get("alive/n1") is None, expiry_wait(store, ttl))
    with pytest.raises(LeaseExpiredError):
        lease.refresh()


def test_keep_alive_holds_a_lease_past_its_ttl(store):
    ttl = store.capabilities.min_lease_ttl
    with store.lease(ttl) as lease:
        store.put("alive/n1", b"up", lease=lease)
        time.sleep(ttl * 2 + 0.5)
        assert store.get("alive/n1") is not None
        assert lease.alive
    assert store.get("alive/n1") is None


def test_lease_keys_vanish_when_the_holder_is_killed(store, store_url):
    ttl = store.capabilities.min_lease_ttl
    holder = worker("hold-lease", store_url, "alive/holder", str(ttl))
    try:
        assert holder.stdout.readline().strip() == "READY", holder.stderr.read()
        assert store.get("alive/holder").value == b"held"
        holder.kill()  # SIGKILL: no revoke, no goodbye
        holder.wait()
        assert wait_for(lambda: store.get("alive/holder") is None, expiry_wait(store, ttl))
    finally:
        holder.kill()
        holder.wait()


# ----------------------------------------------------------------------------- locks
def test_lock_mutual_exclusion_and_fencing(store):
    shared = {"value": 0}
    tokens: list[int] = []

    def critical(times: int) -> None:
        lock = store.lock("volume-v1")
        for _ in range(times):
            with lock:
                tokens.append(lock.fencing_token)
                seen = shared["value"]
                time.sleep(0.005)
                shared["value"] = seen + 1

    threads = [threading.Thread(target=critical, args=(4,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shared["value"] == 12
    assert len(set(tokens)) == 12


def test_lock_taken_and_released_inside_transactions(store):
    """A transaction's coordinator takes its lock with the writes that start its work and
    releases it with those that end it (gluster_mgmt.executor.coordinator)."""
    lease = store.lease(max(2.0, store.capabilities.min_lease_ttl)).keep_alive()
    try:
        lock = store.lock("vol-txn", holder="a", lease=lease)
        token = store.transaction([lock.taking_op(), Put("work/started", b"1")])
        lock.taken(token)
        assert lock.fencing_token == token
        assert store.get(lock_key("vol-txn")).revision == token
        other = store.lock("vol-txn", holder="b", lease=lease)
        with pytest.raises(ConflictError):  # held: nothing of that transaction is written
            store.transaction([other.taking_op(), Put("work/other", b"1")])
        assert store.get("work/other") is None
        with pytest.raises(LockTimeoutError):
            other.acquire(timeout=0.5)
        store.transaction([Put("work/done", b"1"), lock.release_op()])
        lock.released()
        assert not lock.held
        assert other.acquire(timeout=10) > token
        # a release expected at a token no longer held refuses its whole transaction
        with pytest.raises(ConflictError):
            store.transaction([Put("work/late", b"1"), Delete(lock_key("vol-txn"), token)])
        assert store.get("work/late") is None
        other.release()
    finally:
        lease.revoke()


def test_lock_tokens_grow_and_acquire_times_out(store):
    first = store.lock("vol")
    t1 = first.acquire(timeout=10)
    other = store.lock("vol")
    with pytest.raises(LockTimeoutError):
        other.acquire(timeout=1.0)
    assert not other.held
    first.release()
    t2 = other.acquire(timeout=10)
    assert t2 > t1
    other.release()
    assert first.fencing_token is None


def test_lock_on_the_holders_own_lease(store):
    """A lock bound to a lease its holder already keeps (the executor's: the node's): taken
    and given up without a lease of its own, the lease outliving it; gone with the lease."""
    lease = store.lease(max(2.0, store.capabilities.min_lease_ttl)).keep_alive()
    try:
        lock = store.lock("vol-own", lease=lease)
        token = lock.acquire(timeout=10)
        assert store.get(lock_key("vol-own")).lease == lease.id
        with pytest.raises(LockTimeoutError):
            store.lock("vol-own").acquire(timeout=0.5)
        lock.release()
        assert store.get(lock_key("vol-own")) is None and lease.alive
        again = store.lock("vol-own", lease=lease)
        assert again.acquire(timeout=10) > token
        lease.revoke()  # the holder's lease ends: its lock goes with it
        other = store.lock("vol-own")
        assert other.acquire(timeout=10) > token
        other.release()
        again.release()  # its key is gone already: nothing to do, and no error
        assert store.get(lock_key("vol-own")) is None
    finally:
        lease.revoke()


def test_lock_is_released_when_its_holder_dies(store, store_url):
    holder = worker("hold-lock", store_url, "vol-x")
    try:
        line = holder.stdout.readline().strip()
        assert line.startswith("TOKEN "), holder.stderr.read()
        lock = store.lock("vol-x")
        with pytest.raises(LockTimeoutError):
            lock.acquire(timeout=0.5)
        holder.kill()
        holder.wait()
        token = lock.acquire(timeout=expiry_wait(store, store.capabilities.min_lease_ttl))
        assert token > int(line.split()[1])
        lock.release()
    finally:
        holder.kill()
        holder.wait()


# ----------------------------------------------------------------------------- failures
def _needs_server(store_server):
    if not store_server.has_process:
        pytest.skip(f"{store_server.backend}: the embedded store has no server to stop")


def test_server_restart_during_use(store, store_server):
    _needs_server(store_server)
    store.put("s/before", b"1")
    with store.watch("s/") as watch:
        store_server.stop()
        try:
            started = time.monotonic()
            with pytest.raises((UnavailableError, StoreTimeoutError)):
                store.put("s/during", b"2")
            assert time.monotonic() - started < store.timeout * 3 + 5
            with pytest.raises((UnavailableError, StoreTimeoutError)):
                store.get("s/before")
        finally:
            store_server.start()
        # It recovers: the same Store object works again, and the watch resumed.
        assert wait_for(lambda: store.put("s/after", b"3") > 0, 60)
        store.delete("s/before")
        events = collect(watch, 2, timeout=60)
    assert final_state(events) == {"s/after": b"3", "s/before": None}
    assert store.get("s/after").value == b"3"


def test_watch_catches_up_on_changes_made_while_it_was_disconnected(store, store_server):
    _needs_server(store_server)
    store.put("d/a", b"1")
    with store.watch("d/") as watch:
        store_server.kill()
        store_server.start()
        with open_store(store_server.url(store.url.root.rstrip("/"))) as other:
            assert wait_for(lambda: other.put("d/b", b"2") > 0, 60)
            other.delete("d/a")
        events = collect(watch, 2, timeout=60)
    assert final_state(events) == {"d/b": b"2", "d/a": None}


def test_unreachable_server_is_unavailable(store_server):
    _needs_server(store_server)
    from tests.helpers import free_port

    url = store_server.url("x").replace(str(store_server.client_port), str(free_port()))
    started = time.monotonic()
    with pytest.raises((UnavailableError, StoreTimeoutError)) as err:
        with open_store(url + "?timeout=2") as store:
            store.get("k")
    assert time.monotonic() - started < 30
    assert err.value.__cause__ is not None  # the backend's own exception is kept


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("key", [
    "", "/a", "a/", "a//b", "a/../b", "a/./b", ".hidden", "a/.b", "a b", "a\x00b", "a\nb",
    "é", "a?b", "a*", "a%2F", "x" * 600,
])
def test_invalid_keys_are_rejected(store, key):
    with pytest.raises(InvalidKeyError) as err:
        store.put(key, b"v")
    assert repr(key[:20])[1:-1] in str(err.value)
    with pytest.raises(InvalidKeyError):
        store.get(key)


@pytest.mark.parametrize("prefix", ["a", "/a/", "a//", "../"])
def test_invalid_prefixes_are_rejected(store, prefix):
    with pytest.raises(InvalidKeyError):
        store.list(prefix)
    with pytest.raises(InvalidKeyError):
        store.watch(prefix)


def test_oversized_values_and_transactions_are_rejected(store):
    with pytest.raises(ValueTooLargeError) as err:
        store.put("big", b"x" * (MAX_VALUE_SIZE + 1))
    assert str(MAX_VALUE_SIZE) in str(err.value)
    store.put("big", b"x" * MAX_VALUE_SIZE)  # the limit itself is fine everywhere
    assert len(store.get("big").value) == MAX_VALUE_SIZE
    with pytest.raises(ValueTooLargeError):
        store.transaction([Put(f"k{i}", b"v") for i in range(MAX_TXN_OPS + 1)])
    with pytest.raises(ValueTooLargeError):
        store.transaction([Put(f"k{i}", b"x" * (MAX_VALUE_SIZE // 2 + 1)) for i in range(2)])
    assert store.get("k0") is None
    store.transaction([Put(f"k{i}", b"v") for i in range(MAX_TXN_OPS)])
    assert len(store.list("")) == MAX_TXN_OPS + 1


def test_wrong_types_and_expectations_are_rejected(store):
    with pytest.raises(StoreError):
        store.put("k", "text, not bytes")
    with pytest.raises(StoreError):
        store.put("k", b"v", expect=0)
    with pytest.raises(StoreError):
        store.put("k", b"v", expect=True)
    with pytest.raises(StoreError):
        store.transaction([])
    with pytest.raises(StoreError):
        store.transaction([Put("k", b"1"), Delete("k")])
    with pytest.raises(StoreError):
        store.delete("k", ABSENT)
    assert store.get("k") is None


def test_unknown_scheme_names_installed_backends():
    with pytest.raises(PluginError) as err:
        open_store("redis://127.0.0.1:6379")
    message = str(err.value)
    assert "redis" in message
    for name in ("local", "etcd", "consul", "zookeeper"):
        assert name in message


def test_secrets_never_appear_in_errors(store_server):
    _needs_server(store_server)
    from tests.helpers import free_port

    url = store_server.url("x").replace(
        "://", "://admin:s3cr3t-T0ken@").replace(str(store_server.client_port), str(free_port()))
    with pytest.raises(StoreError) as err:
        with open_store(url + "?timeout=2") as store:
            store.get("k")
    assert "s3cr3t-T0ken" not in str(err.value)
    assert "s3cr3t-T0ken" not in repr(err.value)
