"""`volume status VOL [BRICK] clients|client-list|fd|inode|callpool|mem` as the gluster CLI
prints it (``cli_print_volume_status_*`` for text, ``cli_xml_output_vol_status_*`` for
``--xml``): each brick's own answer, as ``volume/status`` returns it (``dump``: the brick's
pairs; ``client_list``: glusterd's merged counts), read the way the CLI reads glusterd's dict
(a key that is missing ends the section, as the CLI's ``goto out`` does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

LINE = "-" * 46
#: client-list's process kinds: (name, counted by prefix)
_PROCESS_COUNTS = (("fuse", True), ("gfapi", True), ("rebalance", False), ("glustershd", False),
                   ("quotad", False), ("snapd", False))
_MALLINFO = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
             "fordblks", "keepcost")


class _Missing(Exception):
    """A key the CLI wanted is not there: the section ends."""


class _Pairs:
    def __init__(self, pairs: list[list[str]]) -> None:
        self.values = {k: v for k, v in pairs}

    def get(self, key: str) -> str:
        if key not in self.values:
            raise _Missing(key)
        return self.values[key]

    def num(self, key: str) -> int:
        return int(self.get(key))


def _names(node: dict[str, Any]) -> tuple[str, str]:
    """glusterd's ``brickN.hostname`` and ``.path`` of a listed node: a brick's host and
    path; the daemon asked for `status VOL shd|quotad WHAT`: its name and node uuid."""
    if node.get("name"):
        return node["name"], node["hostname"]
    return node["hostname"], node["path"]


def text_lines(volume: dict[str, Any], err: list[str]) -> list[str]:
    """The CLI's text for one volume (``err`` gets the lines it writes to stderr). After
    `status VOL nfs|shd|quotad` (``notbrick``) a node is "HOST : PATH", else "Brick : ..."."""
    kind = volume["dump"]
    name = volume["name"]
    if kind == "client-list":
        return _client_list(name, volume)
    title = {"clients": "Client connections for volume", "fd": "FD tables for volume",
             "inode": "Inode tables for volume", "callpool": "Pending calls for volume",
             "mem": "Memory status for volume :"}[kind]
    notbrick = bool(volume.get("daemon"))
    lines = [f"{title} {name}"]
    for node in [*(volume.get("bricks") or []), *(volume.get("self_heal") or [])]:
        hostname, path = _names(node)
        lines += [LINE, f"{hostname} : {path}" if notbrick else f"Brick : {hostname}:{path}"]
        if not node.get("online"):
            lines.append(f"{hostname} is offline" if notbrick else "Brick is offline")
            continue
        pairs = _Pairs(node.get("dump") or [])
        try:
            _BRICK_TEXT[kind](pairs, lines, err)
        except _Missing:
            if kind in ("clients", "mem"):
                break  # the whole listing ends (the CLI's goto out)
    lines.append(LINE + "\n" if kind in ("clients", "mem") else LINE)
    return lines


def _clients(pairs: _Pairs, lines: list[str], err: list[str]) -> None:
    count = pairs.num("clientcount")
    lines.append(f"Clients connected : {count}")
    if count == 0:
        return
    lines += [f"{'Hostname':<48} {'BytesRead':>15} {'BytesWritten':>15} {'OpVersion':>15}",
              f"{'--------':<48} {'---------':>15} {'------------':>15} {'---------':>15}"]
    for j in range(count):
        lines.append(f"{pairs.get(f'client{j}.hostname'):<48} "
                     f"{pairs.num(f'client{j}.bytesread'):>15} "
                     f"{pairs.num(f'client{j}.byteswrite'):>15} "
                     f"{pairs.num(f'client{j}.opversion'):>15}")


def _connections(table: str, write: Any, always_numbered: bool) -> Any:
    """A section per client connection: ``connJ.TABLE``'s keys written by ``write``."""
    def section(pairs: _Pairs, lines: list[str], err: list[str]) -> None:
        count = pairs.num("conncount")
        for j in range(count):
            if always_numbered or count > 1:
                lines.append(f"Connection {j + 1}:")
            try:
                write(pairs, f"conn{j}.{table}", lines, err)
            except _Missing:
                pass
            lines.append(" ")
    return section


def _fd_table_text(pairs: _Pairs, prefix: str, lines: list[str], err: list[str]) -> None:
    maxfds = pairs.num(f"{prefix}.maxfds")
    lines.append(f"RefCount = {pairs.num(f'{prefix}.refcount')}  MaxFDs = {maxfds}  "
                 f"FirstFree = {pairs.num(f'{prefix}.firstfree')}")
    if pairs.num(f"{prefix}.openfds") == 0:
        err.append("No open fds")  # the stock CLI's cli_err
        return
    lines += [f"{'FD Entry':<19} {'PID':<19} {'RefCount':<19} {'Flags':<19}",
              f"{'--------':<19} {'---':<19} {'--------':<19} {'-----':<19}"]
    for i in range(maxfds):
        try:
            entry = [pairs.num(f"{prefix}.fdentry{i}.{k}") for k in ("pid", "refcount", "flags")]
        except _Missing:
            continue
        lines.append(f"{i:<19} {entry[0]:<19} {entry[1]:<19} {entry[2]:<19}")


def _itable_text(pairs: _Pairs, prefix: str, lines: list[str], err: list[str]) -> None:
    for key, label in (("lru_limit", "LRU limit    "), ("active_size", "Active Inodes"),
                       ("lru_size", "LRU Inodes   "), ("purge_size", "Purge Inodes ")):
        lines.append(f"{label} : {pairs.num(f'{prefix}.{key}')}")


_fd = _connections("fdtable", _fd_table_text, True)
_inode = _connections("itable", _itable_text, False)


def _callpool(pairs: _Pairs, lines: list[str], err: list[str]) -> None:
    count = pairs.num("callpool.count")
    lines.append(f"Pending calls: {count}")
    for j in range(count):
        lines.append(f"Call Stack{j + 1}")
        prefix = f"callpool.stack{j}"
        try:
            values = [pairs.num(f"{prefix}.{k}") for k in ("uid", "gid", "pid", "unique", "count")]
        except _Missing:
            continue
        lines += [f" UID    : {values[0]}", f" GID    : {values[1]}", f" PID    : {values[2]}",
                  f" Unique : {values[3]}", f" Frames : {values[4]}"]
        for i in range(values[4]):
            lines.append(f" Frame {i + 1}")
            frame = f"{prefix}.frame{i}"
            try:
                lines += [f"  Ref Count   = {pairs.num(f'{frame}.refcount')}",
                          f"  Translator  = {pairs.get(f'{frame}.translator')}",
                          f"  Completed   = {'Yes' if pairs.num(f'{frame}.complete') else 'No'}"]
            except _Missing:
                continue
            for key, label in (("parent", "Parent     "), ("windfrom", "Wind From  "),
                               ("windto", "Wind To    "), ("unwindfrom", "Unwind From"),
                               ("unwindto", "Unwind To  ")):
                if f"{frame}.{key}" in pairs.values:
                    lines.append(f"  {label} = {pairs.get(f'{frame}.{key}')}")
        lines.append(" ")


def _mem(pairs: _Pairs, lines: list[str], err: list[str]) -> None:
    lines += ["Mallinfo", "--------"]
    for key in _MALLINFO:
        lines.append(f"{key.capitalize():<8} : {pairs.num(f'mallinfo.{key}')}")
    lines.append(" ")
    try:  # cli_print_volume_status_mempool: its own section (10.3's answers have none)
        _mempool(pairs, lines)
    except _Missing:
        pass


def _mempool(pairs: _Pairs, lines: list[str]) -> None:
    count = pairs.num("mempool-count")
    lines += ["Mempool Stats", "-------------",
              f"{'Name':<30} {'HotCount':>9} {'ColdCount':>9} {'PaddedSizeof':>12} "
              f"{'AllocCount':>10} {'MaxAlloc':>8} {'Misses':>8} {'Max-StdAlloc':>12}",
              f"{'----':<30} {'--------':>9} {'---------':>9} {'------------':>12} "
              f"{'----------':>10} {'--------':>8} {'--------':>8} {'------------':>12}"]
    for i in range(count):
        p = f"pool{i}"
        lines.append(f"{pairs.get(f'{p}.name'):<30} {pairs.num(f'{p}.hotcount'):>9} "
                     f"{pairs.num(f'{p}.coldcount'):>9} {pairs.num(f'{p}.paddedsizeof'):>12} "
                     f"{pairs.num(f'{p}.alloccount'):>10} {pairs.num(f'{p}.max_alloc'):>8} "
                     f"{pairs.num(f'{p}.pool-misses'):>8} {pairs.num(f'{p}.max-stdalloc'):>12}")


_BRICK_TEXT = {"clients": _clients, "fd": _fd, "inode": _inode, "callpool": _callpool,
               "mem": _mem}


def _client_list(name: str, volume: dict[str, Any]) -> list[str]:
    merged = _Pairs(volume.get("client_list") or [])
    lines = [f"Client connections for volume {name}"]
    total = 0
    done: set[str] = set()
    try:
        count = merged.num("client-count")  # none from a daemon (it refuses client-list)
        lines += [f"{'Name':<48} {'count':>15}", f"{'-----':<48} {'------':>15}"]
        for i in range(count):
            process = merged.get(f"client{i}.name")
            kind = next((k for k, prefix in _PROCESS_COUNTS
                         if (process.startswith(k) if prefix else process == k)), None)
            if kind is None or kind in done:
                continue
            done.add(kind)
            count = int(merged.values.get(f"{kind}-count", 0))
            total += count
            lines.append(f"{process:<48} {count:>15}")
    except _Missing:
        pass
    lines += [f"\ntotal clients for volume {name} : {total} ", "-" * 65 + "\n"]
    return lines


# -- --xml -----------------------------------------------------------------------------------

#: A spec of elements as the CLI writes them: (tag, text) or (tag, list of the same); a
#: list is filled after its element is placed, so what was written stays when a key is missing
Spec = list[tuple[str, Any]]


def xml_children(brick: dict[str, Any], kind: str) -> tuple[Spec, bool]:
    """The elements a node gets after the common ones (an online one only), and whether
    the CLI wrote them all: a key it wants that is missing ends its whole document there
    (``goto out``, then xml_end closes what is open), which the 10.3 bricks' and daemons'
    inode, callpool and mem answers always reach. client-list adds none."""
    if not brick.get("online") or kind == "client-list":
        return [], True
    pairs = _Pairs(brick.get("dump") or [])
    spec: Spec = []
    try:
        _XML[kind](pairs, spec)
    except _Missing:
        return spec, False
    return spec, True


def _clients_xml(pairs: _Pairs, spec: Spec) -> None:
    status: Spec = []
    count = pairs.num("clientcount")
    clients = [("client", [("hostname", pairs.get(f"client{j}.hostname")),
                           ("bytesRead", pairs.num(f"client{j}.bytesread")),
                           ("bytesWrite", pairs.num(f"client{j}.byteswrite")),
                           ("opVersion", pairs.num(f"client{j}.opversion"))])
               for j in range(count)]
    spec.append(("clientsStatus", status))
    status += [("clientCount", count), *clients]


def _fd_xml(pairs: _Pairs, spec: Spec) -> None:
    count = pairs.num("conncount")
    spec.append(("fdStatus", [("connections", count),
                              *(("connection", _fd_table(pairs, j)) for j in range(count))]))


def _fd_table(pairs: _Pairs, j: int) -> Spec:
    prefix = f"conn{j}.fdtable"
    maxfds = pairs.num(f"{prefix}.maxfds")
    entries = []
    for i in range(maxfds):
        try:
            entries.append(("fd", [("entry", i), *((tag, pairs.num(f"{prefix}.fdentry{i}.{k}"))
                                                   for tag, k in (("pid", "pid"),
                                                                  ("refCount", "refcount"),
                                                                  ("flags", "flags")))]))
        except _Missing:
            continue
    return [("fdTable", [("refCount", pairs.num(f"{prefix}.refcount")), ("maxFds", maxfds),
                         ("firstFree", pairs.num(f"{prefix}.firstfree")),
                         ("openFds", pairs.num(f"{prefix}.openfds")), *entries])]


def _open(spec: Spec, tag: str) -> Spec:
    """A new element in ``spec``, to be filled."""
    children: Spec = []
    spec.append((tag, children))
    return children


#: mempool's pool keys, in the CLI's order (its misspelt tag included)
_POOL_KEYS = (("hotCount", "hotcount"), ("coldCount", "coldcount"),
              ("padddedSizeOf", "paddedsizeof"), ("allocCount", "alloccount"),
              ("maxAlloc", "max_alloc"), ("poolMisses", "pool-misses"),
              ("maxStdAlloc", "max-stdalloc"))


def _mem_xml(pairs: _Pairs, spec: Spec) -> None:
    mem = _open(spec, "memStatus")
    mallinfo = _open(mem, "mallinfo")
    for key in _MALLINFO:
        mallinfo.append((key, pairs.num(f"mallinfo.{key}")))
    for i, pool in _counted(pairs, mem, "mempool", "mempool-count", "count", "pool"):
        pool.append(("name", pairs.get(f"pool{i}.name")))
        for tag, key in _POOL_KEYS:
            pool.append((tag, pairs.num(f"pool{i}.{key}")))


def _counted(pairs: _Pairs, spec: Spec, tag: str, key: str, count_tag: str, child: str
             ) -> Iterator[tuple[int, Spec]]:
    """An element ``tag`` holding the count ``key`` as ``count_tag``, then one ``child`` per
    item: yields each item's index and spec, for the caller to fill in turn."""
    holder = _open(spec, tag)
    count = pairs.num(key)
    holder.append((count_tag, count))
    for j in range(count):
        yield j, _open(holder, child)


def _inode_xml(pairs: _Pairs, spec: Spec) -> None:
    for j, connection in _counted(pairs, spec, "inodeStatus", "conncount", "connections",
                                  "connection"):
        prefix = f"conn{j}.itable"
        for which, tag in (("active", "activeSize"), ("lru", "lruSize"), ("purge", "purgeSize")):
            size = pairs.num(f"{prefix}.{which}_size")
            connection.append((tag, size))
            if size:
                listing = _open(connection, which)
                for i in range(size):
                    inode = _open(listing, "inode")
                    entry = f"{prefix}.{which}{i}"
                    inode.append(("gfid", pairs.get(f"{entry}.gfid")))
                    for tag_, key in (("nLookup", "nlookup"), ("ref", "ref"),
                                      ("iaType", "ia_type")):
                        inode.append((tag_, pairs.num(f"{entry}.{key}")))


_FRAME_LINKS = (("parent", "parent"), ("windFrom", "windfrom"), ("windTo", "windto"),
                ("unwindFrom", "unwindfrom"), ("unwindTo", "unwindto"))


def _callpool_xml(pairs: _Pairs, spec: Spec) -> None:
    for j, stack in _counted(pairs, spec, "callpoolStatus", "callpool.count", "count",
                             "callStack"):
        prefix = f"callpool.stack{j}"
        for key in ("uid", "gid", "pid", "unique"):
            stack.append((key, pairs.num(f"{prefix}.{key}")))
        frames = pairs.num(f"{prefix}.count")
        stack.append(("frameCount", frames))
        for i in range(frames):
            frame = _open(stack, "callFrame")
            at = f"{prefix}.frame{i}"
            frame += [("refCount", pairs.num(f"{at}.refcount")),
                      ("translator", pairs.get(f"{at}.translator")),
                      ("complete", pairs.num(f"{at}.complete"))]
            frame += [(tag, pairs.values[f"{at}.{key}"]) for tag, key in _FRAME_LINKS
                      if f"{at}.{key}" in pairs.values]


_XML = {"clients": _clients_xml, "fd": _fd_xml, "mem": _mem_xml, "inode": _inode_xml,
        "callpool": _callpool_xml}
