"""What every benchmark does with its result: say how it was produced and put its Markdown
section into a shared file (docs/benchmarks.md) without disturbing the other sections."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def the_command(module: str) -> str:
    """The command line to reproduce this run, as typed from the repository root (no local
    paths: the line is published in docs/benchmarks.md)."""
    return " ".join(shlex.quote(p) for p in ["python", "-m", module, *sys.argv[1:]])


def write_section(path: Path, heading: str, section: str, keep: str | None = None) -> None:
    """Write ``section`` (which starts with ``heading``) into ``path``, replacing only an
    earlier section with that heading and leaving every other section as it is. When ``keep``
    is given, the old section's part from that sub-heading on (written by hand) is kept."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + len(heading))
        old = text[start:end if end >= 0 else len(text)]
        kept = old.find(keep) if keep else -1
        if kept >= 0:
            section = section.rstrip("\n") + "\n\n" + old[kept:].strip("\n") + "\n"
        text = text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
