"""Notebook 02's checkers against the wrong answers a learner plausibly gives (review r1 of 2026-12-04, issue 21):
each gets the verdict "incorrect" with a message that names the fault; the right answers, in their several
correct forms, are accepted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from nbclient import NotebookClient
from torch import nn
from torch.nn.functional import cross_entropy as imported_cross_entropy

import utils.exercises
from utils.exercises import nb02

EX = utils.exercises.exercises_for("02")


def _rows(z, t):
    return z[torch.arange(len(t)), t]


Q1_RIGHT = {
    "logsumexp": lambda z, t: (torch.logsumexp(z, dim=1) - _rows(z, t)).mean(),
    "log_softmax": lambda z, t: -_rows(F.log_softmax(z, dim=1), t).mean(),
    "nll_loss of log_softmax": lambda z, t: F.nll_loss(F.log_softmax(z, dim=1), t),
    "per-row max by hand": lambda z, t: (z.max(1).values + torch.log(torch.exp(z - z.max(1, keepdim=True).values)
                                                                      .sum(1)) - _rows(z, t)).mean(),
}

# (answer, words the message must contain)
Q1_WRONG = {
    "one maximum for the whole batch": (nb02._nb02_global_max_cross_entropy, "each row's own maximum"),
    "bare exp (overflows)": (nb02._nb02_naive_cross_entropy, "overflowed"),
    "log of torch.softmax (underflows)": (lambda z, t: -torch.log(_rows(torch.softmax(z, dim=1), t)).mean(), "log(0)"),
    "clamped softmax": (lambda z, t: -torch.log(_rows(torch.softmax(z, 1).clamp_min(1e-12), t)).mean(), "gives"),
    "F.cross_entropy": (lambda z, t: F.cross_entropy(z, t), "F.cross_entropy"),
    "nn.CrossEntropyLoss": (lambda z, t: nn.CrossEntropyLoss()(z, t), "F.cross_entropy"),
    "cross_entropy imported by name": (lambda z, t: imported_cross_entropy(z, t), "F.cross_entropy"),
    "sum instead of mean": (lambda z, t: (torch.logsumexp(z, dim=1) - _rows(z, t)).sum(), "sum"),
    "per-sample losses": (lambda z, t: torch.logsumexp(z, dim=1) - _rows(z, t), "one number"),
    "normalised over dim=0": (lambda z, t: (torch.logsumexp(z, dim=0)[t] - _rows(z, t)).mean(), "dim=1"),
    "largest logit instead of the true one": (lambda z, t: (torch.logsumexp(z, 1) - z.max(1).values).mean(), "gives"),
    ".item()": (lambda z, t: (torch.logsumexp(z, dim=1) - _rows(z, t)).mean().item(), "one number"),
    ".detach()": (lambda z, t: (torch.logsumexp(z, dim=1) - _rows(z, t)).mean().detach(), "no gradient"),
    "right value, no gradient through the logits": (
        lambda z, t: (torch.logsumexp(z.detach(), 1) - _rows(z.detach(), t)).mean() + 0 * z.sum(), "gradient"),
    "a number, not a function": (2.3026, "the function itself"),
}


@pytest.mark.parametrize("name", Q1_RIGHT)
def test_02_q1_accepts_stable_cross_entropies(name):
    result = EX.q1.check(Q1_RIGHT[name])
    assert result.correct, result.message


@pytest.mark.parametrize("name", Q1_WRONG)
def test_02_q1_rejects_plausible_wrong_answers_for_the_right_reason(name):
    answer, words = Q1_WRONG[name]
    result = EX.q1.check(answer)
    assert result.status == "incorrect", name
    assert words in result.message, result.message


def test_02_q1_reference_is_computed_before_the_learners_code():
    """Review 02 objection 10: a function that zeroes the logits in place must not be judged against zeros."""
    def zero_then_right(z, t):
        z.data.zero_()
        return (torch.logsumexp(z, dim=1) - _rows(z, t)).mean()

    result = EX.q1.check(zero_then_right)
    assert result.status == "incorrect", result.message


def test_02_q2_the_weighted_mean_is_what_torch_reports():
    losses, classes = torch.tensor(nb02._NB02_LOSSES), torch.tensor(nb02._NB02_CLASSES)
    weights = torch.tensor(nb02._NB02_WEIGHTS)
    # logits whose per-sample cross-entropy is exactly `losses`: -log p_y = loss with two classes
    p_y = torch.exp(-losses)
    logits = torch.zeros(4, 2)
    logits[torch.arange(4), classes] = torch.log(p_y / (1 - p_y))
    assert torch.allclose(F.cross_entropy(logits, classes, reduction="none"), losses, atol=1e-6)
    reported = F.cross_entropy(logits, classes, weight=weights).item()
    assert math.isclose(reported, 13.8 / 13, rel_tol=1e-5) and EX.q2.check(reported).correct


def test_02_q1_the_global_maximum_fails_only_on_rows_at_different_scales():
    """The review's case: one row near 1000, one near 0. Torch's value is finite; the global-max answer is -inf."""
    z, t = torch.tensor([[1000.0, 999.0, 990.0], [0.0, 1.0, -1.0]]), torch.tensor([1, 0])
    assert math.isfinite(F.cross_entropy(z, t).item())
    assert nb02._nb02_global_max_cross_entropy(z, t).item() == -math.inf


@pytest.mark.parametrize(("answer", "words"), [
    (13.8 / 13, None), (1.0615, None), (0.9, "unweighted"), (13.8 / 4, "number of samples"), (13.8, "weighted sum"),
    (13.8 / 5, "sum of the class weights"), (4.2 / 7, "swapped"), ((0.2 + 4 * 3.4 / 3) / 5, "per-class mean"),
    (13.8 / 10, "not it"), ("1.0615", "text"), (float("nan"), "NaN"),
])
def test_02_q2_verdicts(answer, words):
    """Review 02 objection 8: with equal class counts, two wrong mental models (a weighted average of the class
    means; dividing by (N/C) * sum of the class weights) landed on the answer. Classes [0, 1, 1, 1] separate them."""
    result = EX.q2.check(answer)
    if words is None:
        assert result.correct, result.message
    else:
        assert result.status == "incorrect" and words in result.message, result.message


RIGHT_Q3 = {"price": nn.MSELoss, "spam": nn.BCEWithLogitsLoss, "tags": nn.BCEWithLogitsLoss,
            "digit": nn.CrossEntropyLoss}


@pytest.mark.parametrize(("key", "loss"), [
    ("tags", nn.MultiLabelSoftMarginLoss),  # the same number as BCE with logits on multi-hot targets
    ("spam", nn.SoftMarginLoss),            # the logistic loss with targets -1/+1
    ("spam", nn.CrossEntropyLoss),          # two logits
    ("digit", nn.MultiMarginLoss),          # review 02 objection 9: the multi-class sibling of SoftMarginLoss
    ("tags", nn.MultiLabelMarginLoss),      # and of MultiLabelSoftMarginLoss
    ("price", nn.HuberLoss), ("price", "L1Loss"), ("digit", nn.CrossEntropyLoss()), ("digit", "nn.CrossEntropyLoss()"),
])
def test_02_q3_accepts_every_right_loss(key, loss):
    result = EX.q3.check({**RIGHT_Q3, key: loss})
    assert result.correct, result.message


def test_02_q3_the_accepted_equivalents_really_compute_the_same_loss():
    z = torch.tensor([[2.0, -1.0, 0.5], [-0.3, 1.2, -2.0]])
    multi_hot = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert torch.isclose(nn.MultiLabelSoftMarginLoss()(z, multi_hot), nn.BCEWithLogitsLoss()(z, multi_hot))
    spam = torch.tensor([1.0, 0.0, 1.0])
    assert torch.isclose(nn.SoftMarginLoss()(z[0], 2 * spam - 1), nn.BCEWithLogitsLoss()(z[0], spam))


@pytest.mark.parametrize(("key", "loss", "words"), [
    ("digit", nn.BCEWithLogitsLoss, "compete"), ("tags", nn.CrossEntropyLoss, "several tags"),
    ("spam", nn.BCELoss, "probabilities"), ("digit", nn.NLLLoss, "log-probabilities"),
    ("price", nn.CrossEntropyLoss, "does not fit this task"), ("price", F.mse_loss, "is a function"),
    ("digit", F.cross_entropy, "is a function"), ("price", "mse", "not the name of a torch.nn loss class"),
    ("price", "mseloss", "not the name of a torch.nn loss class"),
    ("price", type("MSELoss", (), {}), "not PyTorch's own class"),
])
def test_02_q3_rejects_wrong_choices_with_a_reason(key, loss, words):  # review 02 objection 9: true messages
    result = EX.q3.check({**RIGHT_Q3, key: loss})
    assert result.status == "incorrect" and words in result.message, result.message


@pytest.mark.parametrize(("answer", "words"), [
    (math.log(2), None), (0.69, None), (math.log(10), "ln 10"), (10 * math.log(2), "sum over the 10 outputs"),
    (0, "not it"), (0.5, "not it"), (1.0, "not it"),
])
def test_02_q4_verdicts(answer, words):
    result = EX.q4.check(answer)
    if words is None:
        assert result.correct, result.message
    else:
        assert result.status == "incorrect" and words in result.message, result.message


def test_q2_accepts_the_answer_rounded_as_its_praise_prints_it():
    # a fresh reading (2026-12-05): 1.06, the praise's own "13.8 / 13 = 1.06", was called wrong
    from utils.exercises import exercises_for
    q2 = exercises_for("02").q2
    assert q2.check(1.06).correct and q2.check(13.8 / 13).correct
    assert not q2.check(1.05).correct and not q2.check(1.07).correct


# ---------------------------------------------------------------- the Going-further sections run after the core alone
NOTEBOOK_02 = Path(__file__).resolve().parent.parent / "notebooks" / "02_loss_functions.ipynb"


def _sections_02(nb):
    """(core cells, [(heading, cells)] per "## Going further" section) of notebook 02."""
    core, sections = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## Going further"):
            sections.append((cell.source.splitlines()[0], [cell]))
        elif sections:
            sections[-1][1].append(cell)
        else:
            core.append(cell)
    return core, sections


@pytest.mark.slow
@pytest.mark.variant  # with the robustness slice (make robustness-ci), not make test
def test_02_going_further_sections_run_after_the_core_alone(monkeypatch):
    """A fresh reading (2026-12-05b, objection 3): the Summary offers the sections as a menu, but the last one used
    names from earlier ones (NameError). Here the core runs, then every section that does not say which section to
    run first, in reverse order, so a name taken from an earlier section is not defined yet."""
    nb = nbformat.reads(NOTEBOOK_02.read_text(encoding="utf-8"), as_version=4)
    core, sections = _sections_02(nb)
    alone = [(h, cells) for h, cells in sections if "first" not in cells[0].source.split("\n\n")[1]]
    dependent = {h for h, _ in sections} - {h for h, _ in alone}
    assert len(alone) >= 5 and dependent == {"## Going further: what the first loss tells you",
                                             "## Going further: BCE on ten classes"}, dependent
    nb.cells = core + [cell for _, cells in reversed(alone) for cell in cells]
    monkeypatch.setenv("OPTIM_OFFLINE", "1")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_02.parent)}}).execute()
    printed = json.dumps([cell.get("outputs", []) for cell in nb.cells], ensure_ascii=False)
    assert "✓" in printed and "ClaimFailed" not in printed
