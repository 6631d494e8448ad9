"""Time every notebook top to bottom, on the offline digits fallback and on full-size FashionMNIST.

    python benchmarks/time_notebooks.py [--data digits|standin|both] [--busy N] [--write-run-times]
                                        [notebooks/01_*.ipynb ...]

"standin" writes 60,000 + 10,000 random images in FashionMNIST's real file format into a temporary data
folder (where the loader looks, via OPTIM_DATA_DIR), so the timing matches what an online user with the
real dataset runs. Each notebook should take at most 90 s on a 2-core CPU. Execution happens on copies;
the notebooks in the repository are not modified.

``--busy N`` runs every notebook twice: quiet, then while N CPU-bound processes (``while True: pass``, as a
browser, a video call or an indexer would) compete for the cores, and prints both times and their ratio. The
target is at most ``BUSY_TARGET`` (1.5x). The script starts and stops the busy processes itself, also on an
error or Ctrl-C, and they stop by themselves if the script is killed.

``--write-run-times`` stores the stand-in run's seconds (the quiet run's, per code cell and in all) in
``docs/run_times.json``, where ``scripts/reading_time.py`` adds them to each notebook's reading time; only the
notebooks timed are updated (the others keep their entries). It needs ``--data standin`` or ``both``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
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

sys.path.insert(0, str(ROOT / "scripts"))
from reading_time import RUN_TIMES, cell_key  # noqa: E402

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


def cell_seconds(nb) -> dict[str, float]:
    """Seconds per executed code cell, keyed as scripts/reading_time.py looks them up (nbclient's timestamps)."""
    seconds: dict[str, float] = {}
    for cell in nb.cells:
        stamps = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type != "code" or "iopub.execute_input" not in stamps or "shell.execute_reply" not in stamps:
            continue
        start, end = (datetime.datetime.fromisoformat(stamps[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        key = cell_key(cell.source)
        seconds[key] = round(seconds.get(key, 0.0) + (end - start).total_seconds(), 3)
    return seconds


def run(path: Path, cells: dict | None = None) -> tuple[float, str]:
    """Execute ``path`` (a copy in memory); returns (seconds, status). ``cells``, if given, receives the seconds
    of each code cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as err:  # report and go on with the next notebook
        status = f"FAILED: {type(err).__name__}: {str(err).strip().splitlines()[-1][:120]}"
    if cells is not None:
        cells.update(cell_seconds(nb))
    return time.perf_counter() - start, status


def write_run_times(measured: dict[str, dict], path: Path = RUN_TIMES) -> None:
    """Merge ``measured`` (file name -> {"whole_s", "cells"}) into docs/run_times.json."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data["about"] = ("Seconds per notebook run top to bottom on the full-size FashionMNIST stand-in, one CPU thread: "
                     "whole_s in all, cells per code cell (keyed by scripts/reading_time.py's cell_key). Written by "
                     "python benchmarks/time_notebooks.py --data standin --write-run-times; read by "
                     "scripts/reading_time.py.")
    notebooks = data.setdefault("notebooks", {})
    for name, entry in measured.items():
        notebooks[name] = {"measured": datetime.date.today().isoformat(), "machine": platform.machine(),
                           "cpus": os.cpu_count(), **entry}
    data["notebooks"] = dict(sorted(notebooks.items()))
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(measured)} notebooks' run times to {path.relative_to(ROOT)}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["digits", "standin", "both"], default="both")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="also time each notebook while N CPU-bound processes run; print both columns")
    parser.add_argument("--write-run-times", action="store_true",
                        help="store the stand-in run's seconds in docs/run_times.json for scripts/reading_time.py")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.write_run_times and args.data == "digits":
        parser.error("--write-run-times stores the stand-in's times: use --data standin (or both)")
    measured: dict[str, dict] = {}
    if args.write_run_times and os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(f"warning: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other programs compete "
              "for the CPU, so the run times written will be too long; measure on a quiet machine", flush=True)
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
                cells: dict[str, float] = {}
                seconds, status = run(path.resolve(), cells)
                if args.write_run_times and mode == "standin" and status == "ok":
                    measured[path.name] = {"whole_s": round(seconds, 2), "load_average": round(os.getloadavg()[0], 1),
                                           "cells": cells}
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
    if args.write_run_times:
        write_run_times(measured)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
