"""Claims a reader can see: one line that checks what the text just said about an experiment.

    utils.claim("Kaiming's net trains: its loss ends below chance (ln 10)", final_loss, "<", math.log(10))

prints ``✓ Kaiming's net trains: its loss ends below chance (ln 10)  (measured 0.412, needed < 2.303)`` and,
when the measured value is on the wrong side of the bound (or is NaN), raises ``ClaimFailed`` with the claim,
the measured value and the bound. The printed lines are the notebook's "what we just showed" list.

With the environment variable ``OPTIM_CLAIMS_LOG`` set to a file path, every claim also appends one JSON line
(notebook, claim, measured, op, bound, margin, passed, seed shift, variant) to that file: the robustness run
(``make robustness``, ``benchmarks/robustness.py``) collects them over seeds, datasets and CPU kernels.

The margin is how far the measured value lies on the right side of the bound (negative when the claim fails),
relative to the bound's size when the bound is not zero: a claim that passes with margin 0.01 is one seed away
from failing. Explained in notebooks/00_start_here.ipynb.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys

LOG_ENV_VAR = "OPTIM_CLAIMS_LOG"
NOTEBOOK_ENV_VAR = "OPTIM_NOTEBOOK"  # set by the robustness run: which notebook the kernel is executing
SHIFT_ENV_VAR = "OPTIM_SEED_SHIFT"  # set by the robustness run: every seed is shifted by this many
VARIANT_ENV_VAR = "OPTIM_VARIANT"  # set by the robustness run: the name of the matrix entry

_OPS = {
    "<": lambda m, b: m < b,
    "<=": lambda m, b: m <= b,
    ">": lambda m, b: m > b,
    ">=": lambda m, b: m >= b,
}


class ClaimFailed(AssertionError):
    """A claim of the text did not hold on this run: the message names the claim, the measured value and the bound."""


def _as_float(value, name: str) -> float:
    """A plain float from a Python, NumPy or one-element torch number; a ``TypeError`` naming ``name`` otherwise."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a 0-d tensor or NumPy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"claim: {name} must be a real number (int, float, NumPy or 0-d torch scalar), "
                        f"got {type(value).__name__} {value!r}")
    return float(value)


def margin(measured: float, op: str, bound: float) -> float:
    """How far ``measured`` lies on the right side of ``bound`` (negative: the wrong side), relative to ``|bound|``
    when the bound is not zero. ``-inf`` for a NaN measurement."""
    if math.isnan(measured):
        return -math.inf
    distance = bound - measured if op in ("<", "<=") else measured - bound
    scale = abs(bound) if bound != 0 and math.isfinite(bound) else 1.0
    return distance / scale


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 or not math.isfinite(x) else f"{x:.3e}"


def _cpu_capability() -> str:
    """The CPU kernels torch is using (e.g. AVX512, AVX2, DEFAULT), if torch is imported; else ''."""
    torch = sys.modules.get("torch")
    try:
        return str(torch.backends.cpu.get_cpu_capability()) if torch is not None else ""
    except Exception:  # an old torch without the call: the log just lacks it
        return ""


def _log(record: dict) -> None:
    path = os.environ.get(LOG_ENV_VAR)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:  # one line per write: appends from several processes stay whole
        f.write(json.dumps(record) + "\n")


def claim(text: str, measured, op: str, bound, *, unit: str = "") -> None:
    """Check that ``measured op bound`` holds and print it as a ``✓`` line.

    ``op`` is one of ``"<"``, ``"<="``, ``">"``, ``">="``. ``text`` is the sentence being checked, without the
    numbers (they vary from run to run; the line shows them). ``unit`` is printed after both numbers.
    Raises ``ClaimFailed`` (an ``AssertionError``) when the claim is false or ``measured`` is NaN. Returns None, so
    a claim on a cell's last line adds no stray output.
    """
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"claim: text must be the sentence being checked (a non-empty str), got {text!r}")
    if op not in _OPS:
        raise ValueError(f"claim: op must be one of {', '.join(repr(o) for o in _OPS)}, got {op!r}")
    m = _as_float(measured, "measured")
    b = _as_float(bound, "bound")
    if math.isnan(b):
        raise ValueError(f"claim: bound must not be NaN (claim {text!r})")
    passed = not math.isnan(m) and _OPS[op](m, b)
    mg = margin(m, op, b)
    u = f" {unit}" if unit else ""
    _log({
        "notebook": os.environ.get(NOTEBOOK_ENV_VAR, ""),
        "claim": text,
        "measured": m if math.isfinite(m) else str(m),
        "op": op,
        "bound": b if math.isfinite(b) else str(b),
        "margin": mg if math.isfinite(mg) else str(mg),
        "passed": passed,
        "seed_shift": int(os.environ.get(SHIFT_ENV_VAR, "0") or 0),
        "variant": os.environ.get(VARIANT_ENV_VAR, ""),
        "cpu_capability": _cpu_capability(),
    })
    if not passed:
        raise ClaimFailed(f"✗ claim failed: {text}: measured {_fmt(m)}{u}, needed {op} {_fmt(b)}{u}")
    print(f"✓ {text}  (measured {_fmt(m)}{u}, needed {op} {_fmt(b)}{u})")
