"""Train the series' MLP with DistributedDataParallel: one process per worker, each on its shard of every batch.

Explained in notebooks/07_scaling_out.ipynb, which launches it like this (2 processes on the CPU)::

    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc_per_node=2 --standalone \\
        scripts/ddp_train.py --dataset digits --out /tmp/ddp_run

``torchrun`` starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK in each. Every process runs
all of this file; they differ only in their rank. With ``--batch-per-process B`` and N processes every
optimizer step sees a global batch of N x B samples. Rank 0 alone prints, and saves the final weights
(``ddp_model.pt``) and a summary with the training History (``summary.json``) into ``--out``.

Bad arguments (``--epochs 0``, ``--lr -1``) stop the script before it starts. A run that diverges (a step
loss that is not finite, as ``utils.fit`` checks) stops every rank
with the message, saves nothing and exits with code 1, so ``run_torchrun`` in the notebook raises.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import TensorDataset

if __package__ in (None, ""):  # run as a file by torchrun: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import utils
import utils.distributed as ud
from utils import checks
from utils.checkpoints import check_writable
from utils.training import check_lr, diverged_message


def checked(convert, check):
    """An argparse ``type=``: convert the text, then run one of ``utils.checks`` (its message names the rule)."""
    def parse(text: str):
        try:
            return check(convert(text))
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).replace("value must", "must")) from None
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    positive = checked(int, lambda v: checks.positive_int(v, "value"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for ddp_model.pt and summary.json (written by rank 0)")
    parser.add_argument("--dataset", default="digits", choices=["digits", "fashion_mnist", "auto"])
    parser.add_argument("--n-train", type=positive, default=1024, help="train on the first N training samples")
    parser.add_argument("--batch-per-process", type=positive, default=32, help="B: samples per process per step")
    parser.add_argument("--epochs", type=positive, default=3)
    parser.add_argument("--lr", type=checked(float, lambda v: check_lr(v, "value")), default=0.05)
    parser.add_argument("--optimizer", default="sgd", choices=list(utils.training.OPTIMIZERS))
    parser.add_argument("--model", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--seed", type=checked(int, lambda v: checks.integer(v, "value", minimum=0)), default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="auto: one GPU per process when there are enough GPUs (NCCL), else the CPU (gloo)")
    return parser.parse_args(argv)


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def check_gradient_allreduce(ddp_model: DistributedDataParallel, loss_fn: nn.Module, x: torch.Tensor,
                             y: torch.Tensor, world_size: int) -> dict:
    """On one batch: each rank's own gradient, then the gradient DDP leaves after backward().

    Returns how far the ranks' own gradients are apart (they saw different samples), how far the
    gradients after DDP's backward are apart (0: the all-reduce gave every rank the same), and how far
    those are from the mean of the ranks' own gradients (0 up to rounding: the all-reduce averages).
    Leaves the gradients cleared and the parameters untouched.
    """
    model = ud.unwrap(ddp_model)
    model.zero_grad(set_to_none=True)
    with ddp_model.no_sync():  # no all-reduce inside this block: gradients stay local
        loss_fn(ddp_model(x), y).backward()
    local = flat_grad(model).clone()
    model.zero_grad(set_to_none=True)
    loss_fn(ddp_model(x), y).backward()  # the normal path: backward() all-reduces and averages
    synced = flat_grad(model).clone()
    model.zero_grad(set_to_none=True)
    mean_of_local = ud.all_reduce_sum(local, local.device).to(synced) / world_size
    return {
        "local_gap_between_ranks": ud.gap_to_rank0(local),
        "synced_gap_between_ranks": ud.gap_to_rank0(synced),
        "synced_vs_mean_of_local": (synced - mean_of_local).abs().max().item(),
        "local_grad_norm_rank0": local.norm().item(),
    }


def train(ddp_model: DistributedDataParallel, loader: ud.ShardedLoader, val_part: TensorDataset,
          optimizer: torch.optim.Optimizer, info: ud.DistInfo, epochs: int, label: str) -> utils.History:
    """The epoch loop of ``utils.fit``, with every number combined over the ranks before it is recorded.

    ``fit``'s divergence guard checks the global step losses; they are the same numbers on every rank, so
    every rank stops at the same step (``history.diverged``, ``history.message``).
    """
    loss_fn = nn.CrossEntropyLoss()  # mean over this rank's shard; DDP averages the gradients over ranks
    val_loader = utils.TensorLoader(val_part, 1000, device=info.device)
    history = utils.History(monitor="val_loss", device=str(info.device), label=label)
    start, step = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        losses: list[torch.Tensor] = []  # this rank's loss of every step, read back once per epoch
        # on_step=losses.append keeps every step's loss; it returns None, so the epoch never stops early
        mine = utils.train_one_epoch(ddp_model, loader, loss_fn, optimizer, info.device, on_step=losses.append)
        # mean of the ranks' mean losses = mean loss of the global batch (the shards are equal)
        step_losses = (ud.all_reduce_sum(torch.stack(losses), info.device) / info.world_size).tolist()
        for i, value in enumerate(step_losses, start=step + 1):
            if not math.isfinite(value):  # fit's rule: stop at the first loss that is not finite
                history.step_loss += step_losses[:i - step]
                history.stop("diverged", diverged_message(i, epoch, lr, f"the loss became {value}"))
                history.elapsed = time.perf_counter() - start
                return history
        history.step_loss += step_losses
        step += len(losses)
        trained = ud.reduce_epoch_result(mine, info.device)
        # each rank evaluates its part of the validation set on its (identical) copy of the model
        val = ud.reduce_epoch_result(utils.evaluate(ud.unwrap(ddp_model), val_loader, loss_fn, info.device), info.device)
        history.epochs.append({"epoch": epoch, "step": step, "lr": lr, "train_loss": trained.loss,
                               "train_acc": trained.accuracy, "val_loss": val.loss, "val_acc": val.accuracy,
                               "time": time.perf_counter() - start})
        ud.print0(f"epoch {epoch}: train loss {trained.loss:.4f} | val loss {val.loss:.4f} | "
                  f"val acc {val.accuracy:.1%} | {trained.samples} train samples over {info.world_size} processes")
        if not math.isfinite(val.loss):  # the same numbers on every rank
            history.stop("diverged", diverged_message(step, epoch, lr, f"the validation loss became {val.loss}"))
            break
    history.elapsed = time.perf_counter() - start
    return history


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for name in ("ddp_model.pt", "summary.json"):  # before any training: a run that cannot be saved is not started
        check_writable(Path(args.out) / name, "--out")
    with ud.distributed(args.device) as info:  # joins the process group; leaves it at the end, even on error
        global_batch = args.batch_per_process * info.world_size
        splits = utils.load_dataset(args.dataset, download=False, verbose=info.is_main)
        train_set = utils.subset(splits.train, n=args.n_train)
        val_part = TensorDataset(*(t.tensor_split(info.world_size)[info.rank] for t in splits.val.tensors))

        # Each rank seeds with seed + rank, so the copies are built with *different* initial weights; wrapping
        # in DDP broadcasts rank 0's parameters to every rank (rank 0's are those of a one-process run).
        utils.seed_everything(args.seed + info.rank)
        model = utils.make_model(args.model, splits.input_shape, splits.num_classes).to(info.device)
        init_gap_before_wrap = ud.max_difference_across_ranks(model)
        ddp_model = DistributedDataParallel(model, device_ids=[info.device.index] if info.device.type == "cuda" else None)
        init_gap_after_wrap = ud.max_difference_across_ranks(ddp_model)
        optimizer = utils.make_optimizer(args.optimizer, ddp_model.parameters(), args.lr)
        loader = ud.ShardedLoader(train_set, global_batch, rank=info.rank, world_size=info.world_size,
                                  seed=args.seed, device=info.device)
        ud.print0(f"{info.world_size} processes | backend {info.backend} | device {info.device.type} | "
                  f"{splits.name}: {len(train_set)} training samples | batch per process {loader.batch_size}, "
                  f"global batch {global_batch} | {len(loader)} steps per epoch")

        x, y = next(iter(ud.ShardedLoader(train_set, global_batch, rank=info.rank, world_size=info.world_size,
                                          seed=args.seed, device=info.device)))
        allreduce = check_gradient_allreduce(ddp_model, nn.CrossEntropyLoss(), x, y, info.world_size)

        label = f"DDP: {info.world_size} processes x batch {loader.batch_size}"
        history = train(ddp_model, loader, val_part, optimizer, info, args.epochs, label)
        if history.diverged:  # nothing worth saving: say why and fail, on every rank alike
            ud.print0(f"{history.message}\nNothing was saved.")
            return 1
        param_gap = ud.max_difference_across_ranks(ddp_model)

        out = Path(args.out)
        ud.save_checkpoint_on_main(out / "ddp_model.pt", ddp_model, epochs=args.epochs, world_size=info.world_size,
                                   global_batch_size=global_batch)
        ud.write_json_on_main(out / "summary.json", {
            "dataset": splits.name, "n_train": len(train_set), "world_size": info.world_size,
            "backend": info.backend, "device": info.device.type, "batch_per_process": loader.batch_size,
            "global_batch_size": global_batch, "steps_per_epoch": len(loader), "epochs": args.epochs,
            "lr": args.lr, "optimizer": args.optimizer, "model": args.model, "seed": args.seed,
            "allreduce": allreduce, "init_gap_before_wrap": init_gap_before_wrap,
            "init_gap_after_wrap": init_gap_after_wrap, "param_gap_between_ranks": param_gap, "history": history.to_dict(),
        })
        ud.print0(f"rank 0 saved {out / 'ddp_model.pt'} and {out / 'summary.json'} ({history.elapsed:.1f} s of training)")
        del ddp_model, optimizer  # DDP's reducer holds the process group: release it before the group is destroyed
        gc.collect()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and the process group is left. Skip the interpreter's teardown: there, gloo's threads
    # aborted a finished worker now and then ("terminate called without an active exception", SIGABRT), and
    # torchrun then failed the whole run (1 of 16 notebook runs on 2026-12-05, and a CI run on 2026-12-04).
    os._exit(code)
