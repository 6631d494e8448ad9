"""Write constraints.txt: the exact versions, from this environment, of requirements.txt's packages and of
everything they pull in (a filtered ``pip freeze``). ``make`` installs with ``-c constraints.txt`` so that
every Python from 3.10 on gets the stack the notebooks' numbers were checked with.

    .venv/bin/python scripts/freeze_constraints.py [--older-python REPORT.json]   (after `make test` passed)

Python 3.10 cannot install some of the newest versions (numpy 2.4 needs 3.11). ``--older-python`` takes the
report of a resolve on 3.10, ``python3.10 -m pip install --dry-run --ignore-installed -r requirements.txt
--report REPORT.json``, and pins, for Python < 3.11 only, the version 3.10 got for each package whose tested
version is newer. Those 3.10 pins were resolved, not tested.

torch and torchvision are left out of the pins' platform-specific parts: ``2.14.1+cu130`` is written as
``2.14.1`` so the same file serves the CUDA, CPU-only and macOS wheels. The ``nvidia-*`` and ``triton``
packages that come with Linux CUDA wheels are left out, since they differ by platform.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_ONLY = re.compile(r"^(nvidia-|triton$|cuda-)")
# Held back on purpose, whatever the environment has: name -> (version, why). Each gets a line in the header.
HELD = {"jsonschema": ("4.24.0", "from 4.25 its format-nongpl extra (Jupyter's) pulls in rfc3987-syntax, which builds "
                                 "a parser on import: 1.1 s more in every process that imports nbformat")}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _applies(requirement: str) -> bool:
    """Keep a dependency unless its marker excludes it here or it belongs to an extra."""
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:  # without packaging, keep it: a constraint for an absent package does no harm
        return True
    return Marker(marker).evaluate()


def closure(roots: list[str]) -> dict[str, str]:
    """Every installed distribution reachable from ``roots``, name -> version."""
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found or PLATFORM_ONLY.match(name):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist.version.split("+")[0]
        todo += [_name(r) for r in (dist.requires or []) if _applies(r)]
    return found


def _older_python_pins(report: Path, pins: dict[str, str]) -> dict[str, str]:
    """name -> version for the packages the 3.10 resolve in ``report`` got older than the tested pin."""
    from packaging.version import Version

    resolved = {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"].split("+")[0]
                for item in json.loads(report.read_text())["install"]}
    return {name: resolved[name] for name, version in pins.items()
            if name in resolved and Version(resolved[name]) < Version(version)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--older-python", type=Path, metavar="REPORT.json",
                        help="pip's --report of a resolve on Python 3.10 (see the module docstring)")
    args = parser.parse_args(argv)
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = closure([_name(line) for line in lines if line])
    pins.update({name: version for name, (version, _) in HELD.items() if name in pins})
    older = _older_python_pins(args.older_python, pins) if args.older_python else {}
    tested = f"{sys.version_info.major}.{sys.version_info.minor}"
    header = (f"# The versions the series was tested with, on Python {tested} (written by scripts/freeze_constraints.py).\n"
              "# `make` installs with `-c constraints.txt`; `make CONSTRAINTS= setup` installs without it.\n"
              + "".join(f"# {name} held at {version}: {why}.\n" for name, (version, why) in HELD.items()))
    body = ""
    for name, version in sorted(pins.items()):
        if name in older:  # Python 3.10 cannot install the tested version: its own resolve's, for 3.10 only
            body += f'{name}=={version}; python_version >= "3.11"\n{name}=={older[name]}; python_version < "3.11"\n'
        else:
            body += f"{name}=={version}\n"
    (ROOT / "constraints.txt").write_text(header + body)
    print(f"constraints.txt: {len(pins)} packages (Python {sys.version.split()[0]}), {len(older)} with a 3.10 pin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
