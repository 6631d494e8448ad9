"""Time every notebook top to bottom, on the offline digits fallback and on full-size FashionMNIST.

    python benchmarks/time_notebooks.py [--data digits|standin|both] [notebooks/01_*.ipynb ...]

"standin" writes 60,000 + 10,000 random images in FashionMNIST's real file format into a temporary data
folder (where the loader looks, via OPTIM_DATA_DIR), so the timing matches what an online user with the
real dataset runs. Each notebook should take at most 90 s on a 2-core CPU. Execution happens on copies;
the notebooks in the repository are not modified.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from utils.data import write_fake_fashion_mnist  # noqa: E402

BUDGET_S = 90


def run(path: Path) -> tuple[float, str]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as err:  # report and go on with the next notebook
        status = f"FAILED: {type(err).__name__}: {str(err).strip().splitlines()[-1][:120]}"
    return time.perf_counter() - start, status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["digits", "standin", "both"], default="both")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    modes = ["digits", "standin"] if args.data == "both" else [args.data]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            data_root = Path(tmp) / mode
            data_root.mkdir()
            if mode == "standin":
                write_fake_fashion_mnist(data_root)
            os.environ["OPTIM_DATA_DIR"] = str(data_root)
            os.environ["OPTIM_OFFLINE"] = "1"
            print(f"== {mode}: OPTIM_DATA_DIR={data_root}", flush=True)
            for path in paths:
                seconds, status = run(path.resolve())
                flag = "" if seconds <= BUDGET_S else f"  OVER {BUDGET_S}s BUDGET"
                failures += status != "ok" or seconds > BUDGET_S
                print(f"{path.name:40s} {seconds:6.1f}s  {status}{flag}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
