"""utils.tuning (notebook 05b): search spaces, the pruning hook, a study that survives an interruption, and two
worker processes sharing one study without losing or repeating a trial."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from utils import tuning  # noqa: E402
from utils.experiments import explorer_data  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COMPLETE = optuna.trial.TrialState.COMPLETE


@pytest.fixture(scope="module")
def tiny(digits):
    """100 training images (10 a class) and 100 validation images: a 2-epoch run takes a few milliseconds."""
    return explorer_data(digits, per_class=10, val_size=100, device="cpu")


@pytest.fixture(autouse=True)
def quiet_optuna():
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_grid_is_every_combination_and_random_covers_each_axis():
    grid = tuning.grid_configs([0.01, 0.1, 1.0], [16, 128], [1e-6, 1e-4])
    assert len(grid) == 12 and len({c["lr"] for c in grid}) == 3
    assert len({(c["lr"], c["batch_size"], c["weight_decay"]) for c in grid}) == 12
    random = tuning.random_configs(12, seed=0, lr_range=(0.01, 1.0))
    assert len({c["lr"] for c in random}) == 12
    assert all(0.01 <= c["lr"] <= 1.0 and c["batch_size"] in tuning.BATCH_SIZES
               and tuning.WEIGHT_DECAY_RANGE[0] <= c["weight_decay"] <= tuning.WEIGHT_DECAY_RANGE[1] for c in random)
    assert random == tuning.random_configs(12, seed=0, lr_range=(0.01, 1.0))  # same seed, same draws
    # log-uniform: about as many draws below 0.1 as above (uniform would put 90% above)
    many = tuning.random_configs(2000, seed=1, lr_range=(0.01, 1.0))
    below = sum(c["lr"] < 0.1 for c in many) / len(many)
    assert 0.45 < below < 0.55


def test_bad_configurations_are_refused_with_the_argument_named(tiny):
    with pytest.raises(ValueError, match="missing batch_size"):
        tuning.train_config(tiny, {"lr": 0.1, "weight_decay": 0.0})
    with pytest.raises(ValueError, match=r"config\['lr'\] must be a finite number > 0"):
        tuning.train_config(tiny, {"lr": -1.0, "batch_size": 16, "weight_decay": 0.0})
    with pytest.raises(ValueError, match=r"config\['batch_size'\]"):
        tuning.train_config(tiny, {"lr": 0.1, "batch_size": 0, "weight_decay": 0.0})
    with pytest.raises(ValueError, match="n must be"):
        tuning.random_configs(0)
    with pytest.raises(ValueError, match="storage must be"):
        tuning.open_storage("")
    with pytest.raises(ValueError, match="seeds must name"):
        tuning.mean_score(tiny, {"lr": 0.1, "batch_size": 16, "weight_decay": 0.0}, [])


def test_score_is_the_best_validation_loss_and_runs_are_reproducible(tiny):
    config = {"lr": 0.05, "batch_size": 16, "weight_decay": 1e-5}
    history = tuning.train_config(tiny, config, seed=3, epochs=3)
    assert tuning.score(history) == min(history.val_loss)
    assert tuning.score(tuning.train_config(tiny, config, seed=3, epochs=3)) == tuning.score(history)
    assert tuning.score(tuning.train_config(tiny, config, seed=4, epochs=3)) != tuning.score(history)


class FakeTrial:
    """Records what the hook reports; says 'prune' from epoch ``prune_at`` on."""

    def __init__(self, prune_at):
        self.prune_at, self.reported, self.user_attrs = prune_at, [], {}

    def report(self, value, step):
        self.reported.append((value, step))

    def should_prune(self):
        return len(self.reported) >= self.prune_at

    def set_user_attr(self, key, value):
        self.user_attrs[key] = value


def test_reporter_reports_each_epoch_and_stops_fit_when_told(tiny):
    config = {"lr": 0.05, "batch_size": 16, "weight_decay": 0.0}
    trial = FakeTrial(prune_at=2)
    reporter = tuning.TrialReporter(trial)
    pruned = tuning.train_config(tiny, config, epochs=5, log=reporter)  # fit ends cleanly and returns its History
    assert reporter.pruned and pruned.stop_reason == "stopped" and "after epoch 2" in pruned.message
    assert len(pruned.epochs) == 2 and pruned.val_loss == reporter.values  # nothing the pruned run did is lost
    assert [step for _, step in trial.reported] == [1, 2]   # epochs, not optimizer steps
    assert reporter.values == [value for value, _ in trial.reported] and trial.user_attrs["epochs_trained"] == 2
    # the values are the validation losses fit records: the same run without pruning starts with them
    full = tuning.train_config(tiny, config, epochs=2, log=tuning.TrialReporter(FakeTrial(prune_at=99)))
    assert full.val_loss == reporter.values


def test_pruner_stops_bad_trials_in_a_real_study(tiny):
    study = tuning.open_study("sqlite:///:memory:", "prune", sampler_seed=0)
    study.optimize(tuning.make_objective(tiny, epochs=4), n_trials=8)
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.PRUNED in states and COMPLETE in states
    for t in study.trials:
        assert sorted(t.intermediate_values) == list(range(1, len(t.intermediate_values) + 1))
        assert t.user_attrs["seed"] == t.number


def test_study_interrupted_and_reopened_continues_with_all_earlier_trials(tiny, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    objective = tuning.make_objective(tiny, epochs=2)
    calls = []

    def interrupted(trial):
        calls.append(trial.number)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the learner presses stop during the third trial
        return objective(trial)

    study = tuning.open_study(storage, "resume", sampler_seed=0)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupted, n_trials=10)
    before = [(t.number, t.state, t.params, t.value) for t in study.trials]
    assert len(before) == 3 and before[2][1] == optuna.trial.TrialState.FAIL
    del study

    again = tuning.open_study(storage, "resume", sampler_seed=1)   # as a new session would
    assert [(t.number, t.state, t.params, t.value) for t in again.trials] == before
    again.optimize(objective, n_trials=2)
    assert [t.number for t in again.trials] == [0, 1, 2, 3, 4]
    assert [(t.number, t.state, t.params, t.value) for t in again.trials[:3]] == before
    assert again.best_value <= min(v for *_, v in before if v is not None)


def test_journal_file_storage_reopens_too(tiny, tmp_path):
    journal = str(tmp_path / "study.log")
    tuning.open_study(journal, "j").optimize(tuning.make_objective(tiny, epochs=2), n_trials=2)
    assert len(tuning.open_study(journal, "j").trials) == 2


@pytest.mark.slow
def test_two_worker_processes_share_one_study_without_losing_or_repeating_trials(tmp_path):
    journal = tmp_path / "shared.log"
    env = {**os.environ, "OPTIM_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "utils.tuning", "worker", "--storage", str(journal), "--study", "shared",
               "--trials", "3", "--epochs", "2", "--per-class", "10", "--dataset", "digits"]
    workers = [subprocess.Popen(command + ["--worker-id", name], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for name in ("A", "B")]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    study = tuning.open_study(str(journal), "shared")
    workers_of = [t.user_attrs["worker"] for t in study.trials]
    assert sorted(workers_of) == ["A", "A", "A", "B", "B", "B"]               # each worker's 3 trials, none lost
    assert sorted(t.number for t in study.trials) == list(range(6))           # one number each, none twice
    assert len({t.user_attrs["seed"] for t in study.trials}) == 6             # six different seeds
    assert len({t.params["lr"] for t in study.trials}) == 6                   # six different configurations
    assert all(t.state in (COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    assert all(math.isfinite(t.value) for t in study.trials if t.state == COMPLETE)


# ----------------------------------------------------------------------------------------------- reliability 2026-12-04
def test_workers_get_distinct_sampler_seeds():  # E6: "worker", "worker-1", "worker-2" all had one seed
    seeds = {tuning.sampler_seed_for(name) for name in ("worker", "worker-1", "worker-2", "A", "B")}
    assert len(seeds) == 5


def test_a_journal_of_random_bytes_is_refused_naming_the_file(tmp_path):  # E1
    journal = tmp_path / "j.log"
    journal.write_bytes(os.urandom(2000).replace(b"\n", b"x") + b"\n")
    with pytest.raises(ValueError, match=str(journal)):
        tuning.open_study(str(journal), "s")


def _quick(trial):
    return trial.suggest_float("x", 0, 1)


def test_a_journal_with_a_cut_last_line_is_repaired(tmp_path):  # E2
    journal = tmp_path / "j.log"
    tuning.open_study(str(journal), "s").optimize(_quick, n_trials=2)
    with open(journal, "ab") as f:
        f.write(b'{"op_code":5,"worker_id":"x","trial_id":1,"sta')  # an append cut short
    with pytest.warns(UserWarning, match="cut last line"):
        study = tuning.open_study(str(journal), "s")
    study.optimize(_quick, n_trials=1)
    assert len(tuning.open_study(str(journal), "s").trials) == 3


def test_a_relative_journal_path_is_made_absolute(tmp_path, monkeypatch):  # E3b: optuna's lock link dangled
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    storage = tuning.open_storage("sub/j.log")
    tuning.open_study("sub/j.log", "s").optimize(_quick, n_trials=1)
    assert os.path.isabs(storage._backend._file_path)


def test_a_killed_workers_trial_ends_failed(tmp_path):  # E4
    import optuna

    journal = str(tmp_path / "j.log")
    study = tuning.open_study(journal, "s")
    trial = study.ask()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    trial.set_user_attr("host", __import__("socket").gethostname())
    trial.set_user_attr("pid", int(gone.stdout))
    states = [t.state for t in tuning.open_study(journal, "s").trials]
    assert states == [optuna.trial.TrialState.FAIL]
