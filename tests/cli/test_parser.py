"""gluster's command syntax: what is sent, and what the gluster CLI refuses before sending."""

from __future__ import annotations

import pytest

from gluster_mgmt.cli.parser import USAGE, CliExit, Request, parse, read_group
from tests.cli.conftest import reference_text


def p(line: str, answers=None, **opts) -> Request:
    asked = []

    def confirm(question):
        asked.append(question)
        return True if answers is None else answers.pop(0)

    request = parse(line.split(), confirm, opts)
    request.context["asked"] = asked
    return request


def refused(line: str, answers=None, **opts) -> CliExit:
    with pytest.raises(CliExit) as info:
        p(line, answers, **opts)
    return info.value


def usage_of(command: str) -> str:
    return f"\nUsage:\n{USAGE[command]}\n\n"


CREATE_DEFAULTS = {"replica": None, "arbiter": None, "disperse": None, "disperse_data": None,
                   "redundancy": None, "transport": "tcp", "force": False}


# -- volume create --------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("volume create v1 vm:/bricks/b1 vm:/bricks/b2", {"bricks": ["vm:/bricks/b1", "vm:/bricks/b2"]}),
    ("volume create rep3 replica 3 h1:/b h2:/b h3:/b", {"replica": 3}),
    ("volume create arb replica 3 arbiter 1 h1:/b h2:/b h3:/b", {"replica": 3, "arbiter": 1}),
    ("volume create arb replica 2 arbiter 1 h1:/b h2:/b h3:/b", {"replica": 3, "arbiter": 1}),
    ("volume create d disperse 3 redundancy 1 h1:/b h2:/b h3:/b",
     {"disperse": 3, "redundancy": 1}),
    ("volume create d disperse-data 4 redundancy 2 h1:/b h2:/b h3:/b h4:/b h5:/b h6:/b",
     {"disperse": 6, "redundancy": 2, "disperse_data": 4}),
    ("volume create d disperse h1:/b h2:/b h3:/b", {"disperse": 3, "redundancy": 1}),
    ("volume create d disperse 6 h1:/b h2:/b h3:/b h4:/b h5:/b h6:/b",
     {"disperse": 6, "redundancy": 2}),
    ("volume create v transport tcp,RDMA h1:/b", {"transport": "tcp,rdma"}),
    ("volume create v rep 3 tr rdma h1:/b h2:/b h3:/b force",
     {"replica": 3, "transport": "rdma", "force": True}),
    ("volume create v h1://srv//b1/ h1:/srv/b2 force", {"bricks": ["h1:/srv/b1", "h1:/srv/b2"],
                                                         "force": True}),
])
def test_create(line, expected):
    request = p(line)
    assert request.route == "volume/create"
    params = {**CREATE_DEFAULTS, "name": line.split()[2], **expected}
    for key, value in params.items():
        if key != "bricks" or "bricks" in expected:
            assert request.params[key] == value, key


def test_create_bad_name_is_glusterd_s():
    with pytest.raises(CliExit) as info:
        parse(["volume", "create", "bad name", "vm:/bricks/x"], lambda q: True, {})
    error = info.value
    assert (error.out, error.code) == ("", 1)
    assert error.err == reference_text("error-bad-name.txt")


@pytest.mark.parametrize("name, message", [
    ("all", '"all" cannot be the name of a volume.\n'),
    ("x" * 257, "Volume name exceeds 256 characters.\n"),
    ("-v", ""),
    ("a/b", ""),
    ("vé", 'Volume name should not contain "é" character.\n'),
])
def test_create_refuses_names(name, message):
    error = refused(f"volume create {name} h:/b")
    assert error.err.startswith(message)
    assert error.err.endswith(usage_of("volume create"))
    assert error.code == 1


@pytest.mark.parametrize("line, message", [
    ("volume create v", ""),
    ("volume create v replica", ""),
    ("volume create v replica 1 h:/a h:/b", "replica count should be greater than 1"),
    ("volume create v replica 3 replica 3 h:/a", "replica option given twice"),
    ("volume create v replica 4 arbiter 1 h:/a", ("For arbiter configuration, replica count must "
                                                 "be 2 and arbiter count must be 1. The 3rd "
                                                 "brick of the replica will be the arbiter")),
    ("volume create v arbiter 1 h:/a", "arbiter option must be preceded by replica option."),
    ("volume create v disperse 3 replica 3 h:/a", "replicated-dispersed volume is not supported"),
    ("volume create v disperse 2 h:/a h:/b", "disperse count must be greater than 2"),
    ("volume create v disperse-data 1 h:/a", ("disperse-data must be greater than 1 and less "
                                             "than equal to 16")),
    ("volume create v redundancy 0 h:/a", "redundancy must be greater than 0"),
    ("volume create v disperse h:/a h:/b", "number of bricks must be greater than 2"),
    ("volume create v disperse 4 redundancy 2 h:/a h:/b h:/c h:/d",
     "redundancy must be greater than or equal to 1 and less than 2 for a disperse 4 volume"),
    ("volume create v disperse 3 redundancy 1 h:/a h:/b h:/c h:/d",
     "number of bricks is not a multiple of disperse count"),
    ("volume create v disperse 6 disperse-data 4 redundancy 1 h:/a",
     "Disperse count(6) should be equal to sum of disperse-data count(4) and redundancy count(1)"),
    ("volume create v disperse-data 2 h:/a h:/b h:/c h:/d",
     "Please provide redundancy count along with disperse-data count"),
    ("volume create v transport udp h:/a", ""),
    ("volume create v transport tcp transport tcp h:/a", ("'transport' option given more than "
                                                         "one time")),
    ("volume create v h:b", "Wrong brick type: h:b, use <HOSTNAME>:<export-dir-abs-path>"),
    ("volume create v :/b", "Wrong brick type: :/b, use <HOSTNAME>:<export-dir-abs-path>"),
    ("volume create v localhost:/b", ("Please provide a valid hostname/ip other than localhost, "
                                     "127.0.0.1 or loopback address (0.0.0.0 to 0.255.255.255).")),
    ("volume create v 0.1.2.3:/b", "Please provide a valid hostname/ip other than localhost"),
    ("volume create v h:/b h:/b/", "Found duplicate exports h:/b"),
    ("volume create v force", "No bricks specified"),
    ("volume create v replica 3 thin-arbiter 1 h:/a h:/b", "thin-arbiter"),
])
def test_create_refusals(line, message):
    error = refused(line)
    assert error.code == 1 and error.out == ""
    assert error.err.startswith(message)
    assert error.err.endswith(usage_of("volume create"))


def test_create_replica_2_asks_unless_forced():
    request = p("volume create v replica 2 h1:/b h2:/b")
    assert request.context["asked"][0].startswith("Replica 2 volumes are prone to split-brain.")
    assert p("volume create v replica 2 h1:/b h2:/b force").context["asked"] == []
    error = refused("volume create v replica 2 h1:/b h2:/b", answers=[False])
    assert error.code == 1 and error.err == usage_of("volume create")


def test_create_disperse_questions():
    request = p("volume create d disperse 6 h:/1 h:/2 h:/3 h:/4 h:/5 h:/6")
    assert request.context["asked"] == [("The optimal redundancy for this configuration is 2. Do "
                                        "you want to create the volume with this value ?")]
    request = p("volume create d disperse 4 h:/1 h:/2 h:/3 h:/4")
    assert request.context["asked"] == [("There isn't an optimal redundancy value for this "
                                        "configuration. Do you want to create the volume with "
                                        "redundancy 1 ?")]
    assert request.params["redundancy"] == 1
    request = p("volume create d disperse 5 redundancy 1 h:/1 h:/2 h:/3 h:/4 h:/5")
    assert request.context["asked"] == []  # 4 data bricks: a power of two
    request = p("volume create d disperse 7 redundancy 2 h:/1 h:/2 h:/3 h:/4 h:/5 h:/6 h:/7")
    assert request.context["asked"] == [("This configuration is not optimal on most workloads. "
                                        "Do you want to use it ?")]
    assert refused("volume create d disperse 4 h:/1 h:/2 h:/3 h:/4", answers=[False]).code == 1


def test_create_warns_on_odd_host_names():
    request = p("volume create v under_score:/b")
    assert request.context["notes"] == [("internet address 'under_score' does not conform to "
                                        "standards")]


def test_create_wignore_forces():
    assert p("volume create v h:/b", wignore=True).params["force"] is True


# -- other volume commands ----------------------------------------------------------------

@pytest.mark.parametrize("line, route, params", [
    ("volume info", "volume/info", {"name": None}),
    ("volume info all", "volume/info", {"name": None}),
    ("volume info v1", "volume/info", {"name": "v1"}),
    ("vol inf v1", "volume/info", {"name": "v1"}),
    ("volume list", "volume/list", {}),
    ("volume start v1", "volume/start", {"name": "v1", "force": False}),
    ("volume start v1 force", "volume/start", {"name": "v1", "force": True}),
    ("volume stop v1", "volume/stop", {"name": "v1", "force": False}),
    ("volume stop v1 force", "volume/stop", {"name": "v1", "force": True}),
    ("volume delete v1", "volume/delete", {"name": "v1"}),
    ("volume set v1 performance.quick-read off", "volume/set",
     {"name": "v1", "options": [["performance.quick-read", "off"]]}),
    ("volume set v1 a 1 b 2", "volume/set", {"name": "v1", "options": [["a", "1"], ["b", "2"]]}),
    ("volume get v1 all", "volume/get", {"name": "v1", "key": "all"}),
    ("volume get v1 quick-read", "volume/get", {"name": "v1", "key": "quick-read"}),
    ("volume reset v1", "volume/reset", {"name": "v1", "key": None, "force": False}),
    ("volume reset v1 all", "volume/reset", {"name": "v1", "key": None, "force": False}),
    ("volume reset v1 force", "volume/reset", {"name": "v1", "key": None, "force": True}),
    ("volume reset v1 nfs.disable", "volume/reset",
     {"name": "v1", "key": "nfs.disable", "force": False}),
    ("volume reset v1 nfs.disable force", "volume/reset",
     {"name": "v1", "key": "nfs.disable", "force": True}),
    ("volume status", "volume/status", {"name": None, "detail": False}),
    ("volume status all", "volume/status", {"name": None, "detail": False}),
    ("volume status v1", "volume/status", {"name": "v1", "detail": False}),
    ("volume status v1 detail", "volume/status", {"name": "v1", "detail": True}),
    ("volume status all detail", "volume/status", {"name": None, "detail": True}),
    ("volume status v1 tasks", "volume/status", {"name": "v1", "detail": False}),
    ("volume status v1 clients", "volume/status", {"name": "v1", "detail": False, "dump": "clients"}),
    ("volume status all client-list", "volume/status",
     {"name": None, "detail": False, "dump": "client-list"}),
    ("volume status v1 h:/b fd", "volume/status",
     {"name": "v1", "detail": False, "dump": "fd", "brick": "h:/b"}),
    ("volume status v1 h:/b", "volume/status", {"name": "v1", "detail": False, "brick": "h:/b"}),
    ("volume status v1 h:/b detail", "volume/status",
     {"name": "v1", "detail": True, "brick": "h:/b"}),
    ("volume status v1 shd", "volume/status", {"name": "v1", "detail": False, "daemon": "shd"}),
    ("volume status v1 shd mem", "volume/status",
     {"name": "v1", "detail": False, "dump": "mem", "daemon": "shd"}),
    ("volume status v1 quotad", "volume/status",
     {"name": "v1", "detail": False, "daemon": "quotad"}),
    ("volume status v1 nfs inode", "volume/status",
     {"name": "v1", "detail": False, "dump": "inode", "daemon": "nfs"}),
    ("volume status v1 bitd mem", "volume/status",  # the CLI takes bitd for a brick here
     {"name": "v1", "detail": False, "dump": "mem", "brick": "bitd"}),
    ("volume log v1 rotate", "volume/log-rotate", {"name": "v1", "brick": None}),
    ("volume log v1 rotate h:/b//", "volume/log-rotate", {"name": "v1", "brick": "h:/b"}),
    ("volume reset-brick v1 h:/b start", "volume/reset-brick",
     {"name": "v1", "source": "h:/b", "op": "start", "destination": None}),
    ("volume reset-brick v1 h:/b h:/b commit force", "volume/reset-brick",
     {"name": "v1", "source": "h:/b", "op": "commit-force", "destination": "h:/b"}),
    ("volume add-brick v1 h:/b3", "volume/add-brick",
     {"name": "v1", "bricks": ["h:/b3"], "replica": None, "arbiter": None, "force": False}),
    ("volume add-brick v1 replica 3 h:/c h:/d force", "volume/add-brick",
     {"name": "v1", "bricks": ["h:/c", "h:/d"], "replica": 3, "arbiter": None, "force": True}),
    ("volume add-brick v1 replica 3 arbiter 1 h:/c h:/d", "volume/add-brick",
     {"name": "v1", "bricks": ["h:/c", "h:/d"], "replica": 3, "arbiter": 1, "force": False}),
    ("volume remove-brick v1 h:/b2 force", "volume/remove-brick",
     {"name": "v1", "bricks": ["h:/b2"], "replica": None, "action": "force"}),
    ("volume remove-brick v1 replica 2 h:/b2 h:/b4/ c", "volume/remove-brick",
     {"name": "v1", "bricks": ["h:/b2", "h:/b4"], "replica": 2, "action": "commit"}),
    ("volume remove-brick v1 h:/b2 start", "volume/remove-brick",
     {"name": "v1", "bricks": ["h:/b2"], "replica": None, "action": "start"}),
    ("volume remove-brick v1 h:/b2 status", "volume/remove-brick",
     {"name": "v1", "bricks": ["h:/b2"], "replica": None, "action": "status"}),
    ("volume replace-brick v1 h:/b1 h2:/b1// commit force", "volume/replace-brick",
     {"name": "v1", "old": "h:/b1", "new": "h2:/b1"}),
    ("volume rebalance v1 start", "volume/rebalance",
     {"name": "v1", "action": "start", "fix_layout": False, "force": False}),
    ("volume rebalance v1 start force", "volume/rebalance",
     {"name": "v1", "action": "start", "fix_layout": False, "force": True}),
    ("volume rebalance v1 fix-layout start", "volume/rebalance",
     {"name": "v1", "action": "start", "fix_layout": True, "force": False}),
    ("volume rebalance v1 stop", "volume/rebalance",
     {"name": "v1", "action": "stop", "fix_layout": False, "force": False}),
    ("volume rebal v1 status", "volume/rebalance",
     {"name": "v1", "action": "status", "fix_layout": False, "force": False}),
    ("peer probe node2", "peer/probe", {"host": "node2"}),
    ("peer probe 10.0.0.2", "peer/probe", {"host": "10.0.0.2"}),
    ("peer probe fe80::1", "peer/probe", {"host": "fe80::1"}),
    ("peer detach node2", "peer/detach", {"host": "node2", "force": False}),
    ("peer detach node2 force", "peer/detach", {"host": "node2", "force": True}),
    ("peer status", "peer/status", {}),
    ("pool list", "pool/list", {}),
    ("txn list", "txn/list", {}),
    ("txn show abc", "txn/show", {"id": "abc"}),
    ("import /var/lib/glusterd", "import", {"path": "/var/lib/glusterd"}),
    ("system:: uuid get", "system/uuid-get", {}),
])
def test_commands(line, route, params):
    request = p(line)
    assert (request.route, request.params) == (route, params)


def test_set_strips_whitespace_except_user_keys():
    request = parse(["volume", "set", "v", "auth.allow", " 10.0.0.1, 10.0.0.2 ",
                     "user.note", "a b"], lambda q: True, {})
    assert request.params["options"] == [["auth.allow", "10.0.0.1,10.0.0.2"],
                                         ["user.note", "a b"]]


def test_set_questions_and_aborts():
    assert p("volume set v nfs.disable off").context["asked"][0].startswith(
        "Gluster NFS is being deprecated")
    error = refused("volume set v cluster.enable-shared-storage disable", answers=[False])
    assert (error.err, error.code) == ("Aborted by user.\n", 1)


def test_set_group_reads_the_group_file(tmp_path):
    (tmp_path / "virt").write_text("# comment\nperformance.quick-read=off\nnetwork.remote-dio=enable\n")
    request = p("volume set v1 group virt", groups_dir=str(tmp_path))
    assert request.params["options"] == [["performance.quick-read", "off"],
                                         ["network.remote-dio", "enable"]]
    error = refused("volume set v1 group nosuch", groups_dir=str(tmp_path))
    assert error.err == (f"Unable to open file '{tmp_path}/nosuch'. Error: No such file or "
                         "directory\n")
    (tmp_path / "bad").write_text("novalue\n")
    with pytest.raises(CliExit):
        read_group("bad", str(tmp_path))


@pytest.mark.parametrize("line", ["volume stop v1", "volume delete v1", "peer detach node2",
                                  "volume remove-brick v1 h:/b force",
                                  "volume remove-brick v1 h:/b start"])
def test_questions_answered_no_stop_quietly(line):
    error = refused(line, answers=[False])
    assert (error.code, error.out, error.err) == (0, "", "")


def test_script_mode_questions_are_the_callers():
    # the parser only asks; main.make_confirm answers yes in --mode=script
    import io

    from gluster_mgmt.cli.main import make_confirm

    assert make_confirm(True, io.StringIO(""), io.StringIO())("?") is True
    out = io.StringIO()
    assert make_confirm(False, io.StringIO("yes\n"), out)("Sure?") is True
    assert out.getvalue() == "Sure? (y/n) "
    out = io.StringIO()
    assert make_confirm(False, io.StringIO("maybe\n"), out)("Sure?") is False
    assert out.getvalue() == "Sure? (y/n) Invalid input, please enter y/n\n"
    assert make_confirm(False, io.StringIO("N\n"), io.StringIO())("?") is False


@pytest.mark.parametrize("line, command, message", [
    ("volume info a b", "volume info", ""),
    ("volume start", "volume start", ""),
    ("volume start v1 now", "volume start", ""),
    ("volume stop v1 x", "volume stop", ""),
    ("volume delete", "volume delete", ""),
    ("volume delete a b", "volume delete", ""),
    ("volume set v1", "volume set", ""),
    ("volume set v1 key", "volume set", ""),
    ("volume set v1 a 1 b", "volume set", ""),
    ("volume set v1 a 1 group virt", "volume set", ""),
    ("volume get v1", "volume get", ""),
    ("volume reset", "volume reset", ""),
    ("volume reset v1 key now", "volume reset", ""),
    ("volume status all nfs", "volume status", "nfs is not a valid status option\n"),
    ("volume status all brick detail", "volume status", 'Cannot specify brick/nfs for "all"\n'),
    ("volume status v1 h:/b bogus", "volume status", "bogus is not a valid status option\n"),
    ("volume status v1 h:/b tasks", "volume status", "Tasks status not available for bricks\n"),
    ("volume status v1 shd fd", "volume status",
     "Detail/FD/Clients/Tasks status not available for Self-heal Daemons\n"),
    ("volume status v1 nfs detail", "volume status",
     "Detail/FD/Tasks status not available for NFS Servers\n"),
    ("volume status v1 quotad inode", "volume status",
     "Detail/FD/Clients/Inode status not available for Quota Daemon\n"),
    ("volume status all shd", "volume status", "shd is not a valid status option\n"),
    ("volume add-brick v1", "volume add-brick", ""),
    ("volume add-brick v1 replica 1 h:/a h:/b", "volume add-brick",
     "replica count should be greater than 1\n"),
    ("volume add-brick v1 replica 2 arbiter 1 h:/a", "volume add-brick",
     "For arbiter configuration, replica count must be 3"),
    ("volume add-brick v1 nobrick", "volume add-brick", "Wrong brick type: nobrick"),
    ("volume remove-brick v1 h:/b", "volume remove-brick", ""),
    ("volume remove-brick v1 h:/b st", "volume remove-brick", ""),  # start/stop/status
    ("volume remove-brick v1 h:/b h:/b force", "volume remove-brick",
     "Duplicate bricks found h:/b\n"),
    ("volume remove-brick v1 hb force x", "volume remove-brick", ""),
    ("volume remove-brick v1 nob force", "volume remove-brick",
     "wrong brick type: nob, use <HOSTNAME>:<export-dir-abs-path>\n"),
    ("volume remove-brick v1 replica 0 h:/b force", "volume remove-brick",
     "replica count should be greater than 0 in case of remove-brick\n"),
    ("volume rebalance", "volume rebalance", ""),
    ("volume rebalance v1", "volume rebalance", ""),
    ("volume rebalance v1 fix-layout", "volume rebalance", ""),
    ("volume rebalance v1 start now", "volume rebalance", ""),
    ("volume rebalance v1 replace-brick v1 h:/a h:/b", "volume rebalance", ""),
    ("volume replace-brick v1 h:/a h:/b", "volume replace-brick", ""),
    ("volume replace-brick v1 h:/a h:/b start now", "volume replace-brick",
     "Invalid option 'start' 'now' for replace-brick. Please enter valid replace-brick command\n"),
    ("volume replace-brick v1 a h:/b commit force", "volume replace-brick",
     "wrong brick type: a, use <HOSTNAME>:<export-dir-abs-path>\n"),
    ("peer probe", "peer probe", ""),
    ("peer detach", "peer detach", ""),
    ("peer detach n2 now", "peer detach", ""),
    ("peer status x", "peer status", ""),
    ("pool list x", "pool list", ""),
    ("txn show", "txn show", ""),
])
def test_usage_errors(line, command, message):
    error = refused(line)
    assert error.code == 1
    assert error.err.startswith(message)
    assert error.err.endswith(usage_of(command))


@pytest.mark.parametrize("tail", [
    "sta",  # strcmp, not an abbreviation: even an unambiguous prefix is refused
    "star", "stat", "fix-layout sta", "fix start", "start f", "stop force", "status force",
    "force start", "start fix-layout", "fix-layout stop", "fix-layout start force",
    "start force now", "START",
])
def test_rebalance_words_are_exact(tail):
    """cli_cmd_volume_defrag_parse: four words ending start|stop|status, or five ending
    "fix-layout start" / "start force"; anything else is the usage, nothing on stdout."""
    error = refused(f"volume rebalance v1 {tail}")
    assert (error.code, error.out) == (1, "")
    assert error.err == ("\nUsage:\nvolume rebalance <VOLNAME> {{fix-layout start} | "
                         "{start [force]|stop|status}}\n\n")


def test_rebalance_asks_nothing_and_keeps_the_volume_word():
    request = p("volume rebalance gluster_shared_storage start")
    assert request.context["asked"] == []
    assert request.params["name"] == "gluster_shared_storage"
    assert request.context["action"] == "start"
    # the volume word is not checked by the CLI: glusterd says whether it exists
    assert p("volume rebalance start start").params["name"] == "start"


def test_rebalance_is_in_volume_help():
    assert ("volume rebalance <VOLNAME> {{fix-layout start} | {start [force]|stop|status}} - "
            "rebalance operations\n") in refused("volume help").out


def test_usage_text_of_volume_set_is_the_last_registered_pattern():
    assert refused("volume set v1").err == "\nUsage:\nvolume set <VOLNAME> group <GROUP>\n\n"


def test_probe_refuses_invalid_addresses():
    error = refused("peer probe -bad-")
    assert error.out == "-bad- is an invalid address\n"
    assert error.err == usage_of("peer probe") and error.code == 1


@pytest.mark.parametrize("line, word, position", [
    ("volumes info", "volumes", 0), ("volume re v1", "re", 1), ("volume s v1", "s", 1),
    ("bogus", "bogus", 0),
])
def test_unrecognized_words(line, word, position):
    error = refused(line)
    assert error.code == 1 and error.err == ""
    assert error.out.startswith(f"unrecognized word: {word} (position {position})\n\n Usage: "
                                "gluster [options]")


def test_unrecognized_command():
    error = refused("volume")
    assert error.out.startswith("unrecognized command\n") and error.code == 1


def test_unsupported_gluster_commands_say_so():
    error = refused("volume bitrot v1 enable")
    assert error.code == 1 and "not supported by gluster-mgmt" in error.err
    error = refused("volume status v1 snapd")
    assert error.code == 1 and "not supported by gluster-mgmt" in error.err
    error = refused("system:: uuid reset")
    assert error.code == 1 and "not supported by gluster-mgmt" in error.err


def test_help():
    error = refused("volume help")
    assert error.code == 0
    assert "volume create <NEW-VOLNAME>" in error.out
    assert refused("help").code == 0


@pytest.mark.parametrize(("line", "route", "params"), [
    ("volume heal v1", "volume/heal", {"name": "v1", "op": 1}),
    ("volume heal v1 full", "volume/heal", {"name": "v1", "op": 2}),
    ("volume heal v1 statistics", "volume/heal", {"name": "v1", "op": 7}),
    ("volume heal v1 statistics heal-count", "volume/heal", {"name": "v1", "op": 8}),
    ("volume heal v1 statistics heal-count replica h:/b1", "volume/heal",
     {"name": "v1", "op": 9, "replica": "h:/b1"}),
    ("volume heal v1 enable", "volume/heal", {"name": "v1", "op": 12}),
    ("volume heal v1 disable", "volume/heal", {"name": "v1", "op": 13}),
    ("volume heal v1 info", "volume/glfsheal", {"name": "v1", "mode": "info", "xml": False}),
    ("volume heal v1 info summary", "volume/glfsheal",
     {"name": "v1", "mode": "summary", "xml": False}),
    ("volume heal v1 info split-brain", "volume/glfsheal",
     {"name": "v1", "mode": "split-brain", "xml": False}),
    ("volume heal v1 split-brain bigger-file /f", "volume/glfsheal",
     {"name": "v1", "mode": "bigger-file", "file": "/f", "xml": False}),
    ("volume heal v1 split-brain source-brick h:/b1", "volume/glfsheal",
     {"name": "v1", "mode": "source-brick", "brick": "h:/b1", "file": None, "xml": False}),
])
def test_volume_heal_words(line, route, params):
    request = parse(line.split(), lambda q: True)
    assert (request.route, request.params) == (route, params)


@pytest.mark.parametrize("line", ["volume heal", "volume heal v1 info healed x",
                                  "volume heal v1 statistics heal-count replica nobrick",
                                  "volume heal v1 split-brain latest-mtime",
                                  "volume heal v1 bogus"])
def test_volume_heal_usage_errors(line):
    error = refused(line)
    assert error.code == 1 and "Usage:\nvolume heal <VOLNAME> [enable | disable | full |" in error.err
