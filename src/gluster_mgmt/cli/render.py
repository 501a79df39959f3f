"""From a request and the daemon's reply to what the CLI prints and its exit code.

``render(request, response, fmt)`` dispatches to ``render_human`` (gluster's text, byte for
byte where the reference outputs pin it down), ``render_xml`` (``gluster --xml``'s schema) or
JSON (the daemon's reply, pretty, secrets redacted); what they share is ``view``.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

from gluster_mgmt.cli import render_diagnostics
from gluster_mgmt.cli.client import Response
from gluster_mgmt.cli.command_words import Request
from gluster_mgmt.cli.view import Outcome

_SECRET_KEYS = frozenset({"username", "password", "secret", "token"})


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in _SECRET_KEYS and v else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def render_json(request: Request, response: Response) -> Outcome:
    payload = {"op_ret": response.op_ret, "op_errno": response.op_errno,
               "op_errstr": response.op_errstr, "data": redact(response.data)}
    return Outcome(out=json.dumps(payload, indent=2, sort_keys=False) + "\n",
                   code=0 if response.ok else 1)


def render(request: Request, response: Response, fmt: str = "human") -> Outcome:
    """``fmt`` is ``human``, ``xml`` or ``json``."""
    if fmt == "json":
        return render_json(request, response)
    if request.route in render_diagnostics.TEXT:  # profile, top, statedump, barrier
        return (render_diagnostics.XML if fmt == "xml" else render_diagnostics.TEXT)[
            request.route](request, response)
    if fmt == "xml":
        from gluster_mgmt.cli import render_xml

        return render_xml.render(request, response)
    from gluster_mgmt.cli import render_human

    return render_human.render(request, response)
