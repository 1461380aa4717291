"""A PDF read back as its reader's viewer would: text by poppler's `pdftotext`, fonts by
`pdffonts` (Debian poppler-utils, installed by scripts/ensure_tools.sh). A missing tool fails
the calling test; it never skips."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install poppler-utils (scripts/ensure_tools.sh does)")
    return found


def _run(tool: str, data: bytes, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(data)
        return subprocess.run(
            [_tool(tool), *args, str(path), *(["-"] if tool == "pdftotext" else [])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def pdf_text(data: bytes) -> tuple[str, str]:
    """(text, stderr) of `pdftotext -layout`: a font it cannot read shows in stderr (e.g.
    "Missing language pack") and as missing text."""
    proc = _run("pdftotext", data, "-layout", "-enc", "UTF-8")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def pdf_fonts(data: bytes) -> list[dict[str, str]]:
    """Each font of the PDF as `pdffonts` lists it: name, type, emb, sub, uni."""
    proc = _run("pdffonts", data)
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()[2:]  # a header line and a rule
    fonts = []
    for row in rows:
        parts = row.split()
        # name, type (one or two words), encoding, emb, sub, uni, object id, generation
        emb, sub, uni = parts[-5:-2]
        fonts.append({"name": parts[0], "type": " ".join(parts[1:-6]), "emb": emb, "sub": sub, "uni": uni})
    return fonts
