"""The process supervisor on real processes (a self-daemonizing shell program stands in for
glusterfsd here; tests/gluster drive real bricks)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import attrs
import pytest

from gluster_mgmt.services import ServiceSpec, load_service_manager
from gluster_mgmt.services.supervisor import ServiceError, pid_runs, read_pid
from tests.helpers import wait_for

DAEMONIZING = textwrap.dedent("""
    import os, sys, time
    pidfile = sys.argv[1]
    if os.fork():
        # the launcher waits until the child wrote its pidfile, like glusterfsd's emancipate()
        while not os.path.exists(pidfile):
            time.sleep(0.01)
        sys.exit(0)
    os.setsid()
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(3600)
""")


@pytest.fixture
def supervisor():
    manager = load_service_manager("process", poll_interval=0.1)
    yield manager
    for name in manager.supervised():
        manager.stop(name, timeout=2)
    manager.close()


def spec(tmp_path, name="svc", program=DAEMONIZING) -> ServiceSpec:
    script = tmp_path / f"{name}.py"
    script.write_text(program)
    pidfile = str(tmp_path / f"{name}.pid")
    return ServiceSpec(name, (sys.executable, str(script), pidfile), pidfile, str(tmp_path / f"{name}.log"))


def test_start_status_stop(supervisor, tmp_path):
    state = supervisor.start(spec(tmp_path))
    assert state.running and pid_runs(state.pid)
    assert read_pid(str(tmp_path / "svc.pid")) == state.pid
    assert supervisor.status(["svc"])[0].pid == state.pid
    supervisor.stop("svc", timeout=2)
    assert wait_for(lambda: not pid_runs(state.pid), 5)
    assert supervisor.status() == []
    assert not (tmp_path / "svc.pid").exists()


def test_a_killed_service_is_restarted(supervisor, tmp_path):
    first = supervisor.start(spec(tmp_path)).pid
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: (s := supervisor.status(["svc"])[0]).running and s.pid != first, 10)
    assert supervisor.status(["svc"])[0].restarts == 1


def test_a_new_supervisor_adopts_running_services(tmp_path):
    first = load_service_manager("process", poll_interval=0.1)
    pid = first.start(spec(tmp_path)).pid
    first.close()  # the daemon goes away; the service keeps running
    assert pid_runs(pid)
    second = load_service_manager("process", poll_interval=0.1)
    try:
        assert second.start(spec(tmp_path)).pid == pid  # adopted, not started twice
    finally:
        second.stop("svc", timeout=2)
        second.close()
    assert wait_for(lambda: not pid_runs(pid), 5)


def test_a_program_that_fails_to_start_is_reported(supervisor, tmp_path):
    with pytest.raises(ServiceError) as err:
        supervisor.start(spec(tmp_path, "bad", "import sys; sys.stderr.write('no brick dir'); sys.exit(3)"))
    assert "status 3" in str(err.value) and "no brick dir" in str(err.value)


def test_a_task_that_ends_is_not_restarted(supervisor, tmp_path):
    """A rebalance process exits when its migration is done: that is its result."""
    oneshot = attrs.evolve(spec(tmp_path, "task"), restart=False)
    first = supervisor.start(oneshot)
    os.kill(first.pid, signal.SIGTERM)
    assert wait_for(lambda: not pid_runs(first.pid), 5)
    assert wait_for(lambda: supervisor.status(["task"])[0].pid is None, 5)
    # several watch rounds later it is still not running: nothing relaunched it
    assert not wait_for(lambda: supervisor.status(["task"])[0].running, 1, interval=0.1)
    assert supervisor.status(["task"])[0].restarts == 0
    # starting it again is an explicit decision of the caller
    again = supervisor.start(oneshot)
    assert again.running and again.pid != first.pid
