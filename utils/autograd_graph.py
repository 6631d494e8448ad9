"""How big is the autograd graph behind a tensor: its nodes, and the bytes of tensors they keep for backward.

Explained in notebooks/01_optimization_loops.ipynb (section 5.3, the `total += loss` mistake) and used again in
notebooks/03_autograd.ipynb (section 5, `.detach()`), so that both notebooks report the same measurement.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def graph_size(tensor: torch.Tensor, exclude: Iterable[torch.Tensor] = ()) -> tuple[int, int]:
    """``(nodes, saved_bytes)`` of the graph behind ``tensor``.

    ``nodes`` counts the backward nodes reachable from ``tensor.grad_fn``. ``saved_bytes`` adds up the tensors
    those nodes keep for the backward pass (autograd exposes them as attributes named ``_saved_...``), each
    storage once; tensors already freed by ``backward()`` count 0, and so do the tensors in ``exclude``
    (pass ``model.parameters()``: the weights exist anyway).
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    skip = {t.data_ptr() for t in exclude}
    nodes, todo, kept = set(), [tensor.grad_fn], {}
    while todo:
        node = todo.pop()
        if node is None or node in nodes:
            continue
        nodes.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                value = getattr(node, name)
            except RuntimeError:  # already freed by backward()
                continue
            if isinstance(value, torch.Tensor) and value.data_ptr() not in skip:
                kept[value.data_ptr()] = value.nbytes
        todo.extend(next_node for next_node, _ in node.next_functions)
    return len(nodes), sum(kept.values())
