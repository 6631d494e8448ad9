"""The autograd graph behind a tensor: printed as indented text (``walk_graph``), counted (``count_nodes``), and
weighed (``graph_size``: its nodes and the bytes of tensors they keep for backward).

``walk_graph`` is explained in notebooks/03_autograd.ipynb (section 1, and its source in "Going further: the graph,
walked by hand"). ``graph_size`` is explained in notebooks/01_optimization_loops.ipynb (section 5.3, the
`total += loss` mistake) and used again in notebook 03, so that both notebooks report the same measurement.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def walk_graph(tensor: torch.Tensor, names: dict | None = None) -> list[str]:
    """One line per backward node of the graph ending in ``tensor``, indented by depth.

    ``names`` maps ``id(leaf)`` to a name shown at that leaf's ``AccumulateGrad`` node. A node reached again (a
    tensor used twice) is printed again, marked ``(seen)``, and not expanded a second time.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    names = names or {}
    lines, seen = [], set()

    def visit(node, depth):
        label = type(node).__name__
        if hasattr(node, "variable"):  # an AccumulateGrad node: it fills this leaf's .grad
            leaf = node.variable
            label += f" -> {names.get(id(leaf), 'leaf')} {tuple(leaf.shape)}"
        lines.append("    " * depth + label + ("  (seen)" if node in seen else ""))
        if node not in seen:
            seen.add(node)
            for child, _ in node.next_functions:
                if child is not None:  # None: an input that needs no gradient (data)
                    visit(child, depth + 1)

    if tensor.grad_fn is not None:
        visit(tensor.grad_fn, 0)
    return lines


def count_nodes(tensor: torch.Tensor) -> int:
    """How many distinct backward nodes the graph ending in ``tensor`` holds."""
    return sum(not line.endswith("(seen)") for line in walk_graph(tensor))


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
