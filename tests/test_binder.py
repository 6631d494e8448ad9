"""binder/: the environment mybinder.org builds with repo2docker (which cannot run here, so its shape is checked):
the tested Python, CPU-only torch at the tested version, the package with its runtime dependencies and no tools
(postBuild installs ``-e .`` without the test and dev extras)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
sys.path.insert(0, str(ROOT / "scripts"))
import bootstrap_cell  # noqa: E402


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(";")[0].strip().split("==") for line in lines if line and not line.startswith("#"))


def test_only_the_files_repo2docker_reads():
    assert sorted(p.name for p in BINDER.iterdir()) == ["postBuild", "requirements.txt", "runtime.txt"]


def test_the_python_the_constraints_were_tested_on():
    tested = re.search(r"on Python (3\.\d+)", (ROOT / "constraints.txt").read_text(encoding="utf-8")).group(1)
    assert (BINDER / "runtime.txt").read_text(encoding="utf-8").strip() == f"python-{tested}"


def test_cpu_only_torch_at_the_tested_versions():
    lines = [ln.split("#")[0].strip() for ln in (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    pins = _pins()
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu",
                     f"torch=={pins['torch']}+cpu", f"torchvision=={pins['torchvision']}+cpu"]


def test_post_build_installs_the_package_without_its_tools():
    script = (BINDER / "postBuild").read_text(encoding="utf-8")
    commands = [ln for ln in script.splitlines() if ln and not ln.startswith("#")]
    assert commands == ["set -euo pipefail", "python -m pip install --no-cache-dir -c constraints.txt -e ."]
    if os.name != "nt":  # repo2docker runs it only when it is executable
        assert os.access(BINDER / "postBuild", os.X_OK)


def test_the_badge_opens_notebook_00_in_jupyterlab():
    badge = bootstrap_cell.binder_badge()
    target = re.search(r"urlpath=lab/tree/(\S+)\)$", badge).group(1)
    assert (ROOT / target).is_file()
    assert f"mybinder.org/v2/gh/{bootstrap_cell.GITHUB_REPO}/{bootstrap_cell.revision()}?" in badge


def test_readme_has_the_binder_badge():
    assert bootstrap_cell.binder_badge() in (ROOT / "README.md").read_text(encoding="utf-8")
