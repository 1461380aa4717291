"""Where tests find their data: the repository, and `../shared/data` beside it (the
project's shared folder, also laid beside CI's clone). A test whose data is missing fails;
it never skips."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; the calling test fails if it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test data not found: {path} (../shared/data beside the repository)")
    return path
