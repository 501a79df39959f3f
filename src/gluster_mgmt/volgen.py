"""Volume model -> volfiles (brick, fuse client, self-heal daemon, rebalance), as glusterd 10.3
writes them.

Pure: no I/O, no clock, no randomness, so the daemon can regenerate every volfile on each store
change and compare texts to decide whether to send FETCHSPEC. The output is byte-for-byte what
glusterd 10.3 generates for the same volume (checked against reference volfiles), because
clients compare volfile checksums and reconfigure in place only when the graph is unchanged.

How glusterd lays a graph out, which this module reproduces:
* xlators are printed in the order they were created (bottom of the graph first);
* an xlator's options are printed newest first (glusterd's dict prepends), and setting an
  option again keeps its place;
* options of the option table are applied in table order, after the graph is built.

One module (~600 lines) on purpose: every graph kind shares the builder and the layout rules
above, and byte-identity depends on them being applied the same way everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from gluster_mgmt.model import Brick, Volume, VolumeStatus, VolumeType
from gluster_mgmt.options import (
    BOOL_FALSE,
    BOOL_TRUE,
    MapEntry,
    OptionTable,
    option_table,
)

GLUSTERD_WORKDIR = "/var/lib/glusterd"

#: C0 controls and DEL: a newline in a value would start a line of its own in the volfile
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class VolfileError(ValueError):
    """A volfile that cannot be written safely (a value would break out of its line)."""


# -- graph values ------------------------------------------------------------------------

@attrs.frozen
class Xlator:
    """One ``volume … end-volume`` section. ``options`` are in printed order."""

    name: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    subvolumes: tuple[str, ...] = ()

    def option(self, key: str) -> str | None:
        return next((v for k, v in self.options if k == key), None)

    @property
    def options_dict(self) -> dict[str, str]:
        return dict(self.options)


@attrs.frozen
class Graph:
    """A translator graph; ``xlators`` in file order, the last one is the top."""

    xlators: tuple[Xlator, ...]

    @property
    def top(self) -> Xlator:
        return self.xlators[-1]

    def __getitem__(self, name: str) -> Xlator:
        for xlator in self.xlators:
            if xlator.name == name:
                return xlator
        raise KeyError(name)

    def names(self) -> list[str]:
        return [x.name for x in self.xlators]

    def of_type(self, xlator_type: str) -> list[Xlator]:
        return [x for x in self.xlators if x.type == xlator_type]

    def text(self) -> str:
        """The volfile. Refuses control characters anywhere: whatever let a value through
        (an unchecked option, a store written by hand), it must not become extra lines —
        ``auth.allow`` with ``\\noption evil yes`` would otherwise add an option to a brick."""
        self.check_printable()
        sections = []
        for xlator in self.xlators:
            lines = [f"volume {xlator.name}", f"    type {xlator.type}"]
            lines += [f"    option {key} {value}" for key, value in xlator.options]
            if xlator.subvolumes:
                lines.append(f"    subvolumes {' '.join(xlator.subvolumes)}")
            lines.append("end-volume")
            sections.append("\n".join(lines) + "\n")
        return "\n".join(sections)

    def check_printable(self) -> None:
        """Raise VolfileError naming the first option (or xlator) holding a control character."""
        for xlator in self.xlators:
            for key, value in xlator.options:
                bad = _CONTROL.search(key) or _CONTROL.search(value)
                if bad:
                    # the value itself is not quoted: it may be a password
                    raise VolfileError(f"option {key!r} of {xlator.name!r} contains the control "
                                       f"character {bad.group()!r}; refusing to write it into "
                                       "a volfile")
            for word in (xlator.name, xlator.type, *xlator.subvolumes):
                if _CONTROL.search(word):
                    raise VolfileError(f"xlator {word!r} contains a control character; "
                                       "refusing to write it into a volfile")


def parse_volfile(text: str) -> Graph:
    """Parse volfile text (comments and blank lines ignored) into a Graph."""
    xlators: list[Xlator] = []
    current: dict[str, Any] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "volume":
            if current is not None:
                raise ValueError(f"line {number}: 'volume' inside volume {current['name']}")
            current = {"name": rest, "type": "", "options": [], "subvolumes": ()}
        elif current is None:
            raise ValueError(f"line {number}: {word!r} outside a volume section")
        elif word == "type":
            current["type"] = rest
        elif word == "option":
            key, _, value = rest.partition(" ")
            current["options"].append((key, value.strip()))
        elif word == "subvolumes":
            current["subvolumes"] = tuple(rest.split())
        elif word == "end-volume":
            xlators.append(Xlator(name=current["name"], type=current["type"],
                                  options=tuple(current["options"]),
                                  subvolumes=current["subvolumes"]))
            current = None
        else:
            raise ValueError(f"line {number}: unknown keyword {word!r}")
    if current is not None:
        raise ValueError(f"volume {current['name']} has no end-volume")
    return Graph(tuple(xlators))


# -- graph builder (private, mutable while one volfile is built) --------------------------

class _Node:
    __slots__ = ("name", "type", "options", "children")

    def __init__(self, name: str, xlator_type: str) -> None:
        self.name = name
        self.type = xlator_type
        self.options: dict[str, str] = {}
        self.children: list[_Node] = []

    def set(self, key: str, value: str) -> None:
        self.options[key] = value  # re-setting keeps the original position, as glusterd's dict


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[_Node] = []  # creation order

    def add(self, name: str, xlator_type: str, link_top: bool = True) -> _Node:
        node = _Node(name, xlator_type)
        if link_top and self.nodes:
            node.children.append(self.nodes[-1])
        self.nodes.append(node)
        return node

    def add_named(self, volname: str, xlator_type: str) -> _Node:
        return self.add(f"{volname}-{xlator_type.rsplit('/', 1)[1]}", xlator_type)

    @property
    def top(self) -> _Node:
        return self.nodes[-1]

    def of_type(self, xlator_type: str) -> list[_Node]:
        return [n for n in self.nodes if n.type == xlator_type]

    def freeze(self, order: list[_Node] | None = None) -> Graph:
        return Graph(tuple(
            Xlator(name=n.name, type=n.type, options=tuple(reversed(list(n.options.items()))),
                   subvolumes=tuple(c.name for c in n.children))
            for n in (order or self.nodes)))


# -- option passes -----------------------------------------------------------------------

def _each_option(table: OptionTable, settings: Mapping[str, str],
                 handler: Callable[[MapEntry, str], None]) -> None:
    """glusterd's option walk: table order; the set value, else the table default."""
    for entry in table.entries:
        value = settings.get(entry.key, entry.default)
        if value is not None:
            handler(entry, value)


def _set_on_type(graph: _GraphBuilder, xlator_type: str | None, option: str, value: str) -> None:
    for node in graph.of_type(xlator_type or ""):
        node.set(option, value)


def _basic(graph: _GraphBuilder) -> Callable[[MapEntry, str], None]:
    def handler(entry: MapEntry, value: str) -> None:
        if entry.is_special:
            return
        if entry.option_name == "ta-remote-port":
            return  # only for thin-arbiter clients, which this project does not build
        _set_on_type(graph, entry.xlator, entry.option_name, value)
    return handler


# '!' options that map onto an io-stats option for one role (brick or client)
_ROLE_IO_STATS_OPTIONS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"!client-log-level", "!brick-log-level"}), "log-level"),
    (frozenset({"!sys-log-level"}), "sys-log-level"),
    (frozenset({"!logger"}), "logger"),
    (frozenset({"!log-format"}), "log-format"),
    (frozenset({"!log-buf-size"}), "log-buf-size"),
    (frozenset({"!log-flush-timeout"}), "log-flush-timeout"),
    (frozenset({"!cluster.localtime-logging"}), "cluster.localtime-logging"),
    (frozenset({"!client-threads", "!brick-threads"}), "threads"),
)


def _role_option_handler(graph: _GraphBuilder, role: str, specials: frozenset[str],
                         option: str) -> Callable[[MapEntry, str], None]:
    def handler(entry: MapEntry, value: str) -> None:
        if entry.option in specials and role in entry.key:
            _set_on_type(graph, entry.xlator, option, value)
    return handler


def _apply_role_options(graph: _GraphBuilder, table: OptionTable, settings: Mapping[str, str],
                        role: str) -> None:
    """Log and thread settings of io-stats, one pass per kind as glusterd does."""
    for specials, option in _ROLE_IO_STATS_OPTIONS:
        _each_option(table, settings, _role_option_handler(graph, role, specials, option))


def _is_true(settings: Mapping[str, str], key: str, default: bool = False) -> bool:
    """glusterd's dict_get_str_boolean: only explicitly set values count, not table defaults."""
    value = settings.get(key)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in BOOL_TRUE:
        return True
    if lowered in BOOL_FALSE:
        return False
    return default


def _effective(table: OptionTable, settings: Mapping[str, str], key: str) -> str | None:
    """glusterd's volinfo_get: the set value, else the table default."""
    if key in settings:
        return settings[key]
    for entry in table.rows(key) if key in table else ():
        if entry.default is not None:
            return entry.default
    return None


def _effective_true(table: OptionTable, settings: Mapping[str, str], key: str) -> bool:
    value = _effective(table, settings, key)
    return value is not None and value.lower() in BOOL_TRUE


def _shared_brick_count(volume: Volume, brick: Brick) -> int:
    """Bricks of this volume on the same host and filesystem split its statfs between them."""
    if brick.fsid is None:
        return 1
    return sum(1 for b in volume.bricks if b.host_uuid == brick.host_uuid and b.fsid == brick.fsid)


def _check_options(volume: Volume) -> None:
    """Name the volume option (as `volume set` took it) before it is mapped to xlator keys."""
    for key, value in volume.options.items():
        bad = _CONTROL.search(key) or _CONTROL.search(value)
        if bad:
            raise VolfileError(f"volume {volume.name}: option {key!r} contains the control "
                               f"character {bad.group()!r}; refusing to write it into a volfile")


#: glusterd's RPC_SET_OPT list (glusterd-volgen.c), in its order: ``ssl.*`` volume options
#: copied as ``transport.socket.ssl-*`` onto every protocol/server and protocol/client.
_SSL_TRANSPORT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("ssl.own-cert", "ssl-own-cert"),
    ("ssl.private-key", "ssl-private-key"),
    ("ssl.ca-list", "ssl-ca-list"),
    ("ssl.crl-path", "ssl-crl-path"),
    ("ssl.certificate-depth", "ssl-cert-depth"),
    ("ssl.cipher-list", "ssl-cipher-list"),
    ("ssl.dh-param", "ssl-dh-param"),
    ("ssl.ec-curve", "ssl-ec-curve"),
)


def _set_ssl_transport_options(node: _Node, settings: Mapping[str, str]) -> None:
    """Only set values count (no table defaults): the socket's own defaults apply otherwise."""
    for key, option in _SSL_TRANSPORT_OPTIONS:
        if key in settings:
            node.set(f"transport.socket.{option}", settings[key])


def _transport(volume: Volume) -> str:
    return "tcp" if volume.transport.value == "tcp,rdma" else volume.transport.value


# -- brick volfile -----------------------------------------------------------------------

def build_brick_graph(volume: Volume, brick: Brick, *, op_version: int = 100000,
                      workdir: str = GLUSTERD_WORKDIR, table: OptionTable | None = None,
                      on_own_host: bool = True) -> Graph:
    """The graph a brick process (glusterfsd) loads for ``brick``. ``on_own_host=False``: the
    copy another node keeps (glusterd counts shared bricks only on their own host, and
    writes 0 into the other hosts' copies)."""
    _check_options(volume)
    table = table or option_table()
    settings = dict(volume.options)
    name = volume.name
    graph = _GraphBuilder()

    posix = graph.add_named(name, "storage/posix")
    posix.set("directory", brick.path)
    posix.set("volume-id", volume.uuid)
    if (_effective_true(table, settings, "features.quota")
            or _effective_true(table, settings, "features.trash")
            or _effective_true(table, settings, "update-link-count-parent")):
        posix.set("update-link-count-parent", "on")
    if op_version >= 70000:
        posix.set("fips-mode-rchecksum", "on")
    posix.set("shared-brick-count", str(_shared_brick_count(volume, brick) if on_own_host else 0))

    if volume.arbiter_count == 1:
        brick_set = next(s for s in volume.subvolumes() if brick in s)
        if brick_set[-1] == brick:
            graph.add_named(name, "features/arbiter")

    trash = graph.add_named(name, "features/trash")
    trash.set("trash-dir", ".trashcan")
    trash.set("brick-path", brick.path)
    trash.set("trash-internal-op", "off")

    changelog = graph.add_named(name, "features/changelog")
    changelog.set("changelog-brick", brick.path)
    changelog.set("changelog-dir", f"{brick.path}/.glusterfs/changelogs")
    bitrot = _effective(table, settings, "features.bitrot") or "disable"
    changelog.set("changelog-notification", "on" if bitrot.lower() in BOOL_TRUE else "off")

    stub = graph.add_named(name, "features/bitrot-stub")
    stub.set("export", brick.path)
    stub.set("bitrot", bitrot)

    if _is_true(settings, "features.acl", default=True):
        graph.add_named(name, "features/access-control")
    graph.add_named(name, "features/locks")
    graph.add_named(name, "features/worm")
    graph.add_named(name, "features/read-only").set("read-only", "off")
    graph.add_named(name, "features/leases")
    graph.add_named(name, "features/upcall")
    graph.add_named(name, "performance/io-threads")
    graph.add_named(name, "features/selinux")

    marker = graph.add_named(name, "features/marker")
    marker.set("volume-uuid", volume.uuid)
    marker.set("timestamp-file", f"{workdir}/vols/{name}/marker.tstamp")
    marker.set("quota-version", str(volume.quota_version))

    graph.add_named(name, "features/barrier")

    index = graph.add_named(name, "features/index")
    index.set("index-base", f"{brick.path}/.glusterfs/indices")
    if volume.type is VolumeType.DISPERSE:
        index.set("xattrop64-watchlist", "trusted.ec.dirty")
    else:
        index.set("xattrop-dirty-watchlist", "trusted.afr.dirty")
        index.set("xattrop-pending-watchlist", f"trusted.afr.{name}-")

    quota = graph.add_named(name, "features/quota")
    quota.set("volume-uuid", name)
    quota_value = _effective(table, settings, "features.quota")
    if quota_value is not None:
        quota.set("server-quota", quota_value)

    if _is_true(settings, "network.compression"):
        graph.add_named(name, "features/cdc").set("mode", "server")
    if _is_true(settings, "features.tag-namespaces"):
        graph.add_named(name, "features/namespace")
    if _is_true(settings, "features.sdfs"):
        graph.add_named(name, "features/sdfs").set("pass-through", "false")

    io_stats = graph.add(brick.path, "debug/io-stats")
    io_stats.set("unique-id", brick.path)
    if op_version >= 70100:
        io_stats.set("volume-id", volume.uuid)

    server = graph.add_named(name, "protocol/server")
    server.set("transport-type", _transport(volume))
    _set_ssl_transport_options(server, settings)
    if "transport.address-family" in settings:
        server.set("transport.address-family", settings["transport.address-family"])
    server.set(f"auth.login.{brick.path}.allow", volume.username)
    server.set(f"auth.login.{volume.username}.password", volume.password)
    server.set("auth-path", brick.path)
    if name == "gluster_shared_storage":
        server.set("strict-auth-accept", "true")
    if "auth.ssl-allow" in settings:
        server.set(f"auth.login.{brick.path}.ssl-allow", settings["auth.ssl-allow"])

    def server_spec(entry: MapEntry, value: str) -> None:
        if entry.option == "!server-auth":
            server.set(f"auth.addr.{brick.path}.{entry.key.split('.', 1)[1]}", value)
            return
        for specials, option in _ROLE_IO_STATS_OPTIONS:
            if entry.option in specials and "brick" in entry.key:
                _set_on_type(graph, entry.xlator, option, value)

    _each_option(table, settings, server_spec)
    _each_option(table, settings, _basic(graph))
    return graph.freeze()


# -- client side (fuse client, shd, rebalance) -------------------------------------------

def _build_clients(graph: _GraphBuilder, volume: Volume, trusted: bool,
                   settings: Mapping[str, str]) -> None:
    for index, brick in enumerate(volume.bricks):
        client = graph.add(volume.client_name(index), "protocol/client", link_top=False)
        client.set("ping-timeout", "42")
        client.set("remote-host", brick.hostname)
        client.set("remote-subvolume", brick.path)
        client.set("transport-type", _transport(volume))
        if "transport.address-family" in volume.options:
            client.set("transport.address-family", volume.options["transport.address-family"])
        if trusted:
            client.set("username", volume.username)
            client.set("password", volume.password)
        if _is_true(settings, "client.ssl"):
            # its place in the volfile; the option pass then writes client.ssl's own value
            client.set("transport.socket.ssl-enabled", "true")
        _set_ssl_transport_options(client, settings)


def _link_groups(graph: _GraphBuilder, children: list[_Node], group_size: int, xlator_type: str,
                 name_format: str) -> list[_Node]:
    parents = []
    for start in range(0, len(children), group_size):
        parent = graph.add(name_format.format(len(parents)), xlator_type, link_top=False)
        parent.children.extend(children[start:start + group_size])
        parents.append(parent)
    return parents


def _build_clusters(graph: _GraphBuilder, volume: Volume, op_version: int) -> list[_Node]:
    """Replica/disperse sets over the client xlators; returns them in index order."""
    clients = graph.of_type("protocol/client")
    name = volume.name
    if volume.type is VolumeType.REPLICATE:
        sets = _link_groups(graph, clients, volume.replica_count, "cluster/replicate",
                            name + "-replicate-{}")
        if op_version >= 30900:
            for afr in sets:
                afr.set("afr-pending-xattr", ",".join(c.name for c in afr.children))
        if op_version >= 90000:
            for afr in sets:
                afr.set("volume-id", volume.uuid)
        if volume.arbiter_count:
            for afr in sets:
                afr.set("arbiter-count", str(volume.arbiter_count))
        return sets
    if volume.type is VolumeType.DISPERSE:
        sets = _link_groups(graph, clients, volume.disperse_count, "cluster/disperse",
                            name + "-disperse-{}")
        for ec in sets:
            ec.set("redundancy", str(volume.redundancy_count))
        return sets
    return clients


def _has_decommissioned_client(node: _Node, decommissioned: frozenset[str]) -> bool:
    """Whether any protocol/client below ``node`` (or ``node`` itself) talks to a
    decommissioned brick."""
    if node.type == "protocol/client":
        return node.name in decommissioned
    return any(_has_decommissioned_client(child, decommissioned) for child in node.children)


def _build_dht(graph: _GraphBuilder, volume: Volume, subvolumes: list[_Node],
               settings: Mapping[str, str]) -> _Node:
    """DHT over the replica/disperse sets (or clients), behind readdir-ahead when
    parallel-readdir is on.

    Children holding a brick that `remove-brick start` is emptying are named in
    ``decommissioned-bricks`` so DHT stops placing new files there. glusterd sets it as soon
    as DHT exists, before any table option, so it is printed as DHT's last option."""
    name = volume.name
    if _is_true(settings, "performance.parallel-readdir"):
        readdir_aheads = []
        for index, child in enumerate(subvolumes):
            rda = graph.add(f"{name}-readdir-ahead-{index}", "performance/readdir-ahead",
                            link_top=False)
            rda.set("performance.readdir-ahead", "on")
            rda.children.append(child)
            readdir_aheads.append(rda)
        subvolumes = readdir_aheads

    dht_type = "cluster/distribute"
    if _is_true(settings, "cluster.nufa"):
        dht_type = "cluster/nufa"
    elif _is_true(settings, "cluster.switch"):
        dht_type = "cluster/switch"
    dht = graph.add(f"{name}-dht", dht_type, link_top=False)
    dht.children.extend(subvolumes)

    decommissioned = frozenset(volume.client_name(index)
                               for index, brick in enumerate(volume.bricks)
                               if brick.decommissioned)
    if decommissioned:
        children = [c.name for c in dht.children
                    if _has_decommissioned_client(c, decommissioned)]
        dht.set("decommissioned-bricks", ",".join(children))
    return dht


def build_client_graph(volume: Volume, *, trusted: bool = False, op_version: int = 100000,
                       table: OptionTable | None = None) -> Graph:
    """The FUSE client graph; ``trusted`` adds the brick credentials (glusterd's
    ``trusted-VOL.tcp-fuse.vol``, which is what it serves for GETSPEC of ``VOL``)."""
    _check_options(volume)
    table = table or option_table()
    settings: dict[str, str] = dict(volume.options)
    name = volume.name
    graph = _GraphBuilder()

    _build_clients(graph, volume, trusted, settings)
    _build_dht(graph, volume, _build_clusters(graph, volume, op_version), settings)

    if _is_true(settings, "features.cloudsync"):
        graph.add_named(name, "features/cloudsync")
    if _is_true(settings, "features.shard"):
        graph.add_named(name, "features/shard")
    if op_version >= 50000 and _is_true(settings, "features.ctime", default=True):
        graph.add_named(name, "features/utime")
    if _is_true(settings, "network.compression"):
        graph.add_named(name, "features/cdc").set("mode", "client")

    if _is_true(settings, "server.root-squash"):
        settings["performance.read-after-open"] = "yes"
    settings["client.send-gids"] = "false" if _is_true(settings, "server.manage-gids") else "true"

    def performance_xlator(entry: MapEntry, value: str) -> None:
        if entry.option != "!perf" or value.lower() not in BOOL_TRUE:
            return
        if (entry.key == "performance.open-behind"
                and (entry.op_version or 0) > volume.client_op_version):
            return
        if (entry.key == "performance.readdir-ahead"
                and _effective_true(table, settings, "performance.parallel-readdir")):
            return
        graph.add_named(name, entry.xlator or "")

    _each_option(table, settings, performance_xlator)

    graph.add(name, "debug/io-stats")
    _apply_role_options(graph, table, settings, "client")
    _each_option(table, settings, _basic(graph))
    return graph.freeze()


_SHD_SPECIALS = {"!self-heal-daemon": "self-heal-daemon", "!heal-timeout": "heal-timeout"}
# what glusterd's shd service adds on top of the volume's options
_SHD_OVERRIDES = {"cluster.background-self-heal-count": "0", "cluster.data-self-heal": "on",
                  "cluster.metadata-self-heal": "on", "cluster.entry-self-heal": "on"}


def build_shd_graph(volume: Volume, *, op_version: int = 100000,
                    table: OptionTable | None = None) -> Graph | None:
    """The self-heal daemon's graph for one volume; None for volumes it does not heal."""
    _check_options(volume)
    if volume.type not in (VolumeType.REPLICATE, VolumeType.DISPERSE):
        return None
    table = table or option_table()
    enable_key = ("cluster.self-heal-daemon" if volume.type is VolumeType.REPLICATE
                  else "cluster.disperse-self-heal-daemon")
    settings = {enable_key: "enable", **volume.options, **_SHD_OVERRIDES}
    name = volume.name

    graph = _GraphBuilder()
    _build_clients(graph, volume, True, settings)
    sets = _build_clusters(graph, volume, op_version)

    def shd_option(entry: MapEntry, value: str) -> None:
        option = _SHD_SPECIALS.get(entry.option or "")
        if option is None and entry.is_special:
            return
        _set_on_type(graph, entry.xlator, option or entry.option_name, value)

    _each_option(table, settings, shd_option)
    for node in graph.nodes:
        if node.type in ("cluster/replicate", "cluster/disperse"):
            node.set("iam-self-heal-daemon", "yes")

    io_stats = graph.add(name, "debug/io-stats", link_top=False)
    io_stats.children.extend(sets)
    _apply_role_options(graph, table, settings, "client")
    return graph.freeze()


def build_rebalance_graph(volume: Volume, *, op_version: int = 100000,
                          table: OptionTable | None = None) -> Graph | None:
    """The graph of the rebalance process (`remove-brick start`, `rebalance start`):
    glusterd's ``VOL-rebalance.vol``. None when DHT has a single child, as glusterd then
    writes no file.

    It is the trusted client graph without the client-only layers (utime, performance
    xlators, send-gids): migration must see the bricks' data uncached. Then the client log
    settings and the plain table options, as glusterd's build_rebalance_volfile does."""
    _check_options(volume)
    if len(volume.bricks) <= volume.subvolume_size:
        return None
    table = table or option_table()
    settings: dict[str, str] = dict(volume.options)
    graph = _GraphBuilder()

    _build_clients(graph, volume, True, settings)
    _build_dht(graph, volume, _build_clusters(graph, volume, op_version), settings)
    graph.add(volume.name, "debug/io-stats")
    _apply_role_options(graph, table, settings, "client")
    _each_option(table, settings, _basic(graph))
    return graph.freeze()


#: The GETSPEC key of the quota daemon's volfile (glusterd's ``gluster/quotad``).
QUOTAD_VOLFILE_ID = "gluster/quotad"


def quota_enabled(volume: Volume) -> bool:
    """``features.quota`` is on (glusterd's glusterd_is_volume_quota_enabled)."""
    return _is_true(volume.options, "features.quota")


def build_quotad_graph(volumes: Iterable[Volume], *, op_version: int = 100000,
                       table: OptionTable | None = None) -> Graph | None:
    """quotad's graph (glusterd's build_quotad_graph): for each started volume with quota
    on, its trusted clients and clusters under a DHT named as the volume, with the volume's
    plain options; one features/quotad on top naming each volume. None when there is none."""
    table = table or option_table()
    nodes: list[_Node] = []
    quotad = _Node("quotad", "features/quotad")
    for volume in volumes:
        if volume.status is not VolumeStatus.STARTED or not quota_enabled(volume):
            continue
        _check_options(volume)
        settings: dict[str, str] = dict(volume.options)
        graph = _GraphBuilder()
        _build_clients(graph, volume, True, settings)
        dht = _build_dht(graph, volume, _build_clusters(graph, volume, op_version), settings)
        dht.name = volume.name
        _each_option(table, settings, _basic(graph))
        nodes += graph.nodes
        quotad.set(f"{volume.name}.volume-id", volume.name)
        quotad.children.append(dht)
    if not quotad.children:
        return None
    return _GraphBuilder().freeze([*nodes, quotad])


# -- texts and volfile ids ---------------------------------------------------------------

def brick_volfile(volume: Volume, brick: Brick, **kwargs: Any) -> str:
    return build_brick_graph(volume, brick, **kwargs).text()


def client_volfile(volume: Volume, *, trusted: bool = False, **kwargs: Any) -> str:
    return build_client_graph(volume, trusted=trusted, **kwargs).text()


def shd_volfile(volume: Volume, **kwargs: Any) -> str | None:
    graph = build_shd_graph(volume, **kwargs)
    return graph.text() if graph else None


def rebalance_volfile(volume: Volume, **kwargs: Any) -> str | None:
    graph = build_rebalance_graph(volume, **kwargs)
    return graph.text() if graph else None


_BRICK_ID = re.compile(r"^(?P<vol>[A-Za-z0-9_-]+)\.(?P<host>.+)\.(?P<path>[^.]*)$")


def volfile_for_id(volumes: Mapping[str, Volume], volfile_id: str, *, trusted: bool = True,
                   **kwargs: Any) -> str | None:
    """Resolve a GETSPEC key as glusterd does: ``VOL``, ``/VOL``, ``VOL.tcp`` -> client
    volfile (the trusted one, with the bricks' credentials, when ``trusted``); ``shd/VOL`` ->
    self-heal daemon; ``rebalance/VOL`` -> rebalance process; ``VOL.HOST.PATH-dashed`` ->
    brick. None if unknown (or no such volfile for the volume).

    ``trusted=False`` is what an untrusted caller (not this host, not a peer) may get: only the
    plain client volfile; every other volfile holds the credentials, so it is None."""
    key = volfile_id.lstrip("/")
    if trusted and key == QUOTAD_VOLFILE_ID:
        graph = build_quotad_graph(volumes.values(), **kwargs)
        return graph.text() if graph else None
    if not trusted:
        if key.endswith(".tcp") and key[:-4] in volumes:
            key = key[:-4]
        return client_volfile(volumes[key], **kwargs) if key in volumes else None
    if key.startswith("shd/"):
        volume = volumes.get(key[4:])
        return shd_volfile(volume, **kwargs) if volume else None
    if key.startswith("rebalance/"):
        volume = volumes.get(key[len("rebalance/"):])
        return rebalance_volfile(volume, **kwargs) if volume else None
    if key.endswith(".tcp") and key[:-4] in volumes:
        key = key[:-4]
    if key in volumes:
        return client_volfile(volumes[key], trusted=True, **kwargs)
    match = _BRICK_ID.match(key)
    if match and match["vol"] in volumes:
        volume = volumes[match["vol"]]
        for brick in volume.bricks:
            if brick.volfile_id(volume.name) == key:
                return brick_volfile(volume, brick, **kwargs)
    return None
