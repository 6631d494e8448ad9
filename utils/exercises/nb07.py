"""Exercises of notebook 07 (notebooks/07_scaling_out.ipynb): checkers, hints, solutions, typical mistakes."""

from __future__ import annotations

import math
from typing import Any

from .core import Exercise, Incorrect, as_number, expect_close, register

_NB07_SHARDS = ((40, 24), (7, 9, 16), (1, 5))  # unequal shards of one global batch, for 2, 3 and 2 ranks


def _nb07_rank_loss_mistake(logits, targets, global_batch_size, world_size):
    """Typical mistake for 07 q1: the summed loss over the global count, forgetting that DDP then averages."""
    import torch.nn.functional as F

    return F.cross_entropy(logits, targets, reduction="sum") / global_batch_size


def _nb07_check_rank_loss(answer: Any) -> None:
    import torch
    from torch import nn

    if not callable(answer):
        raise Incorrect("pass the function itself (`answer = rank_loss`), not the result of calling it.")
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random numbers as they were
        torch.manual_seed(7)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
        for sizes in _NB07_SHARDS:
            n, world = sum(sizes), len(sizes)
            x, y = torch.randn(n, 6), torch.randint(0, 4, (n,))

            def gradient(loss):
                model.zero_grad(set_to_none=True)
                loss.backward()
                return torch.cat([p.grad.flatten() for p in model.parameters()])

            whole = gradient(nn.functional.cross_entropy(model(x), y))  # one process, the whole batch
            per_rank = []
            for part in torch.split(torch.arange(n), sizes):
                try:
                    loss = answer(model(x[part]), y[part], n, world)
                except Exception as err:
                    raise Incorrect(f"your function raised {type(err).__name__}: {err}") from None
                if isinstance(loss, torch.Tensor) and loss.numel() == 1 and not loss.requires_grad:
                    raise Incorrect("your loss is cut off from the model (no grad_fn: .detach(), .item() or "
                                    "torch.no_grad() on the way?); backward() needs the graph")
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise Incorrect("return the loss as a single-number tensor that backward() can be called on, "
                                    f"got {type(loss).__name__}" + (f" of shape {tuple(loss.shape)}"
                                                                    if isinstance(loss, torch.Tensor) else ""))
                loss = loss.reshape(())  # a loss of shape (1,) is one number too
                per_rank.append(gradient(loss))
            ddp = sum(per_rank) / world  # what DDP's all-reduce leaves on every rank: the average
            if not torch.isfinite(ddp).all():
                raise Incorrect(f"with shards of {sizes} your loss gave gradients that are not finite numbers.")
            ratio = (ddp.norm() / whole.norm()).item()
            if torch.allclose(ddp, whole, rtol=1e-4, atol=1e-6):
                continue
            if math.isclose(ratio, 1 / world, rel_tol=1e-3):
                raise Incorrect(f"with shards of {sizes} DDP's average of your gradients is 1/{world} of the "
                                "batch gradient: DDP divides by the world size after summing. Multiply by it.")
            if math.isclose(ratio, n / world, rel_tol=1e-3):
                raise Incorrect(f"with shards of {sizes} your gradient is {n}/{world} times too large: the summed "
                                "loss as it is. Divide it by the average number of samples per rank, N / W.")
            if math.isclose(ratio, world, rel_tol=1e-3):
                raise Incorrect(f"with shards of {sizes} your gradient is {world}x too large: multiplied by the "
                                "world size once too often?")
            own_means = sum(gradient(nn.functional.cross_entropy(model(x[part]), y[part]))
                            for part in torch.split(torch.arange(n), sizes)) / world
            if torch.allclose(ddp, own_means, rtol=1e-4, atol=1e-6):
                raise Incorrect(f"with shards of {sizes} that is each rank's own mean loss: with unequal shards, DDP's "
                                "average gives the samples of the small shard more weight. Start from the summed loss.")
            raise Incorrect(f"with shards of {sizes}, DDP's average of your ranks' gradients differs from the "
                            "gradient of the whole batch (it is off by "
                            f"{((ddp - whole).norm() / whole.norm()).item():.1%}).")


register("07", Exercise(
    name="q1",
    question="Write rank_loss(logits, targets, global_batch_size, world_size): the loss one rank should call "
             "backward() on, so that after DDP averages the ranks' gradients every rank holds the gradient of the "
             "mean loss over the whole global batch, even when the shards have unequal sizes.",
    checker=_nb07_check_rank_loss,
    hint_text="Start from the summed loss of the rank's shard. Over all ranks those sums add up to the global "
              "sum, and the gradient you want is that sum divided by global_batch_size. But DDP does not add the "
              "ranks' gradients: it averages them, i.e. divides the sum by world_size once more.",
    solution_code="import torch.nn.functional as F\n\n\n"
                  "def rank_loss(logits, targets, global_batch_size, world_size):\n"
                  "    # DDP averages: (1/W) * sum over ranks of W * sum_r / N = (sum over all samples) / N\n"
                  "    return F.cross_entropy(logits, targets, reduction=\"sum\") * world_size / global_batch_size\n\n\n"
                  "answer = rank_loss\n",
    explanation="Each rank's summed loss, divided by the global number of samples N, adds up over the ranks to "
                "the mean over the whole batch. DDP then divides the sum of the gradients by the world size W, so "
                "multiply by W to undo it: equivalently, divide the summed loss by N / W, the average number of "
                "samples per rank.",
    typical_mistake=lambda: _nb07_rank_loss_mistake,
    praise="the sum over your shard, times W / N: DDP's average then equals the gradient of the whole batch, "
           "whatever the shard sizes.",
))


_NB07_DEAL = {"n": 11, "replicas": 3, "rank": 2}  # section 2 shows 10 samples over 4 ranks: other numbers here


def _as_index_list(answer: Any) -> Any:
    """A NumPy array or a tensor of whole numbers, one-dimensional, as a list of ints (a fresh reading,
    2026-12-05b: ``np.arange(12)[2::3] % 11`` is a right answer); anything else is returned as it was."""
    import numpy as np
    import torch

    if not isinstance(answer, (np.ndarray, torch.Tensor)):
        return answer
    kind = type(answer).__name__
    if answer.ndim != 1:
        raise Incorrect(f"the answer should be a list of sample indices such as [1, 2, 3] (one dimension), got a "
                        f"{answer.ndim}-D {kind} of shape {tuple(answer.shape)}")
    whole = (np.issubdtype(answer.dtype, np.integer) if isinstance(answer, np.ndarray)
             else not (answer.dtype.is_floating_point or answer.dtype.is_complex or answer.dtype == torch.bool))
    if not whole:
        raise Incorrect(f"sample indices are whole numbers (int): got a {kind} of {answer.dtype}")
    return [int(i) for i in answer.tolist()]


def _nb07_check_dealt_indices(answer: Any) -> None:
    import numbers

    from torch.utils.data import DistributedSampler

    n, replicas, rank = _NB07_DEAL["n"], _NB07_DEAL["replicas"], _NB07_DEAL["rank"]
    expected = list(DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False))
    answer = _as_index_list(answer)
    if not isinstance(answer, (list, tuple)):
        raise Incorrect(f"the answer should be a list of sample indices such as [1, 2, 3], got {type(answer).__name__}")
    if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in answer):
        raise Incorrect("sample indices are whole numbers (int): "
                        f"got {', '.join(sorted({type(i).__name__ for i in answer}))}")
    got = [int(i) for i in answer]
    if got == expected[:-1]:
        raise Incorrect(f"those are the positions {rank}, {rank + replicas}, ... up to {n - 1}, but every rank gets the "
                        f"same number of samples: {n} over {replicas} ranks makes {len(expected)} each, so the sampler "
                        "appends the first samples again to reach a multiple of the number of ranks.")
    if sorted(got) == sorted(expected) and got != expected:
        raise Incorrect(f"the right samples, in the wrong order: rank {rank} takes one position in every {replicas} of "
                        f"the padded list, starting at position {rank}.")
    if len(got) != len(expected):
        raise Incorrect(f"rank {rank} gets {len(expected)} samples: ceil({n} / {replicas}). You gave {len(got)}.")
    if got != expected:
        raise Incorrect(f"{got} is not what DistributedSampler gives rank {rank}. Write the padded list of "
                        f"{len(expected) * replicas} indices and take one in every {replicas}, starting at position {rank}.")


register("07", Exercise(
    name="q2",
    question="DistributedSampler(range(11), num_replicas=3, rank=2, shuffle=False): which sample indices does "
             "rank 2 get, in order?",
    checker=_nb07_check_dealt_indices,
    hint_text="Every rank gets ceil(11 / 3) = 4 samples, so the sampler pads the list 0, 1, ..., 10 to 12 entries "
              "by repeating its beginning. Then it deals the padded list like cards: rank r takes positions "
              "r, r + 3, r + 6, r + 9.",
    solution_code="padded = list(range(11)) + [0]   # 12 = 3 ranks x 4 samples: the first one again\n"
                  "answer = padded[2::3]             # positions 2, 5, 8, 11 -> [2, 5, 8, 0]\n",
    explanation="11 samples do not divide over 3 ranks, so DistributedSampler repeats the first one to make 12, "
                "then deals them out: rank 2 gets positions 2, 5, 8 and 11 of the padded list. Sample 0 is seen "
                "twice per epoch (by rank 0 and by rank 2).",
    typical_mistake=lambda: [2, 5, 8],
    praise="[2, 5, 8, 0]: padded to equal shards, then dealt like cards.",
))


def _nb07_check_scaled_lr(answer: Any) -> None:
    value = as_number(answer, "your learning rate")  # refuses text, bools, NaN and infinities
    if math.isclose(value, 0.2, rel_tol=0.02):
        raise Incorrect("0.2 is right for a global batch of 64. With 4 processes the global batch is 4 x 32.")
    if math.isclose(value, 0.2 * 4, rel_tol=0.02):
        raise Incorrect("that scales by the number of processes, 4, but the reference run's batch was 64, not 32: "
                        "the global batch grew from 64 to 128.")
    expect_close(value, 0.2 * (4 * 32) / 64, what="your learning rate", rel=0.02)


register("07", Exercise(
    name="q3",
    question="Plain SGD trained well in one process with batch 64 and learning rate 0.2. You now launch 4 processes "
             "with --batch-per-process 32. What learning rate does the linear scaling rule give?",
    checker=_nb07_check_scaled_lr,
    hint_text="The optimizer sees the global batch: per-process batch x number of processes. By what factor did "
              "it grow compared with the batch of 64?",
    solution_code="global_batch = 4 * 32                 # 128\n"
                  "answer = 0.2 * global_batch / 64      # 0.4\n",
    explanation="The global batch is 4 x 32 = 128, twice the 64 the learning rate was found for, so the linear "
                "scaling rule doubles the learning rate (with a warm-up for large factors).",
    typical_mistake=lambda: 0.2 * 4,
    praise="0.4: the rule follows the global batch, not the number of processes.",
))
