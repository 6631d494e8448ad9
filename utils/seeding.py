"""One call to make a run reproducible.

Explained in notebooks/00_start_here.ipynb.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from .checks import integer

#: the largest seed torch accepts (``torch.manual_seed`` takes a 64-bit unsigned integer)
MAX_SEED = 2**64 - 1


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device) with ``seed``.

    Returns the seed so a notebook can print it. Same seed, same data order, same initial weights,
    same numbers on the same machine and library versions.
    """
    seed = integer(seed, "seed", minimum=0)
    if seed > MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to 2**64 - 1 (torch's limit), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed
