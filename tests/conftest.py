"""Shared test fixtures: the location of ../shared/data and the CI rule for it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HARNESS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def require_shared_data(*parts: str) -> Path:
    """Return SHARED_DATA/parts; fail in CI (CI=true) and skip elsewhere when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"development data not found at {path} (set HARNESS_SHARED_DATA)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + "; CI requires it")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    """The development data folder (../shared/data); fails in CI and skips elsewhere if missing."""
    return require_shared_data()
