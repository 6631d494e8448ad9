"""Shift every seed a notebook sets by ``OPTIM_SEED_SHIFT``, without editing the notebook.

Only the robustness run loads this file: ``benchmarks/robustness.py`` puts this folder first on ``PYTHONPATH``,
so Python imports it at start-up in the notebook's kernel and in every process that kernel starts (``torchrun``
and its workers inherit the environment). With ``OPTIM_SEED_SHIFT`` unset or 0 it does nothing.

Shifted, for an integer seed ``s``: ``torch.manual_seed(s)``, ``torch.Generator().manual_seed(s)``,
``numpy.random.seed(s)``, ``numpy.random.default_rng(s)``, ``numpy.random.RandomState(s)``, ``random.seed(s)`` and
``random.Random(s)``: each receives ``s + k``. ``utils.seed_everything`` calls the first, third and sixth, so it is
shifted too (once). ``None`` and non-integer seeds pass unchanged. torch and NumPy are patched right after their
own import (an import hook), so a process that never imports them pays nothing.
"""

from __future__ import annotations

import importlib.abc
import numbers
import os
import sys

try:
    SHIFT = int(os.environ.get("OPTIM_SEED_SHIFT", "0") or 0)
except ValueError:
    SHIFT = 0


def _shift(seed):
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed) + SHIFT
    return seed


def _patch_random():
    import random

    class Random(random.Random):
        def seed(self, a=None, version=2):
            return super().seed(_shift(a), version)

    instance_seed = random.seed

    def seed(a=None, version=2):
        return instance_seed(_shift(a), version)

    random.seed = seed
    random.Random = Random


def _patch_torch(torch):
    original = torch.manual_seed

    def manual_seed(seed):
        return original(_shift(seed))

    torch.manual_seed = manual_seed
    torch.random.manual_seed = manual_seed

    class Generator(torch.Generator):
        def manual_seed(self, seed):
            return super().manual_seed(_shift(seed))

    torch.Generator = Generator


def _patch_numpy(np):
    rnd = np.random
    seed, default_rng = rnd.seed, rnd.default_rng

    class RandomState(rnd.RandomState):
        def __init__(self, seed=None):
            super().__init__(_shift(seed))

        def seed(self, seed=None):
            return super().seed(_shift(seed))

    rnd.seed = lambda s=None: seed(_shift(s))
    rnd.default_rng = lambda s=None: default_rng(_shift(s))
    rnd.RandomState = RandomState


_PATCHES = {"torch": _patch_torch, "numpy": _patch_numpy}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patch torch and numpy once their own ``__init__`` has run."""

    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None or spec.loader is None:
                continue
            original = spec.loader.exec_module

            def exec_module(module, _original=original, _name=name):
                _original(module)
                _PATCHES[_name](module)

            spec.loader.exec_module = exec_module  # on this loader instance only: the module keeps its own loader
            sys.meta_path.remove(self) if all(n in sys.modules for n in _PATCHES) else None
            return spec
        return None


if SHIFT:
    _patch_random()
    sys.meta_path.insert(0, _AfterImport())
