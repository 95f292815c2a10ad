"""CI runs exactly the README's test command."""
import re

from tests.conftest import PROJECT_ROOT


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(pip install .*pytest.*)$", readme, flags=re.M)
    assert commands, "README gives no test command"
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert commands[0].strip() in ci
