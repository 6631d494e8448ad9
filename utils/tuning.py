"""Hyperparameter search on the validation set: by hand (grid, random) and with Optuna.

Explained in notebooks/05b_tuning.ipynb. The pieces, each a plain function:

- ``train_config(data, config, seed=...)`` trains a fresh MLP with one configuration (learning rate, batch
  size, weight decay) through ``utils.fit`` and returns its ``History``; ``score(history)`` is the number a
  search compares: the best validation loss of the run (lower is better). The test split is never touched.
- ``grid_configs`` and ``random_configs`` build the configurations of a grid or a random search.
- ``TrialReporter`` is a ``fit`` log hook that reports the validation loss of every epoch to an Optuna trial
  and stops the run (raises ``optuna.TrialPruned``) when the pruner says so; ``make_objective`` builds an
  Optuna objective on top of it; ``open_study`` opens (or continues) a study stored in a file.
- ``python -m utils.tuning worker --storage FILE --study NAME --trials N`` is one worker process: start
  several on the same storage and they share the study (the notebook's section "Scaling out").

Storage: a URL (``sqlite:///study.db``, ``postgresql://...``) goes to Optuna's database storage; anything
else is a path to a journal file (``JournalStorage``), the storage Optuna recommends for several processes
on one machine, since SQLite allows one writer at a time.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import socket
import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .checks import finite_number, positive_int
from .data import Splits, TensorLoader
from .device import pick_device
from .events import VAL_LOSS, DivergenceGuard, StopTraining
from .models import MLP
from .seeding import seed_everything
from .training import History, fit, make_optimizer

LR_RANGE = (1e-3, 1.0)  # plain SGD with momentum 0.9 on a small MLP: from far too small to too large
BATCH_SIZES = (16, 32, 64, 128)
WEIGHT_DECAY_RANGE = (1e-6, 1e-4)  # so small that it barely matters in a few epochs: the "unimportant" one
HIDDEN = 64
EPOCHS = 5
DIVERGE_FACTOR = 4.0


def check_config(config: dict) -> dict:
    """``config`` if it has a valid ``lr``, ``batch_size`` and ``weight_decay``; a ``ValueError`` otherwise."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict with lr, batch_size and weight_decay, got {type(config).__name__}")
    missing = {"lr", "batch_size", "weight_decay"} - set(config)
    if missing:
        raise ValueError(f"config is missing {', '.join(sorted(missing))}; got {config!r}")
    finite_number(config["lr"], "config['lr']", low=0, low_open=True, example="0.1")
    positive_int(config["batch_size"], "config['batch_size']")
    finite_number(config["weight_decay"], "config['weight_decay']", low=0, example="1e-5")
    return config


def train_model(data: Splits, config: dict, *, seed: int = 0, epochs: int = EPOCHS, hidden: int = HIDDEN,
                device: torch.device | str | None = None, log=None) -> tuple[MLP, History]:
    """Train a fresh ``MLP(hidden)`` on ``data.train`` with SGD (momentum 0.9) and ``config``; validate on
    ``data.val`` after every epoch. ``seed`` fixes the initial weights and the batch order. Returns the model
    (with the weights of its best validation epoch) and the ``History``.

    ``log`` is passed to ``fit`` (e.g. a ``TrialReporter``). A diverging run is stopped by ``fit``'s guard.
    """
    check_config(config)
    device = pick_device(device)
    seed_everything(seed)
    model = MLP(data.input_shape, data.num_classes, hidden=hidden)
    optimizer = make_optimizer("momentum", model.parameters(), float(config["lr"]),
                               weight_decay=float(config["weight_decay"]))
    train_loader = TensorLoader(data.train, int(config["batch_size"]), shuffle=True, seed=seed, device=device)
    val_loader = TensorLoader(data.val, 1000, device=device)
    hooks = [] if log is None else [log] if callable(log) else list(log)
    history = fit(model, train_loader, val_loader, epochs=epochs, optimizer=optimizer, device=device,
                  log=[*hooks, DivergenceGuard(DIVERGE_FACTOR)])
    history.label = describe(config)
    return model, history


def train_config(data: Splits, config: dict, **kwargs) -> History:
    """``train_model`` without the model: the ``History`` of one run (arguments as ``train_model``)."""
    return train_model(data, config, **kwargs)[1]


def score(history: History) -> float:
    """The number a search minimises: the run's best validation loss (``inf`` if no epoch finished)."""
    losses = [v for v in history.val_loss if math.isfinite(v)]
    return min(losses) if losses else math.inf


def mean_score(data: Splits, config: dict, seeds: Sequence[int], **kwargs) -> float:
    """The mean of ``score`` over one run per seed: how a configuration is compared in notebook 05b."""
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed, e.g. seeds=range(3)")
    return float(np.mean([score(train_config(data, config, seed=s, **kwargs)) for s in seeds]))


def describe(config: dict) -> str:
    return f"lr {config['lr']:.3g}, batch {config['batch_size']}, wd {config['weight_decay']:.1e}"


# ----------------------------------------------------------------------------------------------- grid and random
def grid_configs(lrs: Sequence[float], batch_sizes: Sequence[int], weight_decays: Sequence[float]) -> list[dict]:
    """Every combination of the given values (a grid search tries len(lrs) x len(batch_sizes) x ... of them)."""
    return [{"lr": float(lr), "batch_size": int(b), "weight_decay": float(wd)}
            for lr, b, wd in itertools.product(lrs, batch_sizes, weight_decays)]


def random_configs(n: int, *, seed: int = 0, lr_range: tuple[float, float] = LR_RANGE,
                   batch_sizes: Sequence[int] = BATCH_SIZES,
                   weight_decay_range: tuple[float, float] = WEIGHT_DECAY_RANGE) -> list[dict]:
    """``n`` configurations drawn at random: learning rate and weight decay log-uniform in their ranges
    (every factor of 10 equally likely), batch size uniform among ``batch_sizes``."""
    positive_int(n, "n")
    for name, (low, high) in (("lr_range", lr_range), ("weight_decay_range", weight_decay_range)):
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high < math.inf):
            raise ValueError(f"{name} must be (low, high) with 0 < low < high, e.g. (1e-4, 1.0); got {(low, high)!r}")
    if len(batch_sizes) == 0 or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in batch_sizes):
        raise ValueError(f"batch_sizes must be a non-empty list of integers >= 1, e.g. [32, 64]; got {batch_sizes!r}")
    rng = np.random.default_rng(seed)

    def log_uniform(low, high):
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    return [{"lr": log_uniform(*lr_range), "batch_size": int(rng.choice(batch_sizes)),
             "weight_decay": log_uniform(*weight_decay_range)} for _ in range(n)]


# ----------------------------------------------------------------------------------------------- Optuna
class TrialReporter:
    """A ``fit`` log hook: reports each epoch's validation loss to an Optuna ``trial`` and prunes.

    ``fit`` sends ``val/loss`` once per epoch (after the epoch's training and validation); the hook counts
    those events, so the k-th one is reported as step k (epochs, not optimizer steps: trials with
    different batch sizes take different numbers of steps per epoch, and a pruner compares trials at the
    same step). When ``trial.should_prune()`` says so the hook raises ``utils.training.StopTraining``: ``fit``
    ends the run cleanly and returns its History (``stop_reason="stopped"``, ``self.pruned`` is True), and the
    objective then raises ``optuna.TrialPruned`` so Optuna records the trial as pruned.
    """

    def __init__(self, trial):
        self.trial = trial
        self.values: list[float] = []
        self.pruned = False

    def __call__(self, name: str, value: float, step: int) -> None:
        if name != VAL_LOSS:
            return
        self.values.append(value)
        epoch = len(self.values)
        self.trial.report(value, epoch)
        self.trial.set_user_attr("epochs_trained", epoch)
        if self.trial.should_prune():
            self.pruned = True
            raise StopTraining(f"pruned after epoch {epoch} at validation loss {value:.4f}")


def suggest_config(trial, *, lr_range: tuple[float, float] = LR_RANGE, batch_sizes: Sequence[int] = BATCH_SIZES,
                   weight_decay_range: tuple[float, float] = WEIGHT_DECAY_RANGE) -> dict:
    """The same search space as ``random_configs``, asked of an Optuna trial."""
    return {"lr": trial.suggest_float("lr", *lr_range, log=True),
            "batch_size": trial.suggest_categorical("batch_size", list(batch_sizes)),
            "weight_decay": trial.suggest_float("weight_decay", *weight_decay_range, log=True)}


def make_objective(data: Splits, *, epochs: int = EPOCHS, hidden: int = HIDDEN,
                   device: torch.device | str | None = None, worker: str | None = None) -> Callable:
    """An Optuna objective: suggest a configuration, train it with ``train_config`` (seed = the trial's
    number, unique within a study), report every epoch through a ``TrialReporter``, return ``score``.

    Each trial records ``seed``, ``diverged`` (``fit`` stopped a blown-up run) and ``worker`` (when given) in
    its user attributes; ``TrialReporter`` adds ``epochs_trained``.
    """
    positive_int(epochs, "epochs")

    def objective(trial) -> float:
        config = suggest_config(trial)
        trial.set_user_attr("seed", trial.number)
        trial.set_user_attr("host", socket.gethostname())  # fail_dead_trials: a killed worker's trial ends FAIL
        trial.set_user_attr("pid", os.getpid())
        if worker is not None:
            trial.set_user_attr("worker", str(worker))
        reporter = TrialReporter(trial)
        history = train_config(data, config, seed=trial.number, epochs=epochs, hidden=hidden, device=device,
                               log=reporter)
        trial.set_user_attr("diverged", history.diverged)
        if reporter.pruned:  # fit stopped cleanly at the pruner's request; Optuna records it as pruned
            import optuna

            raise optuna.TrialPruned(history.message)
        value = score(history)
        if not math.isfinite(value):  # diverged before the first epoch ended: nothing to compare
            import optuna

            raise optuna.TrialPruned(history.message or "no finite validation loss")
        return value

    return objective


def open_storage(storage: str):
    """A URL (``sqlite:///file.db``, ``postgresql://...``) as it is; any other string is a journal file path."""
    if not isinstance(storage, str) or not storage:
        raise ValueError(f"storage must be a URL like 'sqlite:///study.db' or a journal file path, got {storage!r}")
    if "://" in storage:
        return storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = os.path.abspath(storage)  # optuna's lock links to the path as given: a relative one dangles
    if os.path.isfile(path):
        check_journal(path)
    return JournalStorage(JournalFileBackend(path))


def check_journal(path: str) -> None:
    """Repair a journal whose last append was cut mid-line (the next append would land on that line and make
    the whole study unreadable); refuse, naming the file, a journal with an unreadable line elsewhere."""
    from optuna.storages.journal import JournalFileSymlinkLock

    lock = JournalFileSymlinkLock(path)
    lock.acquire()  # no writer appends meanwhile
    try:
        with open(path, "rb") as f:
            data = f.read()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with open(path, "r+b") as f:
                f.truncate(keep)
            warnings.warn(f"{path}: removed a cut last line ({len(data) - keep} bytes) left by a writer that "
                          "stopped mid-append", stacklevel=3)
    finally:
        lock.release()
    for number, line in enumerate(data[:keep].splitlines(), start=1):
        try:
            entry = json.loads(line.decode("utf-8"))
            if not (isinstance(entry, dict) and "op_code" in entry):  # JSON, but another program's
                raise ValueError("no op_code")
        except ValueError as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ValueError(f"journal {path}, line {number}, is not an Optuna journal entry ({err}); the study "
                             "cannot be read: restore the file from a copy, or give another storage") from None


def fail_dead_trials(study) -> list[int]:
    """Mark FAIL the RUNNING trials of workers on this machine whose process is gone (killed mid-trial)."""
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def open_study(storage: str, study_name: str, *, sampler_seed: int | None = 0):
    """Create the study ``study_name`` in ``storage``, or open it if it exists (``load_if_exists=True``).

    The trials live in the storage; the sampler (TPE, seeded with ``sampler_seed``) and the pruner
    (successive halving on epochs: rungs at epochs 1, 3, 9, ...) do not, so every process passes them again.
    """
    import optuna

    if not isinstance(study_name, str) or not study_name:
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}")
    study = optuna.create_study(
        storage=open_storage(storage), study_name=study_name, direction="minimize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=5),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
    )
    if study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise ValueError(f"study {study_name!r} in {storage} maximizes its objective; this series minimizes the "
                         "validation loss: give another study_name")
    fail_dead_trials(study)
    return study


def run_worker(storage: str, study_name: str, n_trials: int, *, worker: str, dataset: str = "auto",
               per_class: int = 50, val_size: int = 500, epochs: int = EPOCHS, sampler_seed: int | None = None,
               device: torch.device | str | None = None):
    """One worker: load the data, open the shared study and run ``n_trials`` trials in it."""
    import optuna

    from .data import load_dataset
    from .experiments import explorer_data
    from .threads import apply_thread_policy

    positive_int(n_trials, "n_trials")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    apply_thread_policy()  # the series' one thread policy (utils/threads.py), as in the notebooks
    data = explorer_data(load_dataset(dataset, verbose=False), per_class=per_class, val_size=val_size,
                         device=device)
    study = open_study(storage, study_name, sampler_seed=sampler_seed)
    study.optimize(make_objective(data, epochs=epochs, device=device, worker=worker), n_trials=n_trials)
    return study


def sampler_seed_for(worker_id: str) -> int:
    """A sampler seed from every character of ``worker_id``: distinct workers draw distinct trials."""
    return int(hashlib.sha256(worker_id.encode()).hexdigest(), 16) % 2**31


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.tuning",
                                     description="Tuning workers sharing an Optuna study (notebook 05b).")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run trials in a shared study")
    worker.add_argument("--storage", required=True, help="sqlite:///file.db, or a journal file path")
    worker.add_argument("--study", required=True, help="the study's name (created if it does not exist)")
    worker.add_argument("--trials", type=int, required=True, help="how many trials this worker runs")
    worker.add_argument("--worker-id", default=None,
                        help="recorded in each trial's user attributes (default: host-pid, unique per process)")
    worker.add_argument("--epochs", type=int, default=EPOCHS)
    worker.add_argument("--per-class", type=int, default=50, help="training images per class")
    worker.add_argument("--dataset", default="auto", help="auto, fashion_mnist or digits")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="FashionMNIST unavailable")
    args.worker_id = args.worker_id or f"{socket.gethostname()}-{os.getpid()}"
    sampler_seed = sampler_seed_for(args.worker_id)
    study = run_worker(args.storage, args.study, args.trials, worker=args.worker_id, dataset=args.dataset,
                       per_class=args.per_class, epochs=args.epochs, sampler_seed=sampler_seed)
    print(f"{args.worker_id}: study {args.study!r} now has {len(study.trials)} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
