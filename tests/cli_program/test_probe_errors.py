"""`gluster peer probe` of a name that does not resolve and of an address nobody answers on,
through the stock CLI: the same text, --xml and exit code as glusterd 10.3
(tests/data/glusterd-10.3/probe-errors, recorded by scripts/record-glusterd-probe-errors.sh),
and, as glusterd, the daemon's log tells the two apart. The daemon runs in network and mount
namespaces of its own (tests/gluster/private_ns.py): no route, no name server, so no probe
leaves the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gluster.private_ns import need_stock_glusterfs, read_text, run_scenario
from tests.helpers import REFERENCE

RECORDED = REFERENCE / "probe-errors"
ADDRESS = "127.0.0.12"

SCENARIO = '''\
record() {{  # NAME WORDS...: as scripts/record-glusterd-probe-errors.sh writes it
    name=$1; shift
    {{ echo "\\$ gluster --mode=script $*"
      timeout 120 /usr/sbin/gluster --mode=script --glusterd-sock="$T/gd.sock" "$@" > "$T/out" 2>&1
      echo "exit $?"; cat "$T/out"; }} > "$T/$name.txt"
}}
record unresolvable peer probe no-such-host.invalid
record unresolvable-xml --xml peer probe no-such-host.invalid
record unreachable peer probe 192.0.2.1
record unreachable-xml --xml peer probe 192.0.2.1
echo SCENARIO_DONE
'''

CASES = ("unresolvable", "unresolvable-xml", "unreachable", "unreachable-xml")


@pytest.mark.gluster
def test_probe_errors_read_as_glusterds_and_the_log_tells_them_apart(tmp_path: Path) -> None:
    need_stock_glusterfs()
    (tmp_path / "glusterd").mkdir()
    (tmp_path / "ssl").mkdir()
    output, returncode = run_scenario(tmp_path, SCENARIO, address=ADDRESS, volume="unused",
                                      daemon_args=f"--glusterd-socket {tmp_path}/gd.sock",
                                      private_network=True)
    log = read_text(tmp_path / "mgmtd.log")
    context = f"--- scenario ---\n{output}\n--- mgmtd ---\n{log[-3000:]}"
    assert "SCENARIO_DONE" in output.splitlines(), context
    for case in CASES:
        assert read_text(tmp_path / f"{case}.txt") == (RECORDED / f"{case}.txt").read_text(), \
            f"{case}\n{context}"
    assert "DNS resolution failed on host no-such-host.invalid" in log, context
    assert "cluster/join on 192.0.2.1:" in log and "Network is unreachable" in log, context
    assert returncode == 0, context
