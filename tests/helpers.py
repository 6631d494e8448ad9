"""Small helpers shared by several test files (tests/ is on sys.path when pytest runs them)."""

from __future__ import annotations

from torch import nn


class InterruptingLoss(nn.Module):
    """Cross-entropy that raises KeyboardInterrupt at its ``at``-th call: the learner pressing Stop (a kernel
    interrupt) in the middle of training."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, logits, y):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(logits, y)
