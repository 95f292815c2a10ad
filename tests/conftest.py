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


def fail_skips_in_ci(report, environ=os.environ) -> None:
    """In CI (CI=true) a skipped test is a failure: CI installs everything the tests need (README, .ci/run),
    so a skip there means a test that never runs where it matters."""
    if report.skipped and environ.get("CI", "").lower() in ("1", "true", "yes") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fail_skips_in_ci(outcome.get_result())
