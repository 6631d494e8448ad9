"""ruff lints the Python code and the notebooks (configuration in pyproject.toml); the pre-commit hooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hooks_use_the_environments_tools():
    """.pre-commit-config.yaml: ruff and nbstripout as local hooks (language: system), so `make lint` runs them
    offline with the versions requirements.txt installs."""
    from ruamel.yaml import YAML  # comes with check-jsonschema (the test extra)

    config = YAML(typ="safe").load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert hooks["ruff"]["entry"].startswith("ruff check") and hooks["nbstripout"]["entry"] == "nbstripout --keep-id"
    assert {hook["language"] for hook in hooks.values()} == {"system"}
