"""The GitHub Actions workflows: valid against GitHub's schema (check-jsonschema's vendored copy, so offline), and
tests.yml runs what the README tells people to run, on the systems and Pythons the project supports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML  # comes with check-jsonschema (the test extra)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TESTS = YAML(typ="safe").load((ROOT / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


@pytest.mark.slow  # loads GitHub's JSON schema with check-jsonschema
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_for_github_actions(path):
    linter = shutil.which("check-jsonschema") or shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert linter, "check-jsonschema is missing: it is in the test extra (pip install -e '.[test]')"
    done = subprocess.run([linter, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_on_every_push_and_pull_request():
    triggers = TESTS["on"]
    assert "push" in triggers and "pull_request" in triggers
    assert TESTS["env"]["OPTIM_OFFLINE"] == "1"


def test_three_systems_times_the_oldest_and_newest_python():
    matrix = TESTS["jobs"]["suite"]["strategy"]["matrix"]
    assert {os.split("-")[0] for os in matrix["os"]} == {"ubuntu", "macos", "windows"}
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert matrix["python"][0] == floor.removeprefix(">=")  # the oldest the package accepts
    assert len(matrix["python"]) == 2 and tuple(map(int, matrix["python"][1].split("."))) >= (3, 13)


def test_linux_and_macos_run_make_test():
    runs = _runs(TESTS["jobs"]["suite"])
    assert any(re.search(r"^make .*\btest$", run) and "TORCH=cpu" in run for run in runs)  # Linux: no CUDA wheels
    assert "make PYTHON=python test" in runs


def test_windows_runs_the_readme_commands_by_hand():
    """Each by-hand command of the README, with Windows' `.venv\\Scripts\\python`, is a line of the Windows step."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Without `make`.*?```bash\n(.*?)```", readme, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip().removeprefix("OPTIM_OFFLINE=1 ") for line in block.splitlines()]
    commands = [c.replace(".venv/bin/python", r".venv\Scripts\python") for c in commands
                if c.startswith(("python -m venv", ".venv/bin/python"))]
    step = next(s for s in TESTS["jobs"]["suite"]["steps"] if s.get("if") == "runner.os == 'Windows'")
    lines = [line.strip() for line in step["run"].splitlines()]
    assert len(commands) == 4 and all(command in lines for command in commands), (commands, lines)
    assert lines[0] == "$PSNativeCommandUseErrorActionPreference = $true"  # a failing command fails the step


def test_browser_tests_and_newest_dependencies_have_their_own_jobs():
    browser, newest = TESTS["jobs"]["browser"], TESTS["jobs"]["newest-dependencies"]
    assert browser["runs-on"].startswith("ubuntu") and any("browser-test" in run for run in _runs(browser))
    assert any("CONSTRAINTS= test" in run for run in _runs(newest))


def test_pip_downloads_are_cached():
    for name, job in TESTS["jobs"].items():
        setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python")]
        assert setup and all(s["with"]["cache"] == "pip" for s in setup), name
