"""Where tests find their data: the repository, and `../shared/data` beside it (the
project's shared folder, also laid beside CI's clone). A test whose data is missing fails;
it never skips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# the virtualenv running the tests (.venv; .venv312 under `make test-py312`): the processes a
# test starts (`nameko run`, `make run`, `fsm`) run in it too
VENV = Path(sys.executable).parent.parent


def venv_tool(name: str) -> str:
    """A console script of the virtualenv running the tests (nameko, fsm ...)."""
    return str(VENV / "bin" / name)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; the calling test fails if it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test data not found: {path} (../shared/data beside the repository)")
    return path
