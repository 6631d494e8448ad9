"""Notebook 01's checkers against the right answers and a catalogue of plausible wrong ones (issue 21, item 5).

The wrong answers are those the review of 2026-12-04 (notebooks-r1.md, objections 5 and 22) tried, plus the
classic mistakes of notebook 01 itself. Hostile inputs (an ``__eq__`` that is always True, ``sys.exit``, a
function that never returns) are covered by the generic guard of ``utils/exercises/core.py`` and its test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import utils.exercises

EX = utils.exercises.exercises_for("01")


def _rejected(question, answer, words: str, absent: str = "") -> None:
    """``answer`` is marked incorrect for the reason ``words`` name (and not for ``absent``), and autograd is on."""
    result = question.check(answer)
    assert result.status == "incorrect" and words in result.message, result.message
    assert not absent or absent not in result.message, result.message
    assert torch.is_grad_enabled(), "the checker must leave autograd switched on"


def _take_step(model, x, y, loss_fn, optimizer):
    """The right step, returning the loss tensor: the answers below differ only in what they do with it."""
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def _step_right(model, x, y, loss_fn, optimizer):
    return _take_step(model, x, y, loss_fn, optimizer).item()


def _step_no_zero_grad(model, x, y, loss_fn, optimizer):
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_zero_grad_between(model, x, y, loss_fn, optimizer):
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.zero_grad()  # clears what backward() just computed: step() has nothing to use
    optimizer.step()
    return loss.item()


def _step_returns_tensor(model, x, y, loss_fn, optimizer):
    return _take_step(model, x, y, loss_fn, optimizer)


def _step_returns_detached(model, x, y, loss_fn, optimizer):
    return _take_step(model, x, y, loss_fn, optimizer).detach()  # no graph, but still a tensor (issue 12)


def _step_returns_numpy(model, x, y, loss_fn, optimizer):
    return np.float32(_step_right(model, x, y, loss_fn, optimizer))


def _step_loss_after(model, x, y, loss_fn, optimizer):
    _step_right(model, x, y, loss_fn, optimizer)
    with torch.no_grad():
        return loss_fn(model(x), y).item()


def _step_no_return(model, x, y, loss_fn, optimizer):
    _step_right(model, x, y, loss_fn, optimizer)


def _step_own_optimizer(model, x, y, loss_fn, optimizer):
    return _step_right(model, x, y, loss_fn, torch.optim.SGD(model.parameters(), lr=0.01))


def _step_grad_off(model, x, y, loss_fn, optimizer):
    value = _step_right(model, x, y, loss_fn, optimizer)
    torch.set_grad_enabled(False)  # "no graph for the caller": switches autograd off for the whole process
    return value


def _step_eval_mode(model, x, y, loss_fn, optimizer):
    model.eval()  # dropout off during the step: review 00_01, objection 14
    return _step_right(model, x, y, loss_fn, optimizer)


def _step_leaves_eval_mode(model, x, y, loss_fn, optimizer):
    model.train()
    value = _step_right(model, x, y, loss_fn, optimizer)
    model.eval()  # the step is right, but the next steps of the epoch run with dropout off (2026-12-05b, 4)
    return value


def _step_generator(model, x, y, loss_fn, optimizer):
    yield _step_right(model, x, y, loss_fn, optimizer)  # a generator function: calling it runs nothing


async def _step_async(model, x, y, loss_fn, optimizer):
    return _step_right(model, x, y, loss_fn, optimizer)  # a coroutine function: calling it runs nothing


@pytest.mark.parametrize(("answer", "words"), [
    (_step_eval_mode, "eval mode during the step"),
    (_step_leaves_eval_mode, "left the model in eval mode"),
    (_step_generator, "a generator"),
    (_step_async, "a coroutine"),
    (_step_no_zero_grad, "zero_grad() before loss.backward()"),
    (_step_zero_grad_between, "nothing in between"),
    (_step_returns_tensor, "still holds its graph"),
    (_step_returns_numpy, "not a Python float"),
    (_step_loss_after, "computed before the update"),
    (_step_no_return, "computed before the update"),
    (_step_own_optimizer, "with the optimizer you were given"),
    (_step_grad_off, "switched off for the whole process"),
])
def test_q1_rejects_plausible_wrong_steps_for_the_right_reason(answer, words):
    _rejected(EX.q1, answer, words)


def test_q1_rejects_a_detached_tensor_for_the_true_reason():
    _rejected(EX.q1, _step_returns_detached, "holds no graph", absent="keeps the whole graph")


def test_q1_accepts_the_right_step():
    assert EX.q1.check(_step_right).correct


def _step_with_an_accuracy_first(model, x, y, loss_fn, optimizer):
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean()  # an extra forward pass, in training mode
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert 0 <= accuracy <= 1
    return loss.item()


def _step_computing_the_logits_twice(model, x, y, loss_fn, optimizer):
    logits = model(x)  # noqa: F841 - a learner's leftover
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@pytest.mark.parametrize("answer", [_step_with_an_accuracy_first, _step_computing_the_logits_twice])
def test_q1_accepts_a_right_step_with_an_extra_forward_pass(answer):
    # a fresh reading (2026-12-05): the extra pass used up the dropout masks and the step was called wrong
    assert EX.q1.check(answer).correct


def _evaluate_right(model, loader, loss_fn, device):
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    model.train()
    return total / seen, correct / seen


def _evaluate_grad_off(model, loader, loss_fn, device):
    torch.set_grad_enabled(False)  # never restored (no_grad() inside gives back the mode it found): cannot train
    return _evaluate_right(model, loader, loss_fn, device)


def _evaluate_no_eval(model, loader, loss_fn, device):
    model.eval = lambda: model  # never switches dropout off
    return _evaluate_right(model, loader, loss_fn, device)


def _evaluate_no_train(model, loader, loss_fn, device):
    result = _evaluate_right(model, loader, loss_fn, device)
    model.eval()
    return result


def _evaluate_mean_of_means(model, loader, loss_fn, device):
    model.eval()
    losses, accs = [], []
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            losses.append(loss_fn(logits, y).item())
            accs.append((logits.argmax(dim=1) == y).float().mean().item())
    model.train()
    return sum(losses) / len(losses), sum(accs) / len(accs)


def _evaluate_swapped(model, loader, loss_fn, device):
    loss, acc = _evaluate_right(model, loader, loss_fn, device)
    return acc, loss


def _evaluate_percent(model, loader, loss_fn, device):
    loss, acc = _evaluate_right(model, loader, loss_fn, device)
    return loss, 100 * acc


def _evaluate_strings(model, loader, loss_fn, device):
    return tuple(str(v) for v in _evaluate_right(model, loader, loss_fn, device))  # review 00_01, objection 13


def _evaluate_changes_weights(model, loader, loss_fn, device):
    result = _evaluate_right(model, loader, loss_fn, device)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # measures right, then edits the model: review 00_01, objection 13
    return result


def _evaluate_generator(model, loader, loss_fn, device):
    return (v for v in _evaluate_right(model, loader, loss_fn, device))


@pytest.mark.parametrize(("answer", "words"), [
    (_evaluate_strings, "two Python numbers"),
    (_evaluate_changes_weights, "changes nothing"),
    (_evaluate_generator, "return two numbers"),
    (_evaluate_grad_off, "switched off for the whole process"),
    (_evaluate_no_eval, "training mode"),
    (_evaluate_no_train, "stayed in eval mode"),
    (_evaluate_mean_of_means, "mean of the batch means"),
    (_evaluate_swapped, "per-sample average"),
    (_evaluate_percent, "per-sample average"),
])
def test_q2_rejects_plausible_wrong_evaluations(answer, words):
    _rejected(EX.q2, answer, words)


def test_q2_accepts_the_right_evaluation():
    assert EX.q2.check(_evaluate_right).correct


@pytest.mark.parametrize("answer", [843, 843.75, 845, 54_000 // 64, 54_000, 0.844, "abc"])
def test_q3_rejects_wrong_step_counts(answer):
    assert EX.q3.check(answer).status == "incorrect"


def test_q3_message_for_a_near_whole_number_does_not_contradict_itself():
    message = EX.q3.check(844 + 1e-12).message  # review 00_01, objection 19: it used to print "844 is not whole"
    assert "844.000000000001" in message


def test_q3_accepts_844():
    assert EX.q3.check(844).correct
