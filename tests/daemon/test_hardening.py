"""Attacks and crashes the daemon must shrug off: values that would write volfile lines of
their own, and a restart after SIGKILL that must not leave the node's volumes locked."""

from __future__ import annotations

import time

from gluster_mgmt import open_store
from gluster_mgmt.cli.client import Client
from gluster_mgmt.store import ABSENT
from gluster_mgmt.store.keys import lock_key


def _volume(daemon, tmp_path, name: str) -> None:
    daemon.cli("volume", "create", name, f"{daemon.address}:{tmp_path}/{name}", "force",
               check=True)


def test_a_value_cannot_write_volfile_lines(make_daemons, tmp_path):
    """Sent through the API (the CLI would strip the blanks of auth.allow on its own)."""
    (d1,) = make_daemons(1)
    _volume(d1, tmp_path, "vi")
    api = Client(str(d1.socket))
    for key, value in [("auth.allow", "10.0.0.1\noption evil yes"),
                       ("auth.allow", "10.0.0.1\r\nvolume evil"),
                       ("user.xlator.hoge", "posix\nend-volume"),
                       ("user.xlator.hoge.opt1", "1\x00")]:
        reply = api.call("volume/set", {"name": "vi", "options": [[key, value]]})
        assert not reply.ok and "control character" in reply.op_errstr, reply
        assert key in reply.op_errstr, reply
    reply = api.call("volume/set", {"name": "vi", "options": [["auth.allow", 5]]})
    assert not reply.ok and "must be text" in reply.op_errstr, reply
    result = d1.cli("volume", "set", "vi", "user.xlator.ho ge", "posix")
    assert result.returncode == 1 and "invalid user xlator option" in result.stdout + result.stderr
    info = d1.cli("volume", "info", "vi", check=True).stdout
    assert "evil" not in info and "auth.allow" not in info and "user.xlator" not in info
    # a well-formed value still goes through, and the daemon still serves
    d1.cli("volume", "set", "vi", "auth.allow", "10.0.0.1,10.0.0.2", check=True)
    assert "auth.allow: 10.0.0.1,10.0.0.2" in d1.cli("volume", "info", "vi", check=True).stdout


def test_restart_after_sigkill_releases_the_nodes_locks_at_once(make_daemons, tmp_path):
    """The state a daemon SIGKILLed in the middle of `volume set` leaves: the volume's lock
    held under its name, bound to a lease the store keeps for its TTL. The restarted node
    knows the holder was itself and releases it at once."""
    (d1,) = make_daemons(1)
    _volume(d1, tmp_path, "vk")
    with open_store(d1.store_url) as store:
        dead = store.lease(60)  # nobody renews it: it outlives the restart by far
        store.put(lock_key("volume-vk"), d1.uuid.encode(), ABSENT, lease=dead)
        d1.kill()
        d1.start()
        started = time.monotonic()
        result = d1.cli("volume", "set", "vk", "performance.quick-read", "off")
        assert result.returncode == 0, result.stdout + result.stderr + d1.log_tail()
        assert time.monotonic() - started < 8  # not the 10 s lock wait, nor the 60 s lease
        assert "released what this node held before it restarted" in d1.log_tail(200)
        # a lock held by another node is not touched
        other = store.lease(60)
        store.put(lock_key("volume-vo"), b"another-node", ABSENT, lease=other)
        d1.kill()
        d1.start()
        assert store.get(lock_key("volume-vo")) is not None
        other.revoke()
        dead.revoke()
