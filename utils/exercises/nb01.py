"""Exercises of notebook 01 (notebooks/01_optimization_loops.ipynb): each checker, its hint, its solution and a
typical mistake."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, register


def _nb01_train_step_mistake(model, x, y, loss_fn, optimizer):
    """Typical mistake for 01 q1: no zero_grad (gradients pile up) and the loss tensor returned (graph kept)."""
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _call_keeping_grad_mode(answer, *args):
    """Call the learner's function; if it left autograd switched off (or on) for the whole process, switch it back
    and say so, since the learner's kernel would otherwise keep training without gradients."""
    import torch

    before = torch.is_grad_enabled()
    try:
        return answer(*args)
    finally:
        after = torch.is_grad_enabled()
        torch.set_grad_enabled(before)
        if after != before:
            raise Incorrect("your function left gradients switched "
                            f"{'off' if before else 'on'} for the whole process (torch.set_grad_enabled(...) "
                            "without restoring it): the next training in this notebook would fail with "
                            "'element 0 of tensors does not require grad'. Use `with torch.no_grad():`, which "
                            "switches them back on at its end. (The checker has switched them back for you.)")


def _nb01_check_train_step(answer: Any) -> None:
    import inspect
    import numbers

    import torch
    from torch import nn

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = train_step`), not the result of calling it.")
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 4, generator=gen), torch.randint(0, 3, (8,), generator=gen)) for _ in range(3)]
    # No randomness in the model, so an extra forward pass (an accuracy, logits computed twice) changes nothing;
    # a hook on the Identity layer records the training flag of every forward pass instead.
    yours, ref = (nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Identity(), nn.Linear(6, 3)) for _ in range(2))
    with torch.no_grad():
        for p in (*yours.parameters(), *ref.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape))
    modes = []  # the training flag at every forward pass of the learner's model
    yours[2].register_forward_hook(lambda module, inputs, output: modes.append(module.training))
    opt_yours = torch.optim.SGD(yours.parameters(), lr=0.5)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    for i, (x, y) in enumerate(batches, start=1):
        torch.manual_seed(100 + i)     # the same dropout masks for the reference and for the learner's step
        ref_loss = loss_fn(ref(x), y)  # the step done right, for comparison
        opt_ref.zero_grad()
        ref_loss.backward()
        opt_ref.step()
        expected = ref_loss.item()
        before = [p.detach().clone() for p in yours.parameters()]
        yours.train()  # as a train loop leaves it
        modes.clear()
        torch.manual_seed(100 + i)
        try:
            got = _call_keeping_grad_mode(answer, yours, x, y, loss_fn, opt_yours)
        except Incorrect:
            raise
        except Exception as err:  # the learner's code may fail in any way: report it, don't crash
            raise Incorrect(f"on batch {i} your function raised {type(err).__name__}: {err}") from None
        if inspect.isgenerator(got) or inspect.iscoroutine(got):
            kind, word = ("a generator", "yield") if inspect.isgenerator(got) else ("a coroutine", "async def")
            got.close()  # it never ran: close it so Python does not warn about it later
            raise Incorrect(f"your function returned {kind}, so none of its code ran (`{word}` makes a function "
                            "that runs only when iterated or awaited). Write a plain `def` that ends with "
                            "`return loss.item()`.")
        if modes and not all(modes):
            raise Incorrect("the model was in eval mode during the step (dropout would be off): a training step runs in "
                            "training mode. Leave model.train() as it is, or call it; model.eval() is for measuring.")
        if not yours.training:
            raise Incorrect("your function left the model in eval mode: a train loop calls model.train() once per "
                            "epoch, so every later step of the epoch would run with dropout off. Leave the mode "
                            "as you found it (no model.eval() in a training step).")
        if all(torch.equal(a, b) for a, b in zip(before, yours.parameters(), strict=True)):
            raise Incorrect("the parameters did not change. optimizer.step() uses the gradients that "
                            "loss.backward() left in p.grad: call backward() and then step(), with nothing in "
                            "between (optimizer.zero_grad() belongs before backward(), or it clears the gradients "
                            "the step needs).")
        if not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(yours.parameters(), ref.parameters(), strict=True)):
            if i == 1:
                raise Incorrect("after one step the parameters differ from forward -> loss -> backward -> step "
                                "with the optimizer you were given.")
            raise Incorrect(f"step 1 was right, step {i} was not: the gradients of the earlier batches were still in "
                            ".grad. Call optimizer.zero_grad() before loss.backward().")
        if isinstance(got, torch.Tensor):
            if got.requires_grad:
                raise Incorrect("you return the loss tensor, which still holds its graph (got.grad_fn is not None): "
                                "a caller that keeps it keeps the whole graph alive. Return loss.item(), a Python "
                                "float.")
            raise Incorrect("you return a detached tensor: it holds no graph, so nothing leaks, but it is still a "
                            "tensor, and the task asks for a Python float: return loss.item().")
        if (isinstance(got, numbers.Real) and not isinstance(got, (bool, int, float))
                and math.isclose(float(got), expected, rel_tol=1e-5)):
            raise Incorrect(f"the number is right ({expected:.4f} on batch {i}), but it is a "
                            f"{type(got).__module__}.{type(got).__name__}, not a Python float: return loss.item().")
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isclose(got, expected, rel_tol=1e-5):
            raise Incorrect(f"return the batch loss computed before the update ({expected:.4f} on batch {i}), "
                            f"got {got!r}.")


register("01", Exercise(
    name="q1",
    question="Write train_step(model, x, y, loss_fn, optimizer): one optimizer step on the batch (x, y) that "
             "returns the batch loss as a Python float.",
    checker=_nb01_check_train_step,
    hint_text="Section 2's five steps, in order: forward pass, loss, clear the gradients left by the previous step, "
              "backward pass, update. Which of them belong to the optimizer, which to the loss? Then return the "
              "loss as a plain Python number, not a tensor that keeps its graph.",
    explanation="Forward, loss, zero the old gradients, backward, step: the five lines of section 2. The loss is "
                "returned with .item(), a Python float, so the caller keeps no tensor and no graph.",
    solution_code="def train_step(model, x, y, loss_fn, optimizer):\n"
                  "    loss = loss_fn(model(x), y)\n"
                  "    optimizer.zero_grad()\n"
                  "    loss.backward()\n"
                  "    optimizer.step()\n"
                  "    return loss.item()\n\n"
                  "answer = train_step\n",
    typical_mistake=lambda: _nb01_train_step_mistake,
    praise="three steps in a row match torch.optim.SGD exactly, and you hand back a number, not a graph.",
))


def _nb01_mean_of_batch_means(model, loader, loss_fn, device):
    """The mean of the batch means (the last, smaller batch weighs as much as a full one): wrong."""
    import torch

    model.eval()
    losses, accuracies = [], []
    with torch.no_grad():
        for x, y in loader:
            logits = model(x.to(device))
            losses.append(loss_fn(logits, y.to(device)).item())
            accuracies.append((logits.argmax(dim=1) == y.to(device)).float().mean().item())
    model.train()
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)


def _nb01_check_evaluate(answer: Any) -> None:
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from ..data import TensorLoader
    from ..training import evaluate

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = evaluate`), not the result of calling it.")
    gen = torch.Generator().manual_seed(3)
    data = TensorDataset(torch.randn(50, 6, generator=gen), torch.randint(0, 3, (50,), generator=gen))
    loader = TensorLoader(data, batch_size=16)  # batches of 16, 16, 16 and 2: per-batch means are biased
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    loss_fn = nn.CrossEntropyLoss()
    expected = evaluate(model, loader, loss_fn, torch.device("cpu"))
    seen = []  # (training mode, gradients on) at every forward pass
    model.register_forward_hook(lambda module, inputs, output: seen.append((module.training, torch.is_grad_enabled())))
    model.train()
    weights = [p.detach().clone() for p in model.parameters()]
    try:
        got = _call_keeping_grad_mode(answer, model, loader, loss_fn, torch.device("cpu"))
    except Incorrect:
        raise
    except Exception as err:
        raise Incorrect(f"your function raised {type(err).__name__}: {err}") from None
    left_in_training_mode = model.training
    if not seen:
        raise Incorrect("the model was never called: loop over the loader and compute model(x).")
    if any(training for training, _ in seen):
        raise Incorrect("the model was in training mode (dropout on, random numbers): call model.eval() first.")
    if any(grad for _, grad in seen):
        raise Incorrect("gradients were being tracked: wrap the loop in `with torch.no_grad():`.")
    if not all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True)):
        raise Incorrect("the model's parameters changed: an evaluation measures and changes nothing (no "
                        "optimizer step, no edits to the weights).")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Incorrect(f"return two numbers, (loss, accuracy); got {got!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in got):
        kinds = ", ".join(type(v).__name__ for v in got)
        raise Incorrect(f"return two Python numbers (use .item() on a tensor), (loss, accuracy); got {kinds}.")
    loss, accuracy = (float(v) for v in got)
    per_batch = _nb01_mean_of_batch_means(model, loader, loss_fn, torch.device("cpu"))
    for name, value, right, wrong in (("loss", loss, expected.loss, per_batch[0]),
                                      ("accuracy", accuracy, expected.accuracy, per_batch[1])):
        if math.isclose(value, wrong, rel_tol=1e-6) and not math.isclose(value, right, rel_tol=1e-6):
            raise Incorrect(f"your {name} is the mean of the batch means; the last batch has 2 samples, not 16. "
                            "Weight each batch by its size: sum loss.item() * len(y), then divide by the count.")
        if not math.isclose(value, right, rel_tol=1e-5):
            raise Incorrect(f"your {name} is {value:.6g}, the per-sample average is {right:.6g}.")
    if not left_in_training_mode:
        raise Incorrect("the numbers are right, but the model stayed in eval mode: call model.train() at the end, "
                        "or the next training epoch runs without dropout.")


register("01", Exercise(
    name="q2",
    question="Write evaluate(model, loader, loss_fn, device) -> (loss, accuracy), both averaged per sample, "
             "in eval mode and without gradients, leaving the model in training mode afterwards.",
    checker=_nb01_check_evaluate,
    hint_text="model.eval(); with torch.no_grad(): loop over the batches adding loss.item() * len(y) and the number "
              "of correct predictions; divide both by the number of samples; model.train() at the end.",
    explanation="Each batch's mean loss is weighted by its size, so a smaller last batch counts as much as its "
                "samples, no more. eval() switches dropout off, no_grad() builds no graph, and train() at the end "
                "hands the model back ready for the next epoch.",
    solution_code="import torch\n\n"
                  "def evaluate(model, loader, loss_fn, device):\n"
                  "    model.eval()\n"
                  "    total_loss, correct, seen = 0.0, 0, 0\n"
                  "    with torch.no_grad():\n"
                  "        for x, y in loader:\n"
                  "            x, y = x.to(device), y.to(device)\n"
                  "            logits = model(x)\n"
                  "            total_loss += loss_fn(logits, y).item() * len(y)\n"
                  "            correct += (logits.argmax(dim=1) == y).sum().item()\n"
                  "            seen += len(y)\n"
                  "    model.train()\n"
                  "    return total_loss / seen, correct / seen\n\n"
                  "answer = evaluate\n",
    typical_mistake=lambda: _nb01_mean_of_batch_means,
    praise="per-sample averages, dropout off, no graph, and the model is back in training mode.",
))


def _nb01_check_steps(answer: Any) -> None:
    number = as_number(answer)
    if not number.is_integer():
        raise Incorrect(f"{number!r} is not a whole number of steps: every batch, full or not, is one step.")
    if number == 843:
        raise Incorrect("843 full batches hold 53,952 images; the last 48 make one more, smaller batch (844).")
    if number != 844:
        raise Incorrect(f"{number:g} steps is not it: divide 54,000 by 64 and think about the remainder.")


register("01", Exercise(
    name="q3",
    question="How many optimizer steps does one epoch over FashionMNIST's 54,000 training images take at "
             "batch size 64 (utils.TensorLoader keeps the last, smaller batch)?",
    checker=_nb01_check_steps,
    hint_text="54,000 / 64 = 843.75: how many batches, counting the last one that is not full?",
    explanation="843 batches of 64 hold 53,952 images; the last 48 make one more, smaller batch, and every batch "
                "is one step. len(loader) says the same.",
    solution_code="import math\n\n"
                  "answer = math.ceil(54_000 / 64)   # 844\n",
    typical_mistake=lambda: 843,
    praise="844 = ceil(54,000 / 64); the last batch holds 48 images, which is why losses are averaged per sample.",
))
