"""Logging what peers send without letting them write the log.

A peer controls the strings it sends (volfile ids, brick names, HTTP paths) and how often it
sends them. Logged verbatim, one request with a 1 MiB name writes 1 MiB of log, and a loop of
failing requests writes a line each. :func:`untrusted` bounds the first, :class:`RateLimiter`
the second. Stdlib only, so every layer can use it.
"""

from __future__ import annotations

import collections
import threading
import time

__all__ = ["MAX_LOGGED_CHARS", "RateLimiter", "suppressed_note", "untrusted"]

#: Enough for any real volfile id, brick path or URL path; a name longer than this is an
#: attack or a bug, and its first characters identify it.
MAX_LOGGED_CHARS = 160


def untrusted(value: object, limit: int = MAX_LOGGED_CHARS) -> str:
    """``value`` quoted (``repr``, so control characters cannot forge log lines), cut to about
    ``limit`` characters and saying how much was cut. Log it with ``%s``."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text) - limit} more characters)"


class RateLimiter:
    """At most one message per key per ``interval`` seconds, counting the ones held back.

    ``suppressed = limiter.allow(key)``: None means stay quiet; a number means log now, and
    says how many messages of that key were skipped since the last one logged. Keys are kept
    in a bounded table (oldest forgotten first) so varying keys cannot grow memory.
    Thread-safe: the REST server's workers share one.
    """

    def __init__(self, interval: float = 10.0, max_keys: int = 1024) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._last: collections.OrderedDict[str, tuple[float, int]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> int | None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last[0] < self.interval:
                self._last[key] = (last[0], last[1] + 1)
                return None
            self._last.pop(key, None)
            self._last[key] = (now, 0)
            while len(self._last) > self.max_keys:
                self._last.popitem(last=False)
            return last[1] if last is not None else 0


def suppressed_note(count: int) -> str:
    """The suffix saying how many similar messages a :class:`RateLimiter` held back."""
    return f" ({count} similar messages suppressed)" if count else ""
