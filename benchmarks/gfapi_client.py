"""A long-lived libgfapi client: what `volume statedump VOL client HOST:PID` reaches.

    python -m benchmarks.gfapi_client HOST VOLUME STATEDUMP_DIR LOGFILE

It mounts VOLUME from HOST's volfile server (24007) with libgfapi (the stock
``libgfapi.so.0``, through ctypes), sets its statedump path to STATEDUMP_DIR, prints
``ready PID`` and holds the mount until its stdin closes. A gfapi client keeps its
volfile-fetch connection to the management daemon and answers the GF_CBK_STATEDUMP callback
for its own pid (api/src/glfs-mgmt.c); the FUSE client (glusterfsd-mgmt.c) ignores that
callback, which is why the statedump recordings and tests use this program too.
"""

from __future__ import annotations

import ctypes
import os
import sys


def main(argv: list[str]) -> int:
    host, volume, dumps, log = argv
    api = ctypes.CDLL("libgfapi.so.0")
    api.glfs_new.restype = ctypes.c_void_p
    api.glfs_new.argtypes = [ctypes.c_char_p]
    for name in ("glfs_init", "glfs_fini"):
        getattr(api, name).argtypes = [ctypes.c_void_p]
    api.glfs_set_volfile_server.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                            ctypes.c_char_p, ctypes.c_int]
    api.glfs_set_logging.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    api.glfs_set_statedump_path.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fs = api.glfs_new(volume.encode())
    if not fs:
        print("glfs_new failed", file=sys.stderr)
        return 1
    if api.glfs_set_volfile_server(fs, b"tcp", host.encode(), 24007) or \
            api.glfs_set_logging(fs, log.encode(), 7) or \
            api.glfs_set_statedump_path(fs, dumps.encode()) or api.glfs_init(fs):
        print(f"cannot mount {volume} from {host}: errno {ctypes.get_errno()}", file=sys.stderr)
        return 1
    print(f"ready {os.getpid()}", flush=True)
    sys.stdin.read()
    api.glfs_fini(fs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
