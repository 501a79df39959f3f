"""Migration: `gluster-mgmt import /var/lib/glusterd` on a real daemon and store, checked against
what glusterd 10.3 itself printed for the same state."""

from __future__ import annotations

from tests.helpers import REFERENCE


def test_import_reference_state_matches_glusterd_volume_info(make_daemons):
    (daemon,) = make_daemons(1)
    result = daemon.cli("import", str(REFERENCE / "state"), check=True)
    assert "arb" in result.stdout + result.stderr
    info = daemon.cli("volume", "info", check=True).stdout
    assert info == (REFERENCE / "cli" / "volume-info.txt").read_text()
    assert daemon.cli("volume", "list", check=True).stdout.split() == ["arb", "disp3", "rep3", "v1"]
    xml = daemon.cli("--xml", "volume", "info", check=True).stdout
    assert xml == (REFERENCE / "cli" / "volume-info.xml").read_text().replace(
        "2a17f7f0-4393-48d6-9f76-8db4e14a2772", daemon.uuid)


def test_import_refuses_a_store_holding_the_same_volumes(make_daemons):
    (daemon,) = make_daemons(1)
    daemon.cli("import", str(REFERENCE / "state"), check=True)
    again = daemon.cli("import", str(REFERENCE / "state"))
    assert again.returncode == 1
    assert "the store already holds volume(s) arb, disp3, rep3, v1; nothing imported" in again.stdout + again.stderr
    assert daemon.cli("volume", "list", check=True).stdout.split() == ["arb", "disp3", "rep3", "v1"]


def test_import_of_a_missing_directory_fails_clearly(make_daemons, tmp_path):
    (daemon,) = make_daemons(1)
    result = daemon.cli("import", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "nope" in result.stdout + result.stderr
