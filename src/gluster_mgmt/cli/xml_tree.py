"""The XML of ``gluster --xml``: elements and libxml2's pretty-printing as glusterd's CLI uses
it (two-space indent, ``<empty/>`` elements, elements mixing text and children such as
``<brick>`` written inline), and the ``cliOutput`` envelope every answer shares. Every
``--xml`` renderer builds on these."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at every CLI start; annotations are lazy
if TYPE_CHECKING:
    from typing import Any

    from gluster_mgmt.cli.client import Response

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


class E:
    """An XML element: text, children, or (like <brick>) both."""

    __slots__ = ("attrs", "children", "tag", "text")

    def __init__(self, tag: str, text: Any = None, children: list[E] | None = None,
                 attrs: dict[str, str] | None = None) -> None:
        self.tag = tag
        self.text = None if text is None else str(text)
        self.children = children or []
        self.attrs = attrs or {}

    def add(self, *children: E) -> E:
        self.children.extend(children)
        return self


def _escape_text(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _escape_attr(text: str) -> str:
    return (_escape_text(text).replace('"', "&quot;").replace("\n", "&#10;")
            .replace("\t", "&#9;"))


def _open(e: E) -> str:
    attrs = "".join(f' {k}="{_escape_attr(v)}"' for k, v in e.attrs.items())
    return f"<{e.tag}{attrs}"


def _inline(e: E) -> str:
    if not e.text and not e.children:
        return _open(e) + "/>"
    return (_open(e) + ">" + _escape_text(e.text or "")
            + "".join(_inline(c) for c in e.children) + f"</{e.tag}>")


def _pretty(e: E, level: int, out: list[str]) -> None:
    indent = "  " * level
    if e.children and not e.text:
        out.append(f"{indent}{_open(e)}>\n")
        for child in e.children:
            _pretty(child, level + 1, out)
        out.append(f"{indent}</{e.tag}>\n")
    else:
        out.append(indent + _inline(e) + "\n")


def serialize(root: E) -> str:
    out = [XML_DECLARATION]
    _pretty(root, 0, out)
    return "".join(out)


def cli_output(response: Response, *body: E, op_errstr: str | None = None) -> E:
    errstr = response.op_errstr if op_errstr is None else op_errstr
    return E("cliOutput", children=[E("opRet", response.op_ret), E("opErrno", response.op_errno),
                                    E("opErrstr", errstr or ""), *body])
