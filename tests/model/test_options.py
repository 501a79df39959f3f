from __future__ import annotations

import os
import re

import pytest

from gluster_mgmt.cli.parser import GROUPS_DIR, read_group
from gluster_mgmt.model import ValidationError
from gluster_mgmt.options import (
    BOOL_FALSE,
    BOOL_TRUE,
    OptionValueError,
    UnknownOptionError,
    option_table,
    parse_bool,
    parse_size,
    validate_option,
)


def test_unknown_option_message_and_hint_match_glusterd(cli_text) -> None:
    expected = cli_text("error-unknown-option.txt").split("failed: ", 1)[1].strip()
    with pytest.raises(UnknownOptionError) as caught:
        validate_option("no.such.option", "1")
    assert str(caught.value) == expected
    assert isinstance(caught.value, ValidationError)


def test_near_miss_suggests_the_option() -> None:
    with pytest.raises(UnknownOptionError) as caught:
        validate_option("performance.quik-read", "on")
    assert caught.value.hint == "performance.quick-read"


def test_bad_value_message_matches_glusterd(cli_text) -> None:
    expected = cli_text("error-bad-option-value.txt").split("failed: ", 1)[1].strip()
    with pytest.raises(OptionValueError) as caught:
        validate_option("performance.quick-read", "maybe")
    assert str(caught.value) == expected  # an xlator switch: glusterd says no more
    with pytest.raises(OptionValueError) as caught:
        validate_option("features.read-only", "yes-no")  # any other bool names the value
    assert str(caught.value) == "option read-only yes-no: 'yes-no' is not a valid boolean value"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("cluster.min-free-disk", "200%",
     "'200.000000' in 'option min-free-disk 200%' is out of range [0 - 100]"),
    ("performance.io-thread-count", "abc", 'invalid number format "abc" in option "thread-count"'),
    ("storage.owner-uid", "-5", "'-5' in 'option brick-uid -5' is smaller than minimum value '-1'"),
    ("network.ping-timeout", "abc", 'invalid time format "abc" in "option ping-timeout"'),
])
def test_messages_name_the_value(key: str, value: str, message: str) -> None:
    """glusterd 10.3's texts (tests/data/glusterd-10.3/semantics/*-bad-*.txt)."""
    with pytest.raises(OptionValueError) as caught:
        validate_option(key, value)
    assert str(caught.value) == message


@pytest.mark.parametrize("spelling", sorted(BOOL_TRUE | BOOL_FALSE) + ["ON", "Yes", "TRUE"])
def test_bool_spellings(spelling: str) -> None:
    assert validate_option("performance.quick-read", spelling)[1] == spelling
    assert parse_bool(spelling) is (spelling.lower() in BOOL_TRUE)


def test_short_names_resolve_when_unique() -> None:
    assert validate_option("quick-read", "off")[0] == "performance.quick-read"
    assert validate_option("ping-timeout", "10")[0] == "network.ping-timeout"


@pytest.mark.parametrize(("key", "good", "bad"), [
    ("network.ping-timeout", "30", "5000"),                       # int/time with range
    ("performance.cache-size", "256MB", "12 parsecs"),            # size
    ("features.shard-block-size", "64MB", "1KB"),                 # size below minimum
    ("cluster.min-free-inodes", "5%", "120%"),                    # percent
    ("cluster.min-free-disk", "10GB", "abc"),                     # percent or size
    ("cluster.quorum-type", "auto", "sometimes"),                 # enum
    ("diagnostics.brick-log-level", "DEBUG", "LOUD"),             # enum
    ("performance.io-thread-count", "32", "65"),                  # int range 1..64
    ("transport.address-family", "inet6", "ipx"),                 # enum
    ("cluster.read-hash-mode", "2", "two"),                       # int
])
def test_typed_values(key: str, good: str, bad: str) -> None:
    assert validate_option(key, good) == (key, good)
    with pytest.raises(OptionValueError):
        validate_option(key, bad)


def test_size_units_are_binary() -> None:
    assert parse_size("1KB") == 1024
    assert parse_size("2mb") == 2 * 1024**2
    assert parse_size("4096") == 4096


def test_table_covers_every_option_volume_get_shows(cli_text) -> None:
    table = option_table()
    shown = [line.split()[0] for line in cli_text("volume-get-all.txt").splitlines()[2:] if line.strip()]
    missing = [key for key in shown if key not in table]
    assert not missing


def test_table_defaults_agree_with_volume_get(cli_text) -> None:
    table = option_table()
    mismatched = []
    for line in cli_text("volume-get-all.txt").splitlines()[2:]:
        match = re.match(r"(\S+)\s+(.*?)\s+\(DEFAULT\)\s*$", line)
        if not match or match.group(2) in ("(null)", ""):
            continue
        key, shown = match.groups()
        defaults = {r.default or r.xlator_default for r in table.rows(key)}
        if shown not in defaults:
            mismatched.append((key, shown, defaults))
    # a few xlator defaults are C expressions in glusterd's source (e.g. TOSTRING(...))
    assert len(mismatched) <= 12, mismatched


def test_every_row_names_a_graph_placement() -> None:
    for entry in option_table().entries:
        assert entry.xlator, entry.key
        assert entry.option_name


def test_each_type_is_represented() -> None:
    kinds = {e.type for e in option_table().entries}
    assert {"bool", "int", "size", "percent", "percent-or-size", "enum", "string", "time", "path"} <= kinds


def test_user_keys_are_glusterds_hooks_namespace() -> None:
    """`volume set` takes any user.* key with any value (the virt group sets user.cifs);
    reset and get look keys up in the option map only, as glusterd does."""
    assert validate_option("user.cifs", "off") == ("user.cifs", "off")
    assert validate_option("user.note", "any text, even with spaces") == \
        ("user.note", "any text, even with spaces")
    for bad in ("user.a b", "user.a=b", "user.tab\there"):
        with pytest.raises(ValidationError, match="user.* key is one word"):
            validate_option(bad, "x")
    with pytest.raises(UnknownOptionError, match="option : user. does not exist"):
        validate_option("user.", "x")
    with pytest.raises(UnknownOptionError):
        option_table().resolve_table_key("user.cifs")
    assert option_table().resolve_table_key("quick-read") == "performance.quick-read"


def test_every_key_of_the_installed_group_files_is_accepted() -> None:
    """Each key=value line of glusterd's group files (/var/lib/glusterd/groups) passes
    `volume set`'s option check (the per-volume rules aside)."""
    groups = sorted(os.listdir(GROUPS_DIR)) if os.path.isdir(GROUPS_DIR) else []
    assert "virt" in groups, f"glusterfs-server's group files are missing from {GROUPS_DIR}"
    for group in groups:
        for key, value in read_group(group):
            validate_option(key, value)


def test_volume_get_all_lists_glusterd_s_rows(cli_text) -> None:
    """`volume get VOL all` lists a row per option map entry glusterd can look up, in the
    map's order (a key of two xlators twice), as glusterd 10.3 did."""
    shown = [line.split()[0] for line in cli_text("volume-get-all.txt").splitlines()[2:]]
    assert [row.key for row in option_table().entries if row.volume_get] == shown
