"""harness/provenance.py: the commit and its -dirty mark."""
import shutil
import subprocess

import pytest

from harness.provenance import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


def _git(root, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "report.md").write_text("old\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True,
                          text=True).stdout.strip()
    return tmp_path, head


def test_clean_tree_gives_the_bare_commit(repo):
    root, head = repo
    assert git_commit(root) == head


def test_changed_code_is_dirty(repo):
    root, head = repo
    (root / "code.py").write_text("x = 2\n")
    assert git_commit(root) == head + "-dirty"


def test_changed_results_are_not_dirty(repo):
    root, head = repo
    (root / "results" / "report.md").write_text("new\n")
    assert git_commit(root) == head


def test_not_a_repository_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"
