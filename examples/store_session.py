"""A short session of the Store API on the embedded default store.

python examples/store_session.py [STORE_URL]   (default: a local store in a temporary dir)
"""

from __future__ import annotations

import sys
import tempfile

from gluster_mgmt import open_store
from gluster_mgmt.errors import ConflictError
from gluster_mgmt.store import ABSENT, Check, Put


def main(url: str) -> None:
    with open_store(url) as store:
        print(f"store: {store!r}")
        with store.watch("volumes/") as watch:
            rev = store.put("volumes/v1", b'{"name": "v1", "status": "Created"}', ABSENT)
            print(f"put volumes/v1 -> revision {rev}")
            try:
                store.put("volumes/v1", b"{}", ABSENT)
            except ConflictError as exc:
                print(f"second create refused: {exc}")
            rev = store.transaction([
                Put("volumes/v1", b'{"name": "v1", "status": "Started"}', expect=rev),
                Check("volumes/v2", ABSENT),
            ])
            print(f"transaction committed at revision {rev}")
            for event in watch.get(timeout=2) + watch.get(timeout=0.5):
                print(f"watch: {event.kind.value} {event.key} @ {event.revision}")
        with store.lease(2) as lease:
            store.put("alive/node1", b"up", lease=lease)
            print(f"leased key: {store.get('alive/node1').value!r} (lease {lease.id:x})")
        print(f"after lease revoke: {store.get('alive/node1')}")
        with store.lock("volume-v1") as lock:
            print(f"lock held, fencing token {lock.fencing_token}")
        print("listing:", [(e.key, e.revision) for e in store.list("")])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(f"local://{tmp}/store.db")
