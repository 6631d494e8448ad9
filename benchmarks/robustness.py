"""Run every notebook under a matrix of seeds, datasets and CPU kernels; report how each claim held.

    python benchmarks/robustness.py                  # the full matrix (make robustness)
    python benchmarks/robustness.py --slice ci       # what CI runs: 2 seed shifts on the digits + AVX2 kernels
    python benchmarks/robustness.py --notebooks notebooks/03b_initialization.ipynb --digits-shifts 1-10 \
        --standin-shifts 0 --variants none --jobs 1

Every ``utils.claim`` in a notebook appends a JSON line to a log (``OPTIM_CLAIMS_LOG``); this script sets that
variable for each run, collects the lines and prints, per claim, how many runs it passed and its smallest margin
(how far the measured value stayed on the right side of its bound, relative to the bound). It exits with 1 when
any claim failed or any notebook did not run to its end.

The matrix (the full one is the default):
- seed shifts on the digits (``--digits-shifts``, default 1-10): every seed a notebook sets is shifted by k,
  without editing the notebook: ``benchmarks/seedshift/sitecustomize.py`` is put first on ``PYTHONPATH`` with
  ``OPTIM_SEED_SHIFT=k``, so the kernel and every process it starts (``torchrun`` workers) load it;
- seed shifts on the full-size stand-in (``--standin-shifts``, default 0-2): ``utils.data.write_fake_fashion_mnist``
  at full size (60,000 + 10,000 images) in FashionMNIST's file format;
- CPU kernel variants on the digits at shift 0 (``--variants``, default all three): ``avx2`` (ATen, MKL and oneDNN
  held to AVX2, as on most laptops), ``default`` (ATen's portable kernels) and ``threads2`` (2 threads: another
  reduction order).

The table is also written as a page of the reading copy (``--out``, default ``docs/robustness.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDSHIFT_DIR = ROOT / "benchmarks" / "seedshift"
NOTEBOOK_TIMEOUT_S = 1800  # per cell; a loaded 2-core machine can take 15 minutes over a slow notebook

VARIANTS = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "threads2": {"OPTIM_THREADS": "2"},
}
# variables a run sets; cleared before each run so that one run's setting never leaks into the next
RUN_VARS = {"PYTHONPATH", "OPTIM_SEED_SHIFT", "OPTIM_CLAIMS_LOG", "OPTIM_NOTEBOOK", "OPTIM_VARIANT", "OPTIM_DATA_DIR",
            "OPTIM_THREADS"} | {k for env in VARIANTS.values() for k in env}


def parse_shifts(text: str, name: str) -> list[int]:
    """``"1-10"`` -> [1, ..., 10]; ``"0,3,5"`` -> [0, 3, 5]; ``""`` or ``"none"`` -> []."""
    if text.strip().lower() in ("", "none"):
        return []
    shifts: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                low, high = part.split("-", 1)
                shifts.extend(range(int(low), int(high) + 1))
            else:
                shifts.append(int(part))
    except ValueError:
        raise SystemExit(f"{name} must be like 1-10 or 0,2,5 (non-negative integers), got {text!r}") from None
    if any(s < 0 for s in shifts):
        raise SystemExit(f"{name} must hold non-negative integers, got {text!r}")
    return shifts


def build_matrix(digits_shifts, standin_shifts, variants) -> list[dict]:
    """The runs, each a dict: name, data ('digits' or 'standin'), shift, extra environment."""
    runs = [{"name": f"digits+{k}", "data": "digits", "shift": k, "env": {}} for k in digits_shifts]
    runs += [{"name": f"standin+{k}", "data": "standin", "shift": k, "env": {}} for k in standin_shifts]
    runs += [{"name": f"digits:{v}", "data": "digits", "shift": 0, "env": VARIANTS[v]} for v in variants]
    return runs


def error_line(text: str) -> str:
    """The line of a cell's traceback that says what went wrong ("ValueError: ...", "ClaimFailed: ..."):
    the last line that names an error, else the last line that is not a rule of '=' or '-'."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    named = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Failed|Interrupt|Exit)\b", ln)]
    if named:
        return named[-1]
    plain = [ln for ln in lines if not re.fullmatch(r"[=\-_ ]+", ln)]
    return plain[-1] if plain else ""


def run_threads(run: dict) -> int:
    """The CPU threads a run's notebooks use (OPTIM_THREADS in its environment; the series' default is one)."""
    value = run["env"].get("OPTIM_THREADS", "1")
    if value == "auto":  # torch's own default: one per core
        return os.cpu_count() or 1
    return int(value) if value.isdigit() and int(value) >= 1 else 1


def run_one(run: dict, notebook: str, data_dirs: dict, log_dir: str) -> dict:
    """Execute one notebook under one run's settings (in a worker process); return its status."""
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    path = Path(notebook)
    log = Path(log_dir).resolve() / f"{run['name'].replace(':', '_').replace('+', '_')}__{path.stem}.jsonl"
    log.unlink(missing_ok=True)  # a rerun replaces the claims of the run before it
    env = {k: v for k, v in os.environ.items() if k not in RUN_VARS}
    env.update(run["env"])
    env.update({
        "PYTHONPATH": os.pathsep.join([str(SEEDSHIFT_DIR), str(ROOT)]),
        "OPTIM_SEED_SHIFT": str(run["shift"]),
        "OPTIM_CLAIMS_LOG": str(log),
        "OPTIM_NOTEBOOK": path.stem,
        "OPTIM_VARIANT": run["name"],
        "OPTIM_DATA_DIR": data_dirs[run["data"]],
        "OPTIM_OFFLINE": "1",
    })
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    nb = nbformat.read(path, as_version=4)
    # Where the platform has them, the kernel talks over IPC sockets, files in a folder of its own: over TCP, two
    # kernels started at the same moment (--jobs 2) can be handed the same free port, and one of them dies before
    # it answers ("Kernel died before replying to kernel_info"; jupyter/nbconvert#1066)
    ipc_dir = tempfile.mkdtemp(prefix="kernel-") if os.name == "posix" else None
    config = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(ipc_dir, "ipc"))}}) if ipc_dir else Config()
    client = NotebookClient(nb, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3", config=config,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error, error_text = "", ""
    try:
        client.execute()
    except Exception as err:  # reported in the table; the matrix goes on
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # no terminal colours in the table
        error = f"{type(err).__name__}: {error_line(text)[:300]}"
        error_text = text[-6000:]
    finally:
        if ipc_dir:
            shutil.rmtree(ipc_dir, ignore_errors=True)
    result = {"run": run["name"], "notebook": path.stem, "seconds": time.perf_counter() - start, "error": error,
              "log": str(log), "data": run["data"], "shift": run["shift"]}
    if error:
        result["error_text"] = error_text  # the whole traceback's end, printed when the matrix fails
    log.with_suffix(".status.json").write_text(json.dumps(result), encoding="utf-8")
    return result


def load_results(log_dir: Path) -> list[dict]:
    """The results a ``--log-dir`` holds (one ``.status.json`` per notebook run), for ``--report``."""
    results = []
    for status in sorted(log_dir.glob("*.status.json")):
        result = json.loads(status.read_text(encoding="utf-8"))
        result["log"] = str(status.with_name(status.name.replace(".status.json", ".jsonl")))
        results.append(result)
    return results


def read_claims(results: list[dict]) -> list[dict]:
    records = []
    for result in results:
        log = Path(result["log"])
        if not log.exists():
            continue
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                rec["run"] = result["run"]
                rec["notebook"] = rec.get("notebook") or result["notebook"]
                records.append(rec)
    return records


def summarise(records: list[dict], results: list[dict]) -> list[dict]:
    """One row per (notebook, claim): runs, passed, smallest margin and the run where it was smallest.

    A notebook that stopped with an error other than a failed claim gets a row "runs to its end"."""
    rows: dict[tuple[str, str], dict] = {}
    for rec in records:
        key = (rec["notebook"], rec["claim"])
        row = rows.setdefault(key, {"notebook": key[0], "claim": key[1], "runs": 0, "passed": 0,
                                    "min_margin": float("inf"), "where": "", "op": rec["op"]})
        row["runs"] += 1
        row["passed"] += bool(rec["passed"])
        mg = float(rec["margin"])
        if mg < row["min_margin"]:
            row["min_margin"], row["where"] = mg, rec["run"]
        row.setdefault("kernels", set()).add(rec.get("cpu_capability", ""))
    by_nb: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        by_nb[result["notebook"]].append(result)
    for nb, res in by_nb.items():
        failed = [r for r in res if r["error"] and "ClaimFailed" not in r["error"]]
        rows[(nb, "(runs to its end)")] = {
            "notebook": nb, "claim": "(runs to its end)", "runs": len(res), "passed": len(res) - len(failed),
            "min_margin": float("nan"), "where": "; ".join(f"{r['run']}: {r['error']}" for r in failed[:3]), "op": ""}
    return sorted(rows.values(), key=lambda r: (r["notebook"], r["claim"] == "(runs to its end)"))


def markdown(rows, results, runs, seconds: float) -> str:
    import torch

    failures = [r for r in rows if r["passed"] < r["runs"]]
    claims = [r for r in rows if r["claim"] != "(runs to its end)"]
    thin = sorted(claims, key=lambda r: r["min_margin"])[:3]
    out = [
        "# How the claims held: seeds, datasets and CPU kernels",
        "",
        "Every sentence of fact about an experiment in the notebooks is checked by a `utils.claim` line. This page "
        "lists how each of those checks held when every notebook ran under the matrix below: each claim, the runs "
        "it passed, and its smallest margin (how far the measured value stayed on the right side of its bound, as a "
        "fraction of the bound; a claim with margin 0.05 was 5 % away from failing in its worst run).",
        "",
        f"- Made by `python benchmarks/robustness.py` on {datetime.now(timezone.utc):%Y-%m-%d}, "
        f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}.",
        f"- Runs ({len(runs)}): " + ", ".join(r["name"] for r in runs) + ". `digits+k`: scikit-learn's digits with "
        "every seed shifted by k; `standin+k`: a full-size FashionMNIST-format stand-in (each class a random "
        "prototype plus noise, one label in ten random: not the real data); `digits:avx2`, `digits:default`, `digits:threads2`: other CPU kernels and 2 threads.",
        "- CPU kernels torch reported during the runs: "
        + ", ".join(sorted({k for r in rows for k in r.get("kernels", ()) if k})) + ".",
        f"- Notebook executions: {len(results)}, {sum(r['seconds'] for r in results) / 60:.1f} minutes of notebook "
        f"time" + (f", {seconds / 60:.1f} minutes from start to end" if seconds is not None else
                   " (the table gathers several invocations)") + f". Failures: {len(failures)}.",
        "- Real FashionMNIST has never run on the machine that made this page; a claim that depends on the dataset "
        "is checked on the digits only, and says so.",
        "",
        "Thinnest margins: " + "; ".join(f"{r['notebook']} \"{r['claim']}\" {r['min_margin']:.3g} ({r['where']})"
                                         for r in thin) + ".",
        "",
        "| notebook | claim | passed | smallest margin | in run |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        mg = "" if r["min_margin"] != r["min_margin"] else f"{r['min_margin']:.3g}"
        claim = r["claim"].replace("|", "\\|")
        where = r["where"].replace("|", "\\|")
        out.append(f"| {r['notebook']} | {claim} | {r['passed']}/{r['runs']} | {mg} | {where} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slice", choices=["full", "ci"], default="full",
                        help="full: the whole matrix (default); ci: shifts 1,2 on the digits and the AVX2 kernels")
    parser.add_argument("--digits-shifts", default=None, help="e.g. 1-10 (default), 0,3 or none")
    parser.add_argument("--standin-shifts", default=None, help="e.g. 0-2 (default) or none")
    parser.add_argument("--variants", default=None, help="comma list of avx2,default,threads2 (default all) or none")
    parser.add_argument("--notebooks", nargs="*", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks run at once (default: cores)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the markdown page (default docs/robustness.md; build/robustness-ci.md for --slice ci)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep each run's claim log and status here (default: a temporary folder); a rerun of "
                             "some notebooks replaces only their files")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: write the table from everything in --log-dir (e.g. after rerunning the "
                             "notebooks a fix touched)")
    args = parser.parse_args(argv)
    ci = args.slice == "ci"
    digits = parse_shifts(args.digits_shifts if args.digits_shifts is not None else ("1,2" if ci else "1-10"),
                          "--digits-shifts")
    standin = parse_shifts(args.standin_shifts if args.standin_shifts is not None else ("none" if ci else "0-2"),
                           "--standin-shifts")
    variant_text = args.variants if args.variants is not None else ("avx2" if ci else "avx2,default,threads2")
    variants = [] if variant_text.strip().lower() in ("", "none") else [v.strip() for v in variant_text.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; allowed: {', '.join(VARIANTS)} or none")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    notebooks = [p.resolve() for p in (args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")))]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"--notebooks: no such file: {', '.join(missing)}")
    out = args.out or (ROOT / "build" / "robustness-ci.md" if ci else ROOT / "docs" / "robustness.md")
    runs = build_matrix(digits, standin, variants)
    if not runs:
        parser.error("the matrix is empty: give at least one shift or variant")

    sys.path.insert(0, str(ROOT))
    from utils.data import write_fake_fashion_mnist

    if args.report:
        if args.log_dir is None or not args.log_dir.is_dir():
            parser.error("--report needs --log-dir, a folder an earlier run wrote")
        results = load_results(args.log_dir)
        names = sorted({r["run"] for r in results})
        runs = [{"name": n} for n in names]
        return report(results, runs, None, out)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="robustness-") as tmp:
        data_dirs = {"digits": str(Path(tmp) / "digits")}  # an empty data folder: offline, the digits are used
        Path(data_dirs["digits"]).mkdir()
        if any(r["data"] == "standin" for r in runs):
            data_dirs["standin"] = str(Path(tmp) / "standin")
            print("writing the full-size stand-in ...", flush=True)
            write_fake_fashion_mnist(data_dirs["standin"])
        log_dir = (args.log_dir or Path(tmp) / "logs").resolve()  # the kernels run in notebooks/: no relative path
        log_dir.mkdir(parents=True, exist_ok=True)
        # the stand-in runs (the slowest) first, so that they do not end up alone at the tail
        tasks = [(run, str(nb)) for run in sorted(runs, key=lambda r: r["data"] != "standin") for nb in notebooks]
        print(f"{len(runs)} runs x {len(notebooks)} notebooks = {len(tasks)} executions, {args.jobs} at a time",
              flush=True)
        results = []
        # A run with T threads takes T of the --jobs slots: 2 threads beside another notebook's 1 on 2 cores made
        # torch's threads wait for each other (01 took 113 s instead of 13). So the runs go in groups by threads.
        for threads in sorted({run_threads(run) for run, _ in tasks}):
            group = [(run, nb) for run, nb in tasks if run_threads(run) == threads]
            with ProcessPoolExecutor(max_workers=max(1, args.jobs // threads)) as pool:
                futures = [pool.submit(run_one, run, nb, data_dirs, str(log_dir)) for run, nb in group]
                for future in as_completed(futures):
                    res = future.result()
                    results.append(res)
                    status = "ok" if not res["error"] else res["error"][:160]
                    print(f"[{len(results):3d}/{len(tasks)}] {res['run']:16s} {res['notebook']:32s} "
                          f"{res['seconds']:6.1f}s  {status}", flush=True)
        seconds = time.perf_counter() - start
        if args.log_dir is not None and len(load_results(log_dir)) > len(results):  # earlier runs in the folder too
            results = load_results(log_dir)
            runs, seconds = [{"name": n} for n in sorted({r["run"] for r in results})], None
        return report(results, runs, seconds, out)


def report(results: list[dict], runs: list[dict], seconds: float | None, out: Path) -> int:
    """Write the table, print the summary; 1 if any claim failed or any notebook stopped early."""
    records = read_claims(results)
    rows = summarise(records, results)
    page = markdown(rows, results, runs, seconds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    failures = [r for r in rows if r["passed"] < r["runs"]]
    claims = sorted((r for r in rows if r["claim"] != "(runs to its end)"), key=lambda r: r["min_margin"])
    took = f"{seconds / 60:.1f} min" if seconds is not None else "several invocations"
    print(f"\n{len(claims)} claims, {len(records)} checks, {len(results)} notebook runs ({took}); table written to {out}")
    print("thinnest margins:")
    for r in claims[:3]:
        print(f"  {r['min_margin']:8.3g}  {r['notebook']}: {r['claim']}  ({r['where']})")
    if failures:
        print(f"\n{len(failures)} FAILED:")
        for r in failures:
            print(f"  {r['notebook']}: {r['claim']}: passed {r['passed']}/{r['runs']}; {r['where']}")
        for res in results:  # the end of each stopped notebook's traceback: enough to act on from a CI log
            if res.get("error_text") and "ClaimFailed" not in res["error"]:
                print(f"\n--- {res['run']} {res['notebook']}: the end of its error ---\n{res['error_text'][-3000:]}")
        return 1
    print("every claim held in every run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
