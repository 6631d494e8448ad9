"""fit's log hook and TensorBoard (notebook 06): ``fit(..., log=writer.add_scalar)`` writes event files that
TensorBoard's own reader (``EventAccumulator``) reads back, every value at the step it belongs to; ``lr`` is the
rate the epoch's first step used, logged at that step (r5-5)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
from torch.utils.tensorboard import SummaryWriter

import utils
from utils import events


@pytest.fixture
def tiny_run(digits):
    """Loaders over 256 digits: 4 steps per epoch."""
    small = dataclasses.replace(digits, train=utils.subset(digits.train, 256))
    return utils.make_loaders(small, batch_size=64)


def _read(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in ``folder``'s event files, as notebook 06 reads them: ``{tag: [(step, value), ...]}``."""
    accumulator = EventAccumulator(str(folder), size_guidance={SCALARS: 0})  # 0: keep every value
    accumulator.Reload()
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def _close(pairs, expected_steps, expected_values) -> bool:
    """The steps match exactly, the values to float32 precision (TensorBoard stores 32-bit floats)."""
    return ([s for s, _ in pairs] == expected_steps
            and all(math.isclose(v, x, rel_tol=1e-6, abs_tol=1e-7) for (_, v), x in zip(pairs, expected_values, strict=True)))


def test_summary_writer_through_fits_hook_read_back_by_tensorboards_event_accumulator(tmp_path, tiny_run):
    torch.manual_seed(0)
    model = utils.MLP((1, 8, 8), 10, hidden=32)
    with SummaryWriter(log_dir=str(tmp_path / "run")) as writer:  # fit's hook has add_scalar's shape: no glue code
        history = utils.fit(model, tiny_run.train, tiny_run.val, epochs=3, optimizer="sgd", lr=0.1,
                            log=writer.add_scalar)

    logged = _read(tmp_path / "run")
    assert set(logged) == {events.TRAIN_BATCH_LOSS, events.EPOCH, *(event for event, _ in events.EPOCH_EVENTS)}
    assert _close(logged[events.TRAIN_BATCH_LOSS], list(range(1, 13)), history.step_loss)
    epoch_ends = [e["step"] for e in history.epochs]
    assert epoch_ends == [4, 8, 12]
    for event, key in events.EPOCH_EVENTS:
        steps = [1, 5, 9] if event == events.LR else epoch_ends  # lr: at each epoch's first step
        assert _close(logged[event], steps, history.metric(key)), event
    assert _close(logged[events.EPOCH], epoch_ends, [1, 2, 3])


def test_logged_lr_is_the_rate_the_step_it_is_logged_at_used(tiny_run):
    # r5-5: with a schedule stepped every batch, fit logged the epoch's starting rate at the epoch's last step (a
    # TensorBoard chart shifted by an epoch); each logged (step, lr) must be the rate that step really used.
    torch.manual_seed(0)
    model = utils.MLP((1, 8, 8), 10, hidden=32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1 / (1 + k))  # step s (from 1) uses 0.1 / s
    used = []  # the rate of every optimizer step, as the optimizer saw it

    def record_rate(opt, args, kwargs):
        used.append(opt.param_groups[0]["lr"])

    optimizer.register_step_pre_hook(record_rate)
    logged = []
    history = utils.fit(model, tiny_run.train, tiny_run.val, epochs=3, optimizer=optimizer, scheduler=scheduler,
                        scheduler_interval="step", log=lambda name, value, step: logged.append((name, value, step)))
    assert used == pytest.approx([0.1 / s for s in range(1, 13)])
    lr_events = [(step, value) for name, value, step in logged if name == events.LR]
    assert [step for step, _ in lr_events] == [1, 5, 9]  # the old behaviour: 4, 8, 12
    assert all(value == used[step - 1] for step, value in lr_events)
    assert history.lr == [used[0], used[4], used[8]]

