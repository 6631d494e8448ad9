"""Exercises of notebook 06 (notebooks/06_putting_it_all_together.ipynb): checkers, hints, solutions, mistakes."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, expect_close, register

_NB06_CONFUSION = [[50, 3, 2], [10, 30, 0], [5, 5, 10]]  # rows: true class, columns: predicted class


def _nb06_second_confusion():
    """A second test matrix, 5x5, drawn from a seeded generator: an answer fitted to the 3x3 one fails here."""
    import torch

    counts = torch.randint(0, 8, (5, 5), generator=torch.Generator().manual_seed(606))
    return counts + torch.diag(torch.randint(10, 40, (5,), generator=torch.Generator().manual_seed(607)))


def _nb06_per_class_accuracy_mistake(confusion):
    """Typical mistake for 06 q1: dividing by the column sums, which gives precision, not per-class accuracy."""
    import torch

    confusion = torch.as_tensor(confusion, dtype=torch.float64)
    return confusion.diagonal() / confusion.sum(dim=0)


def _nb06_per_class_answer(answer, confusion):
    """The answer's result on ``confusion`` (a count tensor), flattened to float64; Incorrect when unusable."""
    import torch

    size = len(confusion)
    try:
        got = answer(confusion.clone())
    except Exception as err:
        raise Incorrect(f"on a {size}x{size} confusion matrix your function raised {type(err).__name__}: {err}") from None
    try:
        got = torch.as_tensor(got, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise Incorrect(f"return one number per class (a tensor, list or array), got {type(got).__name__}") from None
    if got.numel() != size:
        raise Incorrect(f"return one accuracy per class: {size} numbers for a {size}x{size} matrix, got {got.numel()}.")
    return got


def _nb06_check_per_class_accuracy(answer: Any) -> None:
    import torch

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = per_class_accuracy`), not the result of calling it.")
    confusion = torch.tensor(_NB06_CONFUSION)
    got = _nb06_per_class_answer(answer, confusion)
    c = confusion.double()
    expected = c.diagonal() / c.sum(dim=1)
    if torch.allclose(got, expected, atol=1e-6):
        second = _nb06_second_confusion()
        got = _nb06_per_class_answer(answer, second)
        if torch.allclose(got, second.diagonal().double() / second.sum(dim=1).double(), atol=1e-6):
            return
        raise Incorrect("right for a 3x3 matrix, wrong for a 5x5 one: does your function assume 3 classes, or "
                        "fixed numbers? Compute from the matrix it is given.")
    if torch.allclose(got, c.diagonal() / c.sum(dim=0), atol=1e-6):
        raise Incorrect("you divided by the column sums: that is the precision of each class (of the samples "
                        "*predicted* as class c, how many are c). Rows are the true classes: divide by the row sums.")
    if torch.allclose(got, 100 * expected, atol=1e-4):
        raise Incorrect("those are percentages: return fractions between 0 and 1.")
    if torch.allclose(got, c.diagonal()):
        raise Incorrect("those are the counts of correct answers: divide each by the number of samples of its class.")
    if torch.allclose(got, c.diagonal() / c.sum()):
        raise Incorrect("you divided by the number of all samples: these add up to the overall accuracy. Divide "
                        "each class's correct count by the number of samples of that class (its row).")
    raise Incorrect(f"for a 3x3 confusion matrix your function returned {[round(v, 4) for v in got.tolist()]}, "
                    "not each row's diagonal entry divided by that row's total (rows are the true classes).")


register("06", Exercise(
    name="q1",
    question="Write per_class_accuracy(confusion): from a confusion matrix (rows: true class, columns: predicted "
             "class), the fraction of each class's samples that were predicted correctly.",
    checker=_nb06_check_per_class_accuracy,
    hint_text="Row c holds every sample whose true class is c; its diagonal entry confusion[c, c] counts the ones "
              "predicted correctly. confusion.diagonal() and confusion.sum(dim=1) do it for all rows at once.",
    solution_code="def per_class_accuracy(confusion):\n"
                  "    confusion = confusion.double()\n"
                  "    return confusion.diagonal() / confusion.sum(dim=1)   # correct in row c / samples in row c\n\n\n"
                  "answer = per_class_accuracy   # the same as utils.evaluation.per_class_accuracy\n",
    explanation="Row c holds every sample whose true class is c; its diagonal entry counts those predicted "
                "correctly. Divide each diagonal entry by its row's total.",
    typical_mistake=lambda: _nb06_per_class_accuracy_mistake,
    praise="diagonal over row sums: the share of each true class that the model gets right.",
))


def _nb06_restore_for_inference_mistake(path, build_model):
    """Typical mistake for 06 q2: the weights are loaded, but the model is left in training mode."""
    from .. import load_checkpoint

    model = build_model()
    load_checkpoint(path, model)
    return model


_NB06_TRAP_FIRED: list[str] = []


def _nb06_trap_fired(message: str) -> None:
    """Called, through pickle, by the trap file of 06 q2 when it is loaded with weights_only=False."""
    _NB06_TRAP_FIRED.append(message)


class _NB06Trap:
    """An extra entry of 06 q2's trap checkpoint: unpickling it calls ``_nb06_trap_fired`` (harmless: it records)."""

    def __reduce__(self):
        return (_nb06_trap_fired, ("the file ran code",))


def _nb06_check_restore_for_inference(answer: Any) -> None:
    import tempfile
    from pathlib import Path

    import torch
    from torch import nn

    from .. import MLP, save_checkpoint

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = restore_for_inference`), not the result of calling it.")

    def build_model():
        return MLP((1, 4, 4), 3, hidden=16, dropout=0.5)

    with torch.random.fork_rng(devices=[]):  # leave the notebook's random numbers as they were
        torch.manual_seed(6)
        trained = build_model().eval()
        x = torch.randn(32, 1, 4, 4)
        with torch.no_grad():
            expected = trained(x)
        with tempfile.TemporaryDirectory() as tmp:
            path = save_checkpoint(Path(tmp) / "best.pt", trained, epoch=3)
            try:
                got = answer(path, build_model)
            except Exception as err:
                raise Incorrect(f"your function raised {type(err).__name__}: {err}") from None
            # The same checkpoint with one extra entry that runs code when unpickled. A safe load refuses it
            # (an error is fine); an unsafe one, however it reaches pickle, runs it.
            trap = Path(tmp) / "trap.pt"
            torch.save({**torch.load(path, weights_only=True), "extra": _NB06Trap()}, trap)
            _NB06_TRAP_FIRED.clear()
            try:
                answer(trap, build_model)
            except Exception:
                pass
    if _NB06_TRAP_FIRED:
        raise Incorrect("given a file with an extra entry that runs code when unpickled, your function ran it: "
                        "the file was loaded with weights_only=False. A checkpoint of weights loads with "
                        "weights_only=True (utils.load_checkpoint does that).")
    if not isinstance(got, nn.Module):
        raise Incorrect(f"return the model, ready to predict; got {type(got).__name__}.")
    want = trained.state_dict()
    have = got.state_dict()
    if have.keys() != want.keys() or not all(torch.equal(have[k].cpu(), want[k]) for k in want):
        raise Incorrect("the model's weights are not the checkpoint's: load them with utils.load_checkpoint(path, model) "
                        "(or model.load_state_dict(checkpoint['model'])).")
    dropouts = [m for m in got.modules() if isinstance(m, nn.Dropout)]
    if any(m.training for m in dropouts):
        raise Incorrect("the weights are right, but the model is in training mode: its dropout layers still drop units "
                        "at random, so predictions change from call to call. Call model.eval() before returning it.")
    if got.training:
        raise Incorrect("the dropout layers are in eval mode, but the model itself still says model.training == True: "
                        "layers such as batch norm, and code that checks the flag, would act as in training. Call "
                        "model.eval() on the model: it sets every submodule.")
    with torch.no_grad():
        if not torch.allclose(got(x), expected, atol=1e-6):
            raise Incorrect("the restored model's predictions differ from the saved model's.")


register("06", Exercise(
    name="q2",
    question="Write restore_for_inference(path, build_model): build a fresh model with build_model(), load the "
             "checkpoint at path into it safely, and return it ready to make predictions.",
    checker=_nb06_check_restore_for_inference,
    hint_text="Three steps: model = build_model(); utils.load_checkpoint(path, model) (it uses weights_only=True); "
              "and one more call, because the model has dropout and predictions must not be random.",
    solution_code="import utils\n\n\n"
                  "def restore_for_inference(path, build_model):\n"
                  "    model = build_model()\n"
                  "    utils.load_checkpoint(path, model)   # torch.load(path, weights_only=True) inside\n"
                  "    return model.eval()                  # dropout off: the same input, the same prediction\n\n\n"
                  "answer = restore_for_inference\n",
    explanation="A fresh model, the checkpoint's weights loaded without running code from the file "
                "(weights_only=True, which utils.load_checkpoint passes), and eval mode so that dropout is off. "
                "By hand: model.load_state_dict(torch.load(path, weights_only=True)['model']).",
    typical_mistake=lambda: _nb06_restore_for_inference_mistake,
    praise="the checkpoint's weights, loaded without running code from the file, in eval mode: ready to predict.",
))


_NB06_RUN = {"train_images": 20_000, "batch_size": 128, "epochs": 5}


def _nb06_check_onecycle_steps(answer: Any) -> None:
    n, batch, epochs = _NB06_RUN["train_images"], _NB06_RUN["batch_size"], _NB06_RUN["epochs"]
    per_epoch = math.ceil(n / batch)
    value = as_number(answer, "your total_steps")  # refuses text, bools, NaN and infinities
    if value == epochs * (n // batch):
        raise Incorrect(f"that counts {n // batch} batches per epoch, but {n:,} / {batch} = {n / batch} and the last, "
                        "smaller batch is a step too: round up.")
    if value == epochs:
        raise Incorrect("that is one step per epoch. With scheduler_interval='step', fit calls scheduler.step() after "
                        "every optimizer step, i.e. every batch.")
    if value == per_epoch:
        raise Incorrect("that is one epoch's worth of steps; the schedule has to last the whole run.")
    if not value.is_integer():
        raise Incorrect("steps come in whole numbers: how many batches does one epoch have?")
    expect_close(value, epochs * per_epoch, what="your total_steps", rel=0, abs_tol=0.5)


register("06", Exercise(
    name="q3",
    question="fit(..., epochs=5, scheduler=OneCycleLR(optimizer, max_lr, total_steps=?), scheduler_interval='step') "
             "over 20,000 training images in batches of 128 (a TensorLoader keeps the last, smaller batch): "
             "what must total_steps be?",
    checker=_nb06_check_onecycle_steps,
    hint_text="fit steps the scheduler once per optimizer step, and there is one optimizer step per batch. "
              "Batches per epoch: 20,000 / 128, rounded up. Then multiply by the number of epochs.",
    solution_code="import math\n\n"
                  "answer = 5 * math.ceil(20_000 / 128)   # 5 * 157 = 785; in general epochs * len(train_loader)\n",
    explanation="fit steps the scheduler once per batch; an epoch has ceil(20,000 / 128) = 157 batches (the last "
                "one smaller). One step short and OneCycleLR raises 'Tried to step ... times' in the last batch.",
    typical_mistake=lambda: 5 * (20_000 // 128),
    praise="epochs * len(train_loader): the schedule ends exactly with the last batch.",
))
