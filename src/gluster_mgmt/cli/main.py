"""Entry point of ``gluster-mgmt`` (console script ``gluster_mgmt.cli.main:main``).

Global options are gluster's, wherever they appear among the words: ``--xml``,
``--mode=script`` (answer yes to every question), ``--wignore`` (force ``volume create``),
``--timeout=SECONDS``, ``--help``, ``--version``, and ``--`` to end them; plus ours:
``--json`` and ``--socket=PATH`` (or ``--socket PATH``; ``--glusterd-sock=PATH`` is an alias).
Exit codes are gluster's: 0 success, 1 failure or usage error, 255 for an unknown option.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any, TextIO

from gluster_mgmt.cli.command_words import CliExit
from gluster_mgmt.cli.parser import GLOBAL_HELP, GLOBAL_USAGE, parse
from gluster_mgmt.rules import STALE_KEY

CONNECTION_FAILED = "Connection failed. Please check if gluster daemon is operational.\n"


def parse_global_options(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Split gluster's ``--options`` out of the words; raises CliExit for bad ones."""
    opts: dict[str, Any] = {"format": "human", "script": False, "socket": None,
                            "timeout": None, "wignore": False}
    words: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--"):
            words.append(arg)
            continue
        opt = arg[2:]
        if opt == "":
            words.extend(argv[i:])
            break
        if opt == "help":
            raise CliExit(0, out=GLOBAL_HELP)
        if opt == "version":
            raise CliExit(0, out=f"gluster-mgmt {_version()}\n")
        if opt == "xml":
            opts["format"] = "xml"
        elif opt == "json":
            opts["format"] = "json"
        elif opt in ("wignore", "wignore-partition"):
            opts["wignore"] = True
        elif opt in ("nolog",) or opt.startswith(("log-file=", "log-level=")):
            pass  # the client keeps no log
        elif opt.startswith("mode="):
            mode = opt[len("mode="):]
            if mode == "script":
                opts["script"] = True
            elif mode != "interactive":
                raise _unknown_option(opt)
        elif opt.startswith(("socket=", "glusterd-sock=")):
            opts["socket"] = opt.partition("=")[2]
        elif opt == "socket":
            if i >= len(argv):
                raise _unknown_option(opt)
            opts["socket"] = argv[i]
            i += 1
        elif opt.startswith("timeout="):
            value = opt[len("timeout="):]
            if not value.isdigit() or int(value) <= 0:
                raise CliExit(254, err="timeout value should be a positive integer\n")
            opts["timeout"] = float(value)
        else:
            raise _unknown_option(opt)
    return opts, words


def _unknown_option(opt: str) -> CliExit:
    return CliExit(255, out=f"unrecognized option --{opt}\n\n" + GLOBAL_USAGE)


def _version() -> str:
    from gluster_mgmt import (
        __version__,  # not importlib.metadata: it costs ~80 ms per call
    )

    return __version__


def make_confirm(script: bool, stdin: TextIO, stdout: TextIO):
    """gluster's cli_cmd_get_confirmation: "QUESTION (y/n) " on stdout, y/yes/n/no."""
    def confirm(question: str) -> bool:
        if script:
            return True
        stdout.write(f"{question} (y/n) ")
        stdout.flush()
        line = stdin.readline()
        answer = line.rstrip("\n")
        if not line:
            stdout.write("gluster cli read error\n")
        elif len(answer) <= 3 and answer.lower() in ("y", "yes"):
            return True
        elif len(answer) <= 3 and answer.lower() in ("n", "no"):
            return False
        stdout.write("Invalid input, please enter y/n\n")
        return False
    return confirm


def _emit(out: str, err: str, stdout: TextIO, stderr: TextIO) -> None:
    # stderr first: a redirected gluster CLI flushes its (buffered) stdout at exit, so the
    # captures show error lines first (see volume-status.txt of the reference outputs)
    if err:
        stderr.write(err)
        stderr.flush()
    if out:
        stdout.write(out)
        stdout.flush()


def run(argv: list[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    try:
        opts, words = parse_global_options(argv)
        request = parse(words, make_confirm(opts["script"], stdin, stdout), opts)
    except CliExit as stop:
        _emit(stop.out, stop.err, stdout, stderr)
        return stop.code
    notes = request.context.get("notes") or []
    if notes:
        _emit("", "".join(f"{n}\n" for n in notes), stdout, stderr)

    from gluster_mgmt.cli.client import (
        DEFAULT_TIMEOUT,
        Client,
        ConnectionFailed,
        ProtocolError,
    )

    client = Client(opts["socket"], opts["timeout"] or DEFAULT_TIMEOUT)
    try:
        response = client.call(request.route, request.params)
    except ConnectionFailed:
        _emit(CONNECTION_FAILED, "", stdout, stderr)
        return 1
    except ProtocolError as exc:
        _emit("", f"gluster-mgmt: {exc}\n", stdout, stderr)
        return 1
    finally:
        client.close()

    from gluster_mgmt.cli.render import render

    outcome = render(request, response, opts["format"])
    stale = response.data.get(STALE_KEY) if isinstance(response.data, dict) else None
    if stale:
        _emit("", f"Warning: {stale}\n", stdout, stderr)
    _emit(outcome.out, outcome.err, stdout, stderr)
    return outcome.code


def main(argv: list[str] | None = None) -> int:
    try:
        return run(list(sys.argv[1:] if argv is None else argv), sys.stdin, sys.stdout,
                   sys.stderr)
    except KeyboardInterrupt:
        return 1
    except BrokenPipeError:
        # the reader went away (| head); don't let Python complain at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
