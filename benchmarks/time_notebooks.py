"""Time every notebook top to bottom, on the offline digits fallback and on full-size FashionMNIST.

    python benchmarks/time_notebooks.py [--data digits|standin|both] [--busy N] [notebooks/01_*.ipynb ...]

"standin" writes 60,000 + 10,000 random images in FashionMNIST's real file format into a temporary data
folder (where the loader looks, via OPTIM_DATA_DIR), so the timing matches what an online user with the
real dataset runs. Each notebook should take at most 90 s on a 2-core CPU. Execution happens on copies;
the notebooks in the repository are not modified.

``--busy N`` runs every notebook twice: quiet, then while N CPU-bound processes (``while True: pass``, as a
browser, a video call or an indexer would) compete for the cores, and prints both times and their ratio. The
target is at most ``BUSY_TARGET`` (1.5x). The script starts and stops the busy processes itself, also on an
error or Ctrl-C, and they stop by themselves if the script is killed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
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
BUSY_TARGET = 1.5  # a notebook with one competing CPU-bound process takes at most 1.5x its quiet time


@contextlib.contextmanager
def busy_processes(n: int):
    """Within the block, ``n`` processes keep one core each busy; they stop at the end, on an error or on
    Ctrl-C, and by themselves when this script dies (each loops only while its parent is alive)."""
    loop = f"import os\nwhile os.getppid() == {os.getpid()}: pass"
    procs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(n)]
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` runs the finally below too
    try:
        yield procs
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


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
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="also time each notebook while N CPU-bound processes run; print both columns")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.busy < 0:
        parser.error(f"--busy must be 0 or a positive number of processes, got {args.busy}")
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
            if args.busy:
                print(f"{'notebook':40s}  quiet  busy={args.busy}  ratio", flush=True)
            for path in paths:
                seconds, status = run(path.resolve())
                flag = "" if seconds <= BUDGET_S else f"  OVER {BUDGET_S}s BUDGET"
                failures += status != "ok" or seconds > BUDGET_S
                if not args.busy:
                    print(f"{path.name:40s} {seconds:6.1f}s  {status}{flag}", flush=True)
                    continue
                with busy_processes(args.busy):
                    busy_seconds, busy_status = run(path.resolve())
                ratio = busy_seconds / seconds
                failures += busy_status != "ok"
                flag += "" if ratio <= BUSY_TARGET else f"  OVER {BUSY_TARGET}x TARGET"
                status = status if busy_status == "ok" else f"busy run {busy_status}"
                print(f"{path.name:40s} {seconds:6.1f}s {busy_seconds:6.1f}s  {ratio:4.1f}x  {status}{flag}",
                      flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
