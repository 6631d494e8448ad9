"""How many CPU threads torch uses: one policy for the whole series, applied by ``utils.setup()``.

The series trains small models (an MLP of a few hundred thousand parameters, batches of 64). Their matrix
products are too small to share between threads with much profit, and torch's threads wait for each other
after every operation. While another program keeps a core busy (a browser, a video call, a file indexer),
every operation then waits until that program gives the core back: on the project's 2-core test machine
notebook 01 took 103 s instead of 21 s next to one CPU-bound process with torch's default threads, and 24 s
with one thread. So the series uses **one thread**, on every device (with a GPU the CPU only launches work).

Change it with the environment variable ``OPTIM_THREADS`` (a positive integer, or ``auto`` for torch's own
default); without it an explicit ``OMP_NUM_THREADS`` is respected. Explained in notebooks/00_start_here.ipynb;
measured by ``benchmarks/time_notebooks.py --busy 1``.
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "OPTIM_THREADS"
SERIES_THREADS = 1
TORCH_DEFAULT = torch.get_num_threads()  # what torch chose when utils was first imported (its "auto")


MAX_THREADS = 1024  # more is a typo: torch.set_num_threads would overflow on a huge number

def thread_count(environ=None) -> int:
    """The number of CPU threads the policy asks for, read from ``environ`` (default ``os.environ``).

    ``OPTIM_THREADS=N`` -> N; ``OPTIM_THREADS=auto`` -> torch's default; otherwise ``OMP_NUM_THREADS`` when
    set, else ``SERIES_THREADS`` (1).
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip()
    if value.lower() == "auto":
        return TORCH_DEFAULT
    if value:
        if not value.isdigit() or not 1 <= int(value) <= MAX_THREADS:
            raise ValueError(f"{ENV_VAR} must be an integer from 1 to {MAX_THREADS} (1, 2, ...) or 'auto', "
                             f"got {value!r}")
        return int(value)
    omp = environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return int(omp)
    return SERIES_THREADS


def apply_thread_policy(environ=None) -> int:
    """Set torch's CPU threads to ``thread_count(environ)`` and return the number now in use.

    Safe to call again at any time (the explorer of notebook 05 and ``utils.setup()`` both call it).
    """
    wanted = thread_count(environ)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return torch.get_num_threads()


def describe_threads(n: int) -> str:
    """One line for ``utils.setup()``'s banner, e.g. ``"CPU threads: 1 (change with OPTIM_THREADS=N)"``."""
    return f"CPU threads: {n} (change with {ENV_VAR}=N or {ENV_VAR}=auto)"
