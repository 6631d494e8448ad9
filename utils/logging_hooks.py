"""Where ``fit``'s numbers go: TensorBoard's ``SummaryWriter``, or a plain-text logger with the same method.

Explained in notebooks/06_putting_it_all_together.ipynb. ``fit`` reports every number it measures as
``log(name, value, step)`` (the names are in ``utils/events.py``): the shape of an experiment tracker's
``run.log(name, value, step)`` and of TensorBoard's ``SummaryWriter.add_scalar(tag, scalar_value,
global_step)``, so ``fit(..., log=writer.add_scalar)`` writes TensorBoard event files with no glue code.
``open_writer`` returns such a writer; ``read_scalars`` reads a run back with TensorBoard's own
``EventAccumulator``. ``ScalarLogger`` is the stand-in for a machine without the ``tensorboard`` package
(``backend="plain"``): the same ``add_scalar`` / ``flush`` / ``close``, one JSON line per value in
``scalars.jsonl`` and one printed line per epoch.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import time
from pathlib import Path

from .checks import integer
from .events import EPOCH, TRAIN_BATCH_LOSS

SCALARS_FILE = "scalars.jsonl"
BACKENDS = ("auto", "tensorboard", "plain")


def tensorboard_available() -> bool:
    """True when the ``tensorboard`` package is installed (``torch.utils.tensorboard`` needs it)."""
    return importlib.util.find_spec("tensorboard") is not None


def _format(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


class ScalarLogger:
    """A plain-text stand-in for TensorBoard's ``SummaryWriter`` (scalars only): pass ``logger.add_scalar``
    to ``fit(..., log=...)``.

    ``add_scalar(tag, scalar_value, global_step)`` records the value in memory (``scalars(tag)``) and,
    when ``log_dir`` is given, appends it as one JSON line to ``log_dir/scalars.jsonl`` (a new logger
    appends to an existing file, so a resumed run keeps its earlier epochs). With ``echo``, the arrival of ``fit``'s last event of an epoch
    (``events.EPOCH``) prints the epoch's values on one line; batch losses are left out of that line.
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, *, echo: bool = True):
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.echo = echo
        self.records: list[tuple[str, float, int | None]] = []
        self._since_echo: list[tuple[str, float]] = []
        self._file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._file = (self.log_dir / SCALARS_FILE).open("a", encoding="utf-8")  # append: a resumed run keeps its earlier epochs

    def add_scalar(self, tag: str, scalar_value: float, global_step: int | None = None) -> None:
        """Record one value, as ``SummaryWriter.add_scalar`` would."""
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag must be a non-empty string such as 'val/loss', got {tag!r}")
        if global_step is not None:
            global_step = integer(global_step, "global_step", minimum=0)
        value = float(scalar_value)
        self.records.append((tag, value, global_step))
        if self._file is not None:
            self._file.write(json.dumps({"tag": tag, "value": value, "step": global_step, "time": time.time()}) + "\n")
        if tag == EPOCH:
            if self.echo:
                parts = [f"{name} {_format(v)}" for name, v in self._since_echo]
                step = "" if global_step is None else f" (step {global_step})"
                print(f"{tag} {_format(value)}{step}: " + " | ".join(parts))
            self._since_echo.clear()
        elif tag != TRAIN_BATCH_LOSS:
            self._since_echo.append((tag, value))

    @property
    def tags(self) -> list[str]:
        """The tags seen so far, in the order they first arrived."""
        return list(dict.fromkeys(tag for tag, _, _ in self.records))

    def scalars(self, tag: str) -> list[tuple[int | None, float]]:
        """``(step, value)`` of every value logged under ``tag``, in order."""
        if tag not in self.tags:
            raise ValueError(f"no values logged under tag {tag!r}; logged tags: {', '.join(self.tags) or 'none'}")
        return [(step, value) for name, value, step in self.records if name == tag]

    def get_logdir(self) -> str | None:
        """The folder written to (``SummaryWriter`` has the same method), or None for a memory-only logger."""
        return None if self.log_dir is None else str(self.log_dir)

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file; the values stay readable in memory."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ScalarLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_writer(log_dir: str | os.PathLike, backend: str = "auto", *, echo: bool = True):
    """A writer for one run, logging into ``log_dir``: pass ``writer.add_scalar`` to ``fit(..., log=...)``.

    ``backend="auto"`` gives TensorBoard's ``SummaryWriter`` (``tensorboard`` is in requirements.txt) and
    falls back to a ``ScalarLogger`` on a machine without the package; ``"tensorboard"`` or ``"plain"``
    force one. Both have ``add_scalar``, ``flush``, ``close`` and work as context managers. Open the
    dashboard with ``tensorboard --logdir <the folder above the runs>``. Explained in notebook 06.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        backend = "tensorboard" if tensorboard_available() else "plain"
    if backend == "tensorboard":
        if not tensorboard_available():
            raise ImportError("backend='tensorboard' needs the tensorboard package: `pip install tensorboard`, "
                              "or use backend='plain'")
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(log_dir))
    return ScalarLogger(log_dir, echo=echo)


def read_scalars(log_dir: str | os.PathLike) -> dict[str, list[tuple[int | None, float]]]:
    """Every scalar logged into ``log_dir`` by ``open_writer``'s writer, as ``{tag: [(step, value), ...]}``.

    Reads ``scalars.jsonl`` (``ScalarLogger``) or TensorBoard's event files (with TensorBoard's own
    ``EventAccumulator``; TensorBoard stores values as 32-bit floats). Close the writer first.
    """
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        raise FileNotFoundError(f"log folder not found: {log_dir}")
    out: dict[str, list[tuple[int | None, float]]] = {}
    jsonl = log_dir / SCALARS_FILE
    if jsonl.is_file():
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                out.setdefault(record["tag"], []).append((record["step"], record["value"]))
        return out
    if any(log_dir.glob("events.out.tfevents.*")):
        if not tensorboard_available():
            raise ImportError(f"{log_dir} holds TensorBoard event files; reading them needs `pip install tensorboard`")
        from tensorboard.backend.event_processing import event_accumulator

        accumulator = event_accumulator.EventAccumulator(str(log_dir), size_guidance={event_accumulator.SCALARS: 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            out[tag] = [(event.step, event.value) for event in accumulator.Scalars(tag)]
        return out
    raise FileNotFoundError(f"no {SCALARS_FILE} and no TensorBoard event files in {log_dir}")
