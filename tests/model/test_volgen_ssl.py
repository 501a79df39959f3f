"""Volume I/O encryption options (client.ssl, server.ssl, auth.ssl-allow, ssl.*) against what
glusterd 10.3 recorded (tests/data/glusterd-10.3/ssl, re-recorded by record_ssl.py there)."""

from __future__ import annotations

import re

import pytest

from gluster_mgmt import volgen
from gluster_mgmt.errors import OptionValueError, ValidationError
from gluster_mgmt.glusterd_import import import_state
from gluster_mgmt.model import Volume
from gluster_mgmt.options import option_table
from gluster_mgmt.volgen import parse_volfile
from tests.helpers import REFERENCE

SSL_DIR = REFERENCE / "ssl"
SSL_VOLUMES = ["ssld", "sslr"]  # every ssl.* option set / server+client.ssl and one name


@pytest.fixture(scope="module")
def ssl_volumes() -> dict[str, Volume]:
    return {v.name: v for v in import_state(SSL_DIR).volumes}


def _generated(volume: Volume) -> dict[str, str]:
    files = {f"{volume.name}.tcp-fuse.vol": volgen.client_volfile(volume),
             f"trusted-{volume.name}.tcp-fuse.vol": volgen.client_volfile(volume, trusted=True)}
    for brick in volume.bricks:
        files[f"{brick.volfile_id(volume.name)}.vol"] = volgen.brick_volfile(volume, brick)
    for name, text in ((f"{volume.name}-shd.vol", volgen.shd_volfile(volume)),
                       (f"{volume.name}-rebalance.vol", volgen.rebalance_volfile(volume))):
        if text is not None:
            files[name] = text
    return files


@pytest.mark.parametrize("name", SSL_VOLUMES)
def test_ssl_volfiles_are_byte_identical(ssl_volumes: dict, name: str) -> None:
    generated = _generated(ssl_volumes[name])
    recorded = {p.name for p in (SSL_DIR / "vols" / name).glob("*.vol")
                if "gfproxy" not in p.name}  # gfproxy volfiles are not generated here
    assert set(generated) == recorded
    for file_name, text in generated.items():
        assert text == (SSL_DIR / "vols" / name / file_name).read_text(), file_name


def test_every_ssl_option_reaches_every_server_and_client(ssl_volumes: dict) -> None:
    """The eight ssl.* keys become transport.socket.ssl-* on both ends of each connection."""
    volume = ssl_volumes["ssld"]
    expected = {"transport.socket.ssl-own-cert": "/etc/ssl/own.pem",
                "transport.socket.ssl-private-key": "/etc/ssl/own.key",
                "transport.socket.ssl-ca-list": "/etc/ssl/ca.pem",
                "transport.socket.ssl-crl-path": "/etc/ssl/crl",
                "transport.socket.ssl-cert-depth": "2",
                "transport.socket.ssl-cipher-list": "HIGH:!SSLv2",
                "transport.socket.ssl-dh-param": "/etc/ssl/dh.pem",
                "transport.socket.ssl-ec-curve": "prime256v1",
                "transport.socket.ssl-enabled": "on"}
    server = parse_volfile(volgen.brick_volfile(volume, volume.bricks[0])).of_type(
        "protocol/server")[0]
    assert expected.items() <= server.options_dict.items()
    assert server.option(f"auth.login.{volume.bricks[0].path}.ssl-allow") == "a,b"
    for client in parse_volfile(volgen.client_volfile(volume)).of_type("protocol/client"):
        assert expected.items() <= client.options_dict.items()


def test_without_ssl_options_nothing_is_written(ssl_volumes: dict) -> None:
    """Unset ssl.* keys leave the socket's own defaults (OPENSSLDIR/glusterfs.*)."""
    volume = ssl_volumes["sslr"]
    text = volgen.client_volfile(volume) + volgen.brick_volfile(volume, volume.bricks[0])
    assert set(re.findall(r"transport\.socket\.ssl-[a-z-]+", text)) == {
        "transport.socket.ssl-enabled"}


def _recorded_sets() -> list[tuple[str, str, bool]]:
    """(key, value, glusterd accepted it) from set-validation.txt."""
    text = (SSL_DIR / "set-validation.txt").read_text()
    found = re.findall(r"^volume set \S+ (\S+) '(.*)'.*\nrc=(\d+)", text, re.MULTILINE)
    assert len(found) >= 15
    return [(key, value, rc == "0") for key, value, rc in found]


@pytest.mark.parametrize("key, value, accepted", _recorded_sets())
def test_volume_set_accepts_what_glusterd_accepts(key: str, value: str, accepted: bool) -> None:
    """glusterd checks none of the SSL values (it checks the control option it was given)."""
    if accepted:
        assert option_table().validate(key, value) == (key, value)
    else:
        with pytest.raises(OptionValueError):
            option_table().validate(key, value)


def test_control_characters_are_still_refused_in_ssl_values() -> None:
    for key in ("auth.ssl-allow", "ssl.cipher-list", "server.ssl"):
        with pytest.raises(ValidationError, match="control character"):
            option_table().validate(key, "a\nvolume evil")
