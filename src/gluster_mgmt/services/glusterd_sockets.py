"""The unix sockets (``-S``) of bricks and self-heal daemons, named as glusterd 10.3 names them.

glusterd talks to a brick or self-heal daemon it finds already running (its pidfile names a
live process) over the socket it would have given it: ``RUN/XXH64.socket``, the 64-bit xxHash
(seed 0, hex of its big-endian bytes) of ``RUN/vols/VOL/run/HOST-PATH`` for a brick and of
``RUN/shd/VOL/run-NODE_UUID`` for a self-heal daemon. Processes gluster-mgmtd starts get the
same names, so either daemon can adopt the other's processes, both ways of a takeover: glusterd
handed a node back reaches the bricks gluster-mgmtd started (they show online, it does not
restart them), and ``volume heal`` reaches a self-heal daemon glusterd started.
"""

from __future__ import annotations

import os
import struct

from gluster_mgmt.model import path_with_dashes

_MASK = (1 << 64) - 1
# XXH64's primes (the xxHash specification)
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK


def _round(accumulator: int, lane: int) -> int:
    accumulator = (accumulator + lane * _P2) & _MASK
    return (_rotl(accumulator, 31) * _P1) & _MASK


def _merge(accumulator: int, value: int) -> int:
    accumulator ^= _round(0, value)
    return (accumulator * _P1 + _P4) & _MASK


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (the algorithm of the xxHash specification)."""
    length, offset = len(data), 0
    if length >= 32:
        lanes = [(seed + _P1 + _P2) & _MASK, (seed + _P2) & _MASK, seed, (seed - _P1) & _MASK]
        while offset + 32 <= length:
            words = struct.unpack_from("<4Q", data, offset)
            lanes = [_round(lane, word) for lane, word in zip(lanes, words)]
            offset += 32
        digest = (_rotl(lanes[0], 1) + _rotl(lanes[1], 7) + _rotl(lanes[2], 12)
                  + _rotl(lanes[3], 18)) & _MASK
        for lane in lanes:
            digest = _merge(digest, lane)
    else:
        digest = (seed + _P5) & _MASK
    digest = (digest + length) & _MASK
    while offset + 8 <= length:
        digest ^= _round(0, struct.unpack_from("<Q", data, offset)[0])
        digest = (_rotl(digest, 27) * _P1 + _P4) & _MASK
        offset += 8
    if offset + 4 <= length:
        digest ^= (struct.unpack_from("<I", data, offset)[0] * _P1) & _MASK
        digest = (_rotl(digest, 23) * _P2 + _P3) & _MASK
        offset += 4
    for byte in data[offset:]:
        digest ^= (byte * _P5) & _MASK
        digest = (_rotl(digest, 11) * _P1) & _MASK
    digest ^= digest >> 33
    digest = (digest * _P2) & _MASK
    digest ^= digest >> 29
    digest = (digest * _P3) & _MASK
    return digest ^ (digest >> 32)


def _socket(run_dir: str, named_after: str) -> str:
    return os.path.join(run_dir, f"{xxh64(named_after.encode()):016x}.socket")


def brick_socket(run_dir: str, volume: str, hostname: str, path: str) -> str:
    """A brick's ``-S`` socket, glusterd's name for it."""
    return _socket(run_dir, os.path.join(run_dir, "vols", volume, "run",
                                         f"{hostname}-{path_with_dashes(path)}"))


def shd_socket(run_dir: str, volume: str, node_uuid: str) -> str:
    """A volume's self-heal daemon's ``-S`` socket on node ``node_uuid``, glusterd's name."""
    return _socket(run_dir, os.path.join(run_dir, "shd", volume, f"run-{node_uuid}"))
