"""Starting a ``torchrun`` job from a notebook: the command line, the run, and stopping it cleanly.

Explained in notebooks/07_scaling_out.ipynb. The code that runs *inside* each worker process is in
``utils/distributed.py``; this module is the other side, the notebook's kernel starting those processes.
``ddp_script()`` finds scripts/ddp_train.py from any working directory.

Stopping: on POSIX the job runs in its own session, so a timeout or an interrupted cell stops ``torchrun``
and every worker it started. On Windows only the ``torchrun`` process itself can be terminated (there are
no process groups to signal); its workers may then be left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .checks import finite_number, positive_int
from .data import REPO_ROOT


def ddp_script() -> Path:
    """The path of scripts/ddp_train.py, found from where ``utils`` is (not from the working directory).

    It is part of the repository, not of the ``utils`` package: an install from a clone (``pip install
    -e .``, or the clone on ``sys.path``) has it; a plain wheel install does not, and gets a clear error.
    """
    path = REPO_ROOT / "scripts" / "ddp_train.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: utils was imported from {Path(__file__).parent}, which is not "
                                "inside a clone of the repository. Clone it and install with `pip install -e .`.")
    return path


def torchrun_command(script: str | os.PathLike, args: Sequence[str] = (), *, nproc: int = 2) -> list[str]:
    """The ``torchrun`` command line, spelled ``python -m torch.distributed.run`` so it uses this Python."""
    nproc = positive_int(nproc, "nproc")
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--standalone",
            str(script), *map(str, args)]


def run_torchrun(script: str | os.PathLike, args: Sequence[str] = (), *, nproc: int = 2,
                 cwd: str | os.PathLike | None = None, timeout_s: float = 300.0,
                 threads_per_process: int = 1) -> subprocess.CompletedProcess:
    """Launch ``script`` on ``nproc`` processes with ``torchrun``, wait, and return its captured output.

    Runs from ``cwd`` (default: the repository root) with the repository on ``PYTHONPATH`` (so the
    script can ``import utils``) and ``OMP_NUM_THREADS=threads_per_process`` in every worker (two
    processes on a 2-core laptop should not each start 2 threads). A failed run (a non-zero exit, e.g.
    the script's divergence guard) raises ``RuntimeError`` carrying the end of the output, so the
    notebook shows why.
    """
    timeout_s = finite_number(timeout_s, "timeout_s (seconds)", low=0, low_open=True, example="300")
    threads_per_process = positive_int(threads_per_process, "threads_per_process")
    cwd = Path(cwd) if cwd is not None else REPO_ROOT
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads_per_process)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONUNBUFFERED", "1")
    command = torchrun_command(script, args, nproc=nproc)
    # its own session (process group), so that a timeout or an interrupted cell can stop the workers too
    posix = os.name == "posix"
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=posix)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException as err:  # timeout, or the learner interrupted the kernel: stop every process
        _stop(process, posix)
        stdout, stderr = process.communicate()
        if isinstance(err, subprocess.TimeoutExpired):
            raise RuntimeError(f"torchrun did not finish within {timeout_s:g} s:\n{(stdout + stderr)[-3000:]}") from err
        raise
    if process.returncode != 0:
        raise RuntimeError(f"torchrun exited with code {process.returncode}:\n{(stdout + stderr)[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _stop(process: subprocess.Popen, posix: bool) -> None:
    """Stop ``process`` and, on POSIX, every process it started (its session): TERM, 5 s, then KILL."""
    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if posix:
                os.killpg(process.pid, sig)
            elif process.poll() is None:
                process.send_signal(sig)

    send(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    send(signal.SIGKILL if posix else signal.SIGTERM)  # whatever is left of the session, workers included
    process.wait()
