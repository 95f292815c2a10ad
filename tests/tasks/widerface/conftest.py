"""Fixtures for the WIDER FACE tests: the synthetic submission is generated once per session."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, require_shared_data

SYNTH_TOOL = PROJECT_ROOT.parent / "shared" / "tools" / "wider_synth_submission.py"


@pytest.fixture(scope="session")
def widerface_root():
    """The shared WIDER FACE folder (fails in CI, skips elsewhere when missing)."""
    return require_shared_data("widerface")


@pytest.fixture(scope="session")
def synthetic_submission(widerface_root, tmp_path_factory):
    """The full-val synthetic submission (`--seed 1 --no-missing`), written once per test session."""
    if not SYNTH_TOOL.is_file():
        pytest.skip(f"{SYNTH_TOOL} not found")
    out = tmp_path_factory.mktemp("synth") / "seed1"
    subprocess.run([sys.executable, str(SYNTH_TOOL), str(widerface_root), str(out), "--seed", "1",
                    "--no-missing"], check=True, capture_output=True)
    return out
