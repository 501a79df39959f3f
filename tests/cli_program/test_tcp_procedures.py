"""The read-only CLI program on a TCP MgmtRpcServer (what 24007 carries for `gluster
--remote-host`), added after the listener started, on a free port: the TCP_PROCEDURES are
answered, every other procedure (NULL too) is PROC_UNAVAIL as from glusterd, and DUMP lists it."""

from __future__ import annotations

from gluster_mgmt.mgmt_rpc import programs as pg
from gluster_mgmt.mgmt_rpc.cli_program import (
    TCP_PROCEDURES,
    CliProc,
    CliRequest,
    CliResult,
    cli_routes,
    glusterd_dict,
)
from gluster_mgmt.mgmt_rpc.gluster_dict import encode_dict
from gluster_mgmt.mgmt_rpc.rpc_message import AcceptStat
from gluster_mgmt.mgmt_rpc.server import Route

from tests.mgmt_rpc.wire import RecordingBackend, RpcClient, ServerThread

READ_ONLY = pg.ProgDetail("GlusterD svc cli read-only", pg.Program.CLI, 2)


class Answering:
    """Answers every CLI call with its procedure's name, and records the calls."""

    def __init__(self) -> None:
        self.calls: list[CliProc] = []

    async def cli_call(self, request: CliRequest) -> CliResult:
        self.calls.append(request.proc)
        return CliResult(dict=glusterd_dict([("proc", request.proc.name)]))


def test_only_the_read_only_procedures_are_served_on_tcp():
    cli = Answering()
    with ServerThread(RecordingBackend()) as server:
        server.run(lambda: server.server.add_program(READ_ONLY, cli_routes(
            Route, lambda conn: cli, lambda proc, exc: None, TCP_PROCEDURES)))
        with RpcClient(server.port) as client:
            dump = pg.decode(pg.DumpReply, client.call(pg.Program.DUMP, 1, pg.DumpProc.DUMP,
                                                       pg.encode(pg.DumpRequest())).body)
            assert READ_ONLY in dump.programs
            request = encode_dict({"volname": "v1"})
            packed = len(request).to_bytes(4, "big") + request + b"\0" * (-len(request) % 4)
            for proc in CliProc:
                args = (1).to_bytes(4, "big") + packed if proc is CliProc.LIST_FRIENDS else packed
                reply = client.call(pg.Program.CLI, 2, proc, args)
                expected = AcceptStat.SUCCESS if proc in TCP_PROCEDURES else AcceptStat.PROC_UNAVAIL
                assert reply.accept_stat == expected, proc
    assert sorted(cli.calls) == sorted(TCP_PROCEDURES)
